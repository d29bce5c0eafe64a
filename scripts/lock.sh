#!/usr/bin/env bash
# Re-resolves requirements/lock.txt from pyproject.toml (all extras + dev), then derives from it,
# at the lock's versions, what each image installs:
#   requirements/<service>.txt  one per service: its extra, mongodb (the compose stack's store) and,
#                               for the generator and the router, llm (their optional LLM); no dev
#                               tools, no other service's dependencies (compose/Dockerfile)
#   requirements/runner.txt     the Flink runner image: requirements/runner.in (compose/runner.Dockerfile)
# Run after changing dependencies. tests/contract/test_dependency_sets.py checks every derived file
# against the lock (same pins, a subset) and against what its service imports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh >/dev/null 2>&1 || true
uv=.tools/bin/uv
$uv pip compile pyproject.toml --extra all --extra dev --python-version 3.11 \
  --quiet -o requirements/lock.txt
echo "requirements/lock.txt updated"

# The extras of each service's image (the service's own extra first).
declare -A EXTRAS=(
  [ingest]="ingest mongodb"
  [generator]="generator mongodb llm"
  [validator]="validator mongodb"
  [knowledge]="knowledge mongodb"
  [router]="router mongodb llm"
)
for service in ingest generator validator knowledge router; do
  args=()
  for extra in ${EXTRAS[$service]}; do
    args+=(--extra "$extra")
  done
  $uv pip compile pyproject.toml "${args[@]}" --constraints requirements/lock.txt \
    --python-version 3.11 --annotation-style line --quiet -o "requirements/$service.txt"
done
$uv pip compile requirements/runner.in --constraints requirements/lock.txt \
  --python-version 3.11 --annotation-style line --quiet -o requirements/runner.txt
echo "requirements/{ingest,generator,validator,knowledge,router,runner}.txt updated"
