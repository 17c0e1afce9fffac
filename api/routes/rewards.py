"""Catalog and inventory: /rewards."""

from __future__ import annotations

from contextlib import AbstractContextManager

from flask import Blueprint, Response, request
from sqlalchemy.orm import Session

from api.auth import admin_only, load_principal, principal
from api.bodies import csv_codes, json_body
from api.query import query_args, takes_query
from api.respond import json_response
from api.services import services
from core import catalog, inventory
from core.claims.eligibility import eligibility
from core.inputs import CodeUpload, RewardDefinition, RewardPatch
from core.schemas import RewardsQuery

bp = Blueprint("rewards", __name__)
bp.before_request(load_principal)  # every endpoint here needs a key


def _db() -> AbstractContextManager[Session]:
    return services().runtime.db.transaction()


@bp.get("/rewards")
@takes_query(RewardsQuery)
def list_rewards() -> Response:
    query = query_args(RewardsQuery)
    with _db() as session:
        page = catalog.list_rewards(
            session,
            principal=principal(),
            reward_type=query.reward_type,
            limit=query.limit,
            cursor=query.cursor,
            status=query.status,
        )
        if query.participant_id is not None:
            page = page.with_eligibility(
                eligibility(
                    session,
                    principal=principal(),
                    external_id=query.participant_id,
                    reward_ids=[entry.id for entry in page.rewards],
                )
            )
    return json_response(page)


@bp.post("/rewards")
@admin_only
def create_reward() -> Response:
    definition = json_body(RewardDefinition)
    with _db() as session:
        entry = catalog.create_reward(session, principal=principal(), definition=definition)
    return json_response(entry, 201, {"Location": f"{request.path}/{entry.id}"})


@bp.get("/rewards/<reward_id>")
def get_reward(reward_id: str) -> Response:
    with _db() as session:
        entry = catalog.get_reward(session, principal=principal(), reward_id=reward_id)
    return json_response(entry)


@bp.patch("/rewards/<reward_id>")
@admin_only
def update_reward(reward_id: str) -> Response:
    patch = json_body(RewardPatch)
    with _db() as session:
        entry = catalog.update_reward(
            session, principal=principal(), reward_id=reward_id, patch=patch
        )
    return json_response(entry)


@bp.delete("/rewards/<reward_id>")
@admin_only
def deactivate_reward(reward_id: str) -> tuple[str, int]:
    with _db() as session:
        catalog.deactivate_reward(session, principal=principal(), reward_id=reward_id)
    return "", 204


@bp.post("/rewards/<reward_id>/activate")
@admin_only
def activate_reward(reward_id: str) -> Response:
    """Undo a deactivation (an extension, docs/api-extensions.md): 200 ENTRY."""
    with _db() as session:
        entry = catalog.activate_reward(session, principal=principal(), reward_id=reward_id)
    return json_response(entry)


@bp.post("/rewards/<reward_id>/codes")
@admin_only
def upload_codes(reward_id: str) -> Response:
    upload = csv_codes() if request.mimetype == "text/csv" else json_body(CodeUpload)
    with _db() as session:
        result = inventory.upload_codes(
            session, principal=principal(), reward_id=reward_id, upload=upload
        )
    return json_response(result)
