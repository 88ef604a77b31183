#!/usr/bin/env bash
# Set up and run the demo: serve examples/app.py over HTTP (Mastra's API, the AI SDK UI stream)
# and stream one question through it in the terminal: a research agent whose tool streams a
# nested writer agent and reports progress. No API key needed (scripted model); with
# OPENAI_API_KEY / OPENAI_BASE_URL or ANTHROPIC_API_KEY set it uses the real provider.
#
# Usage: bash scripts/demo.sh ["your question"]     (DEMO_ONCE=1: stop after the answer)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
port="${STREAMWISE_PORT:-4111}"
# The server tunes the garbage collector at start-up (docs/performance.md; STREAMWISE_GC_TUNING=0: off).
.venv/bin/streamwise dev --port "$port" >/dev/null 2> >(grep -v "^INFO" >&2) &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
.venv/bin/streamwise ask "http://127.0.0.1:$port" research "${1:-What makes streaming UIs feel fast?}"
if [ "${DEMO_ONCE:-0}" = 1 ]; then
  exit 0
fi
cat <<MSG

Serving the demo app on http://127.0.0.1:$port — Ctrl-C to stop. Try:
  .venv/bin/streamwise ask http://127.0.0.1:$port research "another question"
  curl -N -X POST http://127.0.0.1:$port/api/agents/research/stream \\
       -H 'content-type: application/json' -d '{"messages": "hello"}'
  @mastra/client-js: new MastraClient({ baseUrl: "http://127.0.0.1:$port" })
  AI SDK useChat:    transport: new DefaultChatTransport({ api: "http://127.0.0.1:$port/chat/research" })
MSG
wait "$server"
