// Stage 4's JS half: the bounded queue of encoded spans, the scheduled export, the one run in flight with its
// retries, `forceFlush`, the keepalive flush when the page is hidden, and `shutdown`. The Rust half
// (src/export/mod.rs) encodes each span once, as it ends, and hands over the string. All of this is async and timer
// driven: as Rust futures it weighed about 9 KB of the gzipped wasm (issue 7; 1 KB as JS).
//
// Never: sends through the patched `fetch` (it has the one in place at install, so it never traces itself), holds
// more than `maxQueueSize` spans in the queue and the run's batch together (keepalive requests hold at most their
// 60,000 bytes besides), throws into the page, or leaves a timer, listener or request behind once `shutdown`
// resolves, but for the unload flush's keepalive requests: they are meant to outlive the page, so they may outlive
// `shutdown` too (each with its `exportTimeoutMs` timer), and what they settle is counted when they do. Every timer
// and listener here is released whichever way its operation ends.

// The engine's own timers, also where zone.js (Angular) patched the global ones.
import { clearTimer, setTimer } from '../patch.js';

// What fetchspan's keepalive requests may hold in flight at once: bytes and requests. The page shares a 64 KiB
// budget (and about 9 requests) across all its keepalive fetches and beacons; this leaves it room.
const KEEPALIVE_BYTES = 60_000;
const KEEPALIVE_REQUESTS = 8;
// What fetchspan's keepalive requests in this global hold in flight: the budget is the page's, and an unload
// flush's requests may outlive their installation (`shutdown`), so an install after an uninstall shares it with them,
// and so does another copy of fetchspan in the page (two bundles, or a bundle and the script tag): kept on the global,
// from the first unload flush (importing the module changes nothing), and out of sight (not enumerable).
const KEEPALIVE = Symbol.for('fetchspan.keepalive');
let ownKeepalive;
function sharedKeepalive() {
  // (Defining it again with the value it has changes nothing. A frozen global keeps this copy's own.)
  try {
    Object.defineProperty(globalThis, KEEPALIVE, { value: globalThis[KEEPALIVE] ?? (ownKeepalive ??= { bytes: 0, requests: 0 }) });
  } catch {}
  return globalThis[KEEPALIVE] ?? ownKeepalive;
}
// Retries: 429, 502, 503, 504 and network errors, with exponential backoff and jitter, honouring `Retry-After`;
// anything else is final. Attempts (the first included) and waits are capped. The cap holds per batch: only shutdown
// aborts a run (nothing is sent after it), so no batch starts counting again, but for the spans the unload flush takes
// (a keepalive attempt more, and those it gets back start again from the queue): a round more per hidden page.
const RETRIED = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 5;
const BASE_BACKOFF_MS = 1000;
const MAX_WAIT_MS = 30_000;
const COUNTERS = ['exported', 'dropped', 'rejected', 'exportFailures', 'retries'];

/** The exporter of one installation; `options` is the `export` member of the normalized options. */
export class Exporter {
  constructor(fetch, options, prefix, suffix) {
    // The script tag's own `fetch` when it gives one: a wrapper the page put on while the module loaded is then
    // left out of the exports (it may add the app's credentials).
    this.fetch = options.fetch ?? fetch;
    this.options = options;
    // The request body is `prefix + spans.join(',') + suffix`: the envelope with the resource, encoded once.
    this.prefix = prefix;
    this.suffix = suffix;
    this.queue = [];
    // Set while the unload flush queues the spans that waited for their resource timing (see `enqueue`).
    this.unloading = false;
    // Spans taken out of the queue by the run in flight (they count against the queue bound).
    this.inFlight = 0;
    // Those spans while the run waits to retry them, for the unload flush to take (the page may be gone by then),
    // and what ends that wait when it does (an AbortController): the run then goes on with the queue at once.
    this.waiting = null;
    this.waitStop = null;
    // The run in flight: `{ controller, done }`.
    this.run = null;
    this.timer = null;
    // This installation's keepalive requests in flight (for `stats()`; the budget is `keepalive`'s).
    this.keepaliveRequests = 0;
    // `performance.now()` before which no run starts (`startRun` waits it out) nor sends its next batch: the
    // collector's `Retry-After` on a keepalive request (the run waits out its own batch's in `sendWithRetries`). The
    // unload flush doesn't wait: the page may be gone by then.
    this.resumeAt = 0;
    this.closed = false;
    this.stopListening = null;
    // Whether a `forceFlush` sent with keepalive since the page was last hidden (see there).
    this.hiddenSent = false;
    // Spans ever queued, and those of them not settled yet (counted exported, rejected or dropped), wherever they are
    // (the queue, the run's batch, a keepalive request), by their text (unique: it holds the span id) and in the order
    // queued, with that order's number: the spans queued before a `forceFlush` have settled once the first left here
    // came later. A span dropped at `enqueue` (queue full) was never queued. (`settling` resolves, and is replaced,
    // whenever spans settle: for `forceFlush` to look again.)
    this.enqueued = 0;
    this.unsettled = new Map();
    this.counts = Object.fromEntries(COUNTERS.map((name) => [name, 0]));
  }

