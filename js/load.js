// Loads fetchspan's wasm module, once, from a URL the entry point gives (next to the module or the script). Owns
// every way that load can fail: each one becomes a single Error naming the URL and the reason, so `install` rejects
// before anything is patched. Never patches anything itself.
import { initSync } from './fetchspan.js';

let loading;

/** Loads and instantiates the module at `url` with `fetchImpl` (the page's fetch before any patching). */
export function loadWasm(url, fetchImpl) {
  loading ??= load(String(url), fetchImpl).catch((error) => {
    loading = undefined; // a later install may try again (the file may have been deployed since)
    throw error;
  });
  return loading;
}

async function load(url, fetchImpl) {
  const failed = (reason, cause) =>
    new Error(`fetchspan: could not load its WebAssembly module from ${url}: ${reason}`, { cause });
  let response;
  try {
    response = await fetchImpl(url);
  } catch (error) {
    throw failed(`network error (${error?.message ?? error})`, error);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw failed(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
  }
  const type = response.headers.get('content-type') || '';
  const isWasmType = type.split(';')[0].trim().toLowerCase() === 'application/wasm';
  try {
    // Streaming compilation needs `application/wasm`; a module served with another type is compiled from its
    // bytes instead (no console warning), and a file that is not wasm fails below with its type in the message.
    // Compiled here and instantiated by the glue's `initSync` (a compiled module: no synchronous compile), so that
    // the glue's own loader, with its fallbacks and console warnings, is left out of the bundle (-337 bytes gzipped).
    // A page's `fetch` polyfill (whatwg-fetch) answers with a `Response` of its own, which streaming compilation
    // refuses with a `TypeError`, its body untouched: that one is compiled from its bytes too.
    const bytes = async () => WebAssembly.compile(await response.arrayBuffer());
    const module = isWasmType
      ? await WebAssembly.compileStreaming(response).catch((error) => {
        if (error instanceof TypeError && !response.bodyUsed) return bytes();
        throw error;
      })
      : await bytes();
    initSync({ module });
  } catch (error) {
    const what = error instanceof WebAssembly.CompileError
      ? `not a valid WebAssembly module (served as ${type || 'no Content-Type'})`
      : error instanceof WebAssembly.LinkError || error instanceof WebAssembly.RuntimeError
        ? 'the module does not match this JS (a mixed deployment?)'
        : 'reading it failed';
    throw failed(`${what}: ${error?.message ?? error}`, error);
  }
}
