"""examples/storefront/run.py on a machine where a port it needs is taken: one line naming
the option that picks another port, and no Coffer or storefront started against a
stranger (it once carried on against whatever answered /healthz on :8000)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[2] / "examples" / "storefront" / "run.py"


class _Stranger(BaseHTTPRequestHandler):
    """Some other program on the port, answering /healthz like a Coffer would."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def stranger() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Stranger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_taken_coffer_port_stops_run_py_with_one_line(stranger: int) -> None:
    result = run("--coffer-port", str(stranger), "--port", str(free_port()))
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"run.py: cannot use port {stranger} (Address already in use): stop what listens there"
        " or pick another port with --coffer-port N"
    ]


def test_a_taken_storefront_port_names_port(stranger: int) -> None:
    result = run("--coffer-port", str(free_port()), "--port", str(stranger))
    assert result.returncode != 0
    assert result.stderr.strip().endswith("pick another port with --port N")
    assert len(result.stderr.strip().splitlines()) == 1
