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
# Branch coverage of services/ in this process ([tool.coverage] in pyproject.toml; the service
# processes that integration tests start are not measured). `coverage report` afterwards lists files.
echo "== pytest";        pytest -q --cov --cov-report= "$@"
echo "== coverage"
mkdir -p .cache && coverage json -q -o .cache/coverage.json
python - <<'PY'
import json

t = json.load(open(".cache/coverage.json", encoding="utf-8"))["totals"]
print(
    f"branch coverage of services/: {t['percent_covered_display']}% of statements and branches"
    f" (statements {t['percent_statements_covered_display']}%,"
    f" branches {t['percent_branches_covered_display']}%: {t['covered_branches']}/{t['num_branches']})"
)
PY
