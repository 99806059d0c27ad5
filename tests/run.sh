#!/usr/bin/env bash
# Sets up the machine and runs every test: native unit tests (OTLP encoding checked with opentelemetry-proto, the
# strict receiver), the browser suites (browser, worker, export, memory) in headless Chromium, Firefox ESR and
# WebKitGTK against the test server on 127.0.0.1:47811, and the demo, built and clicked through headlessly.
# A failure in any engine fails the run; every engine runs either way. FETCHSPAN_ENGINES="chrome firefox" limits it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
started=$SECONDS
timings=()
failed=()

echo "== native tests"
cargo test -q --workspace

source tests/server.sh 47811
# The browser suites run exactly as the README documents them for wasm-pack users (the per-test timeout comes from
# .cargo/config.toml), one engine after the other.
for engine in ${FETCHSPAN_ENGINES:-chrome firefox safari}; do
  echo "== browser tests ($engine)"
  t0=$SECONDS
  case $engine in
    chrome) cmd=(wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver) ;;
    firefox) cmd=(wasm-pack test --headless --firefox --geckodriver "$(command -v geckodriver)") ;;
    safari) cmd=(xvfb-run -a wasm-pack test --headless --safari --safaridriver /usr/bin/WebKitWebDriver) ;;
    *) echo "unknown engine $engine" >&2; exit 2 ;;
  esac
  if ! "${cmd[@]}" -- --no-fail-fast --features fault-injection -- --nocapture; then
    failed+=("$engine")
  fi
  timings+=("$engine $((SECONDS - t0)) s")
done
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true

echo "== demo check (README command 1, headless)"
FETCHSPAN_DEMO_PORT=47831 bash www/demo.sh --check

echo "== time per engine: ${timings[*]}; whole run $((SECONDS - started)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED in: ${failed[*]}" >&2
  exit 1
fi
echo "== all tests passed"
