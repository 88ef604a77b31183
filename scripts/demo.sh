#!/usr/bin/env bash
# Set up and run the demo: a research agent whose tool streams a nested writer agent.
# Works with no API key (scripted model); set OPENAI_API_KEY / OPENAI_BASE_URL or
# ANTHROPIC_API_KEY to use a real provider.
# Usage: bash scripts/demo.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamwise run examples.app:app "${1:-What makes streaming UIs feel fast?}"
