"""POST /campaigns and its reads (CONTRACT §8) through HTTP on PostgreSQL.

Chunks are decided by calling the fan-out in the test (no worker process here).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from core.campaigns.fanout import advance
from core.models import Campaign
from core.runtime import Runtime
from tests.api.conftest import Caller, assert_problem, new_id
from tests.support.tenants import TestTenant


@pytest.fixture
def reward(admin: Caller) -> dict[str, Any]:
    created = admin.create_reward(name="Birthday gift", max_claims_per_user=1)
    admin.upload(created["id"], [f"BDAY-{n}" for n in range(20)])
    return created


def campaigns_of(runtime: Runtime, tenant: TestTenant) -> int:
    with runtime.db.transaction() as session:
        count = select(func.count()).select_from(Campaign).where(Campaign.tenant_id == tenant.id)
        return session.scalar(count) or 0


def post_csv(admin: Caller, reward_id: str, body: bytes, *, key: str | None = None,
             content_type: str = "text/csv", query: str = "") -> Any:  # fmt: skip
    return admin.post(
        f"/campaigns?reward_id={reward_id}{query}",
        data=body,
        content_type=content_type,
        headers={"Idempotency-Key": key or new_id("key")},
    )


def run(runtime: Runtime, campaign_id: str) -> None:
    while not advance(runtime.db, campaign_id=campaign_id).finished:
        pass


def test_a_json_campaign_is_202_with_its_location_and_gifts_each_participant_once(
    runtime: Runtime, admin: Caller, reward: dict[str, Any]
) -> None:
    response = admin.post(
        "/campaigns",
        {"reward_id": reward["id"], "participant_ids": ["ann", "bob", "ann"], "name": "May"},
        headers={"Idempotency-Key": new_id("key")},
    )
    assert response.status_code == 202
    body = response.json
    assert (body["status"], body["total"], body["name"]) == ("running", 2, "May")
    assert response.headers["Location"] == f"/api/v1/gamify/campaigns/{body['campaign_id']}"
    run(runtime, body["campaign_id"])
    shown = admin.get(f"/campaigns/{body['campaign_id']}").json
    assert (shown["status"], shown["succeeded"], shown["pending"]) == ("completed", 2, 0)
    results = admin.get(f"/campaigns/{body['campaign_id']}/results").json["results"]
    assert [(r["participant_id"], r["status"]) for r in results] == [
        ("ann", "succeeded"), ("bob", "succeeded"),
    ]  # fmt: skip
    assert all(r["code_value"].startswith("BDAY-") and r["claim_id"] for r in results)
    ann = admin.get("/participants/ann/rewards").json
    assert [r["claim_id"] for r in ann["rewards"]] == [results[0]["claim_id"]]


def test_a_csv_upload_handles_bom_line_ends_blanks_whitespace_and_repeats(
    runtime: Runtime, admin: Caller, reward: dict[str, Any]
) -> None:
    body = b"\xef\xbb\xbfp1\r\n\r\n  p2  \rp3\np1\n\n"
    response = post_csv(admin, reward["id"], body)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.json["total"] == 3
    listed = admin.get(f"/campaigns/{response.json['campaign_id']}/results?status=pending").json
    assert [r["participant_id"] for r in listed["results"]] == ["p1", "p2", "p3"]


def test_a_header_line_is_skipped_when_the_content_type_says_so(
    admin: Caller, reward: dict[str, Any]
) -> None:
    response = post_csv(admin, reward["id"], b"participant_id\nx\ny\n",
                        content_type="text/csv; header=present")  # fmt: skip
    assert response.json["total"] == 2


def test_a_file_upload_works_like_a_csv_body(admin: Caller, reward: dict[str, Any]) -> None:
    import io  # noqa: PLC0415

    response = admin.post(
        f"/campaigns?reward_id={reward['id']}&name=From%20a%20file",
        data={"file": (io.BytesIO(b"f1\nf2\nf3\n"), "ids.csv")},
        content_type="multipart/form-data",
        headers={"Idempotency-Key": new_id("key")},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    assert (response.json["total"], response.json["name"]) == (3, "From a file")


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (b"ok\nbad\x01id\nok2\n", "line 2"),
        (b"ok\n" + b"x" * 256 + b"\n", "line 2"),
        (b"ok\nfine\n\xff\xfe\n", "line 3"),
        (b"ok\nfine\n\xc3", "line 3"),  # ends inside a two-byte character (once a 500)
        (b"\xe9", "line 1"),
        (b"a\nb\nc\n./d\n", "line 4"),
        (b'a\n"two","cells"\n', "line 2"),
        # A file of two columns (an id and an e-mail): never ids like "u1,a@b.c".
        (b"u1,a@b.c\nu2,d@e.f\n", "line 1"),
        (b"u0\nu1 , a@b.c\n", "line 2"),
        (b'u0\n"u1",a@b.c\n', "line 2"),
        (b'u0\n"unclosed\n', "line 2"),
    ],
)
def test_an_invalid_id_refuses_the_whole_upload_naming_its_line_and_creates_nothing(
    runtime: Runtime, tenant: TestTenant, admin: Caller, reward: dict[str, Any],
    body: bytes, line: str,
) -> None:  # fmt: skip
    before = campaigns_of(runtime, tenant)
    key = new_id("key")
    problem = assert_problem(post_csv(admin, reward["id"], body, key=key), 400, "validation_error")
    assert [e["field"] for e in problem["errors"]] == [line]
    assert campaigns_of(runtime, tenant) == before
    assert post_csv(admin, reward["id"], b"ok\n", key=key).status_code == 202  # key unused


def test_a_quoted_id_may_hold_a_comma_and_a_trailing_empty_cell_is_ignored(
    runtime: Runtime, admin: Caller, reward: dict[str, Any]
) -> None:
    body = b'"smith, jo"\nu2,\n"say ""hi"""\n'
    response = post_csv(admin, reward["id"], body)
    assert response.status_code == 202, response.get_data(as_text=True)
    run(runtime, response.json["campaign_id"])
    results = admin.get(f"/campaigns/{response.json['campaign_id']}/results").json["results"]
    assert [r["participant_id"] for r in results] == ["smith, jo", "u2", 'say "hi"']


