#!/usr/bin/env bash
# The size budget (issue 7): what `import { install } from 'fetchspan'` pulls in — the wasm, the wasm-bindgen glue,
# its snippets and the shim, minified, gzip -9 — must weigh at most 20 KB (20480 bytes), exporter included. The
# script-tag entry (pkg/fetchspan.js) is held to the same budget.
#
# Builds the release package (js/build.sh), then bundles each entry with esbuild (--bundle --minify: exactly the JS
# that entry reaches, as a bundler would ship it) and adds the .wasm it loads. Without esbuild in node_modules it
# measures the entry file alone (and says so). The classic script (pkg/fetchspan.js, already one minified file) is
# measured as shipped: a page loads it as it is. Exits non-zero above the budget.
#
#   bash tests/size.sh              build, print, check
#   SIZE_NO_BUILD=1 bash tests/size.sh   measure the pkg/ already built
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${FETCHSPAN_SIZE_BUDGET:-20480}

if [ -z "${SIZE_NO_BUILD:-}" ]; then
  bash js/build.sh
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

gz() { gzip -9 -c "$1" | wc -c; }
raw() { wc -c <"$1"; }

esbuild=""
if [ -x node_modules/.bin/esbuild ]; then
  esbuild=node_modules/.bin/esbuild
fi

# The JS an entry pulls in, as one file: its minified bundle (esbuild follows its imports: glue, snippets, shim), or
# (fallback) the entry file itself.
js_of() {
  local entry=$1 out=$2
  if [ -n "$esbuild" ]; then
    "$esbuild" "$entry" --bundle --minify --format=esm --log-level=warning --outfile="$out"
  else
    cp "$entry" "$out"
  fi
}

wasm=pkg/fetchspan_bg.wasm
wasm_raw=$(raw "$wasm")
wasm_gz=$(gz "$wasm")
if [ -n "$esbuild" ]; then how="esbuild --bundle --minify"; else how="entry file only: no node_modules/.bin/esbuild"; fi

status=0
# `report LABEL ENTRY [shipped]`: with `shipped`, the entry file as it is, else as js_of bundles it.
report() {
  local label=$1 entry=$2 js=$how
  if [ "${3:-}" = shipped ]; then
    js="the file as shipped"
    cp "$entry" "$work/entry.js"
  else
    js_of "$entry" "$work/entry.js"
  fi
  local js_raw js_gz total
  js_raw=$(raw "$work/entry.js")
  js_gz=$(gz "$work/entry.js")
  total=$((wasm_gz + js_gz))
  printf '%s (%s)\n' "$label" "$entry"
  printf '  %-34s %8s bytes raw %8s bytes gzip -9\n' "wasm ($wasm)" "$wasm_raw" "$wasm_gz"
  printf '  %-34s %8s bytes raw %8s bytes gzip -9\n' "JS ($js)" "$js_raw" "$js_gz"
  if [ "$total" -le "$BUDGET" ]; then
    printf '  total %s bytes gzip -9: within the budget of %s (%s to spare)\n' "$total" "$BUDGET" $((BUDGET - total))
  else
    printf '  total %s bytes gzip -9: OVER the budget of %s by %s\n' "$total" "$BUDGET" $((total - BUDGET))
    status=1
  fi
}

echo "size of the npm package (issue 7 budget: $BUDGET bytes, min+gzip -9, exporter included)"
report "default import: import { install } from 'fetchspan'" pkg/index.js
# The classic script (js/build.sh bundles it into one minified file): a page loads it as it is.
report "script-tag entry" pkg/fetchspan.js shipped
if [ "$status" -ne 0 ]; then
  echo "size check FAILED" >&2
fi
exit "$status"
