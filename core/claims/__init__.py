"""Claims: accepted by the API under an Idempotency-Key, decided by workers in batches."""
