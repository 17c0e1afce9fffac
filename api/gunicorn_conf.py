"""Gunicorn settings for Coffer's API, shipped with the package.

    gunicorn -c python:api.gunicorn_conf 'api:create_app()'

works from any directory (the repository's gunicorn.conf.py imports this module, so a
bare `gunicorn 'api:create_app()'` run there gets the same). Coffer's own settings stay
COFFER_* variables (core/settings.py); these are the server's, each overridable from the
environment as below or on the command line (`--bind 0.0.0.0:8000` in containers).
"""

from __future__ import annotations

import os
from typing import Any

from core.migrate import require_database_or_exit
from core.settings import load_settings_or_exit

# Read here, in the master, before gunicorn logs or binds anything: an unusable
# COFFER_* value stops it with one line and exit status 3.
_settings = load_settings_or_exit()

wsgi_app = "api:create_app()"  # so `gunicorn -c python:api.gunicorn_conf` serves Coffer too

# GUNICORN_BIND (e.g. "0.0.0.0:8000" or "unix:/run/coffer.sock") wins; else loopback on
# PORT. A container sets the bind explicitly (Dockerfile, docker-compose.yml): listening
# on every interface is a decision, not a default.
bind = [os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"]

# Threads carry the concurrency: a claim request mostly waits (on PostgreSQL, then up
# to COFFER_CLAIM_WAIT_MS for its outcome), which a thread does cheaply. One process
# per core of a 2-core box; each process builds its own runtime and connection pools.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
preload_app = False

# COFFER_CLAIM_WAIT_MS is at most 60 s (core/settings.py): no request is meant to
# outlive that, and a graceful restart lets waiting claims get their answer.
timeout = 90
graceful_timeout = 90
keepalive = 5

# No access log: Coffer's own logs are JSON lines carrying the request id (X-Request-ID);
# gunicorn's own lines go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Heartbeat files in memory, not on a container's overlay filesystem (gunicorn's advice).
_SHARED_MEMORY = "/dev/shm"  # noqa: S108 - only gunicorn's workers write there
worker_tmp_dir = _SHARED_MEMORY if os.path.isdir(_SHARED_MEMORY) else None
# No control socket (recent gunicorn opens one under $HOME): nothing here uses it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """In the master, before any worker: refuse an unreachable or un-migrated database
    with one line and exit status 3, rather than workers failing to boot one by one."""
    require_database_or_exit(_settings.database_url)
