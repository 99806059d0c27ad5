// The exporter's JS half (src/export/exporter.js) in Node, against a fake collector and a fake page: what the
// browser suites can't force or see exactly (a keepalive quota, a batch caught between retries at `pagehide`, an
// engine without `AbortSignal.any`, a flush racing steady traffic), and the checks of the export options
// (src/options.js) that must not show a secret. Run with `node --test tests/exporter.test.mjs`;
// FETCHSPAN_EXPORTER=<file> and FETCHSPAN_OPTIONS=<file> run the same tests against other versions of those files.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

// Imported from its text, so it needs no package type and any copy of it can stand in; so is the module it takes
// its timers from (`src/patch.js`, with the one that imports, `src/body.js`).
const moduleOf = (text) => `data:text/javascript;base64,${Buffer.from(text).toString('base64')}`;
const body = moduleOf(readFileSync(new URL('../src/body.js', import.meta.url)));
const patch = moduleOf(`${readFileSync(new URL('../src/patch.js', import.meta.url))}`.replace("'/src/body.js'", JSON.stringify(body)));
const file = process.env.FETCHSPAN_EXPORTER ?? new URL('../src/export/exporter.js', import.meta.url);
const exporterText = `${readFileSync(file)}`.replace("'../patch.js'", JSON.stringify(patch));
const { Exporter, tracerStats } = await import(moduleOf(exporterText));
// A second copy of the module (two bundles in one page, or a bundle and the script tag): its own module instance.
const { Exporter: CopyExporter } = await import(moduleOf(`${exporterText}\n// a copy`));
const options = process.env.FETCHSPAN_OPTIONS ?? new URL('../src/options.js', import.meta.url);
const { parseOptions } = await import(moduleOf(readFileSync(options)));
// What the imports left on the global (nothing: the shared keepalive counter comes with the first unload flush).
const KEEPALIVE = Symbol.for('fetchspan.keepalive');
const keepaliveOnImport = Object.getOwnPropertyDescriptor(globalThis, KEEPALIVE);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition, what, ms = 2000) {
  for (const end = Date.now() + ms; !condition(); await sleep(5)) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
  }
}

// The page: `document` and the global's listeners, fired synchronously as a browser fires them (so a listener
// that throws, throws here).
const listeners = [];
for (const target of [(globalThis.document = { visibilityState: 'visible' }), globalThis]) {
  target.addEventListener = (type, fn) => listeners.push({ target, type, fn });
  target.removeEventListener = (type, fn) => {
    const i = listeners.findIndex((l) => l.target === target && l.type === type && l.fn === fn);
    if (i >= 0) listeners.splice(i, 1);
  };
}
const fire = (target, type) => {
  for (const l of listeners.filter((l) => l.target === target && l.type === type)) l.fn({ type });
};
const hide = () => {
  document.visibilityState = 'hidden';
  fire(document, 'visibilitychange');
  document.visibilityState = 'visible';
};
const pagehide = () => fire(globalThis, 'pagehide');

// Answers not given yet, failed at the end of each test so that nothing outlives it.
const pending = new Set();

/**
 * A fake `fetch` for the collector. Each POST is recorded in `fetch.calls` (keepalive or not, the span ids it
 * carried, its signal) and answered with what `answer(call)` gives, or a promise of it: a status, `[status,
 * retryAfter]`, or 'network' (a network error, or the browser refusing a keepalive request over its quota).
 */
function collector(answer = () => 200) {
  const calls = [];
  const fetch = (url, init) => {
    const text = typeof init.body === 'string' ? init.body : new TextDecoder().decode(init.body);
    const call = { keepalive: init.keepalive, spans: JSON.parse(text).map((span) => span.id), signal: init.signal };
    calls.push(call);
    return new Promise((resolve, reject) => {
      const fail = () => reject(new TypeError('Failed to fetch'));
      init.signal.addEventListener('abort', fail);
      pending.add(fail);
      Promise.resolve(answer(call)).then((how) => {
        pending.delete(fail);
        if (how === 'network') return fail();
        const [status, retryAfter] = [how].flat();
        resolve(new Response('{}', { status, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter } }));
      });
    });
  };
  fetch.calls = calls;
  return fetch;
}

