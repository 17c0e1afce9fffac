"""Coffer's problem codes (CONTRACT §3) as typed exceptions.

Every error answer of Coffer is an RFC 9457 problem with a stable `code`; the
client raises the exception class of that code, carrying `code`, `status` and
the whole `problem` document. Catch a family through its base class
(`NotFound`, `ClaimRejected`) or one code through its own class
(`InsufficientPoints`). A code this client does not know yet raises the base
class of its status, or `CofferError`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CofferError(Exception):
    """An error answer from Coffer: its stable `code`, HTTP `status` and `problem` body."""

    CODE: ClassVar[str] = "error"  # the code this class stands for

    def __init__(self, problem: dict[str, Any], *, retry_after: float | None = None) -> None:
        self.problem = problem
        self.code: str = str(problem.get("code", self.CODE))  # as sent, even if unknown here
        self.status: int = int(problem.get("status", 0))
        self.detail: str = str(problem.get("detail", ""))
        self.title: str = str(problem.get("title", ""))
        self.retry_after = retry_after  # seconds, from Retry-After (429, 503)
        super().__init__(f"{self.code} ({self.status}): {self.detail}")

    @property
    def errors(self) -> list[dict[str, str]]:
        """The refused fields of a validation_error (`field`, `message`), else []."""
        return list(self.problem.get("errors") or [])


class ValidationFailed(CofferError):
    CODE = "validation_error"


class IdempotencyKeyMissing(CofferError):
    CODE = "idempotency_key_missing"


class Unauthorized(CofferError):
    CODE = "unauthorized"


class Forbidden(CofferError):
    CODE = "forbidden"


class NotFound(CofferError):
    CODE = "not_found"


class RewardNotFound(NotFound):
    CODE = "reward_not_found"


class ClaimNotFound(NotFound):
    CODE = "claim_not_found"


class ParticipantNotFound(NotFound):
    CODE = "participant_not_found"


class IdempotencyKeyReused(CofferError):
    CODE = "idempotency_key_reused"


class Conflict(CofferError):
    """409: a business rule refused the request."""

    CODE = "conflict"


class ClaimRejected(Conflict):
    """A claim refused by a business rule; replaying its key gives the same refusal."""

    CODE = "claim_rejected"


class InsufficientPoints(ClaimRejected):
    CODE = "insufficient_points"


class InventoryExhausted(ClaimRejected):
    CODE = "inventory_exhausted"


class MaxClaimsExceeded(ClaimRejected):
    CODE = "max_claims_exceeded"


class RewardExpired(ClaimRejected):
    CODE = "reward_expired"


class RewardInactive(ClaimRejected):
    CODE = "reward_inactive"


class ClaimNotReversible(Conflict):
    CODE = "claim_not_reversible"


class DeliveryNotRetryable(Conflict):
    CODE = "delivery_not_retryable"


class FulfillmentNotChangeable(Conflict):
    CODE = "fulfillment_not_changeable"


class PayloadTooLarge(CofferError):
    CODE = "payload_too_large"


class RateLimited(CofferError):
    CODE = "rate_limited"


class ServerError(CofferError):
    """5xx: Coffer could not answer; retried by the client before it is raised."""

    CODE = "internal_error"


class ProcessingFailed(ServerError):
    """A claim that failed for an internal fault after every attempt: its final outcome."""

    CODE = "processing_failed"


class ServiceUnavailable(ServerError):
    CODE = "service_unavailable"


class ClaimStillPending(CofferError):
    """The claim was accepted but not decided within the client's wait (not a Coffer code).

    Read it later with `get_claim(claim_id)`, or call `claim()` again with the same
    idempotency key: it is never decided twice.
    """

    CODE = "claim_pending"

    def __init__(self, claim_id: str, waited_s: float) -> None:
        self.claim_id = claim_id
        super().__init__(
            {
                "code": self.CODE,
                "status": 202,
                "title": "The claim is still pending",
                "detail": f"Claim {claim_id} was not decided within {waited_s:g} s",
                "claim_id": claim_id,
            }
        )


def _codes() -> dict[str, type[CofferError]]:
    found: dict[str, type[CofferError]] = {}
    pending: list[type[CofferError]] = [CofferError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found[cls.CODE] = cls
    return found


BY_CODE = _codes()
_BY_STATUS: dict[int, type[CofferError]] = {
    400: ValidationFailed, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: PayloadTooLarge, 429: RateLimited, 503: ServiceUnavailable,
}  # fmt: skip


def error_for(problem: dict[str, Any], status: int, retry_after: float | None) -> CofferError:
    """The exception for a problem answer (or a non-problem error answer, by its status)."""
    problem = {**problem}
    problem.setdefault("status", status)
    cls = BY_CODE.get(str(problem.get("code")))
    if cls is None or cls in (ClaimStillPending, Conflict, ClaimRejected, CofferError):
        cls = _BY_STATUS.get(status, ServerError if status >= 500 else CofferError)
    return cls(problem, retry_after=retry_after)
