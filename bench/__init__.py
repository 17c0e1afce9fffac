"""Claim-speed benchmarks: `python -m bench --help` (see bench/README.md).

Each script starts what it needs (a fresh PostgreSQL database, a private Redis
database number, gunicorn and Celery workers), measures, prints a table with
every figure beside a baseline taken in the same run, writes JSON into
bench/results/, and cleans up after itself.
"""
