"""One headless Chromium for every browser test (tests/support/browser.py).

Playwright's sync API runs one event loop per thread, so the browser tests share
one launched browser rather than each module starting its own; it is closed once
the last browser test is done.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.browser import launch


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    yield from launch()
