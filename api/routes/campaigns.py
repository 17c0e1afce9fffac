"""Campaigns (admin): gift a reward to a list of participants, watch, cancel (CONTRACT §8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

from flask import Blueprint, Response, request

from api.auth import admin_only, load_principal, principal
from api.bodies import json_body
from api.query import query_args, takes_query
from api.respond import json_response, stored_response
from api.services import services
from core.campaigns.control import Replayed, cancel_campaign, start_campaign
from core.campaigns.upload import IdStream, ids_from_list
from core.campaigns.views import campaign_results, campaign_view, list_campaigns, load_campaign
from core.clock import utcnow
from core.errors import ValidationFailed
from core.idempotency import Recorded, fingerprint, parse_key
from core.inputs import CampaignBody
from core.schemas import CampaignResultsQuery, CampaignsQuery, CampaignUploadQuery

bp = Blueprint("campaigns", __name__)
bp.before_request(load_principal)
_READ_CHUNK = 256 * 1024


@bp.post("/campaigns")
@takes_query(CampaignUploadQuery)
@admin_only
def create() -> Response:
    """202 with the campaign and its Location; the same key and request replays it."""
    key = parse_key(request.headers.get("Idempotency-Key"))
    runtime = services().runtime
    try:
        with runtime.db.transaction() as session:
            start = _from_json() if request.mimetype == "application/json" else _from_upload()
            recorded = start_campaign(session, principal=principal(), key=key, **start)
    except Replayed as replay:
        return _answer(replay.recorded, replayed=True)
    runtime.waker.wake_campaign(recorded.resource_id or "")
    return _answer(recorded, replayed=False)


def _answer(recorded: Recorded, *, replayed: bool) -> Response:
    body = recorded.response_body or {}
    headers = {"Location": f"/api/v1/gamify/campaigns/{body.get('campaign_id')}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return stored_response(body, recorded.response_status or 202, headers)


def _from_json() -> dict[str, Any]:
    if request.args:
        raise ValidationFailed(
            [{"field": "query", "message": "a JSON body carries every field; no query parameter"}]
        )
    body = json_body(CampaignBody)
    print_ = fingerprint("POST", request.path, body.model_dump())
    return {
        "reward_id": body.reward_id, "name": body.name,
        "points_deduction": body.points_deduction,
        "ids": ids_from_list(body.participant_ids), "print_": lambda: print_,
    }  # fmt: skip


def _from_upload() -> dict[str, Any]:
    """text/csv body or a multipart `file` part; the other fields are query parameters."""
    if request.mimetype not in ("multipart/form-data", "text/csv"):  # before the query's checks
        expected = "must be application/json, text/csv or multipart/form-data"
        raise ValidationFailed([{"field": "Content-Type", "message": expected}])
    query = query_args(CampaignUploadQuery)
    if not query.reward_id:
        raise ValidationFailed([{"field": "reward_id", "message": "is required with an upload"}])
    header = request.mimetype_params.get("header", "absent").lower() == "present"
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed([{"field": "file", "message": "a file part is required"}])
        ids = IdStream(_chunks(upload.stream), header=header)
    else:
        ids = IdStream(_chunks(request.stream), header=header)

    def print_() -> str:
        fields = {**query.model_dump(), "header": header, "ids_sha256": ids.digest.hexdigest()}
        return fingerprint("POST", request.path, fields)

    return {
        "reward_id": query.reward_id, "name": query.name,
        "points_deduction": query.points_deduction == "true", "ids": ids, "print_": print_,
    }  # fmt: skip


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    read: Callable[[int], bytes] = stream.read
    while chunk := read(_READ_CHUNK):
        yield chunk


@bp.get("/campaigns")
@takes_query(CampaignsQuery)
@admin_only
def index() -> Response:
    query = query_args(CampaignsQuery)
    with services().runtime.db.transaction() as session:
        page = list_campaigns(
            session, principal=principal(), limit=query.limit, cursor=query.cursor
        )
    return json_response(page)


@bp.get("/campaigns/<campaign_id>")
@admin_only
def show(campaign_id: str) -> Response:
    with services().runtime.db.transaction() as session:
        campaign = load_campaign(session, principal=principal(), campaign_id=campaign_id)
        return json_response(campaign_view(campaign))


@bp.get("/campaigns/<campaign_id>/results")
@takes_query(CampaignResultsQuery)
@admin_only
def results(campaign_id: str) -> Response:
    query = query_args(CampaignResultsQuery)
    with services().runtime.db.transaction() as session:
        page = campaign_results(
            session, principal=principal(), campaign_id=campaign_id, status=query.status,
            limit=query.limit, cursor=query.cursor,
        )  # fmt: skip
    return json_response(page)


@bp.post("/campaigns/<campaign_id>/cancel")
@admin_only
def cancel(campaign_id: str) -> Response:
    runtime = services().runtime
    with runtime.db.transaction() as session:
        view = cancel_campaign(
            session, principal=principal(), campaign_id=campaign_id, now=utcnow()
        )
    runtime.webhooks.wake_relay()  # a cancel appends campaign.completed
    return json_response(view)
