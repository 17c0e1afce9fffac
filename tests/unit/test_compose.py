"""docker-compose.yml and the Dockerfile agree with CONTRACT §1 and with the code.

Every setting of the contract reaches api, worker and beat; every command the
compose file runs (health checks included) exists and parses, run here with the
compose file's own environment (its database, broker and Redis addresses pointed at
this test's). Every long-running service has a health check and a restart policy;
every image is pinned; the Dockerfile pins its base by tag and digest, installs the
lock file with hashes and runs as an unprivileged user (docs/deployment.md).
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


@pytest.mark.parametrize("service", COFFER_SERVICES)
def test_the_claim_linger_reaches_each_coffer_service_at_its_default(service: str) -> None:
    # Not in CONTRACT §1: a knob of the workers' drain (docs/configuration.md).
    assert environment(service)["COFFER_CLAIM_LINGER_MS"] == "20"


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
    assert "/readyz" in api_check[2]
    worker_check = healthcheck("worker")
    assert worker_check is not None and worker_check[:3] == ["celery", "-A", "workers"]
    assert worker_check[3:5] == ["inspect", "ping"]
    result = run([*worker_check, "--help"], compose_env, tmp_path)
    assert result.returncode == 0, result.stderr
    beat_check = healthcheck("beat")
    assert beat_check is not None and beat_check[:3] == ["python", "-m", "workers.heartbeat"]
    result = run([*beat_check, "--help"], compose_env, tmp_path)
    assert result.returncode == 0, result.stderr
    # Run for real it answers: no beat ticked in this fresh temporary directory.
    result = run(beat_check, {**compose_env, "TMPDIR": str(tmp_path)}, tmp_path)
    assert result.returncode == 1 and "never" in result.stderr


# Long-running services; migrate runs once and exits (the others wait for its success).
LONG_RUNNING = ("postgres", "redis", "api", "worker", "beat")


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_every_long_running_service_has_a_health_check_and_restarts(service: str) -> None:
    spec = COMPOSE["services"][service]
    check = spec.get("healthcheck", {})
    assert check.get("test") and not check.get("disable"), service
    assert {"interval", "timeout", "retries"} <= set(check), service
    assert spec.get("restart") in {"unless-stopped", "always"}, service


def test_the_one_shot_migration_retries_a_failure_and_gates_the_rest() -> None:
    assert COMPOSE["services"]["migrate"]["restart"].startswith("on-failure")
    for service in ("api", "worker", "beat"):
        gate = COMPOSE["services"][service]["depends_on"]["migrate"]
        assert gate == {"condition": "service_completed_successfully"}


def test_every_image_is_pinned_to_an_exact_version() -> None:
    for name, spec in COMPOSE["services"].items():
        image = spec["image"]
        if image == "coffer:local":
            assert spec.get("build") == ".", name  # built here, from the pinned Dockerfile
            continue
        tag = image.split("@")[0].rsplit(":", 1)[1]
        assert re.fullmatch(r"\d+\.\d+\.\d+-\w+|\d+\.\d+-\w+", tag), image  # 15.15-bookworm


def test_the_api_binds_every_interface_in_its_container_only() -> None:
    assert command("api")[-1] == "api:create_app()"
    assert "--bind" in command("api") and "0.0.0.0:8000" in command("api")
    from api import gunicorn_conf  # noqa: PLC0415 - outside a container: loopback

    assert gunicorn_conf.bind == ["127.0.0.1:8000"] or "GUNICORN_BIND" in os.environ


def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def test_the_dockerfile_installs_the_package_and_runs_the_compose_api_command() -> None:
    text = dockerfile()
    assert re.search(r"^RUN pip install --no-deps --no-build-isolation --no-index \. ", text, re.M)
    cmd = re.search(r"^CMD (\[.*\])$", text, flags=re.MULTILINE)
    assert cmd is not None and yaml.safe_load(cmd.group(1)) == command("api")
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, flags=re.MULTILINE))
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= copied  # every package the pyproject installs is in the image
    assert all(COMPOSE["services"][s].get("image") == "coffer:local" for s in COFFER_SERVICES)


def test_the_base_image_is_pinned_by_exact_tag_and_digest() -> None:
    (base,) = re.findall(r"^FROM (\S+)", dockerfile(), flags=re.MULTILINE)
    name, _, digest = base.partition("@")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", name), base
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), base


def test_the_dependencies_come_from_the_lock_file_with_hashes_and_wheels_only() -> None:
    text = dockerfile()
    install = re.search(r"^RUN pip install (.*) -r requirements\.lock$", text, flags=re.MULTILINE)
    assert install is not None
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(install.group(1).split())
    assert "COPY requirements.lock ./" in text
    # The lock is installed before the sources are copied (its layer survives code changes).
    assert text.index("-r requirements.lock") < text.index("COPY api ./api")


def test_the_image_runs_as_an_unprivileged_user() -> None:
    users = re.findall(r"^USER (\S+)$", dockerfile(), flags=re.MULTILINE)
    assert users, "no USER line: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000  # numeric, so runAsNonRoot can verify it
    assert f"--uid {uid}" in dockerfile()
