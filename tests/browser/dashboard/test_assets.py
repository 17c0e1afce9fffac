"""The dashboard's files: nothing from another origin, no inline script or style (the CSP
forbids both), every module import resolves, and `pip wheel .` ships them without Node.js."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from api.routes.admin import STATIC

REMOTE = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//"""
)
IMPORT = re.compile(r"""^import\s[^'"]*["']([^"']+)["'];?$""", re.MULTILINE)


def test_no_file_loads_anything_from_another_origin_or_inline() -> None:
    files = sorted(STATIC.iterdir())
    assert {path.suffix for path in files} == {".html", ".js", ".css"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not REMOTE.search(text), path.name
        assert "style=" not in text and "eval(" not in text and "new Function" not in text, path
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="module" src="/admin/assets/app.js">'
    ]


def test_every_module_import_is_a_file_of_the_dashboard() -> None:
    for module in STATIC.glob("*.js"):
        for target in IMPORT.findall(module.read_text(encoding="utf-8")):
            assert target.startswith("./"), (module.name, target)  # no bare or remote specifier
            assert (STATIC / target[2:]).is_file(), (module.name, target)


@pytest.mark.slow
def test_the_wheel_ships_the_dashboard(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(root)],
        check=True, timeout=300,
    )  # fmt: skip
    [wheel] = tmp_path.glob("coffer-*.whl")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if "static/admin/" in name}
    assert {f"api/static/admin/{path.name}" for path in STATIC.iterdir()} == shipped
