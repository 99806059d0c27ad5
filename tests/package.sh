#!/usr/bin/env bash
# The packaging tests (issue 7): builds the release package, packs it, and checks
#   1. the tarball's exact file list and manifest (tests/package/check.mjs);
#   2. the types: a consumer file type-checks under `tsc --strict` (tests/bundlers/consumer.ts);
#   3. real bundlers: the fixture app built with Vite, esbuild and webpack 5 from the installed tarball
#      (tests/bundlers/build.mjs);
#   4. in headless Chromium (tests/package/browser.mjs): each bundled app makes a fetch that produces a span and
#      loads the .wasm without a failed request; the classic script tag (attributes, early fetches, an invalid
#      attribute); and broken .wasm files (404, HTML, corrupt) that make install reject with nothing patched;
#   5. the shipped package (the `no_std` wasm the browser suites don't build) in all three engines, over WebDriver
#      (tests/package/engines.mjs): spans of every main way of reading, exact sizes, the collector's copy.
# FETCHSPAN_SKIP_BUILD=1 reuses pkg/ as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
[ -x node_modules/.bin/vite ] || bash tests/setup.sh
[ "${FETCHSPAN_SKIP_BUILD:-}" = 1 ] || bash js/build.sh

out=target/package-test
rm -rf "$out"
mkdir -p "$out"
echo "== npm pack"
tarball=$(cd pkg && npm pack --silent --pack-destination "../$out")
tarball="$out/$tarball"
node tests/package/check.mjs "$tarball"

echo "== install the tarball into the fixtures (no network)"
rm -rf tests/bundlers/node_modules
(cd tests/bundlers && npm install --no-save --no-package-lock --offline --no-audit --no-fund --silent "../../$tarball")

echo "== tsc --strict on a consumer"
node_modules/.bin/tsc -p tests/bundlers/tsconfig.json
echo "types check"

echo "== bundlers"
node tests/bundlers/build.mjs "$out/bundlers"

echo "== headless Chromium: bundled apps, script tag, broken wasm (waits for /tmp/fetchspan-browser.lock)"
flock /tmp/fetchspan-browser.lock node tests/package/browser.mjs "$out"

echo "== the shipped package in Chromium, Firefox ESR and WebKitGTK (WebDriver)"
flock /tmp/fetchspan-browser.lock node tests/package/engines.mjs chrome
flock /tmp/fetchspan-browser.lock node tests/package/engines.mjs firefox
flock /tmp/fetchspan-browser.lock xvfb-run -a node tests/package/engines.mjs safari
echo "== package tests passed in ${SECONDS} s"