def test_a_json_list_takes_ids_with_commas_and_quotes_as_they_are(
    runtime: Runtime, admin: Caller, reward: dict[str, Any]
) -> None:
    ids = ["a,b", '"quoted"']
    response = admin.post(
        "/campaigns",
        {"reward_id": reward["id"], "participant_ids": ids},
        headers={"Idempotency-Key": new_id("key")},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    run(runtime, response.json["campaign_id"])
    results = admin.get(f"/campaigns/{response.json['campaign_id']}/results").json["results"]
    assert [r["participant_id"] for r in results] == ids


def test_the_same_key_replays_and_a_different_upload_under_it_is_422(
    runtime: Runtime, tenant: TestTenant, admin: Caller, reward: dict[str, Any]
) -> None:
    key = new_id("key")
    first = post_csv(admin, reward["id"], b"r1\nr2\n", key=key)
    again = post_csv(admin, reward["id"], b"r1\nr2\n", key=key)
    assert again.status_code == 202 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert campaigns_of(runtime, tenant) == 1
    assert_problem(post_csv(admin, reward["id"], b"r1\nr3\n", key=key), 422,
                   "idempotency_key_reused")  # fmt: skip


def test_cancel_stops_the_rest_with_campaign_cancelled(
    admin: Caller, reward: dict[str, Any]
) -> None:
    created = post_csv(admin, reward["id"], b"k1\nk2\nk3\n").json
    cancelled = admin.post(f"/campaigns/{created['campaign_id']}/cancel").json
    assert (cancelled["status"], cancelled["failed"], cancelled["pending"]) == ("cancelled", 3, 0)
    assert cancelled["failures_by_code"] == {"campaign_cancelled": 3}
    again = admin.post(f"/campaigns/{created['campaign_id']}/cancel").json
    assert again == cancelled


def test_campaigns_are_listed_newest_first_and_paged(admin: Caller, reward: dict[str, Any]) -> None:
    ids = [post_csv(admin, reward["id"], b"z\n").json["campaign_id"] for _ in range(3)]
    first = admin.get("/campaigns?limit=2").json
    assert [c["campaign_id"] for c in first["campaigns"]] == ids[::-1][:2]
    rest = admin.get(f"/campaigns?limit=2&cursor={first['next_cursor']}").json
    assert rest["campaigns"][0]["campaign_id"] == ids[0]


def test_campaigns_need_an_admin_key_of_their_tenant_and_mode(
    admin: Caller, server: Caller, other_admin: Caller, test_admin: Caller,
    reward: dict[str, Any],
) -> None:  # fmt: skip
    created = post_csv(admin, reward["id"], b"w\n").json["campaign_id"]
    assert_problem(server.get(f"/campaigns/{created}"), 403, "forbidden")
    assert_problem(other_admin.get(f"/campaigns/{created}"), 404, "not_found")
    assert_problem(test_admin.post(f"/campaigns/{created}/cancel"), 404, "not_found")
    assert_problem(post_csv(other_admin, reward["id"], b"w\n"), 404, "reward_not_found")


def test_results_are_paged_in_upload_order_and_filtered_by_status(
    runtime: Runtime, admin: Caller, reward: dict[str, Any]
) -> None:
    ids = b"".join(f"page-{n:02d}\n".encode() for n in range(25))
    created = post_csv(admin, reward["id"], ids).json["campaign_id"]
    run(runtime, created)  # 20 codes: 20 succeed, 5 run out
    seen, cursor = [], None
    while True:
        query = "?limit=10" + (f"&cursor={cursor}" if cursor else "")
        page = admin.get(f"/campaigns/{created}/results{query}").json
        seen += [r["participant_id"] for r in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"page-{n:02d}" for n in range(25)]
    failed = admin.get(f"/campaigns/{created}/results?status=failed").json["results"]
    assert [(r["participant_id"], r["error_code"]) for r in failed] == [
        (f"page-{n:02d}", "inventory_exhausted") for n in range(20, 25)
    ]
    assert_problem(admin.get(f"/campaigns/{created}/results?cursor=bogus"), 400, "validation_error")
    assert_problem(admin.get(f"/campaigns/{created}/results?status=won"), 400, "validation_error")


def _items_pending(admin: Caller) -> float:
    text = admin.client.get("/metrics").get_data(as_text=True)
    [line] = [x for x in text.splitlines() if x.startswith("coffer_campaign_items_pending ")]
    return float(line.split()[1])


def test_metrics_count_the_participants_of_running_campaigns_not_yet_decided(
    runtime: Runtime, admin: Caller, reward: dict[str, Any]
) -> None:
    before = _items_pending(admin)
    response = admin.post(
        "/campaigns",
        {"reward_id": reward["id"], "participant_ids": ["m1", "m2", "m3"]},
        headers={"Idempotency-Key": new_id("key")},
    )
    assert response.status_code == 202
    assert _items_pending(admin) == before + 3  # CONTRACT §9: campaign items pending

    run(runtime, response.json["campaign_id"])
    assert _items_pending(admin) == before
