"""`coffer campaigns create|show`: gift a reward to a list from a file, and watch it finish."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(256 * 1024):
        yield chunk


def register(main: click.Group, prepare: Callable[[], Any], failure: type[Exception]) -> None:
    """Add the `campaigns` group to `main`; `prepare()` gives the migrated runtime."""

    @main.group()
    def campaigns() -> None:
        """Campaigns: a reward gifted to a list of participants (CONTRACT §8)."""

    @campaigns.command("create")
    @click.option("--reward", "reward_id", required=True, help="The reward to gift.")
    @click.option("--file", "path", required=True, type=click.Path(exists=True, dir_okay=False,
                  path_type=Path), help="Participant ids, one a line (CSV).")  # fmt: skip
    @click.option("--name", default=None, help="A name people will recognise.")
    @click.option("--tenant", "tenant_id", required=True)
    @click.option("--mode", type=click.Choice(["live", "test"]), required=True)
    @click.option("--points-deduction", is_flag=True, help="Deduct each participant's points.")
    @click.option("--header", is_flag=True, help="The file's first line is a header.")
    @click.option("--idempotency-key", default=None,
                  help="Re-running with the same key is a no-op [default: a new key].")  # fmt: skip
    @click.option("--no-wait", is_flag=True, help="Print the campaign and return at once.")
    def create(
        *,
        reward_id: str, path: Path, name: str | None, tenant_id: str, mode: str,
        points_deduction: bool, header: bool, idempotency_key: str | None, no_wait: bool,
    ) -> None:  # fmt: skip
        """Start a campaign from a file and follow it to its end with a progress bar."""
        from core.campaigns.control import Replayed, start_campaign  # noqa: PLC0415
        from core.campaigns.upload import IdStream  # noqa: PLC0415
        from core.errors import CofferError  # noqa: PLC0415
        from core.idempotency import fingerprint  # noqa: PLC0415
        from core.tenants import Principal  # noqa: PLC0415

        runtime = prepare()
        principal = Principal(key_id="cli", tenant_id=tenant_id, mode=mode, scope="admin")  # type: ignore[arg-type]
        key = idempotency_key or f"cli:{uuid.uuid4()}"
        with path.open("rb") as handle:
            ids = IdStream(_chunks(handle), header=header)

            def print_() -> str:
                fields = {"reward_id": reward_id, "name": name, "header": header,
                          "points_deduction": points_deduction,
                          "ids_sha256": ids.digest.hexdigest()}  # fmt: skip
                return fingerprint("CLI", "campaigns create", fields)

            try:
                with runtime.db.transaction() as session:
                    recorded = start_campaign(
                        session, principal=principal, key=key, reward_id=reward_id, name=name,
                        points_deduction=points_deduction, ids=ids, print_=print_,
                    )  # fmt: skip
            except Replayed as replay:
                recorded = replay.recorded
            except CofferError as error:
                raise failure(_explain(error)) from None
        campaign_id = recorded.resource_id or ""
        click.echo(f"campaign {campaign_id}: {(recorded.response_body or {}).get('total')} "
                   "participants")  # fmt: skip
        if not runtime.settings.is_embedded:
            runtime.waker.wake_campaign(campaign_id)
        if no_wait:
            return
        _follow(runtime, campaign_id)

    @campaigns.command("show")
    @click.argument("campaign_id")
    @click.option("--tenant", "tenant_id", required=True)
    @click.option("--mode", type=click.Choice(["live", "test"]), required=True)
    def show(campaign_id: str, tenant_id: str, mode: str) -> None:
        """Print a campaign with its counts, as JSON."""
        from core.campaigns.views import campaign_view, load_campaign  # noqa: PLC0415
        from core.errors import CofferError  # noqa: PLC0415
        from core.tenants import Principal  # noqa: PLC0415

        runtime = prepare()
        principal = Principal(key_id="cli", tenant_id=tenant_id, mode=mode, scope="admin")  # type: ignore[arg-type]
        try:
            with runtime.db.transaction() as session:
                view = campaign_view(
                    load_campaign(session, principal=principal, campaign_id=campaign_id)
                )
        except CofferError as error:
            raise failure(_explain(error)) from None
        click.echo(json.dumps(view.wire()))


def _follow(runtime: Any, campaign_id: str) -> None:
    """A progress bar until the campaign ends. Without a broker (the embedded default) this
    command decides the chunks itself; with one, the workers do and it watches."""
    from core.campaigns.fanout import advance  # noqa: PLC0415
    from core.models import Campaign  # noqa: PLC0415

    def read() -> Campaign:
        with runtime.db.transaction() as session:
            campaign = session.get(Campaign, campaign_id)
            assert campaign is not None
            return campaign

    campaign = read()
    done = campaign.succeeded + campaign.failed
    with click.progressbar(length=campaign.total, label="gifting", show_pos=True) as bar:
        bar.update(done)
        while campaign.status == "running":
            if runtime.settings.is_embedded:
                advance(runtime.db, campaign_id=campaign_id)
            else:
                time.sleep(0.5)
            campaign = read()
            now = campaign.succeeded + campaign.failed
            bar.update(now - done)
            done = now
    failures = ", ".join(f"{code} {n}" for code, n in campaign.failures_by_code.items())
    click.echo(f"{campaign.status}: {campaign.succeeded} succeeded, {campaign.failed} failed"
               + (f" ({failures})" if failures else ""))  # fmt: skip


def _explain(error: Exception) -> str:
    problem = getattr(error, "problem", None)
    if problem is None:
        return str(error)
    body = problem()
    fields = "; ".join(f"{e['field']}: {e['message']}" for e in body.get("errors", []))
    return fields or body["detail"]
