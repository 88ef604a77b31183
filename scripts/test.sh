#!/usr/bin/env bash
# Set up and run the whole test suite: lint, types, import layers, tests.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin
# The storage tests run against SQLite and this PostgreSQL (PROTOCOL.md §9 on both).
STREAMWISE_TEST_POSTGRES_URL="$(bash scripts/setup_postgres.sh)"
export STREAMWISE_TEST_POSTGRES_URL
echo "== ruff";        $PY/ruff check src tests bench examples
echo "== ruff format"; $PY/ruff format --check src tests bench examples
echo "== mypy";        $PY/mypy
echo "== imports";     $PY/lint-imports
echo "== pytest";      $PY/pytest "$@"
