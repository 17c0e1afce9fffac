"""Webhooks (CONTRACT §7): endpoints, the outbox relay, signed deliveries with durable retries.

Modules: `ssrf` (which addresses may be called), `signing` (Standard Webhooks
secrets and headers), `sender` (one HTTP attempt to a checked address),
`endpoints` (the admin's endpoints), `relay` (facts -> deliveries),
`deliveries` (attempt bookkeeping and the retry schedule), `events` (GET /events).
"""
