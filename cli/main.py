"""The `coffer` command line: serve, worker, beat, db, tenants, keys, demo."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from cli.campaigns import register as register_campaigns
from core.settings import get_settings, load_settings_or_exit


class Failure(click.ClickException):
    """A command that cannot do its job: one line `coffer: ...` on stderr, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"coffer: {self.format_message()}", err=True)


class _Commands(click.Group):
    """Turns a database that stops answering mid-command into one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from core.migrate import unreachable_message  # noqa: PLC0415

        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError) as error:  # the driver's "cannot talk to it"
            raise Failure(unreachable_message(get_settings().database_url, error)) from None


def _runtime() -> Any:
    from core.runtime import get_runtime  # noqa: PLC0415

    return get_runtime()


def _prepare_database() -> Any:
    """The embedded SQLite default migrates itself; anything else must be migrated already
    and reachable, else one line (CONTRACT §1)."""
    from core.migrate import DatabaseUnreachable, NotMigrated, check_database, upgrade  # noqa: PLC0415

    runtime = _runtime()
    if runtime.settings.uses_sqlite:
        upgrade(runtime.settings.database_url)
    try:
        check_database(runtime.settings.database_url)
    except (DatabaseUnreachable, NotMigrated) as error:
        raise Failure(str(error)) from None
    return runtime


@click.group(cls=_Commands)
def main() -> None:
    """Coffer: a headless rewards engine."""
    # Every command reads the settings first: an unusable one stops it with one line.
    load_settings_or_exit()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=16, show_default=True, type=int, help="HTTP worker threads.")
def serve(host: str, port: int, threads: int) -> None:
    """Run the API, a worker and the periodic jobs in one process."""
    from api import create_app  # noqa: PLC0415
    from cli.embedded import listen_http, start_beat, start_worker  # noqa: PLC0415
    from workers import app as celery  # noqa: PLC0415

    runtime = _prepare_database()
    try:
        server = listen_http(create_app(runtime), host=host, port=port, threads=threads)
    except OSError as error:  # port in use, address not on this host, no permission
        raise Failure(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    if runtime.settings.is_embedded:
        start_worker(celery)
        start_beat(celery)
    else:
        click.echo("COFFER_BROKER_URL is set: run `coffer worker` and `coffer beat` too.", err=True)
    server.run()


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a Celery worker (the same as `celery -A workers worker`).

    Every option after `worker` passes through to Celery, e.g.
    `coffer worker --concurrency 4 --loglevel INFO`; `celery -A workers worker --help`
    lists them.
    """
    from workers import app as celery  # noqa: PLC0415

    celery.worker_main(["worker", *ctx.args])


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Run the periodic jobs (the same as `celery -A workers beat`).

    Every option after `beat` passes through to Celery, e.g.
    `coffer beat --loglevel INFO`; `celery -A workers beat --help` lists them.
    Run exactly one beat.
    """
    from workers import app as celery  # noqa: PLC0415

    celery.start(["beat", *ctx.args])


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations up to the latest schema."""
    from core.migrate import head_revision, upgrade  # noqa: PLC0415

    url = get_settings().database_url
    upgrade(url)
    click.echo(f"database is at revision {head_revision(url)}")


@main.group()
def tenants() -> None:
    """Tenants."""


@tenants.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tenants_create(name: str, as_json: bool) -> None:
    """Create a tenant with admin and server keys for live and test mode."""
    from core.tenants import create_tenant  # noqa: PLC0415

    name = _tenant_name(name)
    with _prepare_database().db.transaction() as session:
        tenant, keys = create_tenant(session, name=name)
    result = {"tenant_id": tenant.id, "keys": keys}
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"tenant {tenant.id} ({name})")
    for mode, scoped in keys.items():
        for scope, key in scoped.items():
            click.echo(f"  {mode:4} {scope:6} {key}")
    click.echo("Keys are shown once; store them now.")


