#!/usr/bin/env bash
# Sets up the machine, builds the package and serves the demo on http://127.0.0.1:8080/ (Ctrl-C stops it).
# The demo server embeds an OTLP receiver, so no account or collector is needed.
# With --check: loads the page in headless Chromium, clicks every button, checks the span table, the memory plot and
# that the collector got every span, saves a screenshot to target/demo.png, and exits (www/check.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
bash js/build.sh
port=${FETCHSPAN_DEMO_PORT:-8080}
source tests/server.sh "$port" www .
if [ "${1:-}" = --check ]; then
  node www/check.mjs "http://127.0.0.1:$port/"
else
  echo "fetchspan demo: open http://127.0.0.1:$port/ (Ctrl-C to stop)"
  wait "$server_pid"
fi
