#!/usr/bin/env bash
# Re-resolves requirements/lock.txt from pyproject.toml (all extras + dev). Run after changing dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh >/dev/null 2>&1 || true
.tools/bin/uv pip compile pyproject.toml --extra all --extra dev --python-version 3.11 \
  --quiet -o requirements/lock.txt
echo "requirements/lock.txt updated"
