#!/usr/bin/env bash
# The test command: install what is missing, start dockerd+swarm, the registry and Chromium, lint, type-check, test.
# TAGPIN_REQUIRE (e.g. registry,swarm,browser) turns "service missing → skip" into "service missing → fail".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/services.sh --postgres
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";        ruff check .
echo "== mypy";        mypy --strict
echo "== lint-imports"; lint-imports
echo "== pytest"
pytest -q "$@"