/** An answer given when the test says: `gate.promise` resolves to what `gate.open(how)` passes. */
function gate() {
  let open;
  const promise = new Promise((resolve) => (open = resolve));
  return { promise, open };
}

const exporters = [];

/**
 * An exporter listening for unload, with test-friendly options. Bodies are JSON arrays of `{ id }` spans, after any
 * in `prefix` (the envelope's start).
 */
function exporter(fetch, options = {}, prefix = '[', settle = () => {}, Class = Exporter) {
  const made = new Class(fetch, {
    url: 'http://collector.test/v1/traces',
    headers: { 'content-type': 'application/json' },
    maxQueueSize: 2048,
    maxExportBatchSize: 512,
    scheduledDelayMs: 20,
    exportTimeoutMs: 3000,
    unloadFlush: true,
    ...options,
  }, prefix, ']');
  made.listenForUnload(settle);
  exporters.push(made);
  return made;
}

let nextId = 0;
const span = (pad = 0) => JSON.stringify({ id: nextId++, pad: 'x'.repeat(pad) });
const enqueue = (e, n, pad) => {
  for (let i = 0; i < n; i++) e.enqueue(span(pad));
};
const stats = (e) => tracerStats(0, 0, 0, 0, e);
const ids = (calls) => calls.flatMap((call) => call.spans);

afterEach(async () => {
  await Promise.all(exporters.splice(0).map((e) => e.shutdown(0)));
  for (const fail of pending) fail();
  pending.clear();
  await sleep(0);
  assert.equal(listeners.length, 0, 'listeners left after shutdown');
});

test('a keepalive request refused by the browser (the page holds the keepalive quota) leaves its spans queued for the next export', async () => {
  const fetch = collector((call) => (call.keepalive ? 'network' : 200));
  const e = exporter(fetch, { scheduledDelayMs: 30 });
  enqueue(e, 10);
  hide();
  assert.deepEqual(fetch.calls.map((c) => c.keepalive), [true], 'the keepalive flush tried');
  await until(() => stats(e).exported === 10, 'the next export');
  assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans.length]), [[true, 10], [false, 10]], 'POSTs');
  assert.deepEqual([stats(e).dropped, stats(e).exportFailures, stats(e).queued, stats(e).keepaliveInFlight], [0, 0, 0, 0]);
});

test('hidden page: a 503 or a network error on the keepalive POST is retried through the queue, a 400 is final', async () => {
  for (const how of [503, 'network']) {
    const fetch = collector((call) => (call.keepalive ? how : 200));
    const e = exporter(fetch);
    enqueue(e, 5);
    hide();
    await until(() => stats(e).exported === 5, `the retry after ${how}`);
    assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans.length]), [[true, 5], [false, 5]], `POSTs (${how})`);
    assert.deepEqual([stats(e).dropped, stats(e).exportFailures], [0, 0], `dropped, failures (${how})`);
  }
  const fetch = collector((call) => (call.keepalive ? 400 : 200));
  const e = exporter(fetch);
  enqueue(e, 5);
  hide();
  await until(() => stats(e).dropped === 5, 'the 400 counted');
  await sleep(60);
  assert.deepEqual(fetch.calls.map((c) => c.keepalive), [true], 'a 400 is not retried');
  assert.deepEqual([stats(e).exportFailures, stats(e).queued], [1, 0], 'failures, queued');
});

test('a keepalive request answered 429 or 503 with Retry-After: nothing is sent before it has passed', async () => {
  for (const status of [429, 503]) {
    const fetch = collector((call) => (call.keepalive ? [status, '0.4'] : 200));
    const e = exporter(fetch);
    enqueue(e, 5);
    hide();
    const hiddenAt = performance.now();
    await until(() => stats(e).keepaliveInFlight === 0, 'the keepalive answer');
    // A span more, and a flush (a run started by hand), within the wait: neither sends.
    enqueue(e, 1);
    const flushed = e.forceFlush(100);
    assert.equal((await flushed).timedOut, true, `a flush within the wait sends nothing (${status})`);
    assert.deepEqual(fetch.calls.map((c) => c.keepalive), [true], `no POST within Retry-After (${status})`);
    await until(() => stats(e).exported === 6, `the export after Retry-After (${status})`);
    const sentAt = performance.now();
    assert.ok(sentAt - hiddenAt >= 400, `sent ${sentAt - hiddenAt} ms after the keepalive request (${status})`);
    assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans.length]), [[true, 5], [false, 6]], `POSTs (${status})`);
  }
});

