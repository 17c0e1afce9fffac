-- allocate: the oldest unallocated code, FOR UPDATE SKIP LOCKED (a classic allocation).
-- ORDER BY reward_id, id: only the partial index gives that order, so the generic plan
-- pgbench -M prepared settles on cannot walk the primary key through every other
-- reward's codes instead.
UPDATE reward_codes SET allocated = true
  WHERE id = (SELECT id FROM reward_codes WHERE reward_id = :rid AND NOT allocated
              ORDER BY reward_id, id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING id AS code_id, value AS code_value \gset
