"""Named domain errors, each carrying its stable code and HTTP status.

The API maps them to problem+json in exactly one place (api/errors.py); the
claim worker stores the same problem document as a claim's final outcome.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CofferError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 document for this error."""
        return {
            "type": self.code,
            "code": self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


class ValidationFailed(CofferError):
    code, status, title = "validation_error", 400, "The request is not valid"

    def __init__(self, errors: list[dict[str, str]], detail: str | None = None) -> None:
        # Every validation refusal passes here: its messages lose pydantic's wording once.
        from core.inputs import plain_message  # noqa: PLC0415 - core.inputs loads pydantic

        errors = [{**e, "message": plain_message(e["message"])} for e in errors]
        super().__init__(detail or "; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.extra = {"errors": errors}


class IdempotencyKeyMissing(CofferError):
    code, status, title = "idempotency_key_missing", 400, "Idempotency-Key header is required"


class Unauthorized(CofferError):
    code, status, title = "unauthorized", 401, "Missing, unknown or revoked API key"


class Forbidden(CofferError):
    code, status, title = "forbidden", 403, "This key lacks the scope for this endpoint"


class NotFound(CofferError):
    code, status, title = "not_found", 404, "No such resource"


class RewardNotFound(NotFound):
    code, title = "reward_not_found", "No such reward"


class ClaimNotFound(NotFound):
    code, title = "claim_not_found", "No such claim"


class ParticipantNotFound(NotFound):
    code, title = "participant_not_found", "No such participant"


class IdempotencyKeyReused(CofferError):
    code, status = "idempotency_key_reused", 422
    title = "This Idempotency-Key was used for a different request"


class ClaimRejected(CofferError):
    """A business rule refused the claim; stored as the claim's final outcome."""

    status = 409


class InsufficientPoints(ClaimRejected):
    code, title = "insufficient_points", "The participant's balance is below the points cost"


class InventoryExhausted(ClaimRejected):
    code, title = "inventory_exhausted", "No code is left for this reward"


class MaxClaimsExceeded(ClaimRejected):
    code, title = "max_claims_exceeded", "The participant already holds the maximum claims"


class RewardExpired(ClaimRejected):
    code, title = "reward_expired", "The reward has expired"


class RewardInactive(ClaimRejected):
    code, title = "reward_inactive", "The reward is deactivated or not yet started"


class ProcessingFailed(CofferError):
    """A claim that failed for an internal fault on every attempt (CONTRACT §6)."""

    code, status, title = "processing_failed", 500, "The claim could not be processed"


class ClaimNotReversible(CofferError):
    code, status, title = "claim_not_reversible", 409, "Only a succeeded claim can be reversed"


class PayloadTooLarge(CofferError):
    code, status, title = "payload_too_large", 413, "The request body is too large"


class RateLimited(CofferError):
    code, status, title = "rate_limited", 429, "Too many requests for this key"

    def __init__(self, retry_after_s: int) -> None:
        unit = "second" if retry_after_s == 1 else "seconds"
        super().__init__(f"Retry after {retry_after_s} {unit}")
        self.retry_after_s = retry_after_s


class ServiceUnavailable(CofferError):
    """The database cannot be reached right now (CONTRACT §3): retry after `retry_after_s`
    seconds. A retried claim with the same Idempotency-Key is answered exactly once."""

    code, status, title = "service_unavailable", 503, "The service is unavailable right now"

    def __init__(self, detail: str | None = None, retry_after_s: int = 2) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class WebhookEndpointNotFound(NotFound):
    title = "No such webhook endpoint"


class WebhookDeliveryNotFound(NotFound):
    title = "No such webhook delivery"


class DeliveryNotRetryable(CofferError):
    code, status, title = "delivery_not_retryable", 409, "This delivery cannot be retried"


class FulfillmentNotChangeable(CofferError):
    code, status = "fulfillment_not_changeable", 409
    title = "Only a succeeded claim of a reward with fulfillment takes a fulfillment report"