def _tenant_name(given: str) -> str:
    """The name held to the rule of every name Coffer stores (core/inputs.Name): 1-200
    characters once trimmed, no NUL; else one line and exit 1."""
    from pydantic import TypeAdapter, ValidationError  # noqa: PLC0415

    from core.inputs import Name  # noqa: PLC0415

    try:
        return TypeAdapter(Name).validate_python(given)
    except ValidationError as error:
        reason = "is empty" if not given.strip() else f"is refused: {error.errors()[0]['msg']}"
        raise Failure(
            f"tenant name {reason} (expected: 1 to 200 characters, not all spaces)"
        ) from None


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--mode", type=click.Choice(["live", "test"]), required=True)
@click.option("--scope", type=click.Choice(["admin", "server"]), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def keys_create(tenant_id: str, mode: str, scope: str, as_json: bool) -> None:
    """Create a key; the full key is shown once."""
    from core.errors import NotFound  # noqa: PLC0415
    from core.tenants import issue_key  # noqa: PLC0415

    try:
        with _prepare_database().db.transaction() as session:
            issued = issue_key(session, tenant_id=tenant_id, mode=mode, scope=scope)  # type: ignore[arg-type]
    except NotFound as error:
        raise click.ClickException(error.detail) from error
    click.echo(
        json.dumps(issued.as_dict()) if as_json else f"{issued.key}\n(prefix {issued.prefix})"
    )


_PREFIX = re.compile(r"ck_(?:live|test)_.{8}")


@keys.command("revoke")
@click.argument("key_or_prefix", metavar="PREFIX_OR_KEY")
def keys_revoke(key_or_prefix: str) -> None:
    """Revoke a key by its prefix (e.g. ck_live_a1B2c3D4) or the full key; effective on its
    next request. A full key must be the stored one (its hash is compared), so a mistyped
    key revokes nothing; the full key is never printed."""
    from sqlalchemy import select  # noqa: PLC0415

    from core.errors import NotFound  # noqa: PLC0415
    from core.key_cache import MAX_AGE_S  # noqa: PLC0415
    from core.models import ApiKey  # noqa: PLC0415
    from core.tenants import hash_key, revoke_key  # noqa: PLC0415
    from core.tokens_revocation import LIVE_TTL_S  # noqa: PLC0415

    match = _PREFIX.match(key_or_prefix)
    prefix = match.group(0) if match else key_or_prefix
    runtime = _prepare_database()
    try:
        with runtime.db.transaction() as session:
            if prefix != key_or_prefix:  # a full key: the stored hash must be its hash
                stored = session.scalar(select(ApiKey.key_hash).where(ApiKey.prefix == prefix))
                if stored != hash_key(key_or_prefix):
                    raise NotFound(f"No active key matches the key given (prefix {prefix})")
            # Announced in Redis after the commit, to every API process (core/key_cache.py).
            revocation = revoke_key(session, prefix=prefix, redis=runtime.redis)
    except NotFound as error:
        raise Failure(error.detail) from error
    click.echo(f"revoked {prefix}")
    if not revocation.announced and (runtime.redis is not None or not runtime.db.is_sqlite):
        # API processes with Redis cache keys; without the announcement their entries age out.
        why = "could not be reached" if runtime.redis is not None else "is not set"
        click.echo(
            f"warning: COFFER_REDIS_URL {why}, so the API processes were not told: they refuse"
            f" the key within {MAX_AGE_S:g} s and its participant tokens within {LIVE_TTL_S:g} s",
            err=True,
        )


@main.command()
@click.option(
    "--max-pending-age",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds a claim may stay pending [default: twice COFFER_SWEEP_INTERVAL_S].",
)
def check(max_pending_age: float | None) -> None:
    """Verify every invariant in SQL; print each violation and exit 1 if there is any."""
    from datetime import timedelta  # noqa: PLC0415

    from core.checks import run_checks  # noqa: PLC0415

    runtime = _prepare_database()
    age = max_pending_age if max_pending_age is not None else 2 * runtime.settings.sweep_interval_s
    with runtime.db.transaction() as session:
        violations = run_checks(session, max_pending_age=timedelta(seconds=age))
    for violation in violations:
        click.echo(f"{violation.check}: {violation.detail}")
    if violations:
        click.echo(f"{len(violations)} violation(s)", err=True)
        sys.exit(1)
    click.echo("all invariants hold")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True)
def demo(as_json: bool, base_url: str) -> None:
    """Seed a demo tenant (catalog, codes, points) and print its keys."""
    from core.demo import DEMO_PARTICIPANT, seed_demo  # noqa: PLC0415

    with _prepare_database().db.transaction() as session:
        seeded = seed_demo(session)
    if as_json:
        click.echo(json.dumps(seeded))
        return
    server_key = seeded["keys"]["live"]["server"]
    click.echo(f"Demo tenant {seeded['tenant_id']}")
    click.echo(f"  live admin key:  {seeded['keys']['live']['admin']}")
    click.echo(f"  live server key: {server_key}")
    click.echo(f"  {DEMO_PARTICIPANT} has 1500 points.\n")
    # The README's examples use these names: pasting this line makes them runnable.
    click.echo("For the README's examples, in your shell:")
    click.echo(
        f"  export SERVER_KEY={server_key} ADMIN_KEY={seeded['keys']['live']['admin']} "
        f"REWARD_ID={seeded['reward_ids'][0]}\n"
    )
    click.echo("List the catalog:")
    click.echo(
        f"  curl -s {base_url}/api/v1/gamify/rewards -H 'Authorization: Bearer {server_key}'\n"
    )
    click.echo("Claim the 500-point coupon for user_42:")
    click.echo(
        f"  curl -s -X POST {base_url}/api/v1/gamify/rewards/{seeded['reward_ids'][0]}/claim "
        f"-H 'Authorization: Bearer {server_key}' -H 'Content-Type: application/json' "
        f"-H 'Idempotency-Key: order-1001' "
        f"""-d '{{"participant_id": "{DEMO_PARTICIPANT}", "points_deduction": true}}'"""
    )
    click.echo(f"\nOr open the dashboard at {base_url}/admin and sign in with the live admin key.")


register_campaigns(main, _prepare_database, Failure)


if __name__ == "__main__":
    sys.exit(main())
