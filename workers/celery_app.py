"""The Celery app: configuration, beat schedule, and the settings it is built from."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import beat_init, setup_logging, worker_init
from kombu.transport import redis as kombu_redis
from redis import exceptions as redis_exceptions

from core.logs import configure_logging
from core.settings import Settings, get_settings, load_settings_or_exit

DRAIN_TASK = "coffer.claims.drain"
CAMPAIGN_TASK = "coffer.campaigns.advance"
SWEEP_TASK = "coffer.sweep"
RELAY_TASK = "coffer.facts.relay"
DELIVER_TASK = "coffer.webhooks.deliver"  # one delivery (a manual retry): its endpoint's rounds
DELIVER_ENDPOINT_TASK = "coffer.webhooks.endpoint"  # rounds of one endpoint's due deliveries
DUE_DELIVERIES_TASK = "coffer.webhooks.due"
DUE_DELIVERIES_EVERY_S = 1.0  # how late a scheduled webhook attempt may start
QUEUE = "coffer"

app = Celery(
    "coffer",
    include=[
        "workers.tasks.claims",
        "workers.tasks.campaigns",
        "workers.tasks.sweeps",
        "workers.tasks.relay",
        "workers.tasks.webhooks",
    ],
)


def configure(celery: Celery, settings: Settings) -> Celery:
    """Apply Coffer's settings; called at import and again by `coffer serve` and tests."""
    embedded = settings.broker_url is None
    celery.conf.update(
        broker_url=settings.broker_url or "memory://localhost/",
        broker_connection_retry_on_startup=True,
        broker_transport_options=(
            {"polling_interval": 0.01}
            if embedded
            else {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 10}
        ),
        # A claim request is recorded before it is enqueued; if the broker is away
        # the API answers 202 at once and the sweep enqueues it later.
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.1},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        # A task still running when the broker connection drops cannot be acknowledged
        # on the dead channel: acking it there raises inside kombu and the worker exits
        # (seen in tests/chaos). Cancel it instead; its transaction rolls back and the
        # sweep brings its claims back, as after a kill -9 (Celery 6's default).
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep": {"task": SWEEP_TASK, "schedule": settings.sweep_interval_s},
            "relay": {"task": RELAY_TASK, "schedule": settings.sweep_interval_s},
            "webhooks-due": {"task": DUE_DELIVERIES_TASK, "schedule": DUE_DELIVERIES_EVERY_S},
        },
        # The schedule is code (no shelve file); the scheduler also touches beat's heartbeat.
        beat_scheduler="workers.heartbeat:HeartbeatScheduler",
    )
    return celery


# kombu's Redis transport puts a channel's unacknowledged messages back when the channel
# closes. After a lost broker connection Celery 5.7 closes it twice (collect(), then
# close()); when the first restore fails because Redis is still down, the second one
# reads a transport already torn down, raises AttributeError and the worker exits
# ("Unrecoverable error: 'NoneType' object has no attribute 'hostname'"), seen in
# tests/chaos with Redis restarted under load. Coffer needs no such restore: the sweep
# re-enqueues pending claims and stalled campaigns from the database and due webhook
# deliveries are found by time; a message left unacknowledged is still returned after
# the visibility timeout, and every task is idempotent (docs/resilience.md).
kombu_redis.QoS.restore_at_shutdown = False

# The same broker loss, another path: a task that finishes just as the connection drops
# is acknowledged on its channel after the channel was closed with it. kombu then builds
# a Redis client from the channel's connection, which closing set to None, and raises
# AttributeError, which Celery's acknowledgement does not expect: "Unrecoverable error:
# AttributeError("'NoneType' object has no attribute 'client'")" and the worker exits
# (seen in tests/chaos, Redis restarted under load). Raised as the connection error it
# is, the acknowledgement is logged as failed ("Couldn't ack") and the worker reconnects;
# the message comes back after the visibility timeout (or is gone with a Redis restarted
# without persistence) and every task is idempotent (docs/resilience.md).
_connparams = kombu_redis.Channel._connparams


def _connparams_of_open_channel(self: Any, asynchronous: bool = False) -> Any:
    if self.connection is None:
        raise redis_exceptions.ConnectionError("the broker channel was closed with its connection")
    return _connparams(self, asynchronous=asynchronous)


kombu_redis.Channel._connparams = _connparams_of_open_channel  # type: ignore[method-assign]

# At import, so `celery -A workers ...` with an unusable setting stops with one line.
configure(app, load_settings_or_exit())


@setup_logging.connect
def _logging(**_: object) -> None:
    configure_logging(get_settings().log_level)


@worker_init.connect
@beat_init.connect
def _refuse_unready_database(**_: object) -> None:
    """The worker and beat refuse an unreachable or un-migrated database, like the API.

    Celery logs and ignores an exception a signal handler raises, but not SystemExit:
    `refuse_to_start` prints one line and exits before the worker consumes anything
    (worker_init runs while the worker is built) or beat sends anything.
    """
    from core.migrate import require_database_or_exit  # noqa: PLC0415 - keeps import light
    from core.runtime import get_runtime  # noqa: PLC0415

    require_database_or_exit(get_runtime().settings.database_url)