test('spans a keepalive request gets back go to the front of the queue within its bound, and are dropped once shut down', async () => {
  const answer = gate();
  const fetch = collector((call) => (call.keepalive ? answer.promise : 200));
  const e = exporter(fetch, { maxQueueSize: 10, scheduledDelayMs: 60_000 });
  const first = nextId;
  enqueue(e, 10);
  hide();
  enqueue(e, 4);
  answer.open(503);
  await until(() => stats(e).keepaliveInFlight === 0, 'the keepalive answer');
  assert.deepEqual([stats(e).queued, stats(e).dropped], [10, 4], 'queued again as far as the bound allows');
  await e.forceFlush(1000);
  const expected = [0, 1, 2, 3, 4, 5, 10, 11, 12, 13].map((i) => first + i);
  assert.deepEqual(fetch.calls[1].spans, expected, 'the oldest spans given back, then those queued meanwhile');

  const late = gate();
  const closing = exporter(collector((call) => (call.keepalive ? late.promise : 200)), { scheduledDelayMs: 60_000 });
  enqueue(closing, 5);
  hide();
  await closing.shutdown(0);
  // Keepalive requests are meant to outlive the page, so they outlive `shutdown`: their outcome is counted after it.
  assert.deepEqual([stats(closing).keepaliveInFlight, stats(closing).dropped], [1, 0], 'the keepalive request outlived shutdown');
  late.open('network');
  await until(() => stats(closing).keepaliveInFlight === 0, 'the late keepalive answer');
  assert.deepEqual([stats(closing).queued, stats(closing).dropped], [0, 5], 'nothing queued again after shutdown');
});

test('pagehide while a batch waits between retries sends that batch with keepalive at once, and only once', async () => {
  const fetch = collector((call) => (fetch.calls.length === 1 ? [503, '1'] : 200));
  const e = exporter(fetch, { maxExportBatchSize: 10 });
  enqueue(e, 10);
  await until(() => fetch.calls.length === 1, 'the first POST');
  await sleep(20);
  pagehide();
  assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans.length]), [[false, 10], [true, 10]], 'sent in the handler');
  enqueue(e, 3);
  await until(() => stats(e).exported === 13, 'the keepalive answer and the run after its wait', 3000);
  await sleep(50);
  assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans.length]), [[false, 10], [true, 10], [false, 3]], 'POSTs');
  assert.equal(new Set(ids(fetch.calls.slice(1))).size, 13, 'no span sent twice');
  assert.deepEqual([stats(e).dropped, stats(e).retries, stats(e).queued, stats(e).exportInFlight], [0, 0, 0, 0]);
});

test('without AbortSignal.any, exports and the unload flush work and nothing throws into the page', async () => {
  const any = Object.getOwnPropertyDescriptor(AbortSignal, 'any');
  delete AbortSignal.any;
  try {
    const fetch = collector();
    const e = exporter(fetch, { maxExportBatchSize: 5 });
    enqueue(e, 5);
    await until(() => stats(e).exported === 5, 'the export', 500).catch(() => {});
    assert.deepEqual([stats(e).exported, e.inFlight, stats(e).exportInFlight], [5, 0, 0], 'exported, in flight');
    enqueue(e, 3);
    assert.doesNotThrow(hide, 'the hidden page listener');
    await until(() => stats(e).exported === 8, 'the keepalive export', 500).catch(() => {});
    assert.deepEqual([stats(e).exported, stats(e).dropped, stats(e).keepaliveInFlight], [8, 0, 0]);
  } finally {
    if (any) Object.defineProperty(AbortSignal, 'any', any);
  }
});

