"""A task acknowledged after its broker channel closed (workers/celery_app.py's kombu shim).

When the broker connection drops, Celery closes the channel, and kombu sets the
channel's connection to None. A task that finishes at that moment is then
acknowledged on the closed channel. Unpatched, kombu raises AttributeError, which
Celery reports as an "Unrecoverable error", and the worker exits (seen in tests/chaos).
With the shim, the failure is a connection error: the acknowledgement is logged as
failed and the worker carries on.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from kombu import Connection, Exchange, Queue

import workers.celery_app  # noqa: F401 - applies the kombu shims


def test_an_ack_on_a_channel_closed_with_its_connection_is_logged_not_raised(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"ack-after-loss-{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="direct")
    queue = Queue(name, exchange, routing_key=name)
    with Connection(redis_url) as connection:
        try:
            with connection.Producer() as producer:
                producer.publish(
                    {"task": "x"}, exchange=exchange, routing_key=name, declare=[queue]
                )
            channel = connection.channel()
            message = queue(channel).get(no_ack=False)
            assert message is not None and message.payload == {"task": "x"}

            channel.close()  # as the consumer does when the broker connection is lost
            assert channel.connection is None

            with caplog.at_level(logging.CRITICAL, logger="test.ack"):
                message.ack_log_error(logging.getLogger("test.ack"), connection.connection_errors)
            assert "Couldn't ack" in caplog.text  # a logged failure: the worker lives on
        finally:
            with connection.channel() as cleanup:
                queue(cleanup).delete()
