#!/bin/sh
# Sets up .venv in the checkout with every dependency pinned in uv.lock.
# Needs only python3 (>= 3.11) and git; uv is installed inside the venv.
# Usage: sh scripts/bootstrap.sh [--dev]
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kimi-review needs Python 3.11 or newer")'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
[ -x .venv/bin/uv ] || .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.5"
extra=""
[ "${1:-}" = "--dev" ] && extra="--extra dev"
# --inexact keeps uv itself (installed by pip above) in the venv.
# shellcheck disable=SC2086
UV_PROJECT_ENVIRONMENT=.venv .venv/bin/uv sync --quiet --frozen --inexact $extra