test('an unexpected error counts the run\'s batch as given up on and frees its place; the unload path never throws', async () => {
  const fetch = collector();
  const e = exporter(fetch, { maxQueueSize: 10, maxExportBatchSize: 5 });
  e.body = () => {
    throw new RangeError('Invalid string length');
  };
  enqueue(e, 5);
  await sleep(20);
  assert.deepEqual([stats(e).dropped, stats(e).exportFailures, e.inFlight, stats(e).exportInFlight], [5, 1, 0, 0]);
  enqueue(e, 3);
  assert.doesNotThrow(hide, 'the hidden page listener');
  assert.deepEqual([stats(e).queued, stats(e).keepaliveInFlight], [3, 0], 'the spans stay queued');
  delete e.body;
  enqueue(e, 7);
  await until(() => stats(e).exported === 10, 'the next exports', 500).catch(() => {});
  assert.deepEqual([stats(e).exported, stats(e).dropped], [10, 5], 'exported, dropped');
});

test('forceFlush waits for the spans queued before it, not for those arriving during it, and sends nothing twice', async () => {
  const fetch = collector(() => sleep(20).then(() => 200));
  const e = exporter(fetch, { maxQueueSize: 100_000, maxExportBatchSize: 50, scheduledDelayMs: 60_000 });
  enqueue(e, 5);
  const traffic = setInterval(() => enqueue(e, 5), 5);
  const started = performance.now();
  const flushed = await e.forceFlush(1000).finally(() => clearInterval(traffic));
  const took = performance.now() - started;
  assert.equal(flushed.timedOut, false, `timedOut (after ${took.toFixed(0)} ms)`);
  assert.ok(flushed.exported >= 5 && took < 500, `exported ${flushed.exported} in ${took.toFixed(0)} ms`);
  assert.equal((await e.forceFlush(5000)).timedOut, false, 'the rest flushed');
  const sent = ids(fetch.calls);
  assert.equal(new Set(sent).size, sent.length, 'POSTed spans (the collector may have any of them)');
  assert.deepEqual([stats(e).exported, stats(e).dropped], [sent.length, 0]);
});

test('spans dropped at a full queue during a flush don\'t count as the flush\'s spans settling', async () => {
  const fetch = collector(() => sleep(50).then(() => 200));
  const e = exporter(fetch, { maxQueueSize: 20, maxExportBatchSize: 10, scheduledDelayMs: 60_000 });
  enqueue(e, 20);
  const flushing = e.forceFlush(3000);
  enqueue(e, 10);
  assert.deepEqual(await flushing, { exported: 20, dropped: 10, timedOut: false }, 'both batches of the queue exported');
  assert.deepEqual([stats(e).exportInFlight, stats(e).queued], [0, 0]);
});

test('forceFlush\'s deadline aborts no export, and a deadline already reached starts none', async () => {
  const answer = gate();
  const fetch = collector(() => answer.promise);
  const e = exporter(fetch, { scheduledDelayMs: 60_000 });
  enqueue(e, 3);
  assert.deepEqual(await e.forceFlush(50), { exported: 0, dropped: 0, timedOut: true }, 'flush against a silent collector');
  assert.equal(fetch.calls[0].signal.aborted, false, 'the POST goes on');
  assert.deepEqual([stats(e).exportInFlight, stats(e).queued], [1, 0], 'in flight, queued');
  enqueue(e, 2);
  assert.deepEqual(await e.forceFlush(0), { exported: 0, dropped: 0, timedOut: true }, 'forceFlush(0)');
  assert.equal(fetch.calls.length, 1, 'POSTs started');
  answer.open(200);
  assert.deepEqual(await e.forceFlush(1000), { exported: 5, dropped: 0, timedOut: false }, 'after the answer');
  assert.deepEqual(fetch.calls.map((c) => c.spans.length), [3, 2], 'each span sent once');

  // Only shutdown aborts, and nothing is sent after it.
  const silent = collector(() => gate().promise);
  const closing = exporter(silent, { scheduledDelayMs: 60_000 });
  enqueue(closing, 4);
  await closing.shutdown(30);
  assert.equal(silent.calls[0].signal.aborted, true, 'shutdown aborted the POST');
  await sleep(50);
  assert.deepEqual([silent.calls.length, stats(closing).dropped, stats(closing).exportInFlight], [1, 4, 0]);
});

