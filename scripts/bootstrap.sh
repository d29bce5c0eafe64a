#!/usr/bin/env bash
# Sets up .venv from the lock file. Idempotent and fast when nothing changed.
# Needs only Python >= 3.11 on PATH (or $PYTHON); uv is installed into .tools/ for speed:
# it resolves and installs the pinned set (PyFlink included) in seconds where pip backtracks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
UV_VERSION=0.13.9

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "error: Python 3.11 or newer is needed (tried '$PY'; set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if [ ! -x .tools/bin/uv ]; then
  "$PY" -m venv .tools
  .tools/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
if [ ! -x .venv/bin/python ]; then
  .tools/bin/uv venv --quiet --python "$PY" .venv
fi
stamp=.venv/.lock-installed
if [ ! -f "$stamp" ] || ! cmp -s requirements/lock.txt "$stamp" || [ pyproject.toml -nt "$stamp" ]; then
  VIRTUAL_ENV=.venv .tools/bin/uv pip sync --quiet requirements/lock.txt
  VIRTUAL_ENV=.venv .tools/bin/uv pip install --quiet --no-deps -e .
  cp requirements/lock.txt "$stamp"
fi
