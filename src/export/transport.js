// The exporter's network glue: one POST with a deadline, and an abortable sleep. Every timer and listener here is
// released whichever way the operation ends, so nothing of an export outlives it.

/**
 * POSTs `body` with the `fetch` captured before fetchspan patched it (so exports are never traced). Resolves to
 * `{ status, retryAfterMs, rejectedSpans }` once the whole answer is read; rejects on a network error, on `signal`,
 * or when `timeoutMs` passes.
 */
export function post(fetch, url, headers, body, signal, timeoutMs, keepalive) {
  const deadline = AbortSignal.timeout(timeoutMs);
  const stop = AbortSignal.any([signal, deadline]);
  const exchange = (async () => {
    const response = await fetch.call(globalThis, url, {
      method: 'POST',
      headers,
      body,
      keepalive,
      credentials: 'omit',
      signal: stop,
    });
    const text = await response.text();
    return {
      status: response.status,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
      rejectedSpans: rejectedSpans(text),
    };
  })();
  // Settles at the abort itself, not when the engine gets round to failing the aborted fetch (WebKit took up to
  // 120 s against a collector that never answers), so a flush returns by its deadline in every engine.
  return new Promise((resolve, reject) => {
    const aborted = () => reject(stop.reason);
    if (stop.aborted) aborted();
    else stop.addEventListener('abort', aborted, { once: true });
    exchange.then(resolve, reject).finally(() => stop.removeEventListener('abort', aborted));
  });
}

/**
 * `partialSuccess.rejectedSpans` of an `ExportTraceServiceResponse` (an int64, so a string in JSON, or a number),
 * or 0. Parsed here rather than in the wasm, which then needs no JSON parser.
 */
export function rejectedSpans(text) {
  try {
    const n = Number(JSON.parse(text)?.partialSuccess?.rejectedSpans ?? 0);
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** `Retry-After` (seconds or an HTTP date) in milliseconds, or -1 when absent or unreadable. */
function retryAfterMs(value) {
  if (value === null) return -1;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? -1 : Math.max(0, date - Date.now());
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
