#!/usr/bin/env bash
# Sets up the machine and runs every test: native unit tests (OTLP encoding checked with opentelemetry-proto, the
# strict receiver), the browser suites in headless Chromium against the test server on 127.0.0.1:47811, and the
# demo, built and clicked through headlessly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== native tests"
cargo test -q --workspace

echo "== browser tests (headless Chromium)"
source tests/server.sh 47811
export CHROMEDRIVER=/usr/bin/chromedriver
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=600
cargo test --no-fail-fast --target wasm32-unknown-unknown --features fault-injection -- --nocapture

echo "== demo check (README command 1, headless)"
FETCHSPAN_DEMO_PORT=47831 bash www/demo.sh --check
echo "== all tests passed"
