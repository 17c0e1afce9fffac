"""requirements.lock is in step with pyproject.toml, and installs the way the image installs it.

The lock is written by `uv pip compile` (the command is its first lines; see
docs/deployment.md). These checks read the files, offline, and fail on drift:

- every entry pins one version with at least one sha256 hash;
- the packages the lock says come straight from Coffer ("via coffer (pyproject.toml)")
  are exactly [project].dependencies, each at a version its specifier allows; the same
  for the `build` dependency group, which must satisfy [build-system].requires;
- every other entry is required by an entry of the lock (nothing stale, nothing orphaned);
- the lock was compiled for the Python of the Dockerfile's base image.

The slow test runs the Dockerfile's two pip steps in a fresh virtualenv (PyPI through
pip's usual configuration) and `pip check`: the lock is complete and installs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.contract import REPO
from tests.support.processes import die_with_parent

LOCK = REPO / "requirements.lock"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DIRECT = "coffer (pyproject.toml)"
BUILD = "coffer (pyproject.toml:build)"
COMPILE_COMMAND = (
    "uv pip compile pyproject.toml --group pyproject.toml:build --generate-hashes "
    "--universal --python-version 3.11 -o requirements.lock"
)


@dataclass
class Entry:
    name: str
    version: str
    marker: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def parse_lock(text: str) -> list[Entry]:
    """uv's requirements format: `name==version [; marker] \\`, `--hash=` lines, `# via` notes."""
    entries: list[Entry] = []
    in_via = False
    for line in text.splitlines():
        pinned = re.match(r"^([A-Za-z0-9._-]+)==([^\s;]+)\s*(?:;\s*([^\\]*?))?\s*\\?$", line)
        if pinned:
            entries.append(Entry(canonicalize_name(pinned[1]), pinned[2], pinned[3] or ""))
            in_via = False
        elif hashed := re.match(r"^\s+--hash=sha256:([0-9a-f]{64})\s*\\?$", line):
            entries[-1].hashes.append(hashed[1])
        elif via := re.match(r"^\s+# via\s*(.*)$", line):
            in_via = not via[1]
            if via[1]:
                entries[-1].via.append(via[1].strip())
        elif in_via and (more := re.match(r"^\s+#\s+(.+)$", line)):
            entries[-1].via.append(more[1].strip())
        elif line.strip() and not line.startswith("#"):
            raise AssertionError(f"unexpected line in requirements.lock: {line!r}")
    return entries


ENTRIES = parse_lock(LOCK.read_text())
BY_NAME: dict[str, list[Entry]] = {}
for _entry in ENTRIES:
    BY_NAME.setdefault(_entry.name, []).append(_entry)


def requirements(specs: list[str]) -> dict[str, Requirement]:
    parsed = [Requirement(spec) for spec in specs]
    return {canonicalize_name(r.name): r for r in parsed}


def test_the_lock_was_written_by_the_documented_command() -> None:
    header = LOCK.read_text().splitlines()[:2]
    assert header[1].lstrip("# ") == COMPILE_COMMAND
    assert COMPILE_COMMAND in (REPO / "docs" / "deployment.md").read_text()


def test_every_entry_pins_one_version_with_hashes() -> None:
    assert len(ENTRIES) >= 30
    for entry in ENTRIES:
        Version(entry.version)  # an exact, valid version
        assert entry.hashes, entry.name
        assert entry.via, entry.name  # uv says why it is there


def test_the_direct_entries_are_exactly_the_pyproject_dependencies() -> None:
    wanted = requirements(PYPROJECT["project"]["dependencies"])
    direct = {e.name for e in ENTRIES if DIRECT in e.via}
    assert direct == set(wanted), "requirements.lock is stale: re-run " + COMPILE_COMMAND
    for name, requirement in wanted.items():
        for entry in BY_NAME[name]:
            assert requirement.specifier.contains(entry.version, prereleases=True), (
                f"{name}=={entry.version} is outside {requirement}: re-run {COMPILE_COMMAND}"
            )


def test_the_build_group_is_locked_and_satisfies_the_build_system() -> None:
    group = requirements(PYPROJECT["dependency-groups"]["build"])
    system = requirements(PYPROJECT["build-system"]["requires"])
    assert set(group) == set(system)  # the same packages build Coffer in and out of the image
    assert {e.name for e in ENTRIES if BUILD in e.via} == set(group)
    for name in group:
        (entry,) = BY_NAME[name]
        assert group[name].specifier.contains(entry.version)
        assert system[name].specifier.contains(entry.version)


def test_every_other_entry_is_required_by_an_entry_of_the_lock() -> None:
    names = set(BY_NAME)
    for entry in ENTRIES:
        sources = {re.sub(r"\s*\(.*\)$", "", via) for via in entry.via}
        known = {canonicalize_name(s) for s in sources if s != "coffer"}
        assert known <= names, (entry.name, entry.via)
        assert "coffer" in sources or known, entry.name


def test_the_extras_pyproject_asks_for_are_in_the_lock() -> None:
    # celery[redis], limits[redis], psycopg[binary]: each extra's packages are locked.
    extras = {"redis": "redis", "binary": "psycopg-binary"}
    for requirement in requirements(PYPROJECT["project"]["dependencies"]).values():
        for extra in requirement.extras:
            assert extras[extra] in BY_NAME, requirement


def test_the_lock_is_for_the_python_of_the_base_image() -> None:
    base = re.search(r"^FROM python:(\d+)\.(\d+)\.\d+-", (REPO / "Dockerfile").read_text(), re.M)
    assert base is not None
    assert f"--python-version {base[1]}.{base[2]}" in COMPILE_COMMAND
    requires = PYPROJECT["project"]["requires-python"]
    assert Requirement(f"python{requires}").specifier.contains(f"{base[1]}.{base[2]}.0")


@pytest.mark.slow
def test_the_image_install_steps_work_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    """The Dockerfile's RUN lines, here: the lock alone (hashes, wheels only, no resolver),
    then Coffer with no index and no build isolation, then `pip check`."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    source = tmp_path / "src"
    shutil.copytree(
        REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "tests", "bench", "*.pyc")
    )

    def step(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*pip, *args], cwd=source, capture_output=True, text=True, timeout=600, check=False,
            preexec_fn=die_with_parent,
        )  # fmt: skip

    dependencies = step(
        "install", "--require-hashes", "--no-deps", "--only-binary=:all:", "-r", "requirements.lock"
    )
    assert dependencies.returncode == 0, dependencies.stderr[-3000:]
    coffer = step("install", "--no-deps", "--no-build-isolation", "--no-index", ".")
    assert coffer.returncode == 0, coffer.stderr[-3000:]
    checked = step("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cli = subprocess.run(
        [str(venv / "bin" / "coffer"), "--help"], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert cli.returncode == 0 and "db" in cli.stdout, cli.stderr
