"""CSV code uploads (CONTRACT §4): LF, CRLF and CR line ends, a BOM, `header=present`."""

from __future__ import annotations

import pytest
from werkzeug.test import TestResponse

from core.runtime import Runtime
from tests.api.conftest import GAMIFY, Caller, codes_in_seq_order, error_fields

CODES = ["SAVE-001", "SAVE-002", "SAVE-003"]


def upload_csv(
    admin: Caller, reward_id: str, body: bytes, content_type: str = "text/csv"
) -> TestResponse:
    return admin.client.post(
        f"{GAMIFY}/rewards/{reward_id}/codes",
        data=body,
        headers={**admin.headers, "Content-Type": content_type},
    )


@pytest.mark.parametrize(
    "body",
    [
        b"SAVE-001\nSAVE-002\nSAVE-003\n",
        b"SAVE-001\r\nSAVE-002\r\nSAVE-003\r\n",
        b"SAVE-001\rSAVE-002\rSAVE-003\r",
        b"SAVE-001\rSAVE-002\rSAVE-003",
        b"SAVE-001\r\nSAVE-002\rSAVE-003\n",  # mixed, as concatenated exports end up
        b"\xef\xbb\xbfSAVE-001\rSAVE-002\rSAVE-003\r",  # BOM and CR, as old Mac Excel writes
        b"\xef\xbb\xbfSAVE-001\r\n\r\nSAVE-002\r\n\r\nSAVE-003",  # blank lines skipped
        b'"SAVE-001"\r"SAVE-002",\rSAVE-003\r',  # quoted, and an empty trailing column
    ],
    ids=["lf", "crlf", "cr", "cr-no-final", "mixed", "bom-cr", "bom-blank-lines", "quoted"],
)
def test_every_line_ending_gives_the_same_codes_in_order(
    admin: Caller, runtime: Runtime, body: bytes
) -> None:
    reward = admin.create_reward()
    response = upload_csv(admin, reward["id"], body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {"added": 3, "duplicates": 0, "available_codes": 3}
    assert [value for _, value in codes_in_seq_order(runtime, reward["id"])] == CODES


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv; header=present", b"code\nSAVE-001\nSAVE-002\nSAVE-003\n"),
        ("text/csv;header=present", b"code\rSAVE-001\rSAVE-002\rSAVE-003\r"),
        (
            "text/csv; charset=utf-8; header=present",
            b"\xef\xbb\xbfcode\r\nSAVE-001\r\nSAVE-002\r\nSAVE-003",
        ),
        ('text/csv; Header="Present"', b"Code,Notes\nSAVE-001\nSAVE-002\nSAVE-003\n"),
    ],
)
def test_a_header_line_is_skipped_with_header_present(
    admin: Caller, runtime: Runtime, content_type: str, body: bytes
) -> None:
    reward = admin.create_reward()
    response = upload_csv(admin, reward["id"], body, content_type)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["added"] == 3
    assert [value for _, value in codes_in_seq_order(runtime, reward["id"])] == CODES


def test_without_header_present_the_first_line_is_a_code(admin: Caller, runtime: Runtime) -> None:
    for content_type in ("text/csv", "text/csv; header=absent"):
        reward = admin.create_reward()
        response = upload_csv(admin, reward["id"], b"code\nSAVE-001\n", content_type)
        assert response.json["added"] == 2
        assert codes_in_seq_order(runtime, reward["id"])[0] == (1, "code")


def test_an_unknown_header_value_is_refused(admin: Caller, runtime: Runtime) -> None:
    reward = admin.create_reward()
    response = upload_csv(admin, reward["id"], b"code\nSAVE-001\n", "text/csv; header=yes")
    assert error_fields(response) == {"Content-Type"}
    assert codes_in_seq_order(runtime, reward["id"]) == []


def test_a_header_only_upload_holds_no_codes(admin: Caller) -> None:
    reward = admin.create_reward()
    response = upload_csv(admin, reward["id"], b"code\r\n", "text/csv; header=present")
    assert error_fields(response) == {"codes"}


@pytest.mark.parametrize(
    ("body", "content_type", "line"),
    [
        (b"SAVE-001\nSAVE-002,EXTRA\nSAVE-003\n", "text/csv", "line 2"),
        (b"SAVE-001\rSAVE-002\rSAVE-003,EXTRA\r", "text/csv", "line 3"),
        (b"SAVE-001\r\n\r\nSAVE-002;x,EXTRA\r\n", "text/csv", "line 3"),
        (b"code\rSAVE-001,EXTRA\r", "text/csv; header=present", "line 2"),
    ],
)
def test_a_line_with_several_columns_is_refused_naming_the_line(
    admin: Caller, runtime: Runtime, body: bytes, content_type: str, line: str
) -> None:
    reward = admin.create_reward()
    response = upload_csv(admin, reward["id"], body, content_type)
    assert error_fields(response) == {line}
    assert codes_in_seq_order(runtime, reward["id"]) == []
