"""The one settings object, read from the environment (and `.env`) by API, worker and CLI.

Every variable is read in exactly the form CONTRACT.md §1 documents: a list is
comma-separated text, a flag is `0`/`1`/`true`/`false`, a number is plain
digits. A value that cannot be used stops the process at start with one line
per variable (`refuse_to_start`), never a traceback and never a silent fallback.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")
_FLAGS = {"0": False, "1": True, "false": False, "true": True}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_REDIS_SCHEMES = ("redis", "rediss", "unix")

# Exit status of a process that refuses to start. 3 is gunicorn's "worker failed to
# boot": a gunicorn worker exiting with it makes the master stop instead of respawning.
EXIT_REFUSED = 3
SECRET_KEY_MIN_BYTES = 32  # HKDF input keying material: at least SHA-256's output size

# The form each variable is read in, as the one-line error states it (CONTRACT §1).
EXPECTED_FORM: dict[str, str] = {
    "database_url": "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE",
    "broker_url": "a Celery broker URL, e.g. redis://HOST:6379/0",
    "redis_url": "redis://HOST:PORT/DB (or rediss://, unix://)",
    "claim_wait_ms": "whole milliseconds from 0 to 60000, e.g. 5000",
    "webhook_allow_private": "0, 1, true or false",
    "webhook_retry_schedule": "comma-separated whole seconds, e.g. 5,300,1800",
    "webhook_timeout_s": "seconds above 0 and at most 120, e.g. 10",
    "sweep_interval_s": "seconds above 0, e.g. 30",
    "rate_limit": "COUNT/UNIT with COUNT at least 1 and UNIT second, minute, hour or day, "
    "e.g. 100/second",
    "max_body_bytes": "whole bytes, at least 1024, e.g. 10485760",
    "claim_batch_size": "a whole number from 1 to 5000, e.g. 200",
    "claim_max_attempts": "a whole number, at least 1, e.g. 10",
    "claim_linger_ms": "whole milliseconds from 0 (no lingering) to 1000, e.g. 20",
    "log_level": "DEBUG, INFO, WARNING, ERROR or CRITICAL",
    "secret_key": "at least 32 bytes of random text, e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
    "cors_origins": (
        "comma-separated origins scheme://host[:port], "
        "e.g. https://shop.example.com,http://localhost:3000"
    ),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COFFER_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite:///./coffer.db"
    broker_url: str | None = None  # None: Celery's in-process transport (embedded default)
    redis_url: str | None = None
    claim_wait_ms: int = Field(default=5000, ge=0, le=60_000)
    webhook_allow_private: bool = False
    # NoDecode: pydantic-settings would JSON-decode a tuple from the environment before
    # any validator ran; the documented form is comma-separated text.
    webhook_retry_schedule: Annotated[tuple[int, ...], NoDecode] = (
        5, 300, 1800, 7200, 18000, 36000, 36000,
    )  # fmt: skip
    webhook_timeout_s: float = Field(default=10, gt=0, le=120, allow_inf_nan=False)
    sweep_interval_s: float = Field(default=30, gt=0, allow_inf_nan=False)
    rate_limit: str = "100/second"
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    claim_batch_size: int = Field(default=200, ge=1, le=5000)
    claim_max_attempts: int = Field(default=10, ge=1)
    # How long a drain that found nothing more keeps waiting for new claims before its
    # task ends (workers/queue.py); 0 ends it at once, as before. Needs COFFER_REDIS_URL.
    claim_linger_ms: int = Field(default=20, ge=0, le=1000)
    log_level: str = "INFO"
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # The instance secret (core/instance_secret.py); unset: one generated and kept in the
    # database. Set it in production so a database dump alone reveals no derived key.
    secret_key: SecretStr | None = None

    @field_validator("webhook_allow_private", mode="before")
    @classmethod
    def _parse_flag(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().lower() not in _FLAGS:
                raise ValueError("not a flag")
            return _FLAGS[value.strip().lower()]
        return value

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        parts = [part.strip() for part in value.split(",")]
        if not value.strip() or any(not part.isdigit() for part in parts):
            bad = next((p for p in parts if not p.isdigit()), "")
            raise ValueError(f"{bad!r} is not a whole number of seconds")
        return tuple(int(part) for part in parts)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(_origin(part.strip()) for part in value.split(",") if value.strip())
        return value

    @field_validator("secret_key", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        # As for the URLs below: `COFFER_SECRET_KEY=` in a compose file means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < SECRET_KEY_MIN_BYTES:
            raise ValueError(f"shorter than {SECRET_KEY_MIN_BYTES} bytes")
        return value

    @field_validator("broker_url", "redis_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose files and shells write `COFFER_REDIS_URL=` for "not set"; the
        # documented default of these two is "unset", so the empty value means it.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str | None) -> str | None:
        from kombu.transport import TRANSPORT_ALIASES  # noqa: PLC0415 - kombu knows its schemes

        if value is None:
            return None
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme.split("+", 1)[0] not in TRANSPORT_ALIASES:
            raise ValueError("not a broker URL Celery knows")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in _REDIS_SCHEMES:
            raise ValueError("not a Redis URL")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        match = _RATE.match(value)
        if not match:
            raise ValueError("not a rate")
        # 0/second would answer every request 429 forever: a limit no request can pass.
        if int(match.group(1)) < 1:
            raise ValueError("a count of 0 lets no request through")
        return value.strip()

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.strip().upper() not in _LOG_LEVELS:
            raise ValueError("not a log level")
        return value.strip().upper()

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url  # noqa: PLC0415 - SQLAlchemy parses its own URLs
        from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

        if value.startswith(("postgresql://", "postgres://")):
            # Plain postgresql:// would select psycopg2; Coffer speaks psycopg 3.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError("neither PostgreSQL nor SQLite, the databases Coffer runs on")
        if backend == "postgresql":
            from core.db import psycopg_options  # noqa: PLC0415

            psycopg_options(value)  # ?prepare_threshold= is none or a whole number
        return value

    @property
    def is_embedded(self) -> bool:
        """True when no broker is configured: the queue runs inside `coffer serve`."""
        return self.broker_url is None

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def rate_limit_parts(self) -> tuple[int, str]:
        match = _RATE.match(self.rate_limit)
        assert match is not None  # guaranteed by the validator
        return int(match.group(1)), match.group(2)


def _origin(text: str) -> str:
    """`scheme://host[:port]` as a browser sends it in `Origin`, lower-cased; else ValueError."""
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        raise ValueError(f"{text!r} is not an origin") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"{text!r} is not an origin")
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port is not None else "")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process, read once. Raises pydantic's ValidationError."""
    return Settings()


