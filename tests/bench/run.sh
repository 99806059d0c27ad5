#!/usr/bin/env bash
# The benchmark command: sets up, builds the package, serves tests/bench/ same-origin with the test server, and
# prints uninstrumented vs instrumented figures (see run.mjs for what each one measures).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tests/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
bash js/build.sh

# A copy of the package for the CPU profile only, with names: the same wasm code with a names section
# (wasm-opt -g; checked below to be the shipped module once names are stripped), and the same JS bundled without
# minifying (readable, so a profile line number points at the code). The figures themselves are measured on the
# shipped pkg/.
named=target/bench/named
rm -rf target/bench
mkdir -p "$named" target/bench/stage
wasm-bindgen target/wasm32-unknown-unknown/release/fetchspan.wasm --target web --out-dir target/bench/stage --out-name fetchspan
# Optimized by the shipped module's steps (js/optimize-wasm.sh); -g keeps the function names.
source js/optimize-wasm.sh
optimize_wasm target/bench/stage/fetchspan_bg.wasm "$named/fetchspan_bg.wasm" target/bench/stage/wasm-names.json -g
node js/shorten-wasm-names.cjs target/bench/stage/fetchspan.js target/bench/stage/wasm-names.json "$named/fetchspan_bg.wasm"
node_modules/.bin/wasm-opt --strip-debug "${wasm_features[@]}" "$named/fetchspan_bg.wasm" -o target/bench/named-stripped.wasm
node_modules/.bin/wasm-opt --strip-debug "${wasm_features[@]}" pkg/fetchspan_bg.wasm -o target/bench/shipped-stripped.wasm
# The same code, up to the order of functions: with names kept, `--converge` may order two functions the other way
# round. So the check compares the disassembly's lines as a sorted list, with the indices left out.
bodies() { node_modules/.bin/wasm-dis "$1" | sed -E 's/\$[0-9]+//g' | sort; }
if ! cmp -s <(bodies target/bench/named-stripped.wasm) <(bodies target/bench/shipped-stripped.wasm); then
  echo "bench: the named copy's wasm code differs from pkg/ (src/ changed during the build?); run again" >&2
  exit 1
fi
cp js/index.js js/load.js target/bench/stage/
node js/link-body.cjs target/bench/stage
node_modules/.bin/esbuild target/bench/stage/index.js --bundle --target=es2021 \
  --format=esm --legal-comments=none --log-level=warning --outfile="$named/index.js"

# The release server: /bytes builds a 256 MiB body in 0.7 s instead of 3.6 s, and the strict collector decodes
# the exports without competing as much for this machine's 2 cores.
export FETCHSPAN_SERVER_PROFILE=release
source tests/server.sh 47821 tests/bench target/bench .
node tests/bench/run.mjs http://127.0.0.1:47821/