test('a span too big for any keepalive request stays queued, in order, for the next export; all do when the envelope is too big', async () => {
  const fetch = collector();
  const e = exporter(fetch, { scheduledDelayMs: 60_000 });
  const first = nextId;
  enqueue(e, 1, 61_000);
  enqueue(e, 2);
  enqueue(e, 1, 61_000);
  enqueue(e, 2);
  pagehide();
  hide();
  const small = [1, 2, 4, 5].map((i) => first + i);
  assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans]), [[true, small]], 'POSTs');
  assert.deepEqual([stats(e).dropped, stats(e).queued], [0, 2], 'dropped, queued (after two unload flushes)');
  await until(() => stats(e).exported === 4, 'the keepalive answer');
  assert.deepEqual(await e.forceFlush(1000), { exported: 2, dropped: 0, timedOut: false }, 'the next export');
  assert.deepEqual(fetch.calls[1].spans, [first, first + 3], 'the big spans, in order');

  const envelope = collector();
  const big = exporter(envelope, { scheduledDelayMs: 60_000 }, `[${span(60_000)},`);
  enqueue(big, 3);
  hide();
  assert.deepEqual([envelope.calls.length, stats(big).dropped, stats(big).queued], [0, 0, 3], 'POSTs, dropped, queued');
  assert.deepEqual(await big.forceFlush(1000), { exported: 3, dropped: 0, timedOut: false }, 'the next export');
});

test('the unload flush measures each span once and encodes one body per request', async () => {
  const fetch = collector();
  const e = exporter(fetch, { scheduledDelayMs: 60_000 });
  enqueue(e, 500, 2000);
  const encode = TextEncoder.prototype.encode;
  let encoded = 0;
  TextEncoder.prototype.encode = function (text) {
    encoded += String(text).length;
    return encode.call(this, text);
  };
  try {
    hide();
  } finally {
    TextEncoder.prototype.encode = encode;
  }
  const sent = fetch.calls[0].spans.length;
  // The spans sent and the one that didn't fit, each measured once, then the request's body.
  assert.ok(encoded < (2 * sent + 2) * 2020, `${encoded} characters encoded for a request of ${sent} spans`);
});

test('retries counts the retries made: not a wait cut short, and flush deadlines don\'t restart the 5-attempt cap', async () => {
  const fetch = collector(() => [503, '10']);
  const e = exporter(fetch, { scheduledDelayMs: 60_000 });
  enqueue(e, 5);
  for (let i = 0; i < 6; i++) await e.forceFlush(30);
  assert.deepEqual([fetch.calls.length, stats(e).retries], [1, 0], 'attempts made, retries counted (waiting 10 s)');
  await e.shutdown(0);
  assert.deepEqual([stats(e).retries, stats(e).dropped, stats(e).exportFailures], [0, 5, 0], 'shutdown cut the wait short');

  const refusing = collector(() => [503, '0']);
  const capped = exporter(refusing, { scheduledDelayMs: 60_000 });
  enqueue(capped, 5);
  assert.deepEqual(await capped.forceFlush(2000), { exported: 0, dropped: 5, timedOut: false });
  assert.deepEqual([refusing.calls.length, stats(capped).retries, stats(capped).exportFailures], [5, 4, 1], 'the cap');
});

test('stats(): a batch waiting between retries is queued, with no export request in flight', async () => {
  const fetch = collector(() => [503, '10']);
  const e = exporter(fetch, { scheduledDelayMs: 60_000 });
  enqueue(e, 5);
  e.startRun();
  assert.deepEqual([stats(e).queued, stats(e).exportInFlight], [0, 1], 'while the POST is in flight');
  await until(() => fetch.calls.length === 1, 'the POST');
  await sleep(20);
  assert.deepEqual([stats(e).queued, stats(e).exportInFlight], [5, 0], 'while waiting to retry');
  enqueue(e, 2043);
  assert.deepEqual([stats(e).queued, stats(e).dropped], [2048, 0], 'the bound counts the waiting batch');
  enqueue(e, 1);
  assert.deepEqual([stats(e).queued, stats(e).dropped], [2048, 1], 'and no more');
});

test('the unload flush ends the retry wait of the batch it takes: spans queued next are exported at once', async () => {
  const fetch = collector((call) => (fetch.calls.length === 1 ? [429, '30'] : 200));
  const e = exporter(fetch, { maxExportBatchSize: 5 });
  enqueue(e, 5);
  await until(() => fetch.calls.length === 1, 'the first POST');
  await sleep(20);
  hide();
  enqueue(e, 3);
  assert.deepEqual(await e.forceFlush(1000), { exported: 8, dropped: 0, timedOut: false }, 'flushed');
  assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans.length]), [[false, 5], [true, 5], [false, 3]], 'POSTs');
  assert.deepEqual([stats(e).retries, stats(e).queued, stats(e).exportInFlight], [0, 0, 0]);
});

