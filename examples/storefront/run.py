"""Run the example end to end on this machine: Coffer (embedded, SQLite) seeded with
the demo tenant, and the storefront on http://127.0.0.1:5000. Ctrl-C stops both.

    .venv/bin/python examples/storefront/run.py [--coffer-port 8000] [--port 5000]

The demo tenant's keys are kept in examples/storefront/.data/ so a second run
finds the same catalog and the same customer's rewards.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
COFFER = Path(sys.executable).parent / "coffer"  # installed beside this interpreter


def coffer_env(data: Path, storefront_origin: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    env["COFFER_DATABASE_URL"] = f"sqlite:///{data / 'coffer.db'}"
    env["COFFER_CORS_ORIGINS"] = storefront_origin  # the page reads rewards with a token
    env["COFFER_LOG_LEVEL"] = "WARNING"  # keep the terminal for the storefront's own lines
    return env


def demo_keys(data: Path, env: dict[str, str]) -> dict[str, object]:
    """The demo tenant (`coffer demo`), made on the first run and remembered."""
    saved = data / "demo.json"
    if not saved.exists():
        out = subprocess.run(
            [str(COFFER), "demo", "--json"], env=env, cwd=data, check=True, capture_output=True
        ).stdout
        saved.write_bytes(out)
    return json.loads(saved.read_text())


def refuse_taken_port(port: int, option: str) -> None:
    """Stop with one line when something already listens on 127.0.0.1:`port`: otherwise the
    script would carry on against whatever answers there (another Coffer, another app)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves bind: a port left in TIME_WAIT is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise SystemExit(
                f"run.py: cannot use port {port} ({error.strerror or error}): stop what listens"
                f" there or pick another port with {option} N"
            ) from None


def wait_until_up(url: str, coffer: subprocess.Popen[bytes], port: int) -> None:
    """Until `coffer serve` answers (refuse_taken_port made sure the port was free)."""
    for _ in range(150):
        if coffer.poll() is not None:
            raise SystemExit(
                f"run.py: coffer serve exited with status {coffer.returncode} (is port {port}"
                " taken? pick another with --coffer-port N)"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 - our own URL
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("run.py: coffer serve did not answer within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coffer-port", type=int, default=8000)
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    refuse_taken_port(args.coffer_port, "--coffer-port")
    refuse_taken_port(args.port, "--port")
    if not (HERE / "dist" / "index.html").exists():
        raise SystemExit("the page is not built: run `bash examples/storefront/build.sh` first")
    data = HERE / ".data"
    data.mkdir(exist_ok=True)
    storefront = f"http://127.0.0.1:{args.port}"
    env = coffer_env(data, storefront)
    seeded = demo_keys(data, env)
    coffer_url = f"http://127.0.0.1:{args.coffer_port}"
    serve = [str(COFFER), "serve", "--port", str(args.coffer_port)]
    coffer = subprocess.Popen(serve, env=env, cwd=data)
    # `kill` as well as Ctrl-C runs the `finally` below, so Coffer never outlives this script
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        wait_until_up(coffer_url, coffer, args.coffer_port)
        sys.path.insert(0, str(HERE))
        from storefront import create_app  # noqa: PLC0415 - needs HERE on the path

        keys = seeded["keys"]["live"]  # type: ignore[index]
        app = create_app({"COFFER_URL": coffer_url, "COFFER_SERVER_KEY": keys["server"]})
        print(f"\nStorefront: {storefront}  (a customer with no points: {storefront}/?as=newcomer)")
        app.run(host="127.0.0.1", port=args.port)
    finally:
        coffer.terminate()
        coffer.wait(timeout=30)


if __name__ == "__main__":
    main()
