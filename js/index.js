// fetchspan's npm entry (ES module, for pages and workers): loads the wasm module once, from next to this file,
// and exposes `install`. Everything else is in the crate. If the module can't be loaded, `install` rejects with the
// URL and the reason, and nothing is patched.
import { loadWasm } from './load.js';
import { install as installNow } from './fetchspan.js';

/**
 * Instruments `fetch` in this global (a page or a worker). Resolves to the tracer; rejects, with nothing
 * patched, on a bad option (the error names it), when fetchspan is already installed, or when the wasm module
 * can't be loaded (the error names its URL and why).
 * @param {import('./index').Options} [options]
 * @returns {Promise<import('./index').Tracer>}
 */
export async function install(options) {
  // Written out literally so that bundlers (Vite, webpack 5, Parcel, Rollup plugins) see the asset and emit it.
  await loadWasm(new URL('./fetchspan_bg.wasm', import.meta.url), globalThis.fetch);
  return installNow(options);
}
