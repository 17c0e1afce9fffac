"""The distribution: its own version, httpx and pydantic its only dependencies."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import coffer_client
from packaging.requirements import Requirement

from tests.support.processes import die_with_parent

# Importing the client must not pull in the server's frameworks.
_BLOCKED = """
import sys
for name in ("flask", "celery", "sqlalchemy", "api", "core", "werkzeug"):
    sys.modules[name] = None  # an import of any of them now fails
import coffer_client
print(coffer_client.__version__)
"""


def test_the_distribution_depends_on_httpx_and_pydantic_only() -> None:
    requires = metadata.requires("coffer-client") or []

    assert {Requirement(line).name for line in requires} == {"httpx", "pydantic"}
    assert metadata.version("coffer-client") == coffer_client.__version__ == "0.1.0"


def test_the_client_imports_without_flask_celery_or_the_server() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKED], capture_output=True, text=True, timeout=60,
        check=False, preexec_fn=die_with_parent,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == coffer_client.__version__
