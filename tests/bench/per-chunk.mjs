// Per-chunk cost of the ways to put a stream of ours between a body and the app (issue 6: the pump against
// pipeTo), in headless Chromium: 20,000 chunks of 60 bytes from an in-memory source, read by a `getReader()` loop,
// µs per chunk, the median of 5 rounds. The pumps are small models of `streamBody` in src/body.js (a probe write
// per chunk that completes when the app has a read pending, then the network read), not the shipped code.
// Usage: node tests/bench/per-chunk.mjs
import { launch } from './chromium.mjs';

const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto('data:text/html,per-chunk');
  const result = await page.evaluate(async () => {
    const N = 20_000;
    const chunk = new Uint8Array(60);
    const source = () => {
      let i = 0;
      return new ReadableStream({ pull(c) { if (i++ < N) c.enqueue(chunk); else c.close(); } }, { highWaterMark: 0 });
    };
    const consume = async (stream) => {
      const reader = stream.getReader();
      while (!(await reader.read()).done);
    };
    // A pump over a TransformStream: probe, read, then hand the chunk on by `write` or by the controller.
    const pump = (src, byWrite) => {
      let controller;
      const stats = { bytes: 0, at: 0 };
      const stream = new TransformStream({
        start: (c) => { controller = c; },
        transform: byWrite ? (c, ctl) => { if (c !== undefined) ctl.enqueue(c); } : () => {},
      });
      const writer = stream.writable.getWriter();
      const reader = src.getReader();
      (async () => {
        for (;;) {
          await writer.write(undefined);
          stats.at = performance.now();
          const { done, value } = await reader.read();
          stats.at = performance.now();
          if (done) return writer.close();
          stats.bytes += value.byteLength;
          if (byWrite) writer.write(value).catch(() => {});
          else controller.enqueue(value);
        }
      })();
      return stream.readable;
    };
    // Not shipped, measured for comparison: the pump reads the next chunk as soon as it enqueued one into a pending
    // read, and waits for a pull (the probe) only after a chunk it enqueued found no read pending (`desiredSize`
    // below 0: it waits in the queue). Half the cost per chunk, and one clock read per chunk, but a chunk the app
    // then takes from the queue is invisible (no pull follows a read the queue answers): one it takes before
    // cancelling would go uncounted, and the network's wait would include the app's time with the previous chunk.
    const readAhead = (src) => {
      let controller;
      const stats = { bytes: 0, at: 0 };
      const stream = new TransformStream({ start: (c) => { controller = c; }, transform: () => {} });
      const writer = stream.writable.getWriter();
      const reader = src.getReader();
      (async () => {
        await writer.write(undefined);
        for (;;) {
          const { done, value } = await reader.read();
          stats.at = performance.now();
          if (done) return writer.close();
          stats.bytes += value.byteLength;
          controller.enqueue(value);
          if (controller.desiredSize < 0) await writer.write(undefined);
        }
      })();
      return stream.readable;
    };
    // Not shipped, measured for comparison: the transformer's `transform` as the pull, which reads the network and
    // enqueues the chunk itself, the next probe written once the chunk went out (no pump of ours awaiting each
    // step); with `ahead` probes written at a time instead of one. Probes left queued when the body ends must be
    // failed by `terminate()` (an error object a body), and each write needs a rejection handler.
    const transformDriven = (src, ahead) => {
      let controller;
      let writer;
      let left = 0;
      const stats = { bytes: 0, at: 0 };
      const reader = src.getReader();
      const probe = () => {
        for (let i = 0; i < ahead; i++) writer.write(undefined).catch(() => {});
        left = ahead;
      };
      const got = ({ done, value }) => {
        stats.at = performance.now();
        if (done) return controller.terminate();
        stats.bytes += value.byteLength;
        controller.enqueue(value);
        if (--left === 0) probe();
      };
      const stream = new TransformStream({
        start: (c) => { controller = c; },
        transform: () => {
          stats.at = performance.now();
          return reader.read().then(got);
        },
      }, { highWaterMark: 2 * ahead });
      writer = stream.writable.getWriter();
      probe();
      return stream.readable;
    };
    const designs = {
      'native (no interposition)': (s) => s,
      'pump, chunk written through transform (before)': (s) => pump(s, true),
      'pump, chunk enqueued by the controller (shipped)': (s) => pump(s, false),
      'read-ahead: probe only after a chunk found no read pending (not shipped: inexact)': (s) => readAhead(s),
      'transform-driven: the transform reads and enqueues, one probe at a time (not shipped)': (s) => transformDriven(s, 1),
      'transform-driven, 16 probes written at a time (not shipped: terminate at the end)': (s) => transformDriven(s, 16),
      'pipeThrough a TransformStream (pipeTo: no pull seen)': (s) => s.pipeThrough(new TransformStream()),
      'a ReadableStream pull source (not a TransformStream)': (s) => {
        const reader = s.getReader();
        return new ReadableStream({
          pull: (c) => reader.read().then(({ done, value }) => (done ? c.close() : c.enqueue(value))),
        }, { highWaterMark: 0 });
      },
    };
    const times = {};
    for (let round = 0; round < 5; round++) {
      for (const [name, make] of Object.entries(designs)) {
        const started = performance.now();
        await consume(make(source()));
        (times[name] ??= []).push((performance.now() - started) / N * 1000);
      }
    }
    return times;
  });
  const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
  console.log(`Chromium ${browser.version()}, µs per chunk (median of 5 rounds [min..max]):`);
  for (const [name, list] of Object.entries(result)) {
    console.log(`  ${median(list).toFixed(2).padStart(6)}  [${Math.min(...list).toFixed(2)}..${Math.max(...list).toFixed(2)}]  ${name}`);
  }
} finally {
  await browser.close();
}
