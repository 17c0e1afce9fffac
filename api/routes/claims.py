"""Claiming: POST /rewards/{id}/claim and GET /claims/{id}."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from api.auth import admin_only, load_principal, principal
from api.bodies import json_body
from api.errors import problem_response
from api.prefer import claim_preference
from api.respond import json_response, stored_response
from api.services import services
from core.claims.fulfillment import report
from core.claims.queries import claim_status
from core.claims.reversal import reverse_claim
from core.claims.service import claim_reward
from core.idempotency import fingerprint, parse_key
from core.inputs import ClaimBody, FulfillmentReport, ReversalBody
from core.logs import request_id
from core.schemas import ClaimPending, ClaimStatus

bp = Blueprint("claims", __name__)
bp.before_request(load_principal)  # every endpoint here needs a key


@bp.post("/rewards/<reward_id>/claim")
def claim(reward_id: str) -> Response:
    key = parse_key(request.headers.get("Idempotency-Key"))
    body = json_body(ClaimBody)
    svc = services()
    prefer = claim_preference(
        request.headers.get("Prefer"), default_ms=svc.runtime.settings.claim_wait_ms
    )
    answer = claim_reward(
        svc.runtime,
        principal=principal(),
        reward_id=reward_id,
        body=body,
        key=key,
        path=request.path,
        request_id=request_id.get(),
        wait_s=prefer.wait_s,
        hops=g.hops,
    )
    if answer.status >= 400:
        response = problem_response(answer.body)
    elif answer.pending:
        response = json_response(ClaimPending.model_validate(answer.body), 202)
    else:  # the claim response the worker stored: answered as stored, as every replay is
        response = stored_response(answer.body, answer.status)
    if answer.pending:
        response.headers["Location"] = f"/api/v1/gamify/claims/{answer.claim_id}"
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if applied := prefer.applied(pending=answer.pending):
        response.headers["Preference-Applied"] = applied
    g.hops.mark("responded")
    g.hops.emit(
        "claim request", request_id=request_id.get(), claim_id=answer.claim_id, status=answer.status
    )
    return response


@bp.get("/claims/<claim_id>")
def get_claim(claim_id: str) -> Response:
    with services().runtime.db.transaction() as session:
        view = claim_status(session, principal=principal(), claim_id=claim_id)
    return json_response(ClaimStatus.model_validate(view))


@bp.post("/claims/<claim_id>/reverse")
@admin_only
def reverse(claim_id: str) -> Response:
    """Reverse a succeeded claim (CONTRACT §7): refund, optional restock, slot freed."""
    key = parse_key(request.headers.get("Idempotency-Key"))
    body = json_body(ReversalBody)
    print_ = fingerprint("POST", request.path, body.model_dump())
    with services().runtime.db.transaction() as session:
        recorded = reverse_claim(
            session, principal=principal(), claim_id=claim_id, body=body, key=key, print_=print_
        )
    services().runtime.webhooks.wake_relay()  # the reversal's fact, out through the outbox
    headers = {} if recorded.fresh else {"Idempotent-Replayed": "true"}
    return stored_response(recorded.response_body or {}, recorded.response_status or 200, headers)


@bp.post("/claims/<claim_id>/fulfillment")
@admin_only
def fulfillment(claim_id: str) -> Response:
    """A fulfillment team's late report on a claim (CONTRACT §7): fulfilled or failed."""
    body = json_body(FulfillmentReport)
    with services().runtime.db.transaction() as session:
        view = report(session, principal=principal(), claim_id=claim_id, body=body)
    services().runtime.webhooks.wake_relay()  # a failure's facts, out through the outbox
    return json_response(ClaimStatus.model_validate(view))
