"""CONTRACT.md as data: the settings table of §1, read from `../shared/CONTRACT.md`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def contract_path() -> Path:
    """`shared/CONTRACT.md` beside the clone (CI) or a folder above it (worktrees), else
    beside the repository this one was cloned from (a scratch clone in /tmp)."""
    for root in (REPO, _origin()):
        for folder in root.parents if root else ():
            candidate = folder / "shared" / "CONTRACT.md"
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"no shared/CONTRACT.md beside {REPO}, its origin or a folder above")


def _origin() -> Path | None:
    """The local path of the `origin` remote, when it is one."""
    found = subprocess.run(
        ["git", "-C", str(REPO), "remote", "get-url", "origin"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    url = found.stdout.strip()
    return Path(url).resolve() if found.returncode == 0 and url.startswith("/") else None


def contract_settings() -> list[str]:
    """The COFFER_* variable names of the §1 settings table, in its order."""
    text = contract_path().read_text(encoding="utf-8")
    section = text.split("## 1.", 1)[1].split("\n## 2.", 1)[0]
    return re.findall(r"^\| (COFFER_[A-Z0-9_]+) \|", section, flags=re.MULTILINE)
