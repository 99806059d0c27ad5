// The benchmark page (driven by tests/bench/run.mjs): the same work uninstrumented and instrumented, same origin.
import { install } from '/pkg/index.js';

const MiB = 1 << 20;
let tracer = null;

async function renderers() {
  const { renderers } = await (await fetch('/rss')).json();
  return new Map(renderers.map((r) => [r.pid, r.rssAnonKiB]));
}

globalThis.bench = {
  async instrument(on) {
    if (on && !tracer) tracer = await install({});
    if (!on && tracer) {
      await tracer.uninstall();
      tracer = null;
    }
  },

  /** n small same-origin fetch(...).json() calls, 4 at a time. */
  async smallFetches(n) {
    let next = 0;
    const worker = async () => {
      while (next++ < n) await (await fetch('/json')).json();
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  },

  /**
   * fetchspan's own per-request cost, without the network: `fetch` replaced by a stub resolving to a same-shaped
   * Response, uninstrumented vs instrumented, `rounds` rounds of `n`; medians in µs of wall time.
   */
  async ownCost(n, rounds) {
    await this.instrument(false);
    const real = globalThis.fetch;
    const stub = () => Promise.resolve(new Response('{"ok":true}', { headers: { 'content-length': '11' } }));
    const time = async (read) => {
      const started = performance.now();
      for (let i = 0; i < n; i++) await read(await fetch(`/json?i=${i}`));
      return (performance.now() - started) / n * 1000;
    };
    const whole = (response) => response.json();
    const stream = async (response) => {
      const reader = response.body.getReader();
      while (!(await reader.read()).done);
    };
    const samples = { off: [], on: [], streamOff: [], streamOn: [] };
    globalThis.fetch = stub;
    try {
      for (let round = 0; round < rounds; round++) {
        samples.off.push(await time(whole));
        samples.streamOff.push(await time(stream));
        const own = await install({});
        samples.on.push(await time(whole));
        samples.streamOn.push(await time(stream));
        await own.uninstall();
      }
    } finally {
      globalThis.fetch = real;
    }
    const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
    return Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, median(values)]));
  },

  /** Reads `mib` of the endless stream; returns MiB/s. */
  async throughput(mib) {
    const reader = (await fetch(`/stream?id=bench-${Math.random()}`)).body.getReader();
    const started = performance.now();
    let read = 0;
    while (read < mib * MiB) read += (await reader.read()).value.byteLength;
    const seconds = (performance.now() - started) / 1000;
    await reader.cancel();
    return read / MiB / seconds;
  },

  /** Server-sent events per second reading `events` small events (one ~40-byte event per chunk, no delay): the
   * worst case for per-chunk cost, with fetchspan's SSE counting on. */
  async sseThroughput(events) {
    const reader = (await fetch(`/sse?events=${events}&delayMs=0&b=${Math.random()}`)).body.getReader();
    const started = performance.now();
    let chunks = 0;
    while (!(await reader.read()).done) chunks++;
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
      await new Promise((resolve) => setTimeout(resolve, 20));
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
