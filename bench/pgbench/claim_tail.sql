-- the claim row decided, its reward.reward_claimed fact, and the journal's stored response
UPDATE claims SET status = 'succeeded', decided_at = now(), participant_id = :pid,
    code_id = :code_id, code_value = :code_value, reward_name = :rname, reward_type = :rtype,
    points_deducted = :cost, new_balance = :new_balance, claimed_at = now(), expires_at = NULL,
    fulfillment_status = 'not_required', error_code = NULL, error = NULL
  WHERE id = :claim_pk;
INSERT INTO facts (event_id, type, data, created_at, tenant_id, mode)
  VALUES ('evt_' || replace(gen_random_uuid()::text, '-', ''), 'reward.reward_claimed',
    jsonb_build_object('claim_id', (:claim_id)::text, 'participant_id', (:ext)::text,
      'reward_id', (:rid)::text, 'reward_name', (:rname)::text, 'reward_type', (:rtype)::text,
      'code_value', (:code_value)::text, 'points_deducted', (:cost)::bigint,
      'claimed_at', now(), 'expires_at', NULL),
    now(), :tenant, 'live');
UPDATE idempotency_keys SET response_status = 201, completed_at = now(),
    response_body = jsonb_build_object('claim_id', (:claim_id)::text, 'status', 'succeeded',
      'participant_id', (:ext)::text, 'reward_id', (:rid)::text, 'reward_name', (:rname)::text,
      'reward_type', (:rtype)::text, 'code_value', (:code_value)::text, 'claimed_at', now(),
      'expires_at', NULL, 'points_deducted', (:cost)::bigint,
      'new_balance', (:new_balance)::bigint)
  WHERE id = :rec_id;
END;
