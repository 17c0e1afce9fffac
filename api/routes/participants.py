"""Participants: points and claimed rewards."""

from __future__ import annotations

from flask import Blueprint, Response, request
from pydantic import TypeAdapter, ValidationError

from api.auth import load_principal, principal
from api.bodies import json_body
from api.respond import json_response
from api.services import services
from core import points
from core.claims.queries import participant_rewards
from core.errors import ValidationFailed
from core.idempotency import fingerprint, parse_key
from core.inputs import ParticipantId, PointsCredit
from core.schemas import ParticipantRewards, PointsCredited

bp = Blueprint("participants", __name__)
bp.before_request(load_principal)  # every endpoint here needs a key


_PARTICIPANT_ID = TypeAdapter(ParticipantId)


def _checked(participant_id: str) -> str:
    """The path's participant id, held to the same rules as one in a body."""
    try:
        return _PARTICIPANT_ID.validate_python(participant_id)
    except ValidationError as error:
        message = error.errors(include_url=False)[0]["msg"]
        raise ValidationFailed([{"field": "participant_id", "message": message}]) from error


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
    credited = PointsCredited.model_validate(recorded.response_body)
    return json_response(credited, recorded.response_status or 201, headers)


@bp.get("/participants/<path:participant_id>/points")
def balance(participant_id: str) -> Response:
    with services().runtime.db.transaction() as session:
        summary = points.points_summary(
            session, principal=principal(), external_id=_checked(participant_id)
        )
    return json_response(summary)


@bp.get("/participants/<path:participant_id>/rewards")
def rewards(participant_id: str) -> Response:
    with services().runtime.db.transaction() as session:
        held = participant_rewards(
            session, principal=principal(), external_id=_checked(participant_id)
        )
    return json_response(ParticipantRewards.model_validate(held))
