// The benchmark page (driven by tests/bench/run.mjs): the same work uninstrumented and instrumented, same origin.
// `?pkg=` picks the package: by default the shipped pkg/; run.mjs profiles a copy built with names kept (same wasm
// code, names section added; JS bundled without renaming) so that the profile reads as function names.
import { initFor, reads } from './reads.js';

const pkg = new URLSearchParams(location.search).get('pkg') ?? '/pkg/index.js';
const { install } = await import(pkg);

const MiB = 1 << 20;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tenant = `bench-${Date.now().toString(36)}`;
const nativeFetch = globalThis.fetch;
let tracer = null;
let current = 'off';
let spansSeen = 0;
const totals = {}; // per configuration: tracer.stats() summed over its installs

// The configurations. `signals`: an AbortSignal on every other request (the app's side of the users'
// configuration; its uninstrumented baseline `offSignal` does the same work without fetchspan).
const modes = {
  off: { options: null, signals: false },
  offSignal: { options: null, signals: true },
  bare: { options: () => ({}), signals: false },
  // A reference, not fetchspan: the floor of any fetch wrapper, `fetch` patched with a bare `.then()`.
  wrapper: { options: null, signals: false, wrap: true },
  // A reference, not fetchspan: the app itself sending the `traceparent` header fetchspan adds (a same-origin
  // request gets one), through a wrapper that only adds it; what Chromium spends on the header itself.
  header: { options: null, signals: false, wrap: 'header' },
  users: {
    options: () => ({
      onSpanEnd: () => { spansSeen++; },
      // The test server's strict OTLP collector, same server: the exporter POSTs to {endpoint}/v1/traces.
      endpoint: `${location.origin}/c/${tenant}/ok`,
    }),
    signals: true,
  },
};

async function renderers() {
  const { renderers } = await (await fetch('/rss')).json();
  return new Map(renderers.map((r) => [r.pid, r.rssAnonKiB]));
}