def settings_error_lines(error: ValidationError) -> list[str]:
    """One line per unusable variable: `COFFER_X='value': problem (expected: form)`."""
    lines: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        if field in lines:
            continue
        problem = str(item["msg"]).removeprefix("Value error, ")
        problem = problem[:1].lower() + problem[1:]
        # A secret is never echoed, not even a too-short one: say only how long it was.
        shown = (
            f"<hidden, {len(str(item.get('input', '')).encode())} bytes>"
            if field == "secret_key"
            else _shown(item.get("input"))
        )
        form = EXPECTED_FORM.get(field, "see CONTRACT.md §1")
        lines[field] = f"COFFER_{field.upper()}={shown}: {problem} (expected: {form})"
    return list(lines.values())


def _shown(value: Any) -> str:
    """The offending value, quoted, with any URL password hidden and long values cut."""
    text = value if isinstance(value, str) else repr(value)
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def refuse_to_start(*lines: str) -> NoReturn:
    """Stop this process at start: each line to the real stderr, prefixed, then exit 3.

    The real stderr (`sys.__stderr__`) because Celery redirects `sys.stderr` into
    its logger once logging is set up.
    """
    stream = sys.__stderr__ or sys.stderr
    for line in lines:
        stream.write(f"coffer: {line}\n")
    stream.flush()
    raise SystemExit(EXIT_REFUSED)


def load_settings_or_exit() -> Settings:
    """The settings of an entry point (CLI, gunicorn, Celery): unusable ones stop it cleanly."""
    try:
        return get_settings()
    except ValidationError as error:
        refuse_to_start(*settings_error_lines(error))
    except SettingsError as error:  # e.g. an unreadable .env file
        refuse_to_start(f"the settings could not be read: {error}")
