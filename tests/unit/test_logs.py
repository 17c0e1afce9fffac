"""Periodic jobs that find nothing to do log at DEBUG (core/logs.py IdlePeriodicJobs): the
records are made by Celery's own logging calls, as the worker and beat make them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS, info

from core.logs import IdlePeriodicJobs, configure_logging

PERIODIC = "coffer.webhooks.due"


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(params=[logging.INFO, logging.DEBUG], ids=["INFO", "DEBUG"])
def kept(request: pytest.FixtureRequest) -> Iterator[tuple[_Kept, int]]:
    """The three Celery loggers with the filter, at the level COFFER_LOG_LEVEL would set."""
    handler, idle = _Kept(), IdlePeriodicJobs(frozenset({PERIODIC, "coffer.sweep"}))
    loggers = [logging.getLogger(name) for name in IdlePeriodicJobs.LOGGERS]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.setLevel(request.param)
        logger.propagate = False
        logger.addHandler(handler)
        logger.addFilter(idle)
    yield handler, request.param
    for logger, (level, propagate) in zip(loggers, saved, strict=True):
        logger.setLevel(level)
        logger.propagate = propagate
        logger.removeHandler(handler)
        logger.removeFilter(idle)


def run_of(task: str, returned: str) -> None:
    """One periodic run as beat and the worker log it."""
    logging.getLogger("celery.beat").info(
        "Scheduler: Sending due task %s (%s)", "webhooks-due", task
    )
    received = {"id": "t1", "name": task, "args": "()", "kwargs": "{}", "eta": None}
    logging.getLogger("celery.worker.strategy").info(
        LOG_RECEIVED, received, extra={"data": received}
    )
    info(LOG_SUCCESS, {"id": "t1", "name": task, "return_value": returned, "runtime": 0.003})


@pytest.mark.parametrize("returned", ["0", "False", "None"])
def test_a_periodic_run_that_did_nothing_logs_only_at_debug(
    kept: tuple[_Kept, int], returned: str
) -> None:
    handler, level = kept
    run_of(PERIODIC, returned)
    levels = [record.levelname for record in handler.records]
    assert levels == ([] if level == logging.INFO else ["DEBUG", "DEBUG", "DEBUG"])


@pytest.mark.parametrize("returned", ["3", "True"])
def test_a_periodic_run_that_did_work_says_so_at_info(
    kept: tuple[_Kept, int], returned: str
) -> None:
    handler, _ = kept
    run_of(PERIODIC, returned)
    assert [
        (r.levelname, r.getMessage()) for r in handler.records if r.levelno >= logging.INFO
    ] == [("INFO", f"Task {PERIODIC}[t1] succeeded in 0.003s: {returned}")]


def test_other_tasks_keep_their_info_lines(kept: tuple[_Kept, int]) -> None:
    handler, _ = kept
    run_of("coffer.claims.drain", "0")
    assert [r.name for r in handler.records if r.levelno == logging.INFO] == [
        "celery.worker.strategy",
        "celery.app.trace",
    ]  # beat's "Sending due task" is DEBUG for any task: beat only sends periodic ones


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING"])
def test_configuring_the_logs_never_lets_sqlalchemy_log_sql(level: str) -> None:
    """At INFO SQLAlchemy logs every statement with its parameters (codes, key hashes):
    whatever COFFER_LOG_LEVEL says, its logger stays at WARNING or above."""
    import sqlalchemy  # noqa: F401, PLC0415 - sets its own logger to WARNING on import

    root, names = logging.getLogger(), ("sqlalchemy", "kombu", "celery")
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names})
    try:
        configure_logging(level)
        assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
        assert not logging.getLogger("kombu").isEnabledFor(logging.DEBUG)
    finally:  # the test process's own logging, as it was
        root.handlers[:], root.level = saved[0], saved[1]
        for name, was in saved[2].items():
            logging.getLogger(name).setLevel(was)