  /** Queues a finished span (its OTLP JSON), or drops and counts it when the queue is full or shut down. */
  enqueue(span) {
    if (this.closed || this.queue.length + this.inFlight >= this.options.maxQueueSize) {
      this.counts.dropped++;
      return;
    }
    this.unsettled.set(span, this.enqueued++);
    this.queue.push(span);
    if (this.run !== null) return;
    // (Not while the unload flush queues the spans that waited for their resource timing: it sends them itself.)
    if (this.queue.length >= this.options.maxExportBatchSize && !this.unloading) this.startRun();
    else this.schedule();
  }

  /** Arms the scheduled export, unless it is armed. */
  schedule() {
    if (this.timer === null) this.timer = setTimer(() => this.startRun(), this.options.scheduledDelayMs);
  }

  /** Starts exporting the queue, batch after batch, unless a run is already in flight. */
  startRun() {
    clearTimer(this.timer);
    this.timer = null;
    if (this.run !== null || this.closed || this.queue.length === 0) return;
    const wait = this.resumeAt - performance.now();
    if (wait > 0) {
      this.timer = setTimer(() => this.startRun(), wait);
      return;
    }
    // In flight from its first step on: the first POST starts synchronously.
    const run = { controller: new AbortController(), done: undefined };
    this.run = run;
    run.done = this.exportQueue(run.controller.signal).then(() => {
      this.run = null;
      if (!this.closed && this.queue.length > 0) this.schedule();
    });
  }

  async exportQueue(signal) {
    while (!signal.aborted && this.queue.length > 0 && performance.now() >= this.resumeAt) {
      const batch = this.queue.splice(0, this.options.maxExportBatchSize);
      this.inFlight = batch.length;
      // Should it throw (a body longer than a string may be), the batch is given up on, not lost uncounted.
      await this.sendWithRetries(batch, signal).catch(() => this.failed(batch));
      this.inFlight = 0;
    }
  }

