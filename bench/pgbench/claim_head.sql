-- One claim, raw SQL, as pgbench runs it (-M prepared: server-side prepared statements).
-- The request is recorded in autocommit as the API does; then one transaction decides it.
-- Variables given with -D: tenant, fingerprint. participants, reward come from -D too.
\set p random(1, :participants)
INSERT INTO requests (tenant_id, mode, idempotency_key, fingerprint, kind, status, claim_id,
    reward_id, participant_external_id, points_deduction, created_at)
  VALUES (:tenant, 'live', gen_random_uuid()::text, :fingerprint, 'claim', 'pending',
    'clm_' || replace(gen_random_uuid()::text, '-', ''), :reward, 'p' || (:p)::text, true, now())
  ON CONFLICT (tenant_id, mode, idempotency_key) DO NOTHING
  RETURNING id AS req_id, claim_id \gset
BEGIN;
-- select and lock the pending request
SELECT reward_id AS rid, participant_external_id AS ext, idempotency_key AS ikey
  FROM requests WHERE id = :req_id AND status = 'pending' FOR UPDATE \gset
-- read the reward
SELECT name AS rname, type AS rtype, points_cost AS cost, max_claims_per_user AS max_claims
  FROM rewards WHERE id = :rid \gset
-- the participant and the per-user count check
SELECT p.id AS pid,
       (SELECT count(*) FROM claims c WHERE c.participant_id = p.id AND c.reward_id = :rid) AS held
  FROM participants p WHERE p.tenant_id = :tenant AND p.mode = 'live' AND p.external_id = :ext \gset
-- conditional points debit and its ledger entry
UPDATE participants SET balance = balance - (:cost)::bigint
  WHERE id = :pid AND balance >= (:cost)::bigint RETURNING balance AS new_balance \gset
INSERT INTO ledger_entries (entry_id, tenant_id, mode, participant_id, amount, kind, reason,
    claim_id, balance_after, created_at)
  VALUES ('pte_' || replace(gen_random_uuid()::text, '-', ''), :tenant, 'live', :pid,
    -((:cost)::bigint), 'claim_debit', :rname, :claim_id, :new_balance, now());
