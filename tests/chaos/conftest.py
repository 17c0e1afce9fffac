"""One chaos environment for the package (private services and Coffer's processes), made
whole again before each test, torn down after the last."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.environment import Chaos


@pytest.fixture(scope="package")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    built = Chaos(tmp_path_factory.mktemp("chaos"))
    try:
        yield built
    finally:
        built.stop()


@pytest.fixture
def chaos(environment: Chaos) -> Chaos:
    environment.ensure_running()
    return environment
