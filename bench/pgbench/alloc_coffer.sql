-- allocate: Coffer's scheme, lock the inventory row and take the next position by equality
UPDATE inventories SET allocated_count = allocated_count + 1
  WHERE reward_id = :rid AND allocated_count < uploaded_count
  RETURNING allocated_count AS seq \gset
SELECT id AS code_id, value AS code_value FROM reward_codes
  WHERE reward_id = :rid AND seq = :seq \gset
