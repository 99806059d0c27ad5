#!/usr/bin/env bash
# Sets up the machine and runs every test: native unit tests (OTLP encoding checked with opentelemetry-proto, the
# strict receiver), the browser suites (browser, worker, export, memory) in headless Chromium, Firefox ESR and
# WebKitGTK against the test server on 127.0.0.1:47811, and the demo, built and clicked through headlessly.
# A failure in any engine fails the run; every suite runs in every engine either way. FETCHSPAN_ENGINES="chrome
# firefox" limits it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
started=$SECONDS
timings=()
failed=()

echo "== native tests"
cargo test -q --workspace
node --test tests/exporter.test.mjs

source tests/server.sh 47811
# The browser suites run exactly as the README documents them for wasm-pack users (the per-test timeout comes from
# .cargo/config.toml), one engine after the other.
for engine in ${FETCHSPAN_ENGINES:-chrome firefox safari}; do
  t0=$SECONDS
  case $engine in
    chrome) cmd=(wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver) ;;
    firefox) cmd=(wasm-pack test --headless --firefox --geckodriver ~/.cargo/bin/geckodriver) ;;
    safari) cmd=(xvfb-run -a wasm-pack test --headless --safari --safaridriver /usr/bin/WebKitWebDriver) ;;
    *) echo "unknown engine $engine" >&2; exit 2 ;;
  esac
  # One suite at a time (cargo would stop at the first failing one), so every suite runs in every engine. A run
  # that failed before its page started any test (the driver or the browser failed: geckodriver answered a
  # navigation with "webdriver POST /session/…/url request failed", http status 500, in Firefox runs on 2026-11-30,
  # when webdriver.json allowed a page 30 s to load; the runner's server can leave a module request unserved:
  # README, Layout) runs again, up to three runs in all; a test that ran and failed is never run again, and a page
  # that can't load fails every run.
  for suite in browser worker export memory; do
    echo "== $suite tests ($engine)"
    log=$(mktemp)
    for run in 1 2 3; do
      if "${cmd[@]}" -- --features fault-injection --test "$suite" 2>&1 | tee "$log"; then
        break
      elif grep -q '^running [0-9]* tests\?$' "$log" || [ "$run" = 3 ]; then
        failed+=("$engine/$suite")
        break
      fi
      echo "== $suite tests ($engine): no test started (the driver or the browser failed); run $((run + 1)) of at most 3"
    done
    rm -f "$log"
  done
  timings+=("$engine $((SECONDS - t0)) s")
done
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true

# The steps after the engines: each runs whatever failed before it, and a failure is listed at the end.
echo "== package tests (npm pack, tsc --strict, Vite/esbuild/webpack, script tag, broken wasm, the shipped build in three engines)"
bash tests/package.sh || failed+=(package)

# The size goal of issue 7 is 20 KB (20480 bytes) min+gzip and is NOT met (42 KB with trace context, server
# correlation, header capture, hooks and stream timings): this check holds the line at 43 KiB, so the package
# can't grow unnoticed. tests/size.sh alone checks against the 20 KB goal. Raised from 36 KiB to 37 KiB for the privacy and
# data-loss fixes of 2026-11-29's second stop (+1,109 bytes of the script tag), and to 38 KiB for the review fixes
# of 2026-11-30's second stop (+680: aborts mirrored at once, the exporter's unload and flush fixes), and to 39 KiB
# for the review fixes of 2026-11-30's fifth stop (+813: another copy of fetchspan refused, unread responses swept
# after uninstall, headers handed on in the app's form, chunks counted once received; see the README's size history),
# and later to 42 KiB, then to 42.5 KiB for the review fixes of 2026-12-01's third stop (+246: zone.js timers,
# wrappers that copy `init`, `fetch` polyfills, `keepalive` requests in WebKit), then to 42.75 KiB for its fifth
# (+232: spans of responses `cache.put` takes, the body stage's own module, the page's first abort; after 56 bytes
# saved by shortening more internal names), then to 43 KiB for its sixth (+357: spans of responses a WebAssembly
# streaming compile takes), then to 43.25 KiB for its seventh (+35: a network wait going on when a stream ends
# taken as a stall), then to 43.5 KiB for its eighth (+290: under another tracer's `fetch` wrapper, a `Request`'s
# own headers kept, a replaced `traceparent` joined, the resend set up with a copied request or a later hand-over).
echo "== size check"
SIZE_NO_BUILD=1 FETCHSPAN_SIZE_BUDGET=44544 bash tests/size.sh || failed+=(size)

echo "== demo check (README command 1, headless)"
FETCHSPAN_DEMO_PORT=47831 bash www/demo.sh --check || failed+=(demo)

echo "== time per engine: ${timings[*]}; whole run $((SECONDS - started)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED in: ${failed[*]}" >&2
  exit 1
fi
echo "== all tests passed"
