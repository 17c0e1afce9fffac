"""Catalog and inventory: /rewards."""

from __future__ import annotations

from contextlib import AbstractContextManager

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from api.auth import admin_only, load_principal, principal
from api.bodies import csv_codes, json_body, participant_id_from, query_choice, query_int
from api.services import services
from core import catalog, inventory
from core.claims.eligibility import add_eligibility
from core.inputs import CodeUpload, RewardDefinition, RewardPatch
from core.models import REWARD_TYPES

bp = Blueprint("rewards", __name__)
bp.before_request(load_principal)  # every endpoint here needs a key


def _db() -> AbstractContextManager[Session]:
    return services().runtime.db.transaction()


@bp.get("/rewards")
def list_rewards() -> Response:
    reward_type = query_choice("reward_type", REWARD_TYPES)
    limit = query_int("limit", default=50, low=1, high=catalog.MAX_PAGE)
    participant_id = request.args.get("participant_id")
    with _db() as session:
        page = catalog.list_rewards(
            session,
            principal=principal(),
            reward_type=reward_type,
            limit=limit,
            cursor=request.args.get("cursor"),
        )
        if participant_id is not None:
            add_eligibility(
                session,
                principal=principal(),
                external_id=participant_id_from(participant_id, field="participant_id"),
                entries=page.rewards,
            )
    return jsonify(rewards=page.rewards, total=page.total, next_cursor=page.next_cursor)


@bp.post("/rewards")
@admin_only
def create_reward() -> tuple[Response, int, dict[str, str]]:
    definition = json_body(RewardDefinition)
    with _db() as session:
        entry = catalog.create_reward(session, principal=principal(), definition=definition)
    return jsonify(entry), 201, {"Location": f"{request.path}/{entry['id']}"}


@bp.get("/rewards/<reward_id>")
def get_reward(reward_id: str) -> Response:
    with _db() as session:
        return jsonify(catalog.get_reward(session, principal=principal(), reward_id=reward_id))


@bp.patch("/rewards/<reward_id>")
@admin_only
def update_reward(reward_id: str) -> Response:
    patch = json_body(RewardPatch)
    with _db() as session:
        entry = catalog.update_reward(
            session, principal=principal(), reward_id=reward_id, patch=patch
        )
    return jsonify(entry)


@bp.delete("/rewards/<reward_id>")
@admin_only
def deactivate_reward(reward_id: str) -> tuple[str, int]:
    with _db() as session:
        catalog.deactivate_reward(session, principal=principal(), reward_id=reward_id)
    return "", 204


@bp.post("/rewards/<reward_id>/codes")
@admin_only
def upload_codes(reward_id: str) -> Response:
    upload = csv_codes() if request.mimetype == "text/csv" else json_body(CodeUpload)
    with _db() as session:
        result = inventory.upload_codes(
            session, principal=principal(), reward_id=reward_id, upload=upload
        )
    return jsonify(result.as_dict())
