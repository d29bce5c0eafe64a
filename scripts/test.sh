#!/usr/bin/env bash
# The whole check: set-up, lint, format, types, tests. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
# Flink's Kafka/JDBC connector jars for the validator (downloaded once, checked against pinned sums).
python scripts/fetch_flink_jars.py
echo "== ruff (lint)";   ruff check services tests scripts benchmarks
echo "== ruff (format)"; ruff format --check services tests scripts benchmarks
echo "== mypy (strict)"; mypy services
echo "== pytest";        pytest -q "$@"
