// fetchspan's npm entry: loads the wasm module once and exposes `install`. Everything else is in the crate.
import initWasm, { install as installNow } from './fetchspan.js';

let ready;

/**
 * Instruments `fetch` in this global (a page or a worker). Resolves to the tracer; rejects, with nothing
 * patched, on a bad option (the error names it) or when fetchspan is already installed.
 * @param {import('./index').Options} [options]
 * @returns {Promise<import('./index').Tracer>}
 */
export async function install(options) {
  ready ??= initWasm();
  await ready;
  return installNow(options);
}
