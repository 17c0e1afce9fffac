-- The baseline of the ceiling: one single-row INSERT, committed (sync commit on).
INSERT INTO bench_commits (v) VALUES (1);
