#!/usr/bin/env bash
# Builds the npm package into pkg/: the wasm module and its wasm-bindgen glue (wasm-pack, --target web), this
# folder's shim (index.js, script.js, index.d.ts) as the entry points, and the module optimized by the npm
# binaryen package's wasm-opt (Debian's binaryen produces a broken module; wasm-pack's own download fails here).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
wasm-pack build --quiet --release --target web --out-dir pkg --out-name fetchspan
node_modules/.bin/wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-reference-types --enable-mutable-globals --enable-multivalue \
  pkg/fetchspan_bg.wasm -o pkg/fetchspan_bg.wasm
cp js/index.js js/script.js js/index.d.ts pkg/
node -e '
  const fs = require("fs");
  const manifest = JSON.parse(fs.readFileSync("pkg/package.json", "utf8"));
  manifest.module = "index.js";
  manifest.main = "index.js";
  manifest.types = "index.d.ts";
  manifest.exports = { ".": { types: "./index.d.ts", default: "./index.js" }, "./script.js": "./script.js" };
  manifest.files = [...new Set([...(manifest.files || []), "index.js", "script.js", "index.d.ts", "snippets"])];
  manifest.sideEffects = ["./script.js", "./snippets/*"];
  fs.writeFileSync("pkg/package.json", JSON.stringify(manifest, null, 2) + "\n");
'
echo "built pkg/ ($(stat -c %s pkg/fetchspan_bg.wasm) bytes of wasm)"
