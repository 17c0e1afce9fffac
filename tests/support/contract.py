"""CONTRACT.md as data: the settings table of §1, read from `../shared/CONTRACT.md`."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def contract_path() -> Path:
    """`shared/CONTRACT.md` beside the clone (CI), or beside a folder above it (worktrees)."""
    for folder in REPO.parents:
        candidate = folder / "shared" / "CONTRACT.md"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no shared/CONTRACT.md beside {REPO} or a folder above it")


def contract_settings() -> list[str]:
    """The COFFER_* variable names of the §1 settings table, in its order."""
    text = contract_path().read_text(encoding="utf-8")
    section = text.split("## 1.", 1)[1].split("\n## 2.", 1)[0]
    return re.findall(r"^\| (COFFER_[A-Z0-9_]+) \|", section, flags=re.MULTILINE)
