"""Campaigns (admin): gift a reward to a list of participants, watch, cancel (CONTRACT §8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from flask import Blueprint, Response, jsonify, request

from api.auth import admin_only, load_principal, principal
from api.bodies import json_body, query_choice, query_int
from api.services import services
from core.campaigns.control import Replayed, cancel_campaign, start_campaign
from core.campaigns.upload import IdStream, ids_from_list
from core.campaigns.views import (
    MAX_PAGE,
    RESULT_STATUSES,
    campaign_results,
    campaign_view,
    list_campaigns,
    load_campaign,
)
from core.clock import utcnow
from core.errors import ValidationFailed
from core.idempotency import Recorded, fingerprint, parse_key
from core.inputs import CampaignBody

bp = Blueprint("campaigns", __name__)
bp.before_request(load_principal)
# A million ids of up to 255 characters each, with line ends: uploads are allowed this much.
CAMPAIGN_MAX_BYTES = 300 * 1024 * 1024
_READ_CHUNK = 256 * 1024


@bp.post("/campaigns")
@admin_only
def create() -> tuple[Response, int, dict[str, str]]:
    """202 with the campaign and its Location; the same key and request replays it."""
    key = parse_key(request.headers.get("Idempotency-Key"))
    request.max_content_length = max(CAMPAIGN_MAX_BYTES, services().runtime.settings.max_body_bytes)
    runtime = services().runtime
    try:
        with runtime.db.transaction() as session:
            start = _from_json() if request.mimetype == "application/json" else _from_upload()
            recorded = start_campaign(session, principal=principal(), key=key, **start)
    except Replayed as replay:
        return _answer(replay.recorded, replayed=True)
    runtime.waker.wake_campaign(recorded.resource_id or "")
    return _answer(recorded, replayed=False)


def _answer(recorded: Recorded, *, replayed: bool) -> tuple[Response, int, dict[str, str]]:
    body = recorded.response_body or {}
    headers = {"Location": f"/api/v1/gamify/campaigns/{body.get('campaign_id')}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return jsonify(body), recorded.response_status or 202, headers


def _from_json() -> dict[str, object]:
    body = json_body(CampaignBody)
    print_ = fingerprint("POST", request.path, body.model_dump())
    return {
        "reward_id": body.reward_id, "name": body.name,
        "points_deduction": body.points_deduction,
        "ids": ids_from_list(body.participant_ids), "print_": lambda: print_,
    }  # fmt: skip


def _from_upload() -> dict[str, object]:
    """text/csv body or a multipart file; the other fields come as query parameters."""
    reward_id = request.args.get("reward_id")
    if not reward_id:
        raise ValidationFailed([{"field": "reward_id", "message": "is required"}])
    name = request.args.get("name") or None
    flag = query_choice("points_deduction", ("true", "false")) or "false"
    header = request.mimetype_params.get("header", "absent").lower() == "present"
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed([{"field": "file", "message": "a file part is required"}])
        ids = IdStream(_chunks(upload.stream), header=header)
    elif request.mimetype == "text/csv":
        ids = IdStream(_chunks(request.stream), header=header)
    else:
        expected = "must be application/json, text/csv or multipart/form-data"
        raise ValidationFailed([{"field": "Content-Type", "message": expected}])

    def print_() -> str:
        fields = {"reward_id": reward_id, "name": name, "points_deduction": flag,
                  "header": header, "ids_sha256": ids.digest.hexdigest()}  # fmt: skip
        return fingerprint("POST", request.path, fields)

    return {"reward_id": reward_id, "name": name, "points_deduction": flag == "true",
            "ids": ids, "print_": print_}  # fmt: skip


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    read: Callable[[int], bytes] = stream.read
    while chunk := read(_READ_CHUNK):
        yield chunk


@bp.get("/campaigns")
@admin_only
def index() -> Response:
    limit = query_int("limit", default=50, low=1, high=200)
    with services().runtime.db.transaction() as session:
        page = list_campaigns(
            session, principal=principal(), limit=limit, cursor=request.args.get("cursor")
        )
    return jsonify(page)


@bp.get("/campaigns/<campaign_id>")
@admin_only
def show(campaign_id: str) -> Response:
    with services().runtime.db.transaction() as session:
        campaign = load_campaign(session, principal=principal(), campaign_id=campaign_id)
        return jsonify(campaign_view(campaign))


@bp.get("/campaigns/<campaign_id>/results")
@admin_only
def results(campaign_id: str) -> Response:
    status = query_choice("status", RESULT_STATUSES)
    limit = query_int("limit", default=100, low=1, high=MAX_PAGE)
    with services().runtime.db.transaction() as session:
        page = campaign_results(
            session, principal=principal(), campaign_id=campaign_id, status=status,
            limit=limit, cursor=request.args.get("cursor"),
        )  # fmt: skip
    return jsonify(page)


@bp.post("/campaigns/<campaign_id>/cancel")
@admin_only
def cancel(campaign_id: str) -> Response:
    with services().runtime.db.transaction() as session:
        view = cancel_campaign(
            session, principal=principal(), campaign_id=campaign_id, now=utcnow()
        )
    return jsonify(view)
