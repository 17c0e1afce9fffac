"""Participant tokens and the instance secret's derivation, without I/O (CONTRACT §10)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import ValidationError

from core.instance_secret import hkdf
from core.settings import Settings, settings_error_lines
from core.tenants import Principal
from core.tokens import TokenInvalid, issue_token, read_token

KEY = hkdf(b"k" * 32, "participant-tokens")
SERVER = Principal(key_id="key_01", tenant_id="ten_01", mode="test", scope="server")
NOW = datetime(2026, 11, 30, 12, 0, 0, 500_000, tzinfo=UTC)


def test_a_token_carries_tenant_mode_participant_key_and_expiry() -> None:
    issued = issue_token(
        signing_key=KEY, principal=SERVER, participant_id="user/42", ttl_seconds=600,
        now=datetime.now(UTC),
    )  # fmt: skip
    claims = read_token(issued.token, signing_key=KEY)

    assert issued.token.startswith("cpt_")
    assert (claims.tenant_id, claims.mode, claims.participant_id, claims.key_id) == (
        "ten_01", "test", "user/42", "key_01",
    )  # fmt: skip
    assert claims.expires_at == issued.expires_at


def test_the_expiry_is_whole_seconds_after_issue() -> None:
    issued = issue_token(
        signing_key=KEY, principal=SERVER, participant_id="p", ttl_seconds=60, now=NOW
    )

    assert issued.expires_at == datetime(2026, 11, 30, 12, 1, 0, tzinfo=UTC)


def test_an_expired_token_is_refused_with_a_reason() -> None:
    old = issue_token(
        signing_key=KEY, principal=SERVER, participant_id="p", ttl_seconds=60,
        now=datetime.now(UTC) - timedelta(seconds=61),
    )  # fmt: skip

    with pytest.raises(TokenInvalid, match="expired") as refused:
        read_token(old.token, signing_key=KEY)
    assert refused.value.status == 401 and refused.value.code == "unauthorized"


def test_a_token_signed_with_another_key_or_purpose_is_refused() -> None:
    other = hkdf(b"k" * 32, "webhook-secrets")
    issued = issue_token(
        signing_key=other, principal=SERVER, participant_id="p", ttl_seconds=60,
        now=datetime.now(UTC),
    )  # fmt: skip

    with pytest.raises(TokenInvalid):
        read_token(issued.token, signing_key=KEY)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512, our key
def test_an_unsigned_token_or_one_naming_its_own_algorithm_is_refused() -> None:
    claims = {"aud": "coffer:participant", "sub": "p", "ten": "t", "mod": "live", "kid": "k",
              "iat": 1, "exp": 4_102_444_800}  # fmt: skip
    none = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    hs512 = jwt.encode(claims, KEY, algorithm="HS512")  # the right key, not the pinned HS256

    for token in (none, hs512):
        with pytest.raises(TokenInvalid):
            read_token("cpt_" + token, signing_key=KEY)


def test_a_token_with_changed_claims_is_refused() -> None:
    issued = issue_token(
        signing_key=KEY, principal=SERVER, participant_id="p", ttl_seconds=60,
        now=datetime.now(UTC),
    )  # fmt: skip
    header, payload, signature = issued.token.removeprefix("cpt_").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "mod": "live"}).encode()).rstrip(b"=")

    with pytest.raises(TokenInvalid):
        read_token(f"cpt_{header}.{forged.decode()}.{signature}", signing_key=KEY)


@pytest.mark.parametrize("token", ["", "ck_live_abc", "cpt_", "cpt_a.b.c", "a.b.c"])
def test_anything_but_a_participant_token_is_refused(token: str) -> None:
    with pytest.raises(TokenInvalid):
        read_token(token, signing_key=KEY)


def test_each_purpose_gets_its_own_32_byte_key_and_the_same_one_every_time() -> None:
    secret = b"s" * 40

    assert len(hkdf(secret, "participant-tokens")) == 32
    assert hkdf(secret, "participant-tokens") == hkdf(secret, "participant-tokens")
    assert hkdf(secret, "participant-tokens") != hkdf(secret, "webhook-secrets")
    assert hkdf(secret, "participant-tokens") != hkdf(b"t" * 40, "participant-tokens")


def test_the_secret_key_setting_needs_32_bytes_and_is_never_echoed() -> None:
    short = "tooshort-but-secret"
    with pytest.raises(ValidationError) as refused:
        Settings(secret_key=short, _env_file=None)  # type: ignore[arg-type, call-arg]

    (line,) = settings_error_lines(refused.value)
    assert line.startswith("COFFER_SECRET_KEY=<hidden, 19 bytes>: shorter than 32 bytes")
    assert short not in line
    long_enough = Settings(secret_key="x" * 32, _env_file=None)  # type: ignore[arg-type, call-arg]
    assert long_enough.secret_key is not None
    assert "x" * 32 not in repr(long_enough)
    assert Settings(secret_key="  ", _env_file=None).secret_key is None  # type: ignore[arg-type, call-arg]
