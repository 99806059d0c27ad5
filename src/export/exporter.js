// Stage 4's JS half: the bounded queue of encoded spans, the scheduled export, the one run in flight with its
// retries, `forceFlush`, the keepalive flush when the page is hidden, and `shutdown`. The Rust half
// (src/export/mod.rs) encodes each span once, as it ends, and hands over the string. All of this is async and timer
// driven: as Rust futures it weighed about 9 KB of the gzipped wasm (issue 7; 1 KB as JS).
//
// Never: sends through the patched `fetch` (it has the one in place at install, so it never traces itself), holds
// more than `maxQueueSize` spans (queued and in flight together), or leaves a timer, listener or request behind once
// `shutdown` resolves. Every timer and listener here is released whichever way its operation ends.

// What fetchspan's keepalive requests may hold in flight at once: bytes and requests. The page shares a 64 KiB
// budget (and about 9 requests) across all its keepalive fetches and beacons; this leaves it room.
const KEEPALIVE_BYTES = 60_000;
const KEEPALIVE_REQUESTS = 8;
// Retries: 429, 502, 503, 504 and network errors, with exponential backoff and jitter, honouring `Retry-After`;
// anything else is final. Attempts (the first included) and waits are capped.
const RETRIED = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 5;
const BASE_BACKOFF_MS = 1000;
const MAX_WAIT_MS = 30_000;
const COUNTERS = ['exported', 'dropped', 'rejected', 'exportFailures', 'retries'];

/** The exporter of one installation; `options` is the `export` member of the normalized options. */
export class Exporter {
  constructor(fetch, options, prefix, suffix) {
    this.fetch = fetch;
    this.options = options;
    // The request body is `prefix + spans.join(',') + suffix`: the envelope with the resource, encoded once.
    this.prefix = prefix;
    this.suffix = suffix;
    this.queue = [];
    // Spans taken out of the queue by the run in flight (they count against the queue bound).
    this.inFlight = 0;
    // The run in flight: `{ controller, done }`.
    this.run = null;
    this.timer = null;
    this.keepaliveBytes = 0;
    this.keepaliveRequests = 0;
    this.closed = false;
    this.stopListening = null;
    this.counts = Object.fromEntries(COUNTERS.map((name) => [name, 0]));
  }

  /** Queues a finished span (its OTLP JSON), or drops and counts it when the queue is full or shut down. */
  enqueue(span) {
    if (this.closed || this.queue.length + this.inFlight >= this.options.maxQueueSize) {
      this.counts.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.run !== null) return;
    if (this.queue.length >= this.options.maxExportBatchSize) this.startRun();
    else this.schedule();
  }

  /** Arms the scheduled export, unless it is armed. */
  schedule() {
    if (this.timer === null) this.timer = setTimeout(() => this.startRun(), this.options.scheduledDelayMs);
  }