test('the unload flush keeps the retry wait when part of the batch could not go: no POST before Retry-After', async () => {
  const fetch = collector((call) => (fetch.calls.length === 1 ? [429, '30'] : 200));
  const e = exporter(fetch, { maxExportBatchSize: 5 });
  enqueue(e, 1, 61_000);
  enqueue(e, 4);
  await until(() => fetch.calls.length === 1, 'the first POST');
  await sleep(20);
  hide();
  enqueue(e, 3);
  hide();
  await sleep(100);
  assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans.length]), [[false, 5], [true, 4], [true, 3]], 'POSTs');
  assert.equal(stats(e).queued, 1, 'the big span, queued');
});

test('Retry-After: seconds (a fraction too) or an HTTP date; anything else, such as -1, leaves the usual backoff', async () => {
  const cases = ['1.5', '-1', 'Sun, 06 Nov 1994 08:49:37 GMT'].map((retryAfter) => {
    const fetch = collector(() => [503, retryAfter]);
    enqueue(exporter(fetch), 1);
    return [retryAfter, fetch];
  });
  const attempts = () => Object.fromEntries(cases.map(([retryAfter, fetch]) => [retryAfter, fetch.calls.length]));
  await sleep(300);
  // A date past: at once (all 5 attempts); -1: the first backoff is 500 to 1000 ms, the next one more.
  assert.deepEqual(attempts(), { '1.5': 1, '-1': 1, 'Sun, 06 Nov 1994 08:49:37 GMT': 5 }, 'attempts after 300 ms');
  await sleep(900);
  assert.deepEqual(attempts(), { '1.5': 1, '-1': 2, 'Sun, 06 Nov 1994 08:49:37 GMT': 5 }, 'attempts after 1200 ms');
});

test('forceFlush waits for every span queued before it, even when later spans settle first', async () => {
  const fetch = collector((call) => (call.keepalive ? 200 : sleep(200).then(() => 200)));
  const e = exporter(fetch, { maxExportBatchSize: 5 });
  enqueue(e, 5);
  const flushing = e.forceFlush(2000);
  enqueue(e, 5);
  hide();
  assert.deepEqual(await flushing, { exported: 10, dropped: 0, timedOut: false }, 'the keepalive request and the run');
  assert.equal(stats(e).exportInFlight, 0, 'the run\'s POST answered');
});

test('an invalid "headers" or "endpoint" is reported without its value\'s secrets', () => {
  const error = (options) => {
    try {
      parseOptions(options);
    } catch (e) {
      assert.ok(e instanceof TypeError, `${e}`);
      assert.doesNotMatch(e.message, /SECRET|user/, 'a secret shown');
      return e.message;
    }
    assert.fail(`accepted ${JSON.stringify(options)}`);
  };
  const endpoint = 'http://collector.test';
  assert.equal(error({ endpoint, headers: [['authorization', 'Bearer sk_live_SECRET']] }),
    'fetchspan: option "headers" must be a plain object, got an array');
  assert.equal(error({ endpoint, headers: 'Bearer sk_live_SECRET' }), 'fetchspan: option "headers" must be a plain object, got a string');
  const expected = 'fetchspan: option "endpoint" must be an absolute http(s) URL such as "http://localhost:4318", got';
  assert.equal(error({ endpoint: 'otlp.vendor.io/v1?api_key=SECRET' }), `${expected} "otlp.vendor.io…"`);
  assert.equal(error({ endpoint: 'ftp://user:SECRET@collector.test/x#SECRET' }), `${expected} "…@collector.test…"`);
  assert.equal(error({ endpoint: 'user:SECRET@collector.test' }), `${expected} "…@collector.test"`);
  // A token in the path, or pasted in place of the URL.
  assert.equal(error({ endpoint: 'collector.test/v1/traces/SECRET' }), `${expected} "collector.test…"`);
  assert.equal(error({ endpoint: 'Bearer sk_live_SECRET' }), `${expected} "Bearer…"`);
  assert.equal(error({ endpoint: 'ftp://collector.test/SECRET' }), `${expected} "ftp://collector.test…"`);
  // A header line given as a name.
  assert.equal(error({ endpoint, headers: { 'Authorization: Bearer sk_live_SECRET': '' } }),
    'fetchspan: option "headers" has an invalid header name "Authorization…"');
  assert.equal(error({ endpoint: new URL('https://user:SECRET@collector.test/?api_key=SECRET') }), `${expected} a URL object`);
});

