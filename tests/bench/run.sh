#!/usr/bin/env bash
# The benchmark command: sets up, builds the package, serves tests/bench/ same-origin with the test server, and
# prints uninstrumented vs instrumented figures (see run.mjs for what each one measures).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tests/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
bash js/build.sh
source tests/server.sh 47821 tests/bench .
node tests/bench/run.mjs http://127.0.0.1:47821/
