"""Idempotency-Key parsing and request fingerprints."""

from __future__ import annotations

import pytest

from core.errors import IdempotencyKeyMissing, ValidationFailed
from core.idempotency import fingerprint, parse_key
from core.ids import new_id


def test_a_quoted_structured_field_string_is_the_same_key() -> None:
    assert parse_key('"order-1"') == parse_key("order-1") == "order-1"
    assert parse_key(r'"say \"hi\""') == 'say "hi"'


def test_a_missing_key_is_its_own_error() -> None:
    with pytest.raises(IdempotencyKeyMissing):
        parse_key(None)


@pytest.mark.parametrize("key", ["", '""', "x" * 256, "tab\there", "naïve"])
def test_malformed_keys_are_validation_errors(key: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_key(key)


def test_a_255_character_key_is_accepted() -> None:
    assert parse_key("k" * 255) == "k" * 255


def test_fingerprints_ignore_key_order_but_not_values_or_paths() -> None:
    base = fingerprint("POST", "/r/1/claim", {"participant_id": "u", "points_deduction": True})
    assert base == fingerprint(
        "post", "/r/1/claim", {"points_deduction": True, "participant_id": "u"}
    )
    assert base != fingerprint(
        "POST", "/r/1/claim", {"participant_id": "u", "points_deduction": False}
    )
    assert base != fingerprint(
        "POST", "/r/2/claim", {"participant_id": "u", "points_deduction": True}
    )


def test_ids_made_in_one_burst_sort_in_creation_order() -> None:
    ids = [new_id("rwd") for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == 5000
