"""Settings parsing (the Prefer header: tests/unit/test_prefer.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings, settings_error_lines


def test_settings_parse_the_retry_schedule_and_normalise_postgres_urls() -> None:
    settings = Settings(
        webhook_retry_schedule="1,2,3",
        database_url="postgresql://u@h/db",
        _env_file=None,  # type: ignore[arg-type, call-arg]
    )
    assert settings.webhook_retry_schedule == (1, 2, 3)
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.is_embedded


@pytest.mark.parametrize(
    "field", [{"rate_limit": "lots"}, {"database_url": "mysql://x"}, {"claim_wait_ms": -1}]
)
def test_bad_settings_fail_fast(field: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**field, _env_file=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "expected"), [("0", False), ("1", True), ("true", True), ("false", False)]
)
def test_flags_take_the_documented_forms(given: str, expected: bool) -> None:
    settings = Settings(webhook_allow_private=given, _env_file=None)  # type: ignore[arg-type, call-arg]
    assert settings.webhook_allow_private is expected


def test_cors_origins_are_comma_separated_and_compared_as_browsers_send_them() -> None:
    settings = Settings(
        cors_origins="https://Shop.Example.com, http://localhost:3000",
        _env_file=None,  # type: ignore[arg-type, call-arg]
    )
    assert settings.cors_origins == ("https://shop.example.com", "http://localhost:3000")
    assert Settings(_env_file=None).cors_origins == ()  # type: ignore[call-arg]
    assert Settings(_env_file=None).claim_max_attempts == 10  # type: ignore[call-arg]
    assert Settings(_env_file=None).claim_linger_ms == 20  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("field", "value", "line"),
    [
        (
            "webhook_allow_private", "yes",
            "COFFER_WEBHOOK_ALLOW_PRIVATE='yes': not a flag (expected: 0, 1, true or false)",
        ),
        (
            "cors_origins", "https://a.example/path",
            "COFFER_CORS_ORIGINS='https://a.example/path': 'https://a.example/path' is not an "
            "origin (expected: comma-separated origins scheme://host[:port], "
            "e.g. https://shop.example.com,http://localhost:3000)",
        ),
        (
            "claim_linger_ms", "1001",
            "COFFER_CLAIM_LINGER_MS='1001': input should be less than or equal to 1000 "
            "(expected: whole milliseconds from 0 (no lingering) to 1000, e.g. 20)",
        ),
    ],
)  # fmt: skip
def test_a_bad_value_is_named_in_one_line_with_its_expected_form(
    field: str, value: str, line: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(**{field: value}, _env_file=None)  # type: ignore[arg-type]
    assert settings_error_lines(raised.value) == [line]


def test_a_password_in_a_bad_url_stays_out_of_the_message() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(redis_url="http://:hunter2@cache:6379/0", _env_file=None)  # type: ignore[call-arg]
    [line] = settings_error_lines(raised.value)
    assert "hunter2" not in line and line.startswith("COFFER_REDIS_URL='http://:***@cache")


@pytest.mark.parametrize("rate", ["0/second", "0/minute", " 00 / day "])
def test_a_rate_limit_no_request_can_pass_stops_start_up_with_one_line(rate: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(rate_limit=rate, _env_file=None)  # type: ignore[call-arg]
    assert settings_error_lines(raised.value) == [
        f"COFFER_RATE_LIMIT={rate!r}: a count of 0 lets no request through (expected: "
        "COUNT/UNIT with COUNT at least 1 and UNIT second, minute, hour or day, e.g. 100/second)"
    ]


def test_a_rate_limit_of_one_is_accepted() -> None:
    assert Settings(rate_limit="1/day", _env_file=None).rate_limit_parts == (1, "day")  # type: ignore[call-arg]
