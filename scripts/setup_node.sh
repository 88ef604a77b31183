#!/usr/bin/env bash
# Install the JS clients the server tests drive (package-lock.json, exact versions) when
# node_modules is missing or older than the lock file. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "setup_node.sh: npm not found; install Node.js 20+ (the server's JS client tests need it)" >&2
  exit 1
fi
stamp=node_modules/.streamwise-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  # engines say node>=22 for ai@7; it runs on Node 20 (the suite checks), so only warn.
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
