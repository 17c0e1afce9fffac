"""Participants: points, claimed rewards and participant tokens."""

from __future__ import annotations

from flask import Blueprint, Response, request

from api.auth import load_principal, principal
from api.bodies import json_body, participant_id_from
from api.query import query_args, takes_query
from api.respond import json_response, stored_response
from api.services import services
from core import points, tokens
from core.claims.queries import participant_rewards
from core.idempotency import fingerprint, parse_key
from core.inputs import PointsCredit
from core.schemas import ParticipantRewards, ParticipantRewardsQuery

bp = Blueprint("participants", __name__)
bp.before_request(load_principal)  # every endpoint here needs a key


def _checked(participant_id: str) -> str:
    """The path's participant id, held to the same rules as one in a body."""
    return participant_id_from(participant_id)


@bp.post("/participants/<path:participant_id>/points")
def credit(participant_id: str) -> Response:
    key = parse_key(request.headers.get("Idempotency-Key"))
    body = json_body(PointsCredit)
    print_ = fingerprint("POST", request.path, body.model_dump())
    with services().runtime.db.transaction() as session:
        recorded = points.credit_points(
            session,
            principal=principal(),
            external_id=_checked(participant_id),
            credit=body,
            key=key,
            print_=print_,
        )
    headers = {} if recorded.fresh else {"Idempotent-Replayed": "true"}
    # The body core stored (a PointsCredited) when the credit was made, answered as stored.
    return stored_response(recorded.response_body or {}, recorded.response_status or 201, headers)


@bp.get("/participants/<path:participant_id>/points")
def balance(participant_id: str) -> Response:
    with services().runtime.db.transaction() as session:
        summary = points.points_summary(
            session, principal=principal(), external_id=_checked(participant_id)
        )
    return json_response(summary)


@bp.get("/participants/<path:participant_id>/rewards")
@takes_query(ParticipantRewardsQuery)
def rewards(participant_id: str) -> Response:
    query = query_args(ParticipantRewardsQuery)
    with services().runtime.db.transaction() as session:
        held = participant_rewards(
            session,
            principal=principal(),
            external_id=_checked(participant_id),
            include_reversed=query.include == "reversed",
        )
    return json_response(ParticipantRewards.model_validate(held))


@bp.post("/participants/<path:participant_id>/tokens")
def issue_token(participant_id: str) -> Response:
    """A participant token (CONTRACT §10); an empty body takes every default."""
    body = json_body(tokens.TokenRequest) if request.get_data(cache=True).strip() else None
    granted = tokens.grant_token(
        services().runtime,
        principal=principal(),
        participant_id=_checked(participant_id),
        ttl_seconds=(body or tokens.TokenRequest()).ttl_seconds,
    )
    # A credential: no cache between the storefront's backend and Coffer may keep it.
    return json_response(granted, 201, {"Cache-Control": "no-store"})
