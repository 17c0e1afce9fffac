-- One claim, raw SQL, as pgbench runs it (-M prepared: server-side prepared statements).
-- The claim is recorded in autocommit as the API does on PostgreSQL (core/claims/accept.py):
-- one statement, a data-modifying CTE journalling the key (ON CONFLICT DO NOTHING) and
-- inserting the pending claim beside it. Then one transaction decides it, as a drain
-- batch of one would (core/claims/batch.py, writer.py).
-- Variables given with -D: tenant, fingerprint, participants, reward.
\set p random(1, :participants)
WITH journal AS (
  INSERT INTO idempotency_keys (tenant_id, mode, idempotency_key, fingerprint, kind,
      resource_id, created_at)
    VALUES (:tenant, 'live', gen_random_uuid()::text, :fingerprint, 'claim',
      'clm_' || replace(gen_random_uuid()::text, '-', ''), now())
    ON CONFLICT (tenant_id, mode, idempotency_key) DO NOTHING
    RETURNING id, resource_id)
INSERT INTO claims (idempotency_record_id, claim_id, tenant_id, mode, reward_id,
    participant_external_id, points_deduction, status, attempts, request_id, accepted_at)
  SELECT journal.id, journal.resource_id, :tenant, 'live', :reward, 'p' || (:p)::text, true,
    'pending', 0, NULL, now() FROM journal
  RETURNING id AS claim_pk, claim_id, idempotency_record_id AS rec_id \gset
BEGIN;
-- select and lock the pending claim
SELECT reward_id AS rid, participant_external_id AS ext
  FROM claims WHERE id = :claim_pk AND status = 'pending' FOR UPDATE \gset
-- read the reward
SELECT name AS rname, type AS rtype, points_cost AS cost, max_claims_per_user AS max_claims
  FROM rewards WHERE id = :rid \gset
-- the participant and the per-user count check (claims held: succeeded, not reversed)
SELECT p.id AS pid,
       (SELECT count(*) FROM claims c WHERE c.participant_id = p.id AND c.reward_id = :rid
          AND c.status = 'succeeded') AS held
  FROM participants p WHERE p.tenant_id = :tenant AND p.mode = 'live' AND p.external_id = :ext \gset
-- conditional points debit and its ledger entry
UPDATE participants SET balance = balance - (:cost)::bigint
  WHERE id = :pid AND balance >= (:cost)::bigint RETURNING balance AS new_balance \gset
INSERT INTO ledger_entries (entry_id, tenant_id, mode, participant_id, amount, kind, reason,
    claim_id, balance_after, created_at)
  VALUES ('pte_' || replace(gen_random_uuid()::text, '-', ''), :tenant, 'live', :pid,
    -((:cost)::bigint), 'claim_debit', :rname, :claim_id, :new_balance, now());