  /**
   * Sends one batch, retrying as the rules above say, and counts how it ended: given up on, or dropped when shutdown
   * aborted it. Unless the unload flush took it while it waited to retry: then that flush ends the wait, and sends
   * and counts it.
   */
  async sendWithRetries(batch, signal) {
    const body = this.body(batch);
    let answer;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) {
        const backoff = BASE_BACKOFF_MS * 2 ** (attempt - 2) * (0.5 + Math.random() / 2);
        this.waiting = batch;
        this.waitStop = new AbortController();
        const wait = Math.min(answer?.retryAfterMs >= 0 ? answer.retryAfterMs : backoff, MAX_WAIT_MS);
        await sleep(wait, signal, this.waitStop.signal);
        // Nor before a `Retry-After` the collector gave a keepalive request meanwhile.
        const more = this.resumeAt - performance.now();
        if (more > 0 && this.waiting === batch) await sleep(more, signal, this.waitStop.signal);
        if (this.waiting !== batch) return;
        this.waiting = null;
        if (signal.aborted) break;
        // Counted as it is made: a wait cut short is no retry.
        this.counts.retries++;
      }
      answer = await this.post(body, signal, false).catch(() => null);
      if (signal.aborted) break;
      if (answer?.status >= 200 && answer.status < 300) return this.accepted(answer, batch);
      if (answer !== null && !RETRIED.has(answer.status)) break;
    }
    if (signal.aborted) this.count('dropped', batch);
    else this.failed(batch);
  }

  /** Adds `n` to the counter `name`. `spans` have settled: a `forceFlush` waiting looks again. */
  count(name, spans, n = spans.length) {
    this.counts[name] += n;
    for (const span of spans) this.unsettled.delete(span);
    this.wake?.();
    this.settling = null;
  }

  /** Counts a 2xx answer for `spans`: exported, less what a partial success rejected. */
  accepted(answer, spans) {
    const rejected = Math.min(answer.rejectedSpans, spans.length);
    this.counts.rejected += rejected;
    this.count('exported', spans, spans.length - rejected);
  }

  /** Counts a batch of `spans` given up on. */
  failed(spans) {
    this.counts.exportFailures++;
    this.count('dropped', spans);
  }

  /** The request body for `spans`. */
  body(spans) {
    return this.prefix + spans.join(',') + this.suffix;
  }

  /**
   * POSTs `body` with the `fetch` captured before fetchspan patched it (so exports are never traced). Resolves to
   * `{ status, retryAfterMs, rejectedSpans }` once the whole answer is read; rejects on a network error, on `signal`
   * (if any; not aborted yet), when `exportTimeoutMs` passes, or on anything unexpected: it never throws.
   */
  post(body, signal, keepalive) {
    const { url, headers, exportTimeoutMs } = this.options;
    return new Promise((resolve, reject) => {
      // `signal` and the timeout combined by hand: `AbortSignal.any` is missing in Safari < 17.4, Chrome < 116 and
      // Firefox < 124. The promise settles at the abort itself, not when the engine gets round to failing the aborted
      // fetch (WebKit took up to 120 s against a collector that never answers), so exports end by their deadline.
      const stop = new AbortController();
      const release = () => {
        clearTimer(timer);
        signal?.removeEventListener('abort', abort);
      };
      const abort = () => {
        release();
        reject(stop.abort());
      };
      const timer = setTimer(abort, exportTimeoutMs);
      signal?.addEventListener('abort', abort);
      (async () => {
        const response = await this.fetch.call(globalThis, url, {
          method: 'POST',
          headers,
          body,
          keepalive,
          credentials: 'omit',
          signal: stop.signal,
        });
        const text = await response.text();
        return {
          status: response.status,
          retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
          rejectedSpans: rejectedSpans(text),
        };
      })()
        .then(resolve, reject)
        .finally(release);
    });
  }

  /**
   * Exports the spans queued before the call (later ones go with their own exports) and waits until they have
   * settled, by `timeoutMs` at the latest. The deadline aborts nothing: an export the collector may already have
   * received goes on (aborted, its spans would be sent again), and `timedOut` says so; once it has passed, no export
   * is started.
   */
  async forceFlush(timeoutMs) {
    const [exported, dropped, enqueued] = [this.counts.exported, this.counts.dropped, this.enqueued];
    // A hidden page may be closing (the app's own listener flushing before ours, or `uninstall` there): what can
    // go with keepalive goes so first, once per hiding (a background tab that flushes again and again gets the
    // usual runs, with their attempts and the collector's `Retry-After`).
    if (this.stopListening !== null && globalThis.document?.visibilityState === 'hidden' && !this.hiddenSent) {
      this.hiddenSent = true;
      this.sendForUnload();
    }
    const deadline = performance.now() + timeoutMs;
    let timedOut = false;
    while (this.unsettled.values().next().value < enqueued) {
      const left = deadline - performance.now();
      if ((timedOut = left <= 0)) break;
      this.startRun();
      const wait = new AbortController();
      this.settling ??= new Promise((resolve) => (this.wake = resolve));
      await Promise.race([this.settling, sleep(left, wait.signal)]);
      wait.abort();
    }
    return { exported: this.counts.exported - exported, dropped: this.counts.dropped - dropped, timedOut };
  }

  /**
   * Flushes by `timeoutMs`, then releases everything: listeners, the timer, the run in flight (aborted: its batch
   * is counted as dropped, whether the collector got it or not, and never sent again). Spans left (or arriving
   * later) are counted as dropped. Keepalive requests are left to finish (see the top of this file).
   */
  async shutdown(timeoutMs) {
    // The unload flush stays on while this one runs: the page may be closed meanwhile.
    const result = await this.forceFlush(timeoutMs);
    this.stopListening?.();
    this.stopListening = null;
    this.closed = true;
    clearTimer(this.timer);
    this.timer = null;
    this.run?.controller.abort();
    await this.run?.done;
    this.count('dropped', this.queue);
    this.queue = [];
    return result;
  }

  /** Flushes with `keepalive` when the page is hidden or unloaded (option `unloadFlush`; pages only). */
  listenForUnload(settle) {
    const document = globalThis.document;
    if (!this.options.unloadFlush || document === undefined) return;
    // `settle` queues the spans still waiting for their resource-timing entry (it throws once uninstall released
    // it, when there are none).
    const pagehide = () => {
      this.unloading = true;
      try { settle(); } catch (_) { /* released */ }
      this.unloading = false;
      this.sendForUnload();
    };
    const hidden = () => {
      if (document.visibilityState === 'hidden') pagehide();
      else this.hiddenSent = false;
    };
    // Capturing: at the target, before the app's own listeners, which may flush or uninstall (on `pagehide` the page
    // may not be hidden yet).
    document.addEventListener('visibilitychange', hidden, true);
    globalThis.addEventListener('pagehide', pagehide, true);
    this.stopListening = () => {
      document.removeEventListener('visibilitychange', hidden, true);
      globalThis.removeEventListener('pagehide', pagehide, true);
    };
  }

  /**
   * Sends what is queued with `keepalive`, within fetchspan's share of the page's keepalive budget: each request
   * takes the spans that fit, in order, each measured once; what doesn't fit stays queued for the next chance, and so
   * does a span too big for the whole budget (all of them when the envelope alone is): the next export sends them
   * should the page live on. The body goes as UTF-8 bytes, so the budget counts exactly what is sent. A batch the run
   * waits to retry goes first: the page may be gone before the wait ends.
   */
  sendForUnload() {
    // Spans too big for any keepalive request, set aside in order, and put back at the front of the queue.
    const aside = [];
    // How many spans of the batch the run waits to retry are not sent yet (at the front of the queue; none waits: all).
    let unsent = Infinity;
    // That batch, taken.
    const taken = this.waiting;
    const keepalive = sharedKeepalive();
    try {
      if (taken !== null) {
        // The run finds its batch taken when it wakes: neither sent nor counted twice.
        unsent = taken.length;
        this.queue = taken.concat(this.queue);
        this.waiting = null;
        this.inFlight = 0;
      }
      const encoder = new TextEncoder();
      const envelope = encoder.encode(this.body([])).length;
      // The bytes of the span looked at and a comma, once measured: a span that doesn't fit starts the next request.
      let size = -1;
      while (envelope <= KEEPALIVE_BYTES && keepalive.requests < KEEPALIVE_REQUESTS) {
        const room = KEEPALIVE_BYTES - keepalive.bytes;
        // The request: the first `n` spans queued, and its body's bytes (a comma between two spans).
        let n = 0;
        let bytes = envelope - 1;
        while (n < Math.min(this.queue.length, this.options.maxExportBatchSize)) {
          if (size < 0) size = encoder.encode(this.queue[n]).length + 1;
          if (envelope + size - 1 > KEEPALIVE_BYTES) aside.push(...this.queue.splice(n, 1));
          else if (bytes + size > room) break;
          else {
            bytes += size;
            n++;
          }
          size = -1;
        }
        if (n === 0) return;
        const body = encoder.encode(this.body(this.queue.slice(0, n)));
        const spans = this.queue.splice(0, n);
        unsent -= n;
        keepalive.bytes += body.byteLength;
        keepalive.requests++;
        this.keepaliveRequests++;
        // Refused by the browser (the page's keepalive quota), a network error or a retryable status: the spans are
        // queued again for the scheduled export, which retries them if the page lives on.
        this.post(body, undefined, true)
          .then((answer) => {
            if (answer.status >= 200 && answer.status < 300) this.accepted(answer, spans);
            else if (RETRIED.has(answer.status)) this.requeue(spans, answer.retryAfterMs);
            else this.failed(spans);
          }, () => this.requeue(spans))
          .finally(() => {
            keepalive.bytes -= body.byteLength;
            keepalive.requests--;
            this.keepaliveRequests--;
          });
      }
    } catch {
      // Nothing unexpected (a body longer than a string may be) reaches the page's listener. Spans are only taken
      // from the queue as their request goes, so those not sent stay queued for the scheduled export.
    } finally {
      // The run's wait ends once the whole batch went (sent in order: none set aside), and it moves on to the queue;
      // a part of it left keeps the wait (the collector asked for it).
      if (unsent <= 0 && aside.length === 0) this.waitStop.abort();
      this.queue = aside.concat(this.queue);
      // None of it could go (the keepalive budget is taken): it goes back to the run's wait, whose attempts it keeps.
      if (taken !== null && unsent === taken.length) {
        this.queue.splice(0, taken.length);
        this.waiting = taken;
        this.inFlight = taken.length;
      }
    }
  }

  /**
   * Puts `spans` back at the front of the queue and schedules their export, not before `retryAfterMs` (the
   * collector's `Retry-After`, capped as the run's; -1: none) has passed; what the queue has no room for, or all of
   * them once shut down, is counted as dropped.
   */
  requeue(spans, retryAfterMs = -1) {
    // Never negative: the queue and the run's batch keep within the bound.
    const room = this.closed ? 0 : this.options.maxQueueSize - this.queue.length - this.inFlight;
    this.count('dropped', spans.splice(room));
    this.queue = spans.concat(this.queue);
    if (retryAfterMs > 0) this.resumeAt = Math.max(this.resumeAt, performance.now() + Math.min(retryAfterMs, MAX_WAIT_MS));
    if (!this.closed) this.schedule();
  }
}

