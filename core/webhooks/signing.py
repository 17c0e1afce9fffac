"""Standard Webhooks secrets and signatures, through the reference `standardwebhooks` library."""

from __future__ import annotations

import base64
import secrets as random_source
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes


def new_secret() -> str:
    """A fresh `whsec_<base64>` secret, the format the library (and Svix) read."""
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(SECRET_BYTES)).decode()


def headers(*, secrets: list[str], msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed by every secret given.

    During a rotation both the new and the previous secret sign, so the
    `webhook-signature` header carries two space-separated `v1,` entries and a
    receiver holding either secret verifies the delivery.
    """
    text = body.decode()
    signatures = [Webhook(secret).sign(msg_id, at, text) for secret in secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
