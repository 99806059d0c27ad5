#!/usr/bin/env bash
# Builds the npm package into pkg/: the wasm module (wasm-pack, --target web, then the npm binaryen package's
# wasm-opt: Debian's binaryen produces a broken module and wasm-pack's own download fails here), and the shipped JS,
# bundled by esbuild from wasm-bindgen's glue and this folder's shim, and minified (below):
#   index.js        ES module entry (`import { install } from 'fetchspan'`), loads ./fetchspan_bg.wasm through a
#                   literal `new URL('./fetchspan_bg.wasm', import.meta.url)` that bundlers see;
#   fetchspan.js    the classic script tag (IIFE), finds the wasm next to `document.currentScript.src`;
#   index.d.ts      the types; package.json rewritten for npm (exports, files, sideEffects, types).
# `npm pack` in pkg/ then packs exactly those (tests/package.sh checks the list).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# The crates' source paths (kept in the module for panic locations) name the building machine's home folder: mapped
# to `crates/`, so the package is the same wherever it is built, shows no home folder, and is about 55 bytes smaller
# gzipped. (RUSTFLAGS splits on whitespace: a path with a space in it is left as it is.)
for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  case $dir in *[[:space:]]*) continue ;; esac
  export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=${dir%/}=crates"
done
# Without the default `std` feature: the crate is then `no_std`, and its panic handler formats nothing (Cargo.toml).
wasm-pack build --quiet --release --target web --out-dir pkg --out-name fetchspan -- --no-default-features
stage=target/js-build
rm -rf "$stage"
mkdir -p "$stage"
source js/optimize-wasm.sh
optimize_wasm pkg/fetchspan_bg.wasm pkg/fetchspan_bg.wasm "$stage/wasm-names.json"
# The shipped JS. The glue's own default wasm URL is removed (the entry points always pass one), so that bundlers
# see exactly one reference to the module and the classic script has no `import.meta`.
cp -r pkg/fetchspan.js js/index.js js/load.js js/script.js "$stage"/
cp -r pkg/snippets "$stage"/
# src/body.js, which src/patch.js imports by a path from the crate's folder (see there), goes next to it.
node js/link-body.cjs "$stage"
node -e '
  const fs = require("fs");
  const file = process.argv[1];
  const glue = fs.readFileSync(file, "utf8");
  const pattern = /new URL\((["\x27])fetchspan_bg\.wasm\1, import\.meta\.url\)/g;
  if ((glue.match(pattern) || []).length !== 1) {
    console.error("js/build.sh: wasm-bindgen glue no longer has exactly one default wasm URL; update build.sh");
    process.exit(1);
  }
  const replaced = "(() => { throw new Error(\"fetchspan: the entry point passes the wasm URL\"); })()";
  fs.writeFileSync(file, glue.replace(pattern, replaced));
' "$stage/fetchspan.js"
# Parts of the glue the shipped build never runs go too, each found exactly once or the build fails (to be looked at
# again when wasm-bindgen changes): `initSync`'s handling of a bare module and of bytes (load.js always passes
# `{ module }` with a compiled module), the `encodeInto` fallback (every browser fetchspan runs in has
# `TextEncoder.prototype.encodeInto`: Chrome 74, Firefox 66, Safari 14.1), and the string copy for a call without
# `realloc` (every call passes it), and `free()` of the classes only fetchspan holds. About 210 bytes of the gzipped
# bundle.
node -e '
  const fs = require("fs");
  const file = process.argv[1];
  let glue = fs.readFileSync(file, "utf8");
  const unused = [
    /\n    if \(module !== undefined\) \{\n        if \(Object\.getPrototypeOf\(module\) === Object\.prototype\) \{\n            \(\{module\} = module\)\n        \} else \{\n[^\n]*deprecated parameters for `initSync\(\)`[^\n]*\n        \}\n    \}\n/g,
    /\n    if \(!\(module instanceof WebAssembly\.Module\)\) \{\n        module = new WebAssembly\.Module\(module\);\n    \}\n/g,
    /\nif \(!\(\x27encodeInto\x27 in cachedTextEncoder\)\) \{\n(    [^\n]*\n|\n)*?\}\n/g,
    /\n    if \(realloc === undefined\) \{\n(        [^\n]*\n)*?    \}\n/g,
  ];
  const replacements = ["\n    ({ module } = module);\n", "\n", "\n", "\n"];
  // `free()` of the classes only fetchspan itself holds (the transformer, the hooks, the span): nothing calls it, and
  // their memory is freed by their `Drop` or by the glue\x27s FinalizationRegistry. `Tracer` keeps its own.
  for (const name of ["CountingTransformer", "FetchHooks", "RequestSpan"]) {
    unused.push(new RegExp(`(\\nexport class ${name} \\{\\n[^]*?)\\n    free\\(\\) \\{\\n[^\\n]*\\n[^\\n]*\\n    \\}\\n`, "g"));
    replacements.push("$1\n");
    unused.push(new RegExp(`\\nif \\(Symbol\\.dispose\\) ${name}\\.prototype\\[Symbol\\.dispose\\] = ${name}\\.prototype\\.free;\\n`, "g"));
    replacements.push("\n");
  }
  // `using tracer = …` would free the handle and leave fetchspan installed for good (no `uninstall()` after it): a
  // `Tracer` gets no `Symbol.dispose`, so `using` refuses it.
  unused.push(/\nif \(Symbol\.dispose\) Tracer\.prototype\[Symbol\.dispose\] = Tracer\.prototype\.free;\n/g);
  replacements.push("\n");
  unused.forEach((pattern, i) => {
    if ((glue.match(pattern) || []).length !== 1) {
      console.error(`js/build.sh: wasm-bindgen glue no longer has exactly one match of ${pattern}; update build.sh`);
      process.exit(1);
    }
    glue = glue.replace(pattern, replacements[i]);
  });
  fs.writeFileSync(file, glue);
' "$stage/fetchspan.js"
node js/shorten-wasm-names.cjs "$stage/fetchspan.js" "$stage/wasm-names.json" pkg/fetchspan_bg.wasm
# esbuild bundles and minifies the ES module entry, which the app's own bundler minifies again (terser's output
# gzips smaller as shipped but larger once esbuild minifies it again: 13,454 against 13,278 bytes). The classic
# script is served as it is, so terser minifies it: 490 bytes smaller gzipped (its safe defaults, two passes).
# A function of ours standing in for a native one gets the native `name` and `length` at install (`likeNative`
# in src/patch.js), so renaming changes nothing a page can see.
esbuild=node_modules/.bin/esbuild
# Internal property names (wasm-bindgen's glue, the exporter's state, the body stage's bookkeeping) are shortened:
# -179 bytes of the default import, -155 of the script tag, gzipped. Only names that nothing outside the bundle
# reads: no option, span or stats field, nothing of the platform's, and no name Rust reads by string
# (`Reflect::get`). The package tests run the shipped build.
internal='^(__wbg_ptr|__destroy_into_raw|_wbg_cb_unref|__wrap|keepaliveRequests|stopListening|firstChunkAt|waitingForApp|sseFirstAt|sseEvents|maxGapMs|inFlight|startRun|retryAfterMs|sendForUnload|exportQueue|sendWithRetries|listenForUnload|resend|teed|takeTiming|startedAt|accepted|counts|waiting|settling|enqueued|requeue|cancelUnread|unsettled|waitStop|headersRead|headersValue|headersAnswer|added|appStream|outgoing|unloading|family|members|kept|streams|current|pending|pulled|watched|left|seenUnread|respondedAt|stream|native|hiddenSent|prefix|suffix|queue|resumeAt|wake|abortedFirst|pulledAt|since|stalls|controller|writer|users|unswept|given|threw|init|view|upload|takeIfLocked|took|compiles|platformTook|copied)$'
common=(--bundle --target=es2021 --legal-comments=none --log-level=warning "--mangle-props=$internal")
"$esbuild" "$stage/index.js" "${common[@]}" --minify --format=esm --outfile=pkg/index.js
"$esbuild" "$stage/script.js" "${common[@]}" --format=iife --outfile="$stage/bundled-script.js"
# `unsafe_methods`: `{ k: function () {} }` becomes `{ k() {} }`, which can't be `new`ed and has no `prototype`: -60
# bytes gzipped. Such functions here are the wasm imports (called by the module) and our property descriptors'
# `get`/`value` (the patched Response members, for which a method is what the native ones are too); none is ever
# constructed. ASCII output, so that a page served without a charset shows our messages' "…" as such.
node_modules/.bin/terser "$stage/bundled-script.js" --ecma 2021 --compress passes=2,unsafe_methods=true --mangle \
  --format ascii_only=true -o pkg/fetchspan.js
cp js/index.d.ts pkg/
rm -rf pkg/snippets pkg/script.js pkg/fetchspan.d.ts pkg/fetchspan_bg.wasm.d.ts
node -e '
  const fs = require("fs");
  const generated = JSON.parse(fs.readFileSync("pkg/package.json", "utf8"));
  const keep = ["name", "version", "description", "license", "repository", "homepage", "keywords", "collaborators"];
  const manifest = Object.fromEntries(keep.filter((key) => key in generated).map((key) => [key, generated[key]]));
  Object.assign(manifest, {
    type: "module",
    main: "./index.js",
    module: "./index.js",
    types: "./index.d.ts",
    exports: {
      ".": { types: "./index.d.ts", default: "./index.js" },
      "./fetchspan.js": "./fetchspan.js",
      "./fetchspan_bg.wasm": "./fetchspan_bg.wasm",
      "./package.json": "./package.json",
    },
    // index.js only defines `install`; the classic script installs itself when it runs.
    sideEffects: ["./fetchspan.js"],
    // (npm adds a file named LICENSE by itself, not these two.)
    files: ["index.js", "index.d.ts", "fetchspan.js", "fetchspan_bg.wasm", "LICENSE-MIT", "LICENSE-APACHE"],
  });
  fs.writeFileSync("pkg/package.json", JSON.stringify(manifest, null, 2) + "\n");
'
echo "built pkg/ ($(stat -c %s pkg/fetchspan_bg.wasm) bytes of wasm, $(stat -c %s pkg/index.js) of index.js, $(stat -c %s pkg/fetchspan.js) of fetchspan.js)"