test('"headers" as a Headers object or a Map is refused; a plain object, even without a prototype, is taken', () => {
  for (const [headers, type] of [[new Headers({ 'x-key': 'k' }), 'Headers'], [new Map([['x-key', 'k']]), 'Map']]) {
    assert.throws(() => parseOptions({ endpoint: 'http://collector.test', headers }),
      { name: 'TypeError', message: `fetchspan: option "headers" must be a plain object, got a ${type} object` });
  }
  const bare = Object.assign(Object.create(null), { 'X-Key': 'k' });
  assert.deepEqual({ ...parseOptions({ endpoint: 'http://collector.test', headers: bare }).export.headers },
    { 'content-type': 'application/json', 'x-key': 'k' });
});

test('the keepalive budget is the page\'s: an installation after an uninstall shares it with the unload flush\'s requests still in flight', async () => {
  const held = gate();
  const fetch = collector((call) => (call.keepalive ? held.promise : 200));
  const first = exporter(fetch);
  enqueue(first, 8, 5000);
  hide();
  const sentFirst = fetch.calls.filter((c) => c.keepalive).length;
  assert.ok(sentFirst >= 1, 'the first installation\'s unload flush sent keepalive requests (the control)');
  await first.shutdown(0);
  const second = exporter(fetch);
  enqueue(second, 8, 5000);
  hide();
  const bytes = fetch.calls.filter((c) => c.keepalive).reduce((sum, c) => sum + c.spans.length * 5000, 0);
  assert.ok(bytes <= 60_000, `at most 60,000 bytes of keepalive in flight across both installations, got about ${bytes}`);
  assert.ok(stats(second).queued > 0, 'what doesn\'t fit in what is left waits for the next export');
  held.open(200);
  await until(() => stats(first).keepaliveInFlight === 0, 'the first flush settled');
});

test('uninstall\'s flush keeps the unload flush on: a page closed during it sends the spans with keepalive', async () => {
  const fetch = collector((call) => (call.keepalive ? 200 : gate().promise));
  const e = exporter(fetch);
  enqueue(e, 3);
  await until(() => fetch.calls.length === 1, 'the scheduled export in flight');
  enqueue(e, 2);
  const shutdown = e.shutdown(200);
  pagehide();
  assert.deepEqual(fetch.calls.filter((c) => c.keepalive).map((c) => c.spans.length), [2], 'the queued spans went with keepalive');
  await shutdown;
});

test('the unload flush first takes the spans that waited for their resource timing, and sends them with keepalive only', async () => {
  const fetch = collector();
  const waiting = [span(), span()];
  const e = exporter(fetch, { maxExportBatchSize: 1 }, '[', () => waiting.forEach((s) => e.enqueue(s)));
  pagehide();
  assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans.length]), [[true, 1], [true, 1]], 'keepalive requests only, no ordinary export');
  // A settle that throws (released at uninstall) stops nothing.
  const f2 = collector();
  const e2 = exporter(f2, {}, '[', () => { throw new Error('closure invoked recursively or after being dropped'); });
  enqueue(e2, 1);
  pagehide();
  assert.deepEqual(f2.calls.filter((c) => c.keepalive).map((c) => c.spans.length), [1], 'the queue still sent');
  assert.equal(e2.unloading, false, 'left as it was');
});

test('the app\'s own hide listener, run before ours, that flushes or uninstalls sends the queue with keepalive', async () => {
  for (const how of ['forceFlush', 'shutdown']) {
    const fetch = collector(() => 200);
    const flushes = [];
    let e;
    const appListener = () => {
      if (document.visibilityState === 'hidden') flushes.push(e[how](500));
    };
    document.addEventListener('visibilitychange', appListener);
    e = exporter(fetch, { scheduledDelayMs: 60_000 });
    enqueue(e, 10);
    hide();
    await Promise.all(flushes);
    document.removeEventListener('visibilitychange', appListener);
    assert.deepEqual(fetch.calls.map((c) => [c.keepalive, c.spans.length]), [[true, 10]], `${how}: the queue went with keepalive`);
  }
});

