"""Settings parsing (the Prefer header: tests/unit/test_prefer.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings


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
