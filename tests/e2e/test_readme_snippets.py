"""The README's first claim (curl) and its Python client snippet, run as written, in that
order, against a real `coffer serve` on the demo: the snippet once reused the curl's
Idempotency-Key with another body (422) and left out points_deduction."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.e2e.test_cli_and_embedded import clean_env, coffer, wait_for_catalog
from tests.support.client import Api
from tests.support.processes import die_with_parent
from tests.support.stack import BIN, free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(section: str, language: str) -> str:
    """The first ```language block under the README's `## section` heading."""
    text = README.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(rf"```{language}\n(.*?)```", body, re.DOTALL)
    assert found, f"no {language} block in ## {section}"
    return found.group(1)


def test_the_readme_python_snippet_works_after_the_readme_curl_claim(tmp_path: Path) -> None:
    env = clean_env()
    demo = coffer("demo", "--json", env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    seeded = json.loads(demo.stdout)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(BIN / "coffer"), "serve", "--port", str(port)], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl
    )  # fmt: skip
    server_key = seeded["keys"]["live"]["server"]
    shell = {**os.environ, "SERVER_KEY": server_key, "REWARD_ID": seeded["reward_ids"][0]}
    try:
        wait_for_catalog(Api(base, server_key))
        curl = readme_block("A first claim", "sh").replace("http://127.0.0.1:8000", base)
        claimed = subprocess.run(
            ["bash", "-c", curl], env=shell, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert claimed.returncode == 0, claimed.stderr
        first = json.loads(claimed.stdout)
        assert (first["status"], first["points_deducted"], first["new_balance"]) == (
            "succeeded", 500, 1000,
        )  # fmt: skip

        snippet = readme_block("Python client", "python").replace("http://127.0.0.1:8000", base)
        runs = [
            subprocess.run(
                [str(BIN / "python"), "-c", snippet], env=shell, capture_output=True, text=True,
                timeout=60, check=False,
            )
            for _ in range(2)  # a retry of the same order returns the same claim
        ]  # fmt: skip
        for run in runs:
            assert run.returncode == 0, run.stderr
        assert re.fullmatch(r"SHIP-[A-Z0-9]{8} 1000\n", runs[0].stdout), runs[0].stdout
        assert runs[1].stdout == runs[0].stdout
        points = Api(base, server_key).get("/participants/user_42/points").json()
        assert points["balance"] == 1000  # the coupon's 500 once; the voucher costs none
    finally:
        server.terminate()
        server.wait(timeout=30)
