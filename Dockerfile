# One image for every Coffer process: the API (the default command), the Celery
# worker and beat, and the one-shot `coffer db upgrade` (see docker-compose.yml).
#
# Reproducible: the base image is pinned by exact tag and by the digest of its
# multi-architecture index, and every Python package (setuptools, which builds Coffer,
# included) comes from requirements.lock: exact versions, sha256 hashes, wheels only, no
# resolver. docs/deployment.md says where the digest came from and how to renew both.
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src

# The dependencies first, in a layer of their own that a code change does not rebuild.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps --only-binary=:all: -r requirements.lock

# Coffer itself, built with the locked setuptools and installing nothing else; then the
# sources go: only the installed package runs. `pip check` proves the set is complete.
COPY pyproject.toml README.md ./
COPY api ./api
COPY cli ./cli
COPY core ./core
COPY workers ./workers
RUN pip install --no-deps --no-build-isolation --no-index . \
    && pip check \
    && rm -rf /src

# An unprivileged user; /app is its home and working directory.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /app coffer
WORKDIR /app
USER 10001:10001

# The gunicorn settings ship in the package (api/gunicorn_conf.py); a container listens
# on every interface (outside one the default bind is 127.0.0.1:8000). Health checks are
# per service in docker-compose.yml: the same image runs the worker and beat too.
EXPOSE 8000
CMD ["gunicorn", "-c", "python:api.gunicorn_conf", "--bind", "0.0.0.0:8000", "api:create_app()"]
