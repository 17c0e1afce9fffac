"""Schemathesis hooks for the full-stack run (loaded through SCHEMATHESIS_HOOKS).

A valid Idempotency-Key is made unique per request (map_headers): schemathesis draws
few distinct keys, and a key reused with another body is a correct 422 that would
otherwise keep most claims, credits and campaigns from reaching their rules. Invalid
keys are left as drawn, so their refusal is still tested.

One finding is dropped, and only that one: a "schema-violating" text/csv body. A
text/csv body is text on the wire whatever schemathesis drew: its negative mode
draws an object or a number for the `type: string` schema and serializes it as
text (`{}`, `0`), which is a well-formed one-line CSV the API rightly accepts. The
JSON variant of the same operations is held to every check.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import schemathesis

from core.idempotency import KEY_PATTERN

CSV = "text/csv"
IDEMPOTENCY_KEY = "Idempotency-Key"
ACCEPTED_INVALID = "ST201"  # "Schema-violating request accepted" (negative_data_rejection)


_VALID_KEY = re.compile(KEY_PATTERN)


@schemathesis.hook
def map_headers(context: Any, headers: dict[str, Any] | None) -> dict[str, Any] | None:
    """A fresh key in place of each valid drawn Idempotency-Key."""
    key = (headers or {}).get(IDEMPOTENCY_KEY)
    if isinstance(key, str) and _VALID_KEY.match(key):
        return {**(headers or {}), IDEMPOTENCY_KEY: f"st-{uuid.uuid4().hex}"}
    return headers


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except an accepted text/csv body drawn as a non-string."""
    media_type = (getattr(case, "media_type", None) or "").split(";")[0].strip()
    drawn_as_text = isinstance(case.body, str | bytes)
    accepted_invalid = getattr(failure, "code", "") == ACCEPTED_INVALID
    keep = not (media_type == CSV and not drawn_as_text and accepted_invalid)
    if not keep and (record := os.environ.get("COFFER_SCHEMATHESIS_DROPPED")):
        # The test reads this back: what was dropped, so a wider drop cannot go unseen.
        with open(record, "a", encoding="utf-8") as out:
            out.write(json.dumps({"operation": failure.operation, "body": repr(case.body)}) + "\n")
    return keep
