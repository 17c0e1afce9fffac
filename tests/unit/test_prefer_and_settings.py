"""The Prefer header and settings parsing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.prefer import wait_seconds
from core.settings import Settings


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (5.0, None)),
        ("respond-async", (0.0, "respond-async")),
        ("wait=2", (2.0, "wait=2")),
        ("wait=60", (5.0, "wait=5")),
        ("handling=lenient, wait=1.5", (1.5, "wait=1.5")),
        ("wait=abc", (5.0, None)),
        ("respond-async, wait=3", (0.0, "respond-async")),
    ],
)
def test_prefer_sets_how_long_a_claim_waits(
    header: str | None, expected: tuple[float, str | None]
) -> None:
    assert wait_seconds(header, default_ms=5000) == expected


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
