# Sourced by js/build.sh (the shipped module) and tests/bench/run.sh (its named copy, with -g), so that both are
# optimized by the same steps: `optimize_wasm IN OUT NAMES_JSON [wasm-opt flags, e.g. -g]`.
#
# First the imports and exports get one-letter names; the run prints the mapping into NAMES_JSON, which
# js/shorten-wasm-names.cjs applies to the glue. Then the optimization: `--low-memory-unused`, since Rust lays the
# stack out first, from address 0 (its data starts at 1 MiB), so nothing but the bottom of a 1 MiB-deep stack lives
# in the first 1 KiB, which lets wasm-opt fold address arithmetic into load and store offsets; with `--converge`, and
# names shortened first, 356 bytes off the gzipped wasm (22,836 against 23,192, same code). The `producers` and
# `target_features` sections go too (193 bytes off the gzipped wasm): wasm-bindgen has read them, and engines ignore them.
# `--flatten --rereloop` first, then `-Oz` twice: the control flow rebuilt from scratch folds smaller, 187 bytes off
# the gzipped wasm (22,480 against 22,667); other passes tried before `-Oz` (`--gufa`, `-O4`, `--monomorphize`,
# `--merge-similar-functions`, `--dae-optimizing`, `--code-folding`, `--local-cse`, ...) saved nothing.
# The npm binaryen package's wasm-opt: Debian's produces a broken module.

# The wasm features the Rust toolchain's output uses, for every wasm-opt run.
wasm_features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types
  --enable-mutable-globals --enable-multivalue)

optimize_wasm() {
  local in=$1 out=$2 names=$3
  shift 3
  node_modules/.bin/wasm-opt "$@" "${wasm_features[@]}" --minify-imports-and-exports-and-modules "$in" -o "$out" >"$names"
  node_modules/.bin/wasm-opt "$@" --low-memory-unused --flatten --rereloop -Oz -Oz --converge --strip-producers --strip-target-features \
    "${wasm_features[@]}" "$out" -o "$out"
}