test('importing the exporter leaves the global alone', () => {
  assert.equal(keepaliveOnImport, undefined);
});

test('two copies of fetchspan in a page share the keepalive budget', async () => {
  const held = gate();
  const fetch = collector((call) => (call.keepalive ? held.promise : 200));
  const one = exporter(fetch);
  const other = exporter(fetch, {}, '[', () => {}, CopyExporter);
  enqueue(one, 8, 5000);
  enqueue(other, 8, 5000);
  hide();
  const sent = fetch.calls.filter((c) => c.keepalive);
  assert.ok(sent.length >= 2, 'both copies sent keepalive requests (the control)');
  const bytes = sent.reduce((sum, c) => sum + c.spans.length * 5000, 0);
  assert.ok(bytes <= 60_000, `at most 60,000 bytes of keepalive in flight across both copies, got about ${bytes}`);
  assert.equal(Object.getOwnPropertyDescriptor(globalThis, KEEPALIVE)?.enumerable, false, 'the shared counter is out of sight');
  held.open(200);
  await until(() => stats(one).keepaliveInFlight + stats(other).keepaliveInFlight === 0, 'the flushes settled');
});

test('an unload flush that can send nothing leaves the batch waiting to retry with the attempts it made', async () => {
  const held = gate();
  const fetch = collector((call) => (call.keepalive ? held.promise : [503, '0.05']));
  const e = exporter(fetch, { maxExportBatchSize: 5 });
  // Eight keepalive requests held by a slow collector: no more can be made.
  for (let i = 0; i < 8; i++) {
    e.enqueue(span(7000));
    hide();
  }
  assert.equal(fetch.calls.filter((c) => c.keepalive).length, 8, 'the keepalive requests in flight (the control)');
  enqueue(e, 5);
  for (let i = 0; i < 12 && stats(e).exportFailures === 0; i++) {
    await sleep(25);
    hide();
  }
  await until(() => stats(e).exportFailures === 1, 'the batch given up on');
  const posts = fetch.calls.filter((c) => !c.keepalive);
  assert.ok(posts.length > 1, 'the batch was retried (the control)');
  assert.deepEqual([posts.length, stats(e).retries], [5, 4], 'attempts made, retries counted: the cap held');
  held.open(200);
  await until(() => stats(e).keepaliveInFlight === 0, 'the keepalive requests settled');
});

test('a Retry-After a keepalive request got holds back the run\'s retry of its own batch', async () => {
  const first = gate();
  let posts = 0;
  const fetch = collector((call) => {
    call.at = performance.now();
    if (call.keepalive) return [429, '2'];
    return posts++ === 0 ? first.promise : 200;
  });
  const e = exporter(fetch, { maxExportBatchSize: 5 });
  enqueue(e, 5);
  await until(() => fetch.calls.length === 1, 'the run\'s batch in flight');
  enqueue(e, 3);
  const hiddenAt = performance.now();
  hide();
  await until(() => e.resumeAt > 0, 'the keepalive request answered 429');
  first.open(503);
  await until(() => fetch.calls.filter((c) => !c.keepalive).length >= 2, 'the batch retried', 5000);
  const retry = fetch.calls.filter((c) => !c.keepalive)[1];
  assert.ok(retry.at - hiddenAt >= 1950, `the retry waited for Retry-After: ${Math.round(retry.at - hiddenAt)} ms after the hide`);
});

test('a hidden tab that flushes again and again sends with keepalive once, then waits for Retry-After as usual', async () => {
  const fetch = collector(() => [429, '10']);
  const e = exporter(fetch, { scheduledDelayMs: 60_000 });
  enqueue(e, 5);
  document.visibilityState = 'hidden';
  try {
    for (let i = 0; i < 10; i++) await e.forceFlush(20);
  } finally {
    document.visibilityState = 'visible';
  }
  assert.ok(fetch.calls[0]?.keepalive, 'the first flush on the hidden page went with keepalive (the control)');
  assert.equal(fetch.calls.length, 1, 'no other POST before the collector\'s Retry-After');
});
