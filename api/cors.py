"""CORS for browsers holding a participant token (CONTRACT §10), through flask-cors.

Only the two participant reads answer cross-origin requests, and only for the
origins in COFFER_CORS_ORIGINS: the preflight is answered (GET, the
Authorization header), and every answer to an allowed origin carries
`Access-Control-Allow-Origin`, errors included, so a browser can read a 401 and
renew its token. No credentials mode: tokens travel in `Authorization`, never
in cookies. With no origins configured nothing is sent and browsers refuse.
"""

from __future__ import annotations

import re

from flask import Flask
from flask_cors import CORS

# /api/v1/gamify/participants/{participant_id}/rewards and .../points (ids may hold `/`).
PARTICIPANT_READ_PATHS = re.compile(r"^/api/v1/gamify/participants/.+/(rewards|points)\Z", re.S)
PREFLIGHT_MAX_AGE_S = 600


def install(app: Flask, origins: tuple[str, ...]) -> None:
    """Answer CORS on the participant reads for exactly these origins."""
    CORS(
        app,
        resources={
            PARTICIPANT_READ_PATHS: {
                # Anchored, escaped patterns: compared whole, never as a prefix or a regex.
                "origins": [re.compile(re.escape(o) + r"\Z", re.IGNORECASE) for o in origins],
                "methods": ["GET", "HEAD"],
                "allow_headers": ["Authorization", "X-Request-ID"],
                "expose_headers": ["X-Request-ID", "Retry-After"],
                "max_age": PREFLIGHT_MAX_AGE_S,
                "supports_credentials": False,
                "vary_header": True,
            }
        },
    )