/**
 * `tracer.stats()`: the span counters the Rust side keeps, then the export counters of `exporter`, or zeros
 * without one. Built here: as `Reflect.set` calls from the wasm it weighed more.
 */
export function tracerStats(started, ended, passthroughFailures, hookFailures, exporter) {
  const into = { started, ended, open: started - ended, passthroughFailures, hookFailures };
  for (const name of COUNTERS) into[name] = exporter?.counts[name] ?? 0;
  // A batch waiting between retries is queued, not in flight: no request of it is (nor of one the unload flush took).
  into.queued = exporter ? exporter.queue.length + (exporter.waiting?.length ?? 0) : 0;
  into.exportInFlight = exporter?.inFlight && !exporter.waiting ? 1 : 0;
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

/**
 * `Retry-After` (seconds or an HTTP date) in milliseconds, or -1 when absent or unreadable. Only what looks like a
 * date (a day's name, a time) goes to `Date.parse`, which reads `1.5` or `-1` as dates long past.
 */
function retryAfterMs(value) {
  if (value === null) return -1;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const date = /^\s*[a-z]{3}.*\d:\d\d:\d\d/i.test(value) ? Date.parse(value) : NaN;
  return Number.isNaN(date) ? -1 : Math.max(0, date - Date.now());
}

/** Resolves after `ms`, or as soon as one of `signals` aborts. */
function sleep(ms, ...signals) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimer(timer);
      for (const signal of signals) signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimer(done, ms);
    for (const signal of signals) signal.addEventListener('abort', done);
    if (signals.some((signal) => signal.aborted)) done();
  });
}
