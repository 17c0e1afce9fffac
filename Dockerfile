# One image for every Coffer process: the API (the default command), the Celery
# worker and beat, and the one-shot `coffer db upgrade` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the package (every dependency ships a wheel: no compiler needed), then
# drop the sources: only the installed package runs.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY cli ./cli
COPY core ./core
COPY workers ./workers
RUN pip install . && rm -rf /src

# An unprivileged user; /app is its home and working directory.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /app coffer
WORKDIR /app
USER coffer

# The gunicorn settings ship in the package (api/gunicorn_conf.py); a container listens
# on every interface (outside one the default bind is 127.0.0.1:8000).
EXPOSE 8000
CMD ["gunicorn", "-c", "python:api.gunicorn_conf", "--bind", "0.0.0.0:8000", "api:create_app()"]
