-- allocate: Coffer's scheme, lock the inventory row and take the next position by equality.
-- returned_count comes back with the counter: the worker looks in returned_codes only when it
-- is above zero (core/allocation.py), which it never is here (nothing is reversed).
UPDATE inventories SET allocated_count = allocated_count + 1
  WHERE reward_id = :rid AND allocated_count < uploaded_count
  RETURNING allocated_count AS seq, returned_count AS returned \gset
SELECT id AS code_id, value AS code_value FROM reward_codes
  WHERE reward_id = :rid AND seq = :seq \gset
