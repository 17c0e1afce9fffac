"""The Prefer header (RFC 7240) as a claim request reads it: api/prefer.py."""

from __future__ import annotations

import pytest

from api.prefer import ClaimPreference, claim_preference, preferences, wait_seconds

CAP_MS = 5000


def wait_and_applied(header: str | None, *, pending: bool = True) -> tuple[float, str | None]:
    preference = claim_preference(header, default_ms=CAP_MS)
    return preference.wait_s, preference.applied(pending=pending)


@pytest.mark.parametrize(
    "header",
    [
        "respond-async, wait=3",
        "wait=3, respond-async",
        "wait=3,respond-async",
        "  WAIT = 3 ,  Respond-Async  ",
        "respond-async; foo=bar, wait=3; baz",
        'wait="3", respond-async',
        "return=minimal, respond-async, handling=lenient, wait=3",
        "respond-async, wait=3, wait=1",  # the first instance counts (RFC 7240 §2)
        "respond-async, respond-async, wait=3",
    ],
)
def test_respond_async_with_wait_waits_n_seconds_then_202_in_any_order_case_or_spacing(
    header: str,
) -> None:
    assert wait_and_applied(header) == (3.0, "respond-async, wait=3")


def test_an_outcome_within_the_wait_is_answered_and_only_the_wait_applied() -> None:
    assert wait_and_applied("respond-async, wait=3", pending=False) == (3.0, "wait=3")


@pytest.mark.parametrize(
    "header",
    [
        "respond-async",
        "RESPOND-ASYNC",
        "  respond-async  ",
        "respond-async; ignored=param",
        'respond-async; x="a, b; c"',
        "respond-async=",  # an empty value is no value (RFC 7240 §2)
        "handling=strict, respond-async",
        "respond-async, wait=abc",
        "respond-async, wait=-1",
        "respond-async, wait=1.5",
        "respond-async, wait=",
    ],
)
def test_respond_async_alone_answers_at_once_without_waiting(header: str) -> None:
    preference = claim_preference(header, default_ms=CAP_MS)
    assert preference == ClaimPreference(0.0, respond_async=True)
    assert preference.applied(pending=True) == "respond-async"


def test_respond_async_is_not_claimed_applied_when_a_final_outcome_is_replayed() -> None:
    assert wait_and_applied("respond-async", pending=False) == (0.0, None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("wait=2", (2.0, "wait=2")),
        ("Wait=2", (2.0, "wait=2")),
        ("wait = 2", (2.0, "wait=2")),
        ('wait="2"', (2.0, "wait=2")),
        ("wait=0", (0.0, "wait=0")),
        ("wait=60", (5.0, "wait=5")),  # capped by COFFER_CLAIM_WAIT_MS
        ("wait=99999999999999999999999999", (5.0, "wait=5")),
        ("wait=2; unit=s", (2.0, "wait=2")),
        ("foo, wait=2, bar=baz", (2.0, "wait=2")),
    ],
)
def test_wait_alone_waits_up_to_n_seconds_capped(
    header: str, expected: tuple[float, str | None]
) -> None:
    assert wait_and_applied(header) == expected
    assert wait_and_applied(header, pending=False) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        ",,,",
        "wait=abc",
        "wait=-1",
        "wait=1.5",  # delta-seconds is 1*DIGIT
        "wait=²",
        "wait=",
        'wait="3',  # an unclosed quote
        "respond-async=yes",  # respond-async takes no value
        "wait=abc, wait=2",  # only the first instance counts, and it is unusable
        "return=representation",
        "@@@, ===",
    ],
)
def test_absent_unknown_or_invalid_preferences_are_ignored(header: str | None) -> None:
    assert wait_and_applied(header) == (5.0, None)


def test_several_prefer_headers_read_as_one_list() -> None:
    # WSGI servers (and werkzeug's test client) join repeated headers with commas.
    assert wait_and_applied(", ".join(["wait=3", "respond-async"])) == (
        3.0,
        "respond-async, wait=3",
    )


def test_preferences_unquote_values_and_lower_case_names() -> None:
    assert preferences('Foo="a \\"b\\", c"; p=1, RESPOND-ASYNC, wait=4') == {
        "foo": 'a "b", c',
        "respond-async": "",
        "wait": "4",
    }


def test_wait_seconds_reports_what_a_pending_answer_applies() -> None:
    assert wait_seconds("wait=3, respond-async", default_ms=CAP_MS) == (
        3.0,
        "respond-async, wait=3",
    )
    assert wait_seconds(None, default_ms=1500) == (1.5, None)