globalThis.bench = {
  tenant,

  /** Switches to a configuration (see `modes`); the previous one is uninstalled (and flushed) first. */
  async mode(name) {
    if (name === current) return;
    if (tracer) {
      const stats = tracer.stats();
      await tracer.uninstall();
      const sum = (totals[current] ??= {});
      for (const [key, value] of Object.entries(stats)) sum[key] = (sum[key] ?? 0) + value;
      tracer = null;
    }
    if (modes[current].wrap) globalThis.fetch = nativeFetch;
    const { options, wrap } = modes[name];
    if (options) tracer = await install(options());
    if (wrap === true) globalThis.fetch = function fetch(input, init) { return nativeFetch.call(this, input, init).then((r) => r); };
    if (wrap === 'header') {
      const headers = [['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']];
      globalThis.fetch = function fetch(input, init) { return nativeFetch.call(this, input, { ...init, headers }); };
    }
    current = name;
  },

  /** Before a measured window: collect what earlier work left, let finalizers and timers run. */
  async settle() {
    globalThis.gc?.();
    await sleep(30);
  },

  /**
   * One measured window: `n` requests of `path` (`whole` or `stream`), 4 at a time, in the current configuration.
   * The window then flushes the exporter (the users' configuration exports every span of the window inside it) and
   * collects its garbage (finalizers included), so each window carries all of its own cost. Returns the wall time
   * of the requests alone, µs per request (information only).
   */
  async window(path, n) {
    const read = reads[path];
    const { signals } = modes[current];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < n; i = next++) await read(initFor(signals, i));
    };
    const started = performance.now();
    await Promise.all([worker(), worker(), worker(), worker()]);
    const wall = (performance.now() - started) / n * 1000;
    if (tracer) {
      const flushed = await tracer.forceFlush();
      if (flushed.timedOut || flushed.dropped) throw new Error(`flush: ${JSON.stringify(flushed)}`);
    }
    globalThis.gc?.();
    await sleep(30);
    return wall;
  },

  /** Counters per configuration, the onSpanEnd calls, and what the collector accepted. */
  async report() {
    await this.mode('off');
    const received = await (await fetch(`/c/${tenant}/received`)).json();
    return {
      totals,
      spansSeen,
      collector: { spans: received.spans, requests: received.attempts.length, rejected: received.rejected.slice(0, 3) },
    };
  },

  /**
   * Before measuring: in the users' configuration, one request of each path must end its span with no failure of
   * fetchspan's (a request fetchspan fails on goes through uninstrumented and would measure nothing), and carry a
   * traceparent. Returns null when all is well, else what went wrong.
   */
  async selfCheck() {
    await this.mode('users');
    await reads.whole(initFor(true, 1));
    await reads.stream(undefined);
    const traceparent = await this.traceparentSent();
    const { ended, passthroughFailures } = tracer.stats();
    await this.mode('off');
    if (ended >= 2 && passthroughFailures === 0 && traceparent) return null;
    return `spans ended ${ended} (2 or 3 expected), passthroughFailures ${passthroughFailures}, traceparent ${traceparent}`;
  },

  /** Whether a same-origin request carries a traceparent in the current configuration. */
  async traceparentSent() {
    const headers = await (await fetch(`/trace-echo?id=${tenant}`)).json();
    return headers.traceparent ?? null;
  },

  /**
   * Reads `mib` of the endless stream as a stream; MiB/s from the response's arrival. With `piped`, through
   * `pipeThrough(new TransformStream())` (the reference: what any TransformStream between body and app costs).
   * `chunks` is set to the number of chunks read.
   */
  async endless(mib, piped = false) {
    const body = (await fetch(`/stream?id=bench-${Math.random()}`)).body;
    const reader = (piped ? body.pipeThrough(new TransformStream()) : body).getReader();
    const started = performance.now();
    let read = 0;
    let chunks = 0;
    for (; read < mib * MiB; chunks++) read += (await reader.read()).value.byteLength;
    const seconds = (performance.now() - started) / 1000;
    await reader.cancel();
    this.chunks = chunks;
    return read / MiB / seconds;
  },

  /**
   * Reads a fixed-size body of `mib` (`/bytes`, with Content-Length) as a stream or with `arrayBuffer()`; MiB/s
   * from the response's arrival (the server builds the body before it answers, so that is not timed).
   */
  async fixed(mib, how, piped = false) {
    const response = await fetch(`/bytes?n=${mib * MiB}&b=${Math.random()}`);
    const started = performance.now();
    let read = 0;
    if (how === 'stream') {
      const reader = (piped ? response.body.pipeThrough(new TransformStream()) : response.body).getReader();
      let chunks = 0;
      for (let chunk; !(chunk = await reader.read()).done; chunks++) read += chunk.value.byteLength;
      this.chunks = chunks;
    } else {
      read = (await response.arrayBuffer()).byteLength;
    }
    const seconds = (performance.now() - started) / 1000;
    if (read !== mib * MiB) throw new Error(`fixed body: read ${read} bytes`);
    globalThis.gc?.();
    return read / MiB / seconds;
  },

  /** Server-sent events per second reading `events` small events (one ~40-byte event per chunk, no delay): the
   * worst case for per-chunk cost, with fetchspan's SSE counting on. */
  async sseThroughput(events) {
    const reader = (await fetch(`/sse?events=${events}&delayMs=0&b=${Math.random()}`)).body.getReader();
    const started = performance.now();
    while (!(await reader.read()).done);
    return events / ((performance.now() - started) / 1000);
  },

  /** This page's renderer: the one whose RssAnon jumps when the page touches 96 MiB. */
  async findRenderer() {
    const before = await renderers();
    let ballast = new Uint8Array(96 * MiB).fill(1);
    const after = await renderers();
    ballast = null;
    globalThis.gc?.();
    let best = null;
    for (const [pid, kib] of after) {
      const grew = kib - (before.get(pid) ?? kib);
      if (!best || grew > best.grew) best = { pid, grew };
    }
    return best.pid;
  },

  /** Peak retained renderer RSS growth (sampled after gc every 32 MiB) while reading 512 MiB, in MiB. */
  async rssGrowth(pid) {
    const rss = async () => {
      globalThis.gc?.();
      await sleep(20);
      return (await renderers()).get(pid) / 1024;
    };
    const baseline = await rss();
    let peak = baseline;
    const reader = (await fetch(`/stream?id=bench-rss-${Math.random()}`)).body.getReader();
    for (let read = 0, next = 32 * MiB; read < 512 * MiB;) {
      read += (await reader.read()).value.byteLength;
      if (read >= next) {
        next += 32 * MiB;
        peak = Math.max(peak, await rss());
      }
    }
    await reader.cancel();
    return peak - baseline;
  },
};
