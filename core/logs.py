"""Structured JSON logs, carrying the request id of the HTTP request they belong to."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]  # UTC, as the trailing Z says

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            entry["request_id"] = current
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_LIBRARIES = ("celery", "kombu", "amqp", "redis", "urllib3", "httpx", "httpcore")


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for every logger, once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # DEBUG is for Coffer's own lines (the claim timeline, core/timeline.py): the libraries
    # underneath would log every broker message and connection, drowning them. Only ever
    # raised: SQLAlchemy keeps the WARNING it sets itself (at INFO it logs SQL parameters).
    floor = max(root.level, logging.INFO)
    for noisy in _LIBRARIES:
        library = logging.getLogger(noisy)
        if library.level < floor:
            library.setLevel(floor)
    idle = IdlePeriodicJobs(_beat_task_names())
    for name in IdlePeriodicJobs.LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, IdlePeriodicJobs)]:
            logger.removeFilter(old)
        logger.addFilter(idle)


def _beat_task_names() -> frozenset[str]:
    """The task names in the beat schedule of this thread's Celery app. Read here, in the
    thread that set the app up: Celery keeps its current app per thread, and the worker
    threads of `coffer serve` would see a blank default app."""
    if "celery" not in sys.modules:  # a process that runs no Celery (the API under gunicorn)
        return frozenset()
    from celery import current_app  # noqa: PLC0415

    schedule = current_app.conf.beat_schedule or {}
    return frozenset(entry["task"] for entry in schedule.values())


# What a task that did nothing returns, as Celery's trace shows it (saferepr of the value).
_NOTHING_DONE = frozenset({"0", "None", "False", "[]", "{}", "()", "''"})


class IdlePeriodicJobs(logging.Filter):
    """Periodic jobs that find nothing to do log at DEBUG, not INFO.

    Beat sends `webhooks-due` every second and the sweeps every interval; at INFO each run
    was three lines (beat's "Sending due task", the worker's "received" and "succeeded:
    0"), drowning the lines that matter. Beat's line and the worker's "received" of a
    periodic job move to DEBUG; its "succeeded" stays INFO when the job did work (returned
    a count above 0, or True). Other tasks (claims, deliveries) are untouched.
    """

    LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")

    def __init__(self, periodic: frozenset[str]) -> None:
        super().__init__()
        self.periodic = periodic

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self._idle(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    def _idle(self, record: logging.LogRecord) -> bool:
        if record.name == "celery.beat":
            return str(record.msg).startswith("Scheduler: Sending due task")
        data = getattr(record, "data", None)
        if not isinstance(data, dict) or data.get("name") not in self.periodic:
            return False
        if record.name == "celery.worker.strategy":
            return True  # "received": whether it did anything shows when it succeeds
        return "return_value" in data and str(data["return_value"]) in _NOTHING_DONE
