"""The pure webhook rules: which addresses are public, the retry waits, the URL shapes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.webhooks.deliveries import MAX_RETRY_AFTER, next_wait
from core.webhooks.ssrf import UnsafeUrl, is_public, parse

UNSPECIFIED = "0.0.0.0"  # noqa: S104 - an address judged here, never bound


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", UNSPECIFIED,
        "100.64.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
        "fe80::1%eth0", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
        "::ffff:169.254.169.254", "2001:db8::1",
    ],
)  # fmt: skip
def test_non_global_addresses_are_not_public(address: str) -> None:
    assert is_public(address) is False


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111"])
def test_global_addresses_are_public(address: str) -> None:
    assert is_public(address) is True


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "https://u:p@example.com/", "http:///x"]
)
def test_only_plain_http_and_https_urls_pass(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        parse(url)


def test_each_wait_follows_the_schedule_with_jitter_then_gives_up() -> None:
    schedule = (5, 300)
    first = next_wait(1, schedule, None)
    second = next_wait(2, schedule, None)
    assert first is not None and timedelta(seconds=4.5) <= first <= timedelta(seconds=5.5)
    assert second is not None and timedelta(seconds=270) <= second <= timedelta(seconds=330)
    assert next_wait(3, schedule, None) is None


def test_retry_after_stretches_a_wait_up_to_a_bound() -> None:
    assert next_wait(1, (5,), 600) == timedelta(seconds=600)
    assert next_wait(1, (5,), 10**9) == MAX_RETRY_AFTER
    shorter = next_wait(1, (300,), 1)
    assert shorter is not None and shorter >= timedelta(seconds=270)  # never shortens it
