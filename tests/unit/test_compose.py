"""docker-compose.yml and the Dockerfile agree with CONTRACT §1 and with the code.

Every setting of the contract reaches api, worker and beat; every command the
compose file runs exists and parses, run here with the compose file's own
environment (its database, broker and Redis addresses pointed at this test's).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.migrate import upgrade
from tests.support.contract import REPO, contract_settings
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import BIN

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
COFFER_SERVICES = ("migrate", "api", "worker", "beat")
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def environment(service: str) -> dict[str, str]:
    """The service's environment with `${NAME:-default}` read as its default."""
    given = COMPOSE["services"][service].get("environment", {})
    return {
        name: _INTERPOLATION.sub(lambda m: m.group(2) or "", str(v)) for name, v in given.items()
    }


def command(service: str) -> list[str]:
    given = COMPOSE["services"][service]["command"]
    return shlex.split(given) if isinstance(given, str) else list(given)


@pytest.mark.parametrize("service", COFFER_SERVICES)
def test_every_contract_setting_reaches_each_coffer_service(service: str) -> None:
    settings = contract_settings()
    assert len(settings) >= 14  # the §1 table was found
    assert set(settings) <= set(environment(service))


@pytest.mark.parametrize("service", COFFER_SERVICES)
def test_the_instance_secret_setting_reaches_each_coffer_service_unset_by_default(
    service: str,
) -> None:
    # Not in CONTRACT §1's table: a setting every helper agreed on (core/instance_secret.py).
    assert environment(service)["COFFER_SECRET_KEY"] == ""  # empty: unset, kept in the database


@pytest.fixture(scope="module")
def compose_env() -> Iterator[dict[str, str]]:
    """The compose file's environment, addresses moved from containers to this test's."""
    with fresh_database("compose") as database_url, private_redis_db() as redis_url:
        upgrade(database_url)
        outside = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
        yield {
            **outside,
            **environment("api"),
            "COFFER_DATABASE_URL": database_url,
            "COFFER_BROKER_URL": redis_url,
            "COFFER_REDIS_URL": redis_url,
        }


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    executable = str(BIN / args[0]) if (BIN / args[0]).exists() else args[0]
    return subprocess.run(
        [executable, *args[1:]], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def checked_form(args: list[str]) -> list[str]:
    """The command as it can be checked without serving: gunicorn loads its configuration
    and the app and exits; celery and coffer parse every option and print their help."""
    if args[0] == "gunicorn":
        return [*args, "--check-config"]
    return [*args, "--help"]


@pytest.mark.parametrize("service", COFFER_SERVICES)
def test_each_service_command_exists_and_parses_with_the_compose_environment(
    service: str, compose_env: dict[str, str], tmp_path: Path
) -> None:
    args = command(service)
    assert args[0] in {"coffer", "gunicorn", "celery"}
    result = run(checked_form(args), compose_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_the_migrate_service_command_really_runs(
    compose_env: dict[str, str], tmp_path: Path
) -> None:
    result = run(command("migrate"), compose_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "database is at revision" in result.stdout


def healthcheck(service: str) -> list[str] | None:
    test: Any = COMPOSE["services"][service].get("healthcheck", {}).get("test")
    if not test:
        return None
    if test[0] == "CMD-SHELL":
        return shlex.split(test[1].replace("$$HOSTNAME", "worker"))
    return list(test[1:])


def test_the_health_checks_run_real_commands(compose_env: dict[str, str], tmp_path: Path) -> None:
    api_check = healthcheck("api")
    assert api_check is not None and api_check[:2] == ["python", "-c"]
    compile(api_check[2], "healthcheck", "exec")  # a valid program
    worker_check = healthcheck("worker")
    assert worker_check is not None and worker_check[:3] == ["celery", "-A", "workers"]
    result = run([*worker_check, "--help"], compose_env, tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_api_binds_every_interface_in_its_container_only() -> None:
    assert command("api")[-1] == "api:create_app()"
    assert "--bind" in command("api") and "0.0.0.0:8000" in command("api")
    from api import gunicorn_conf  # noqa: PLC0415 - outside a container: loopback

    assert gunicorn_conf.bind == ["127.0.0.1:8000"] or "GUNICORN_BIND" in os.environ


def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def test_the_dockerfile_installs_the_package_and_runs_the_compose_api_command() -> None:
    text = dockerfile()
    assert re.search(r"^RUN pip install \. ", text, flags=re.MULTILINE)
    cmd = re.search(r"^CMD (\[.*\])$", text, flags=re.MULTILINE)
    assert cmd is not None and yaml.safe_load(cmd.group(1)) == command("api")
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, flags=re.MULTILINE))
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= copied  # every package the pyproject installs is in the image
    assert all(COMPOSE["services"][s].get("image") == "coffer:local" for s in COFFER_SERVICES)