  /** Starts exporting the queue, batch after batch, unless a run is already in flight. */
  startRun() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.run !== null || this.closed || this.queue.length === 0) return;
    // In flight from its first step on: the first POST starts synchronously.
    const run = { controller: new AbortController(), done: undefined };
    this.run = run;
    run.done = this.exportQueue(run.controller.signal).catch(() => {}).then(() => {
      this.run = null;
      if (!this.closed && this.queue.length > 0) this.schedule();
    });
  }

  async exportQueue(signal) {
    while (!signal.aborted && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxExportBatchSize);
      this.inFlight = batch.length;
      const sent = await this.sendWithRetries(batch, signal);
      this.inFlight = 0;
      // Aborted by a flush deadline or shutdown: the spans go back to the front of the queue.
      if (!sent) this.queue.unshift(...batch);
    }
  }

  /** Sends one batch, retrying as the rules above say. False when `signal` aborted it. */
  async sendWithRetries(batch, signal) {
    const body = this.body(batch);
    for (let attempt = 1; ; attempt++) {
      const answer = await this.post(body, signal, false).catch(() => null);
      if (signal.aborted) return false;
      if (answer !== null && answer.status >= 200 && answer.status < 300) {
        this.accepted(answer, batch.length);
        return true;
      }
      if ((answer === null || RETRIED.has(answer.status)) && attempt < MAX_ATTEMPTS) {
        this.counts.retries++;
        const backoff = BASE_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
        await sleep(Math.min(answer !== null && answer.retryAfterMs >= 0 ? answer.retryAfterMs : backoff, MAX_WAIT_MS), signal);
        if (signal.aborted) return false;
      } else {
        this.counts.exportFailures++;
        this.counts.dropped += batch.length;
        return true;
      }
    }
  }

  /** Counts a 2xx answer for `spans` spans: exported, less what a partial success rejected. */
  accepted(answer, spans) {
    const rejected = Math.min(answer.rejectedSpans, spans);
    this.counts.exported += spans - rejected;
    this.counts.rejected += rejected;
  }

  /** The request body for `spans`. */
  body(spans) {
    return this.prefix + spans.join(',') + this.suffix;
  }

  /**
   * POSTs `body` with the `fetch` captured before fetchspan patched it (so exports are never traced). Resolves to
   * `{ status, retryAfterMs, rejectedSpans }` once the whole answer is read; rejects on a network error, on `signal`,
   * or when `exportTimeoutMs` passes.
   */
  post(body, signal, keepalive) {
    const { url, headers, exportTimeoutMs } = this.options;
    const stop = AbortSignal.any([signal, AbortSignal.timeout(exportTimeoutMs)]);
    const exchange = (async () => {
      const response = await this.fetch.call(globalThis, url, {
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
   * Exports everything queued, by `timeoutMs` at the latest. At the deadline the run in flight is aborted (its spans
   * go back to the queue) and awaited, so nothing of this flush is pending when it resolves.
   */
  async forceFlush(timeoutMs) {
    const [exported, dropped] = [this.counts.exported, this.counts.dropped];
    const deadline = performance.now() + timeoutMs;
    let timedOut = false;
    while (this.run !== null || this.queue.length > 0) {
      this.startRun();
      const left = deadline - performance.now();
      if (left <= 0 || this.run === null) {
        timedOut = left <= 0;
        break;
      }
      const wait = new AbortController();
      await Promise.race([this.run.done, sleep(left, wait.signal)]);
      wait.abort();
    }
    if (timedOut) await this.abortRun();
    return { exported: this.counts.exported - exported, dropped: this.counts.dropped - dropped, timedOut };
  }

  /** Aborts the run in flight, if any, and waits until it has let go of its request. */
  async abortRun() {
    const run = this.run;
    if (run === null) return;
    run.controller.abort();
    await run.done;
  }

  /**
   * Flushes by `timeoutMs`, then releases everything: listeners, the timer, any request in flight. Spans left (or
   * arriving later) are counted as dropped.
   */
  async shutdown(timeoutMs) {
    this.stopListening?.();
    this.stopListening = null;
    const result = await this.forceFlush(timeoutMs);
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = null;
    await this.abortRun();
    this.counts.dropped += this.queue.length;
    this.queue = [];
    return result;
  }

  /** Flushes with `keepalive` when the page is hidden or unloaded (option `unloadFlush`; pages only). */
  listenForUnload() {
    const document = globalThis.document;
    if (!this.options.unloadFlush || document === undefined) return;
    const hidden = () => {
      if (document.visibilityState === 'hidden') this.sendForUnload();
    };
    const pagehide = () => this.sendForUnload();
    document.addEventListener('visibilitychange', hidden);
    globalThis.addEventListener('pagehide', pagehide);
    this.stopListening = () => {
      document.removeEventListener('visibilitychange', hidden);
      globalThis.removeEventListener('pagehide', pagehide);
    };
  }

  /**
   * Sends what is queued with `keepalive`, within fetchspan's share of the page's keepalive budget: batches are
   * halved until they fit; what doesn't fit stays queued for the next chance. The body goes as UTF-8 bytes, so
   * the budget counts exactly what is sent.
   */
  sendForUnload() {
    const encoder = new TextEncoder();
    while (this.keepaliveRequests < KEEPALIVE_REQUESTS && this.queue.length > 0) {
      const room = KEEPALIVE_BYTES - this.keepaliveBytes;
      let n = Math.min(this.queue.length, this.options.maxExportBatchSize);
      let body = encoder.encode(this.body(this.queue.slice(0, n)));
      while (body.byteLength > room && n > 1) {
        n >>= 1;
        body = encoder.encode(this.body(this.queue.slice(0, n)));
      }
      if (body.byteLength > room) return;
      this.queue.splice(0, n);
      this.keepaliveBytes += body.byteLength;
      this.keepaliveRequests++;
      this.post(body, NEVER, true)
        .then((answer) => {
          if (answer.status >= 200 && answer.status < 300) this.accepted(answer, n);
          else this.counts.dropped += n;
        }, () => {
          this.counts.dropped += n;
        })
        .finally(() => {
          this.keepaliveBytes -= body.byteLength;
          this.keepaliveRequests--;
        });
    }
  }
}

// A signal nothing aborts, for the keepalive requests (they must outlive the page).
const NEVER = new AbortController().signal;

/**
 * `tracer.stats()`: the span counters the Rust side keeps, then the export counters of `exporter`, or zeros
 * without one. Built here: as `Reflect.set` calls from the wasm it weighed more.
 */
export function tracerStats(started, ended, passthroughFailures, exporter) {
  const into = { started, ended, open: started - ended, passthroughFailures };
  for (const name of COUNTERS) into[name] = exporter?.counts[name] ?? 0;
  into.queued = exporter?.queue.length ?? 0;
  into.exportInFlight = exporter?.run ? 1 : 0;
  into.keepaliveInFlight = exporter?.keepaliveRequests ?? 0;
  return into;
}

/** `tracer.forceFlush(timeoutMs)`: the default deadline is `exportTimeoutMs`; without an exporter, nothing to do. */
export function forceFlush(exporter, timeoutMs) {
  if (exporter === undefined) return Promise.resolve({ exported: 0, dropped: 0, timedOut: false });
  return exporter.forceFlush(timeoutMs ?? exporter.options.exportTimeoutMs);
}

/** What `uninstall` does of the export: a shutdown within `timeoutMs`. */
export async function shutdown(exporter, timeoutMs) {
  await exporter?.shutdown(timeoutMs);
}

/**
 * `partialSuccess.rejectedSpans` of an `ExportTraceServiceResponse` (an int64, so a string in JSON, or a number),
 * or 0. Parsed here rather than in the wasm, which then needs no JSON parser.
 */
function rejectedSpans(text) {
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
function sleep(ms, signal) {
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
