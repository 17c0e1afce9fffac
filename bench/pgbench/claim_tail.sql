-- the claim row, its reward.reward_claimed fact, and the request marked done
INSERT INTO claims (claim_id, request_id, reward_id, participant_id, participant_external_id,
    code_id, code_value, reward_name, reward_type, points_deducted, new_balance, idempotency_key,
    claimed_at, expires_at, tenant_id, mode)
  VALUES (:claim_id, :req_id, :rid, :pid, :ext, :code_id, :code_value, :rname, :rtype,
    :cost, :new_balance, :ikey, now(), NULL, :tenant, 'live');
INSERT INTO facts (event_id, type, data, created_at, tenant_id, mode)
  VALUES ('evt_' || replace(gen_random_uuid()::text, '-', ''), 'reward.reward_claimed',
    jsonb_build_object('claim_id', (:claim_id)::text, 'participant_id', (:ext)::text,
      'reward_id', (:rid)::text, 'reward_name', (:rname)::text, 'reward_type', (:rtype)::text,
      'code_value', (:code_value)::text, 'points_deducted', (:cost)::bigint,
      'claimed_at', now(), 'expires_at', NULL),
    now(), :tenant, 'live');
UPDATE requests SET status = 'succeeded', response_status = 201, completed_at = now(),
    response_body = jsonb_build_object('claim_id', (:claim_id)::text, 'status', 'succeeded',
      'participant_id', (:ext)::text, 'reward_id', (:rid)::text, 'reward_name', (:rname)::text,
      'reward_type', (:rtype)::text, 'code_value', (:code_value)::text, 'claimed_at', now(),
      'expires_at', NULL, 'points_deducted', (:cost)::bigint,
      'new_balance', (:new_balance)::bigint)
  WHERE id = :req_id;
END;
