#!/usr/bin/env bash
# Build everything the example needs, from a fresh clone: the repository's .venv with
# Coffer and coffer-client, then @coffer/react and the storefront page (npm ci from the
# lockfiles).
# Usage: bash examples/storefront/build.sh
set -euo pipefail
cd "$(dirname "$0")"
ROOT=../..
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  python3 -m venv "$ROOT/.venv"
fi
"$ROOT/.venv/bin/python" -m pip install --quiet -e "$ROOT" "$ROOT/clients/python"
npm ci --prefix "$ROOT/clients/react" --no-audit --no-fund
npm run build --prefix "$ROOT/clients/react"
npm ci --no-audit --no-fund   # installs the @coffer/react just built (install-links: a copy)
npm run build
echo "Built. From the repository root: .venv/bin/python examples/storefront/run.py"
