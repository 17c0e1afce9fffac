"""The example storefront's backend: holds Coffer's server key, signs the customer in,
issues participant tokens to the page and proxies claims (seed Pattern 1).

Settings (environment):
    COFFER_URL             Coffer as this backend reaches it, e.g. http://127.0.0.1:8000
    COFFER_PUBLIC_URL      Coffer as the browser reaches it (default: COFFER_URL)
    COFFER_SERVER_KEY      a live or test *server* key of the shop's tenant
    STOREFRONT_SECRET_KEY  signs the session cookie (default: random per process)
    STOREFRONT_TOKEN_TTL   seconds a participant token lives, 60..86400 (default 600)
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
from coffer_client import CofferError
from coffer_gateway import CofferGateway, Refused
from flask import Flask, abort, jsonify, redirect, request, send_from_directory, session

HERE = Path(__file__).resolve().parent
ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
DEFAULT_PARTICIPANT = "user_42"  # the demo tenant's customer with 1500 points


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The storefront app; `config` overrides the environment (tests)."""
    settings = {
        "COFFER_URL": os.environ.get("COFFER_URL", "http://127.0.0.1:8000"),
        "COFFER_PUBLIC_URL": os.environ.get("COFFER_PUBLIC_URL"),
        "COFFER_SERVER_KEY": os.environ.get("COFFER_SERVER_KEY", ""),
        "SECRET_KEY": os.environ.get("STOREFRONT_SECRET_KEY") or secrets.token_urlsafe(32),
        "TOKEN_TTL": int(os.environ.get("STOREFRONT_TOKEN_TTL", "600")),
        "DIST": HERE / "dist",
        **(config or {}),
    }
    if not settings["COFFER_SERVER_KEY"]:
        raise SystemExit("storefront: COFFER_SERVER_KEY is not set (a server key of your tenant)")
    app = Flask(__name__, static_folder=None)
    app.config.update(settings)
    # The session cookie names the customer: not readable by scripts, not sent cross-site.
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    gateway = CofferGateway(settings["COFFER_URL"], settings["COFFER_SERVER_KEY"])
    app.extensions["coffer_gateway"] = gateway  # whoever ends the app closes its connections
    public_url = settings["COFFER_PUBLIC_URL"] or settings["COFFER_URL"]

    def customer() -> str:
        # Stands in for the shop's own sign-in: the backend, never the page, says who claims.
        return session.get("participant_id", DEFAULT_PARTICIPANT)

    @app.get("/")
    def page() -> Any:
        if "as" in request.args:  # demo sign-in: /?as=user_42
            session["participant_id"] = request.args["as"].strip() or DEFAULT_PARTICIPANT
            return redirect("/")
        return send_from_directory(app.config["DIST"], "index.html")

    @app.get("/assets/<path:name>")
    def assets(name: str) -> Any:
        return send_from_directory(app.config["DIST"] / "assets", name)

    @app.get("/api/session")
    def who() -> Any:
        return jsonify(participant_id=customer(), coffer_url=public_url)

    @app.get("/api/catalog")
    def catalog() -> Any:
        participant = customer()
        return jsonify(balance=gateway.balance(participant), rewards=gateway.catalog(participant))

    @app.post("/api/tokens")
    def token() -> Any:
        return jsonify(gateway.issue_token(customer(), app.config["TOKEN_TTL"])), 201

    @app.post("/api/orders/<order_id>/redeem")
    def redeem(order_id: str) -> Any:
        body = request.get_json(silent=True) or {}
        reward_id = body.get("reward_id")
        if not ORDER_ID.match(order_id) or not isinstance(reward_id, str):
            abort(400)
        try:
            claim = gateway.redeem(customer(), reward_id, order_id)
        except Refused as refused:
            return jsonify(ok=False, reason=refused.code, message=refused.message), 409
        return jsonify(
            ok=True,
            claim_id=claim.claim_id,
            reward_name=claim.reward_name,
            code=claim.code_value,
            points_deducted=claim.points_deducted,
            new_balance=claim.new_balance,
        )

    @app.errorhandler(CofferError)
    @app.errorhandler(httpx.TransportError)
    def coffer_unavailable(error: Exception) -> Any:
        # Coffer down or refusing the server key: the page says so, the log has the cause.
        app.logger.warning("Coffer call failed: %r", error)
        return jsonify(ok=False, reason="unavailable", message="Rewards are unavailable"), 502

    return app


if __name__ == "__main__":
    port = int(os.environ.get("STOREFRONT_PORT", "5000"))
    create_app().run(host="127.0.0.1", port=port)
