// Browser scenarios for fetchspan's tests, run against real servers on 127.0.0.1 (tests/server). Each scenario
// throws an Error saying what differed. Where behaviour must equal the browser's own, the scenario runs the same
// steps uninstrumented first and compares.

export const SERVER = 'http://127.0.0.1:47811';
const MiB = 1 << 20;
const nativeFetch = globalThis.fetch;
/** The engine running the scenarios: 'chromium', 'firefox' or 'webkit'. */
export const ENGINE = /Firefox\//.test(navigator.userAgent) ? 'firefox' : /Chrome\//.test(navigator.userAgent) ? 'chromium' : 'webkit';
const raw = (url, init) => nativeFetch.call(globalThis, url, init);

// ---------------------------------------------------------------------------------------------------------------
// Harness

let installNow;
let wasmMemory;
// The bytes fetchspan's wasm heap has live (the tests' build counts them; the memory's size is a high-water mark).
let liveHeap;
const open = [];

/** Runs scenario `name` with `install` (fetchspan's, throwing on bad options); always uninstalls afterwards. */
export async function runScenario(name, install, memory, heap) {
  installNow = install;
  wasmMemory = memory;
  liveHeap = heap;
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`no scenario ${name}`);
  try {
    await scenario();
  } finally {
    while (open.length) await open.pop().uninstall();
  }
}

/** Installs fetchspan collecting every span; returns the tracer and the span list. */
function traced(options = {}) {
  const spans = [];
  const tracer = installNow({ onSpanEnd: (span) => spans.push(span), ...options });
  open.push(tracer);
  return { tracer, spans };
}

async function uninstall(tracer) {
  open.splice(open.indexOf(tracer), 1);
  await tracer.uninstall();
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every 5 ms; `between`, if given, runs every 20th poll (e.g. a collection). */
async function until(predicate, what, timeoutMs = 5000, between) {
  const deadline = performance.now() + timeoutMs;
  for (let polls = 1; !predicate(); polls++) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    if (between && polls % 20 === 0) await between();
    await sleep(5);
  }
}

/** The one span whose url.full contains `part`, once it has ended. */
async function spanFor(spans, part, timeoutMs = 5000) {
  await until(() => spans.some((s) => s.attributes['url.full'].includes(part)), `the span of ${part}`, timeoutMs);
  const found = spans.filter((s) => s.attributes['url.full'].includes(part));
  equal(found.length, 1, `spans for ${part}`);
  return found[0];
}

// Fetches a finite stream (10 events over 1 s: WebKit keeps a cancelled endless one's connection, and this host's
// others then queue), cancels it after its first chunk, and lets the span end: only promise reactions run meanwhile,
// no task, so the resource-timing entry Chromium and Firefox queue some milliseconds later can't have come.
async function cancelAfterFirstChunk(part) {
  const reader = (await fetch(`${SERVER}/sse?events=10&delayMs=100&${part}`)).body.getReader();
  await reader.read();
  await reader.cancel();
  for (let i = 0; i < 20; i++) await null;
}

let unique = 0;
const id = (label) => `${label}-${Date.now()}-${unique++}`;
// A valid `traceparent` of the app's own.
const OWN_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

async function readAll(stream) {
  const reader = stream.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
  }
}

async function serverStream(streamId) {
  return (await raw(`${SERVER}/stream-stats?id=${streamId}`)).json();
}

/** Runs `steps` and reports how it settled: the value, or the error's type, name and message. */
async function outcome(steps) {
  try {
    return { ok: await steps() };
  } catch (error) {
    return { error: [Object.prototype.toString.call(error), error?.name, error?.message] };
  }
}

/** Allocates 20,000 small short-lived objects: pressure for the collector that reuses the same heap blocks. */
function churn() {
  let junk = [];
  for (let i = 0; i < 20_000; i++) junk.push({ i, pad: [i, i, i, i] });
  junk = null;
}

/** Collections that allocation pressure did not bring about in time (Firefox, WebKit), printed as they happen. */
let missedCollections = 0;
// Tells `collect()` of a collection. Module-wide: a registry that is itself garbage never calls back (WebKit collects
// it with the sentinel). With one per call, `collect()` in WebKit saw no collection ever and allocated for its whole
// 1.5 s, 4 MiB at a step, which raised the page's RSS by hundreds of MiB that WebKit gave back on its own schedule (a
// probe: +464 MiB still there 2 s later). The memory test samples RSS right after: three CI runs had fetchspan's
// read "retain" 1,290 to 1,422 MiB (reruns of the same code: 2 to 19). Holding the registry, the probe saw the
// collection within 6 to 460 ms and RSS back down; the WebKit suites took 194 s (browser) and 31 s (export) before,
// 119 s and 10 s after.
const collections = new FinalizationRegistry((seen) => { seen.finalized = true; });

/**
 * A full garbage collection, with finalization callbacks run. Chromium has `gc()` (`--expose-gc`); Firefox and
 * WebKit expose nothing to a page, so there the garbage collector is driven by allocation pressure: a sentinel that
 * has survived into the old generation is dropped, and garbage is allocated until its finalizer has run (a major
 * collection happened and finalizers got their turn), bounded in time. Returns whether a collection was seen; one
 * that wasn't is printed (the checks that follow then see less collected, so they can only fail, not pass wrongly).
 */
async function collect() {
  if (globalThis.gc) {
    globalThis.gc();
    return true;
  }
  const seen = { finalized: false };
  let sentinel = { tenured: true };
  collections.register(sentinel, seen);
  for (let i = 0; i < 20; i++) churn();
  check(sentinel.tenured, 'sentinel kept');
  sentinel = null;
  const deadline = performance.now() + 1500;
  while (!seen.finalized && performance.now() < deadline) {
    churn();
    new ArrayBuffer(4 << 20);
    await sleep(0);
  }
  if (!seen.finalized && ++missedCollections <= 5) {
    console.log(`${ENGINE}: allocation pressure brought no collection within 1.5 s (${missedCollections} so far)`);
  }
  return seen.finalized;
}

// ---------------------------------------------------------------------------------------------------------------
// Memory: renderer RSS read from outside the page, through the test server's /proc probe.

async function renderers() {
  const { renderers } = await (await raw(`${SERVER}/rss`)).json();
  return new Map(renderers.map((r) => [r.pid, r.rssAnonKiB]));
}

/** Finds this page's renderer: the one whose RssAnon jumps when the page touches 96 MiB. */
async function findRenderer() {
  const before = await renderers();
  let ballast = new Uint8Array(96 * MiB).fill(1);
  const after = await renderers();
  check(ballast[ballast.length - 1] === 1, 'ballast touched');
  ballast = null;
  await collect();
  let best = null;
  for (const [pid, kib] of after) {
    const grew = kib - (before.get(pid) ?? kib);
    if (best === null || grew > best.grew) best = { pid, grew };
  }
  check(best && best.grew > 64 * 1024, `no renderer grew by 64 MiB when the page touched 96 MiB: ${JSON.stringify([...after])}`);
  return best.pid;
}

async function rssMiB(pid) {
  return ((await renderers()).get(pid) ?? NaN) / 1024;
}

/** Reads `totalMiB` of an endless stream fetched with `fetcher`; samples renderer RSS and how far the server ran ahead. */
async function endlessRead(pid, fetcher, label, totalMiB) {
  // Only a real gc() here: allocation pressure (collect() outside Chromium) would itself move RSS.
  globalThis.gc?.();
  await sleep(300);
  const baseline = await rssMiB(pid);
  const streamId = id(label);
  // WebKit's network process reads an endless body ahead of the page without limit (natively, GiBs within
  // seconds): there the stream ends 128 MiB past what is read, so the engine's own buffer stays bounded.
  const cap = ENGINE === 'webkit' ? `&max=${(totalMiB + 128) * MiB}` : '';
  const response = await fetcher(`${SERVER}/stream?id=${streamId}${cap}`);
  const reader = response.body.getReader();
  let read = 0;
  let peakRss = baseline;
  let peakAhead = 0;
  let nextSample = 32 * MiB;
  const deadline = performance.now() + 90_000;
  while (read < totalMiB * MiB && performance.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    read += value.byteLength;
    if (read >= nextSample) {
      nextSample += 32 * MiB;
      // Retained memory, not garbage: read chunks are collectable, a clone's queue is not. (Firefox and WebKit
      // collect on their own schedule; the uninstrumented run sees the same.)
      globalThis.gc?.();
      await sleep(20);
      peakRss = Math.max(peakRss, await rssMiB(pid));
      peakAhead = Math.max(peakAhead, ((await serverStream(streamId)).sent - read) / MiB);
    }
  }
  await reader.cancel();
  // What stays after the read is over: a clone left unread still holds what the engine fetched for it, at every
  // sample. One collection (Firefox frees the read chunks only under allocation pressure), then the lowest of the
  // samples over up to 3 s, because the engines return freed memory to the system on their own schedule: a WebKit
  // CI run sampled once right after collect()'s 4 MiB buffers saw 1785 MiB, other runs of the same code 97 to 183.
  // WebKit gets 10 s: a CI run whose fetchspan read retained 1422 MiB over 3 s of samples (and whose clone control,
  // run next, only 267) retained 4.5 and 5 MiB in two reruns of the same code. So does Firefox: four runs of the
  // same code on 2026-12-01 had fetchspan's read retain 266, 148, 13 and -137 MiB over 3 s (the native read 18, 156,
  // 22 and 179), the first 8 MiB short of its bound. A leak stays past any window; the clone control, which holds
  // the whole read, must still break the bound.
  await sleep(300);
  await collect();
  let retainedMiB = Infinity;
  const settled = performance.now() + (globalThis.gc ? 3000 : 10_000);
  for (let sample = 1; ; sample++) {
    globalThis.gc?.();
    churn();
    await sleep(250);
    retainedMiB = Math.min(retainedMiB, (await rssMiB(pid)) - baseline);
    if (retainedMiB <= RSS_BOUND_MIB || performance.now() >= settled) break;
    // Without `gc()`, a collection every second samples.
    if (!globalThis.gc && sample % 4 === 0) await collect();
  }
  return { label, readMiB: read / MiB, rssGrowthMiB: peakRss - baseline, aheadMiB: peakAhead, retainedMiB };
}

// Bounds over the uninstrumented run of the same engine: Chromium applies backpressure to the network and stays
// within a few MiB; Firefox and WebKit buffer ahead natively, which fetchspan must not add to.
const RSS_BOUND_MIB = 32;
const AHEAD_BOUND_MIB = 16;
// What stays after the read: Chromium frees it at once (with gc()); Firefox frees the engine's own read-ahead on its
// collector's schedule, so there the margin is half of what a clone holds (all 512 MiB read, and more).
const boundsOver = (native) => ({
  rss: Math.max(0, native.rssGrowthMiB) + RSS_BOUND_MIB,
  ahead: Math.max(AHEAD_BOUND_MIB, native.aheadMiB * 1.5 + AHEAD_BOUND_MIB),
  retained: Math.max(0, native.retainedMiB) + (globalThis.gc ? 4 * RSS_BOUND_MIB : 256),
});

// ---------------------------------------------------------------------------------------------------------------
// Fidelity: what an app can observe of a response.

async function observe(response) {
  const copy = response.clone();
  return {
    isResponse: response instanceof Response,
    proto: Object.getPrototypeOf(response) === Response.prototype,
    ownKeys: Reflect.ownKeys(response).map(String),
    status: response.status,
    statusText: response.statusText,
    url: response.url,
    redirected: response.redirected,
    type: response.type,
    ok: response.ok,
    headers: [...response.headers].filter(([name]) => name !== 'date'),
    bodyIsNull: response.body === null,
    bodyUsed: response.bodyUsed,
    clone: { url: copy.url, redirected: copy.redirected, type: copy.type, status: copy.status, text: await copy.text() },
    text: await response.text(),
    bodyUsedAfter: response.bodyUsed,
    secondRead: await outcome(() => response.text()),
    cloneAfterRead: await outcome(async () => response.clone().status),
  };
}

/** Header pairs in a one-shot iterable: a valid one, then one with an invalid name. */
function* headerGenerator() {
  yield ['x-a', '1'];
  yield ['bad name', 'x'];
}

/**
 * Runs `steps` as `sameAsNative` does, each run followed by one request fetchspan traces (`data:` URLs are): the
 * positive control, whose span must be there. Returns how many spans `steps` themselves made.
 */
async function noSpan(what, steps) {
  const spans = await sameAsNative(what, async () => {
    const result = await outcome(steps);
    await (await fetch('data:text/x-control,0')).text();
    return result;
  });
  // (A `data:` URL's payload is not recorded: README, Privacy.)
  const others = spans.filter((s) => s.attributes['url.full'] !== 'data:text/x-control,REDACTED');
  equal(spans.length - others.length, 1, `${what}: spans of the control request`);
  return others.length;
}

/**
 * Counts the event listeners registered through `holders` (objects whose `addEventListener` and
 * `removeEventListener` are replaced for the count: `restore()` puts back what was there) as the platform keeps
 * them, by target, type, listener and capture: a second add of the same registration, or a remove that removes
 * nothing, changes nothing. `live()` is how many are registered, `peak()` the most at once.
 */
function listenerCounter(holders) {
  const live = [];
  let peak = 0;
  const capture = (options) => (typeof options === 'boolean' ? options : Boolean(options?.capture));
  const at = (target, type, listener, options) => live.findIndex(([t, ty, l, c]) => t === target && ty === `${type}`
    && l === listener && c === capture(options));
  const { addEventListener: add, removeEventListener: remove } = EventTarget.prototype;
  const saved = holders.map((holder) => ['addEventListener', 'removeEventListener']
    .map((name) => Object.getOwnPropertyDescriptor(holder, name)));
  for (const holder of holders) {
    holder.addEventListener = function addEventListener(type, listener, options) {
      if (listener != null && at(this, type, listener, options) < 0) {
        live.push([this, `${type}`, listener, capture(options)]);
        peak = Math.max(peak, live.length);
      }
      return add.apply(this, arguments);
    };
    holder.removeEventListener = function removeEventListener(type, listener, options) {
      const found = at(this, type, listener, options);
      if (found >= 0) live.splice(found, 1);
      return remove.apply(this, arguments);
    };
  }
  return {
    live: () => live.length,
    peak: () => peak,
    restore() {
      holders.forEach((holder, i) => ['addEventListener', 'removeEventListener'].forEach((name, j) => {
        if (saved[i][j]) Object.defineProperty(holder, name, saved[i][j]);
        else delete holder[name];
      }));
    },
  };
}

// Steps for a platform consumer (`consume(response, url)`: `cache.put`, a WebAssembly compile) called in the same
// task as the app locks the stream it took from `url`'s response: they return how the consumer refused it, and the
// bytes the app then read through its reader.
function lockedThen(url, consume) {
  return async () => {
    const r = await fetch(url);
    const reader = r.body.getReader();
    const refused = await outcome(() => consume(r, url));
    let bytes = 0;
    for (let chunk; !(chunk = await reader.read()).done;) bytes += chunk.value.byteLength;
    return [refused.error?.[0], bytes];
  };
}

// The same, the app cancelling the stream it took: they return how the consumer refused it, and `bodyUsed`.
function cancelledThen(url, consume) {
  return async () => {
    const r = await fetch(url);
    const cancelled = r.body.cancel();
    const refused = await outcome(() => consume(r, url));
    await cancelled;
    return [refused.error?.[0], r.bodyUsed];
  };
}

// Runs each of `cases` (`{ steps, end }` by name) natively and instrumented (`sameAsNative`), and checks that the
// instrumented run made one span, which ended as `end` says: `[endReason, decoded size]`, as many as given.
async function eachEndsAs(cases) {
  for (const [name, { steps, end }] of Object.entries(cases)) {
    const spans = await sameAsNative(name, steps, { idleTimeoutMs: 500 });
    equal(spans.length, 1, `${name}: one span`);
    const span = spans[0];
    equal([span?.endReason, span?.attributes['fetchspan.response.decoded_size']].slice(0, end.length), end,
      `${name}: how the span ended`);
  }
}

/** Runs `steps` natively, then instrumented, and requires the same observations. Returns the spans. */
async function sameAsNative(what, steps, options) {
  const bounded = (mode) => Promise.race([
    outcome(steps),
    sleep(15_000).then(() => { throw new Error(`${what}: did not settle within 15 s ${mode}`); }),
  ]);
  let native;
  try {
    native = await bounded('natively');
  } catch (error) {
    // The engine's own run hung: WebKitGTK once left `abortThenText`'s native `text()` after an abort pending past
    // 15 s, in one full run of the suite (it passed in the runs before and after). One more native run tells such a
    // hiccup from a behaviour; fetchspan's run is never retried.
    console.log(`${ENGINE}: ${error.message}; the native steps run once more`);
    native = await bounded('natively, run twice');
  }
  const { spans, tracer } = traced(options);
  const instrumented = await bounded('instrumented');
  equal(instrumented, native, `${what} (instrumented vs native)`);
  // A body `compileStreaming` or `cache.put` consumed natively ends when they settle.
  await until(() => {
    return tracer.stats().open === 0;
  }, `${what}: every span ended`, 5000, () => collect());
  await uninstall(tracer);
  return spans;
}

// ---------------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------------
// Export: a strict OTLP receiver in the test server decodes every request with opentelemetry-proto.

const received = async (tenant) => (await raw(`${SERVER}/c/${tenant}/received`)).json();
const collector = (tenant, mode = 'ok', port = 47811) => `http://127.0.0.1:${port}/c/${tenant}/${mode}`;
const allSpans = (report) => report.accepted.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));

/** Ends `count` spans quickly: `data:` URLs need no server and are still traced. */
async function makeSpans(count, tag = 'x') {
  for (let i = 0; i < count; i++) await (await fetch(`data:text/plain,${tag}${i}`)).text();
}

const SCENARIOS = {

  async exportsReachTheCollectorInStrictOtlpJson() {
    const tenant = id('strict');
    // An endpoint with a query (the signal's path goes before it), and the content type given again in another case
    // (it replaces fetchspan's; the collector answers anything but application/json with 415).
    const { tracer, spans } = traced({
      endpoint: `${collector(tenant)}?via=query`, headers: { 'Content-Type': 'application/json' }, serviceName: 'shop',
      resource: { 'deployment.environment': 'test', build: 7 }, scheduledDelayMs: 60_000,
    });
    await (await fetch(`${SERVER}/bytes?n=10&x=one`)).text();
    await readAll((await fetch(`${SERVER}/slow?chunks=2&x=two`)).body);
    await fetch(`http://127.0.0.1:9/x=three`).catch(() => {});
    await until(() => spans.length === 3, 'three spans');
    const flushed = await tracer.forceFlush(5000);
    equal(flushed, { exported: 3, dropped: 0, timedOut: false }, 'forceFlush result');
    const report = await received(tenant);
    equal(report.rejected, [], 'requests the strict decoder refused');
    const got = allSpans(report);
    equal(got.map((s) => s.spanId).sort(), spans.map((s) => s.spanId).sort(), 'span ids, as onSpanEnd saw them');
    equal(got.map((s) => s.traceId).sort(), spans.map((s) => s.traceId).sort(), 'trace ids');
    const two = got.find((s) => s.attributes.some((a) => a.key === 'url.full' && a.value.stringValue.includes('x=two')));
    const attribute = (span, key) => span.attributes.find((a) => a.key === key)?.value;
    equal(two.kind, 3, 'kind CLIENT');
    equal(two.name, 'GET', 'name');
    equal(attribute(two, 'http.response.status_code'), { intValue: '200' }, 'status code as an OTLP int');
    equal(attribute(two, 'fetchspan.response.decoded_size'), { intValue: '2048' }, 'decoded size');
    equal(attribute(two, 'http.request.method'), { stringValue: 'GET' }, 'method');
    equal(two.events.map((e) => e.name).filter((n) => !n.startsWith('fetchspan.timing.')), ['fetchspan.response.headers', 'fetchspan.response.first_byte'], 'events (resource-timing phases aside)');
    check(/^\d{19}$/.test(two.startTimeUnixNano) && BigInt(two.endTimeUnixNano) >= BigInt(two.startTimeUnixNano), 'nanosecond times');
    const three = got.find((s) => s.attributes.some((a) => a.key === 'url.full' && a.value.stringValue.includes('x=three')));
    equal(three.status.code, 2, 'an error span has status ERROR');
    const resource = Object.fromEntries(report.accepted[0].resourceSpans[0].resource.attributes.map((a) => [a.key, a.value]));
    equal(resource['service.name'], { stringValue: 'shop' }, 'service.name');
    equal(resource['deployment.environment'], { stringValue: 'test' }, 'resource attribute');
    equal(resource['build'], { intValue: '7' }, 'integer resource attribute');
    equal(resource['telemetry.sdk.name'], { stringValue: 'fetchspan' }, 'telemetry.sdk.name');
    check(resource['telemetry.sdk.version'] && resource['telemetry.sdk.language'], 'sdk version and language');
    equal(report.accepted[0].resourceSpans[0].scopeSpans[0].scope.name, 'fetchspan', 'instrumentation scope');
    equal(tracer.stats().started, 3, 'the export requests were not traced');
  },

  async aSpanWithAParentALinkAndServerTimingExportsStrictly() {
    const tenant = id('strict-context');
    // A hook with 40 attributes: 32 are kept, and the span says 8 were dropped.
    const requestAttributes = () => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`app.n${i}`, i]));
    const { tracer, spans } = traced({ endpoint: collector(tenant), propagateTo: [SERVER], scheduledDelayMs: 60_000, requestAttributes });
    const server = '00-11111111111111111111111111111111-2222222222222222-01';
    const parent = OWN_TRACEPARENT;
    const st = encodeURIComponent('db;dur=12.5');
    await (await fetch(`${SERVER}/server-trace?tp=${server}&st=${st}&x=context`, { headers: { traceparent: parent } })).text();
    await until(() => spans.length === 1, 'the span');
    equal((await tracer.forceFlush(5000)).exported, 1, 'exported');
    const report = await received(tenant);
    equal(report.rejected, [], 'requests the strict decoder refused');
    const [span] = allSpans(report);
    equal([span.traceId, span.parentSpanId, span.spanId], ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', spans[0].spanId], 'ids');
    equal(span.links.map((l) => [l.traceId, l.spanId]), [['11111111111111111111111111111111', '2222222222222222']], 'the link');
    const attribute = (key) => span.attributes.find((a) => a.key === key)?.value;
    equal([attribute('fetchspan.server.span_id'), attribute('fetchspan.server_timing.db.duration_us')],
      [{ stringValue: '2222222222222222' }, { intValue: '12500' }], 'server attributes');
    equal([span.attributes.filter((a) => a.key.startsWith('app.n')).length, span.droppedAttributesCount ?? 0,
      span.droppedEventsCount ?? 0], [32, 8, 0], 'hook attributes kept, and the count of those dropped');
    // onSpanEnd's object says the same.
    equal([spans[0].droppedAttributesCount, 'droppedEventsCount' in spans[0]], [8, false], 'the dropped count in onSpanEnd\'s object');
    // Its times are the exported ones (both written from one record).
    const exportedMicros = Number(BigInt(span.startTimeUnixNano) / 1000n);
    check(Math.abs(exportedMicros - spans[0].startTime * 1000) <= 1, `the same start time: ${span.startTimeUnixNano} ns, ${spans[0].startTime} ms`);
    check(Math.abs(spans[0].endTime - Date.now()) < 60_000, 'wall-clock times');
  },

  async collectorDownKeepsExactlyTheQueueBoundThenDelivers() {
    const tenant = id('down');
    await raw(`${SERVER}/collector?up=0`);
    const { tracer } = traced({ endpoint: collector(tenant, 'ok', 47812), maxQueueSize: 20, maxExportBatchSize: 10, scheduledDelayMs: 50 });
    await makeSpans(50);
    await until(() => tracer.stats().ended === 50, '50 spans');
    const stats = tracer.stats();
    equal(stats.dropped, 30, 'spans dropped beyond the queue bound (queued and in flight count together)');
    await sleep(300);
    await raw(`${SERVER}/collector?up=1`);
    const flushed = await tracer.forceFlush(10_000);
    equal(flushed.timedOut, false, 'flush finished once the collector came back');
    const report = await received(tenant);
    equal(report.rejected, [], 'strictly decoded');
    equal(report.spans, 20, 'spans delivered: exactly the queue bound');
    equal([tracer.stats().exported, tracer.stats().dropped, tracer.stats().queued], [20, 30, 0], 'exported, dropped, queued');
    check(tracer.stats().retries >= 1, 'the failed attempts were retried');
    await raw(`${SERVER}/collector?up=0`);
  },

  async retryAfterIsHonoured() {
    const tenant = id('retry');
    const { tracer } = traced({ endpoint: collector(tenant, 's503once'), scheduledDelayMs: 60_000 });
    await makeSpans(2);
    const flushed = await tracer.forceFlush(8000);
    equal(flushed, { exported: 2, dropped: 0, timedOut: false }, 'flush after a 503');
    const { attempts, spans } = await received(tenant);
    equal(attempts.length, 2, 'attempts');
    check(attempts[1] - attempts[0] >= 1000, `the retry waited ${attempts[1] - attempts[0]} ms, not Retry-After's 1 s`);
    equal(spans, 2, 'delivered on the retry');
    equal(tracer.stats().retries, 1, 'one retry');
  },

  async flushWithADeadlineAbortsNothingAndUninstallAbortsTheRest() {
    const tenant = id('hang');
    const { tracer } = traced({ endpoint: collector(tenant, 'hang'), scheduledDelayMs: 60_000 });
    await makeSpans(3);
    const started = performance.now();
    const flushed = await tracer.forceFlush(200);
    const took = performance.now() - started;
    check(took < 1000, `forceFlush(200) took ${took.toFixed(0)} ms`);
    equal(flushed.timedOut, true, 'timedOut');
    // The deadline aborts nothing: the collector may have the spans already, and a resend would duplicate them.
    const stats = tracer.stats();
    equal([stats.exportInFlight, stats.queued, stats.exported], [1, 0, 0], 'after the flush: the export goes on');
    const result = await tracer.uninstall(100).then(() => tracer.stats());
    open.splice(open.indexOf(tracer), 1);
    equal([result.exportInFlight, result.queued, result.dropped], [0, 0, 3], 'uninstall: nothing in flight, leftovers counted as dropped');
    let report;
    for (let i = 0; i < 100; i++) {
      report = await received(tenant);
      if (report.abandonedByClient >= 1 && report.hanging === 0) break;
      await sleep(10);
    }
    equal([report.abandonedByClient, report.hanging], [1, 0], 'the server saw uninstall abort the export');
  },

  async badRequestIsNotRetried() {
    const tenant = id('400');
    const { tracer } = traced({ endpoint: collector(tenant, 's400'), scheduledDelayMs: 60_000 });
    await makeSpans(4);
    equal(await tracer.forceFlush(5000), { exported: 0, dropped: 4, timedOut: false }, 'flush against a 400');
    equal((await received(tenant)).attempts.length, 1, 'attempts');
    equal([tracer.stats().exportFailures, tracer.stats().retries], [1, 0], 'failures and retries');
  },

  async badTimeoutsAreRefusedAndChangeNothing() {
    const { tracer } = traced({ endpoint: collector(id('timeouts')) });
    const patched = globalThis.fetch;
    for (const bad of ['soon', -1, Infinity, 2 ** 31]) {
      const flushed = await outcome(() => tracer.forceFlush(bad));
      check(flushed.error?.[1] === 'TypeError' && /^fetchspan: timeoutMs must be a number of milliseconds from 0 to 2147483647, got /.test(flushed.error[2]),
        `forceFlush(${bad}): ${JSON.stringify(flushed)}`);
      const uninstalled = await outcome(() => tracer.uninstall(bad));
      check(uninstalled.error?.[1] === 'TypeError' && /^fetchspan: timeoutMs must be/.test(uninstalled.error[2]), `uninstall(${bad}): ${JSON.stringify(uninstalled)}`);
      check(globalThis.fetch === patched, `uninstall(${bad}) left fetch instrumented`);
    }
    equal((await outcome(() => tracer.forceFlush('soon'))).error[2], 'fetchspan: timeoutMs must be a number of milliseconds from 0 to 2147483647, got "soon"', 'the value is named');
    equal(await tracer.forceFlush(0), { exported: 0, dropped: 0, timedOut: false }, 'forceFlush(0) of an empty queue');
    equal(await tracer.forceFlush(null), { exported: 0, dropped: 0, timedOut: false }, 'forceFlush(null): the default');
  },

  async anEndpointEndingInTheTracesPathIsUsedAsItIs() {
    const tenant = id('full-path');
    const { tracer } = traced({ endpoint: `${collector(tenant)}/v1/traces`, scheduledDelayMs: 60_000 });
    await makeSpans(2);
    equal(await tracer.forceFlush(5000), { exported: 2, dropped: 0, timedOut: false }, 'flushed to {endpoint}, not {endpoint}/v1/traces');
    equal((await received(tenant)).spans, 2, 'the collector got them');
  },

  async partialSuccessCountsRejectedSpans() {
    const tenant = id('partial');
    const { tracer } = traced({ endpoint: collector(tenant, 'partial'), scheduledDelayMs: 60_000 });
    await makeSpans(5);
    equal(await tracer.forceFlush(5000), { exported: 3, dropped: 0, timedOut: false }, 'flush with a partial success');
    equal(tracer.stats().rejected, 2, 'rejected spans');
  },

  async aBurstOfSpansStaysBounded() {
    // The collector holds the first export (a batch of 512) for the whole burst, so the bound binds: the queue fills
    // up to it (the batch in flight counts against it), and every later span is dropped and counted.
    const tenant = id('burst');
    const { tracer } = traced({
      endpoint: collector(tenant, 'hang'), exportTimeoutMs: 60_000, scheduledDelayMs: 60_000, maxQueueSize: 2048,
      maxExportBatchSize: 512,
    });
    const before = wasmMemory.buffer.byteLength;
    let peakQueued = 0;
    for (let i = 0; i < 10_000; i += 500) {
      await makeSpans(500, `b${i}-`);
      peakQueued = Math.max(peakQueued, tracer.stats().queued);
    }
    const stats = tracer.stats();
    equal([stats.ended, peakQueued, stats.queued, stats.exportInFlight, stats.dropped], [10_000, 1536, 1536, 1, 10_000 - 2048],
      'ended, queued at most and at the end (the bound less the batch in flight), exports in flight, dropped');
    const grown = wasmMemory.buffer.byteLength - before;
    check(grown <= 8 * MiB, `wasm memory grew ${(grown / MiB).toFixed(1)} MiB for a 10,000-span burst`);
    const result = await tracer.uninstall(100).then(() => tracer.stats());
    open.splice(open.indexOf(tracer), 1);
    equal([result.exported, result.dropped, result.queued, result.exportInFlight], [0, 10_000, 0, 0],
      'uninstall: the batch in flight and the queue counted as dropped');
  },

  async hiddenPageFlushesWithKeepaliveWithinTheBudget() {
    const tenant = id('unload');
    const sent = [];
    const spy = function fetch(url, init) {
      if (String(url).includes('/v1/traces')) sent.push({ keepalive: init?.keepalive === true, bytes: init.body.length });
      return nativeFetch.call(this, url, init);
    };
    globalThis.fetch = spy;
    try {
      const { tracer } = traced({ endpoint: collector(tenant), scheduledDelayMs: 60_000 });
      const long = 'p'.repeat(1500);
      for (let i = 0; i < 120; i++) await (await fetch(`${SERVER}/bytes?n=1&pad=${long}${i}`)).text();
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
      delete document.visibilityState;
      // The queue (about 120 spans of 1.5 KB, 180 KB) fills the budget (the spans that fit, in order) and no more.
      check(sent.length >= 1 && sent.reduce((n, r) => n + r.bytes, 0) > 55_000, `the budget filled: ${JSON.stringify(sent)}`);
      check(sent.every((r) => r.keepalive && r.bytes <= 60_000), `every request keepalive and at most 60 KB: ${JSON.stringify(sent)}`);
      check(sent.length <= 8 && sent.reduce((n, r) => n + r.bytes, 0) <= 60_000, 'within 60 KB and 8 requests in flight');
      check(tracer.stats().queued > 0, 'what did not fit stays queued');
      await until(() => tracer.stats().keepaliveInFlight === 0, 'keepalive requests done');
      const report = await received(tenant);
      equal(report.rejected, [], 'strictly decoded');
      equal(report.spans, tracer.stats().exported, 'the collector got what was counted as exported');
      check(report.spans > 0, 'spans arrived');
    } finally {
      globalThis.fetch = nativeFetch;
    }
  },

  async aSpanWaitingForItsTimingGoesOutWithTheUnloadFlush() {
    const tenant = id('unload-stream');
    const sent = [];
    const spy = function fetch(url, init) {
      if (String(url).includes('/v1/traces')) sent.push(init?.keepalive === true);
      return nativeFetch.call(this, url, init);
    };
    globalThis.fetch = spy;
    try {
      const { tracer, spans } = traced({ endpoint: collector(tenant), scheduledDelayMs: 60_000 });
      // A streamed body's span may still wait for its resource-timing entry when the page goes (a cancelled one's,
      // whose entry Chromium and Firefox queue some milliseconds later): the unload flush delivers it first, and
      // sends it.
      for (let i = 0; i < 5; i++) {
        await cancelAfterFirstChunk(`x=unload-stream-${i}`);
        if (ENGINE !== 'webkit') equal(tracer.stats().open, 1, 'the span waits for its entry');
        globalThis.dispatchEvent(new Event('pagehide'));
        equal(spans.length, i + 1, 'the span delivered at the unload flush');
      }
      equal(sent, [true, true, true, true, true], 'one keepalive request per flush');
      await until(() => tracer.stats().keepaliveInFlight === 0, 'keepalive requests done');
      const report = await received(tenant);
      equal([report.spans, report.rejected], [5, []], 'the collector got every span, strictly decoded');
    } finally {
      globalThis.fetch = nativeFetch;
    }
  },

  // zone.js (Angular) patches `setTimeout` and keeps the engine's own as `__zone_symbol__setTimeout`. fetchspan's
  // timers (the idle watch, the resource-timing wait, the export schedule and deadlines, the sweep after uninstall)
  // are the engine's own: a pending one in the app's zone would keep an Angular app from ever being stable.
  async timersOfOursStayOutOfTheAppsZone() {
    const tenant = id('zone');
    const engine = { set: globalThis.setTimeout, clear: globalThis.clearTimeout };
    const calls = { patched: 0, engine: 0 };
    // This test's own waits use the engine's timer, uncounted.
    const wait = (ms) => new Promise((resolve) => engine.set.call(globalThis, resolve, ms));
    // (WebKitWebDriver's script that polls the page sets and clears a timer of its own: not counted.)
    const driver = new Set();
    const through = (count, timer) => function (...args) {
      if (timer === engine.set && /JavaScriptTimeout/.test(args[0])) {
        const made = timer.apply(globalThis, args);
        driver.add(made);
        return made;
      }
      if (!(timer === engine.clear && driver.has(args[0]))) calls[count]++;
      return timer.apply(globalThis, args);
    };
    globalThis.setTimeout = through('patched', engine.set);
    globalThis.clearTimeout = through('patched', engine.clear);
    globalThis.__zone_symbol__setTimeout = through('engine', engine.set);
    globalThis.__zone_symbol__clearTimeout = through('engine', engine.clear);
    try {
      engine.clear.call(globalThis, setTimeout(() => {}, 0));
      equal(calls, { patched: 1, engine: 0 }, "the app's own timer goes through the patched setTimeout (the control)");
      calls.patched = 0;
      const { tracer } = traced({ endpoint: collector(tenant), scheduledDelayMs: 50, idleTimeoutMs: 1000 });
      // A body read as a stream (the idle watch, and the wait for its resource-timing entry), its span exported on
      // the schedule; a response kept unread past uninstall (the sweep).
      const bytes = await readAll((await fetch(`${SERVER}/bytes?n=1000&x=zone`)).body);
      for (const end = performance.now() + 5000; tracer.stats().exported < 1 && performance.now() < end;) await wait(5);
      equal([bytes, tracer.stats().exported], [1000, 1], 'the body read, its span exported');
      const kept = await fetch(`${SERVER}/bytes?n=10&x=zone-kept`);
      await tracer.forceFlush(1000);
      await uninstall(tracer);
      equal(calls.patched, 0, 'timers of fetchspan that went through the patched setTimeout or clearTimeout');
      check(calls.engine >= 3, `fetchspan's timers went to the engine's own (the control): ${calls.engine} calls`);
      check(kept.status === 200, 'the kept response');
      // A page's own flag of that name that is no function is passed over.
      globalThis.__zone_symbol__setTimeout = true;
      globalThis.__zone_symbol__clearTimeout = true;
      const { tracer: flagged } = traced({ endpoint: collector(tenant), scheduledDelayMs: 50, idleTimeoutMs: 1000 });
      equal(await readAll((await fetch(`${SERVER}/bytes?n=10&x=zone-flag`)).body), 10, 'a body read under a zone flag that is no function');
      equal((await flagged.forceFlush(1000)).exported, 1, 'its span exported');
      equal(flagged.stats().passthroughFailures, 0, 'no failure of ours');
      await uninstall(flagged);
    } finally {
      globalThis.setTimeout = engine.set;
      globalThis.clearTimeout = engine.clear;
      delete globalThis.__zone_symbol__setTimeout;
      delete globalThis.__zone_symbol__clearTimeout;
    }
  },

  async installAndUninstallWithAnExporterLeaveNothingBehind() {
    const listeners = listenerCounter([document, globalThis]);
    try {
      const cycle = async () => {
        const { tracer } = traced({ endpoint: collector(id('cycle')) });
        await uninstall(tracer);
      };
      for (let i = 0; i < 300; i++) {
        if (i % 100 === 0) await collect();
        await cycle();
      }
      await collect();
      await sleep(50);
      const warm = wasmMemory.buffer.byteLength;
      const warmLive = liveHeap();
      for (let i = 0; i < 1000; i++) {
        if (i % 100 === 0) {
          await collect();
          await sleep(5);
        }
        await cycle();
      }
      await collect();
      await sleep(50);
      // What the heap has live: back where it was (its positive control: an installation with an exporter shows).
      const liveGrowth = liveHeap() - warmLive;
      const probe = traced({ endpoint: collector(id('cycle')) });
      const perInstall = liveHeap() - warmLive - liveGrowth;
      await uninstall(probe.tracer);
      check(perInstall >= 100, `an installation with an exporter holds ${perInstall} bytes of the live heap`);
      check(liveGrowth <= (globalThis.gc ? 0 : 10) * perInstall, `the live heap grew by ${liveGrowth} bytes over 1,000 cycles (an installation holds ${perInstall})`);
      equal(listeners.live(), 0, 'page listeners left after 1,300 install/uninstall cycles');
      // The positive control: an installed exporter's unload listeners were counted.
      check(listeners.peak() >= 1, `the listener counter never saw the exporter's unload listeners (peak ${listeners.peak()})`);
      equal(wasmMemory.buffer.byteLength, warm, 'wasm memory after 1,000 more cycles');
    } finally {
      listeners.restore();
    }
  },
  async endlessStreamKeepsMemoryFlatAndTheCloneControlDoesNot() {
    const pid = await findRenderer();
    const baseline = await endlessRead(pid, raw, 'uninstrumented', 512);
    const { spans } = traced();
    const instrumented = await endlessRead(pid, (url) => fetch(url), 'fetchspan', 512);
    const span = await spanFor(spans, 'id=fetchspan');
    await uninstall(open[open.length - 1]);
    // The positive control: a naive instrumentation that clones and never reads the clone.
    const clones = [];
    const control = await endlessRead(pid, async (url) => {
      const response = await raw(url);
      clones.push(response.clone());
      return response;
    }, 'clone-control', 512);
    await Promise.all(clones.map((clone) => clone.body.cancel()));
    clones.length = 0;
    const bounds = boundsOver(baseline);
    console.log(JSON.stringify({ engine: ENGINE, baseline, instrumented, control, bounds }));
    check(instrumented.readMiB >= 512, `read ${instrumented.readMiB} MiB through fetchspan`);
    equal(span.attributes['fetchspan.response.decoded_size'], instrumented.readMiB * MiB, 'decoded_size of the cancelled stream');
    // WebKit, once a capped body has arrived in full, hands its whole rest to the pending read as one chunk and
    // closes the stream (natively too): the app then has every byte before it cancels, so the span says completed.
    const whole = ENGINE === 'webkit' && instrumented.readMiB >= 512 + 128;
    equal(span.endReason, whole ? 'completed' : 'cancelled', `endReason of the cancelled stream (${instrumented.readMiB} MiB read)`);
    // Where the engine itself keeps backpressure (the uninstrumented run stays within the fixed bounds: Chromium),
    // every bound holds and the positive control must break all of them. Firefox and WebKit read ahead of the app
    // natively, by an amount that swings from run to run (Firefox, two CI runs of the same code: the server 195 MiB
    // ahead natively and 650 MiB through fetchspan, whose pump reads nothing the app didn't ask for; in another, a
    // peak RSS of 667 MiB natively and 789 MiB through fetchspan): there the peaks are the engine's buffer, printed
    // but not bounded, and a leak of ours shows where a clone's does, in what stays after the read.
    const flatNatively = baseline.rssGrowthMiB <= RSS_BOUND_MIB && baseline.aheadMiB <= AHEAD_BOUND_MIB;
    // Chromium's own read is flat (its peaks are then bounded): a native run that wasn't would silently turn the
    // peak bounds off.
    if (ENGINE === 'chromium') check(flatNatively, `Chromium's own read was not flat, so the peaks can't be bounded: ${JSON.stringify(baseline)}`);
    const peaksWithin = instrumented.rssGrowthMiB <= bounds.rss && instrumented.aheadMiB <= bounds.ahead;
    check(instrumented.retainedMiB <= bounds.retained && (peaksWithin || !flatNatively),
      `fetchspan in ${ENGINE}: RSS grew ${instrumented.rssGrowthMiB.toFixed(1)} MiB (bound ${bounds.rss.toFixed(1)}), server ran ${instrumented.aheadMiB.toFixed(1)} MiB ahead (bound ${bounds.ahead.toFixed(1)}), ${instrumented.retainedMiB.toFixed(1)} MiB retained after the read (bound ${bounds.retained.toFixed(1)})`);
    if (!peaksWithin) console.log(`${ENGINE}: peaks past the native bounds, the engine's own read-ahead (not asserted here): ${JSON.stringify(instrumented)}`);
    const caught = control.retainedMiB > bounds.retained
      && (!flatNatively || (control.rssGrowthMiB > bounds.rss && control.aheadMiB > bounds.ahead));
    check(caught, `the clone control must break the bounds in ${ENGINE}, but RSS grew ${control.rssGrowthMiB.toFixed(1)} MiB (bound ${bounds.rss.toFixed(1)}), the server ran ${control.aheadMiB.toFixed(1)} MiB ahead (bound ${bounds.ahead.toFixed(1)}) and ${control.retainedMiB.toFixed(1)} MiB stayed (bound ${bounds.retained.toFixed(1)}; uninstrumented ${JSON.stringify(baseline)}): this memory test cannot see the leak`);
  },

  async cancelClosesTheConnectionAndEndsSpanAsCancelled() {
    // Reads 8 MiB (collecting every MiB), cancels, and waits up to 10 s for the server to see the connection close;
    // returns how much it sent past what the app read, and how long the close took. Run natively too: Firefox and
    // WebKit fetch ahead of the app on their own, and the bounds are over what the engine does without us.
    const readThenCancel = async (fetcher, streamId) => {
      // The app keeps only the reader: the Response itself may be collected mid-stream, which must not end the span.
      const reader = await (async () => (await fetcher(`${SERVER}/stream?id=${streamId}`)).body.getReader())();
      let read = 0;
      for (let next = MiB; read < 8 * MiB;) {
        read += (await reader.read()).value.byteLength;
        if (read >= next) {
          next += MiB;
          globalThis.gc?.();
          await sleep(5);
        }
      }
      await reader.cancel();
      const cancelledAt = performance.now();
      let server;
      for (;;) {
        server = await serverStream(streamId);
        if (server.closed || performance.now() - cancelledAt > 10_000) break;
        await sleep(20);
      }
      check(server.closed, `${streamId}: the server still streams 10 s after cancel (sent ${server.sent})`);
      return { read, past: server.sent - read, closeMs: performance.now() - cancelledAt };
    };
    const native = await readThenCancel(raw, id('cancel-native'));
    const { spans } = traced();
    const streamId = id('cancel');
    const ours = await readThenCancel((url) => fetch(url), streamId);
    // The connection closes as soon as natively: within 2 s, or 2 s more than the engine took on its own (WebKit's
    // network process, busy reading ahead, once took over 2 s natively). WebKit gets 8 s more: in 14 runs of this
    // test alone (the code before and after one change, alike), 4 took 3.2 to 3.8 s where its native run took 0.4
    // to 1 s, and a full run of the test command on 2026-12-01 saw 7.9 s (natively 0.3 s) on a stop that changed
    // nothing of the body's path (five runs of the test alone right after passed). A cancel that doesn't stop the
    // download still fails: the server then streams past 10 s.
    const slack = ENGINE === 'webkit' ? 8000 : 2000;
    check(ours.closeMs < Math.max(2000, native.closeMs + slack),
      `the server stopped ${ours.closeMs.toFixed(0)} ms after the cancel (natively ${native.closeMs.toFixed(0)} ms)`);
    const span = await spanFor(spans, streamId);
    equal(span.endReason, 'cancelled', 'endReason');
    equal(span.status, 'unset', 'status');
    equal(span.attributes['fetchspan.response.decoded_size'], ours.read, 'decoded_size equals what the app read');
    const bound = Math.max(16 * MiB, native.past * 1.5 + 16 * MiB);
    if (ENGINE === 'webkit') {
      // WebKit's network process reads ahead of the page on its own, as far as the network allows, and how far
      // varies by hundreds of MB from run to run (one run: 85 MB natively, 770 MB through fetchspan, whose pump reads
      // nothing the app didn't ask for): no bound over one native run holds there. What fetchspan decides is
      // asserted above: the download stops as soon after the app's cancel as natively.
      console.log(`webkit: ${ours.past} bytes sent past what the app read (natively ${native.past}); not bounded, see the README`);
    } else {
      check(ours.past < bound, `server sent ${ours.past} bytes past what the app read (natively ${native.past}; bound ${bound})`);
    }
  },

  async slowConsumerKeepsBackpressure() {
    // How far the server runs ahead of a reader that takes a chunk every 10 ms, read natively and then through
    // fetchspan. Chromium and Firefox apply backpressure to the network, and are bounded by their native run;
    // WebKit's network process reads ahead (hundreds of MiB here) natively, see below.
    const slowRead = async (fetcher, label, { ms = 3000, enough = Infinity } = {}) => {
      const streamId = id(label);
      // At most 256 MiB: WebKit would otherwise buffer an endless body ahead of a slow reader until it crashes.
      const reader = (await fetcher(`${SERVER}/stream?id=${streamId}&max=${256 * MiB}`)).body.getReader();
      let read = 0;
      let worstAhead = 0;
      let ended = false;
      const stop = performance.now() + ms;
      while (performance.now() < stop && worstAhead / MiB <= enough) {
        const { done, value } = await reader.read();
        if ((ended = done)) break;
        read += value.byteLength;
        await sleep(10);
        worstAhead = Math.max(worstAhead, (await serverStream(streamId)).sent - read);
      }
      await reader.cancel();
      check(read > 0, `${label}: read something`);
      return { streamId, aheadMiB: worstAhead / MiB, ended };
    };
    const native = await slowRead(raw, 'slow-native');
    const { spans } = traced();
    const ours = await slowRead((url) => fetch(url), 'slow');
    const bound = Math.max(16, native.aheadMiB * 2 + 32);
    console.log(`slow consumer in ${ENGINE}: server ahead ${native.aheadMiB.toFixed(1)} MiB natively, ${ours.aheadMiB.toFixed(1)} MiB through fetchspan`);
    // WebKit's network process reads ahead on its own by an amount that swings from run to run (natively 104, 167,
    // 226 and 256 MiB in four runs of this test, against the 256 MiB cap), so no bound over one native run holds
    // there. Firefox's own read-ahead swings too (24 to 110 MiB natively in three runs), and its bound with it (up to
    // 251 MiB): the positive control below, a clone-based tracer's read-ahead, got only 62 MiB past the slow reader
    // in 3 s there, and 193 MiB in 10 s with the body's cap lifted, so in Firefox this check could not fail within
    // its window. Bounded where the control proves the bound can catch a read-ahead: Chromium. Printed elsewhere, as
    // in the cancel test (the memory suite bounds every engine's memory, with a clone-based control).
    equal((await spanFor(spans, ours.streamId)).endReason, ours.ended ? 'completed' : 'cancelled', 'endReason');
    if (ENGINE !== 'chromium') return;
    check(ours.aheadMiB <= bound, `the server ran ${ours.aheadMiB.toFixed(1)} MiB ahead of a slow reader (natively ${native.aheadMiB.toFixed(1)} MiB; bound ${bound.toFixed(1)})`);
    // The positive control: the same slow read under a clone-based tracer (the clone drained at once, as such
    // tracers do) must break the bound; it stops once it has.
    let drain;
    const control = await slowRead(async (url) => {
      const response = await raw(url);
      drain = response.clone().body.getReader();
      (async () => { while (!(await drain.read()).done); })().catch(() => {});
      return response;
    }, 'slow-clone', { ms: 10_000, enough: bound });
    await drain.cancel().catch(() => {});
    console.log(`slow consumer in ${ENGINE}: server ahead ${control.aheadMiB.toFixed(1)} MiB under the clone control`);
    check(control.aheadMiB > bound, `the clone control ran only ${control.aheadMiB.toFixed(1)} MiB ahead (bound ${bound.toFixed(1)}): this check cannot see a read-ahead`);
  },

  async exactByteCountsForEveryWayOfReading() {
    const { spans } = traced();
    const sizes = [0, 1, 65535, 65536, 10_000_000];
    const ways = {
      stream: async (r) => readAll(r.body),
      arrayBuffer: async (r) => (await r.arrayBuffer()).byteLength,
      text: async (r) => (await r.text()).length,
      blob: async (r) => (await r.blob()).size,
      bytes: async (r) => (await r.bytes()).byteLength,
    };
    for (const size of sizes) {
      for (const [way, read] of Object.entries(ways)) {
        const tag = id(`${way}-${size}`);
        const got = await read(await fetch(`${SERVER}/bytes?n=${size}&tag=${tag}`));
        equal(got, size, `${way} of ${size} bytes`);
        const span = await spanFor(spans, tag);
        // WebKitGTK's resource timing has no sizes: a cross-origin text() is then of unknown size (documented).
        const expected = ENGINE === 'webkit' && way === 'text' ? undefined : size;
        equal([span.endReason, span.attributes['fetchspan.response.decoded_size']], ['completed', expected], `span of ${way} ${size}`);
      }
    }
    for (const way of ['stream', 'text', 'arrayBuffer']) {
      const tag = id(`gzip-${way}`);
      equal(await ways[way](await fetch(`${SERVER}/bytes?n=100000&gzip=1&tag=${tag}`)), 100000, `gzip ${way}`);
      const expected = ENGINE === 'webkit' && way === 'text' ? undefined : 100000;
      equal((await spanFor(spans, tag)).attributes['fetchspan.response.decoded_size'], expected, `gzip ${way}: decoded bytes`);
    }
    await (await fetch(`${SERVER}/json?tag=j`)).json();
    const json = await spanFor(spans, 'json?tag=j');
    equal(json.attributes['fetchspan.response.decoded_size'], ENGINE === 'webkit' ? undefined : 27, 'json decoded size');
    equal(json.attributes['fetchspan.response.size_source'], ENGINE === 'webkit' ? 'unknown' : 'resource-timing', 'json size source');
  },

  async responsesStayGenuineAndBehaveAsNative() {
    const cases = {
      plain: () => fetch(`${SERVER}/bytes?n=100`).then(observe),
      redirect: () => fetch(`${SERVER}/redirect?to=${encodeURIComponent(`${SERVER}/bytes?n=5`)}`).then(observe),
      noContent: () => fetch(`${SERVER}/status?code=204`).then(observe),
      notFound: () => fetch(`${SERVER}/status?code=404`).then(observe),
      head: () => fetch(`${SERVER}/bytes?n=10`, { method: 'HEAD' }).then(observe),
      opaque: () => fetch(`${SERVER}/bytes?n=10`, { mode: 'no-cors' }).then(async (r) => ({ type: r.type, status: r.status, body: r.body === null, url: r.url })),
      wasm: async () => (await WebAssembly.compileStreaming(fetch(`${SERVER}/wasm`))) instanceof WebAssembly.Module,
      cache: async () => {
        const cache = await caches.open('fetchspan-test');
        const url = `${SERVER}/bytes?n=42`;
        await cache.put(url, await fetch(url));
        const hit = await caches.match(url);
        await caches.delete('fetchspan-test');
        return { url: hit.url, type: hit.type, status: hit.status, text: (await hit.text()).length };
      },
      // A body the app only looked at stays the response's own, for the platform's consumers too.
      bodyThenWasm: async () => {
        const r = await fetch(`${SERVER}/wasm?x=touched`);
        if (!r.body) throw new Error('no body');
        return (await WebAssembly.compileStreaming(r)) instanceof WebAssembly.Module;
      },
      bodyThenCache: async () => {
        const cache = await caches.open('fetchspan-touched');
        const url = `${SERVER}/bytes?n=42&x=touched`;
        const r = await fetch(url);
        if (!r.body) throw new Error('no body');
        await cache.put(url, r);
        const hit = await cache.match(url);
        await caches.delete('fetchspan-touched');
        return { used: r.bodyUsed, text: (await hit.text()).length };
      },
      streamThenClone: async () => {
        const r = await fetch(`${SERVER}/bytes?n=300`);
        const body = r.body;
        const copy = r.clone();
        const again = copy.clone();
        // Firefox keeps the same body object after clone(); fetchspan's body is then a new object, and the one the
        // app took is locked (a documented difference), so only the other engines compare identity and lock.
        const firefox = ENGINE === 'firefox';
        return {
          sameBody: firefox ? 'not compared' : r.body === body, takenLocked: firefox ? 'not compared' : body.locked,
          copy: [copy.url, copy.type, copy.redirected, Reflect.ownKeys(copy).length], again: [again.url, again.type, again.redirected],
          copyHeaders: await outcome(async () => { copy.headers.set('x-mine', '1'); return 'changed'; }),
          copyText: (await copy.text()).length, text: (await r.text()).length, used: r.bodyUsed,
        };
      },
      bodyThenResetArrayBuffer: async () => {
        const r = await fetch(`${SERVER}/reset?x=touch`);
        if (!r.body) throw new Error('no body');
        return (await r.arrayBuffer()).byteLength;
      },
      bodyThenText: async () => {
        const r = await fetch(`${SERVER}/bytes?n=70000`);
        const before = r.bodyUsed;
        const held = r.body;
        const text = await r.text();
        // The stream the app took before the whole-body read is a used body now.
        const heldReader = await outcome(async () => { held.getReader(); return 'a reader'; });
        return { before, text: text.length, after: r.bodyUsed, locked: r.body.locked, heldLocked: held.locked, heldReader, same: r.body === held };
      },
      // A whole-body read after the app cancelled its stream, or with a read pending: the native error.
      cancelThenText: async () => {
        // A body still loading (WebKit rejects a cancelled load as "Load failed", a body that arrived as used).
        const r = await fetch(`${SERVER}/slow?chunks=2&x=cancel-text`);
        r.body.cancel();
        return { text: await outcome(() => r.text()), used: r.bodyUsed };
      },
      // A read released before it was answered disturbs the body without cancelling it: natively a later reader
      // still gets the data. (The body comes 300 ms after the headers, so the read is pending natively too.)
      readReleasedThenText: async () => {
        const r = await fetch(`${SERVER}/slow?chunks=1&size=300&firstDelayMs=300&x=released`);
        const first = r.body.getReader();
        const pending = first.read().then(() => 'answered', (error) => error.name);
        first.releaseLock();
        const text = await outcome(() => r.text());
        const next = await outcome(async () => (await readAll(r.body)));
        return { pending: await pending, text, next };
      },
      pendingReadThenText: async () => {
        const r = await fetch(`${SERVER}/slow?chunks=2&firstDelayMs=300&x=pending-text`);
        const reader = r.body.getReader();
        const pending = reader.read();
        const text = await outcome(() => r.text());
        await pending;
        await reader.cancel();
        return text;
      },
      lockedBody: async () => {
        const r = await fetch(`${SERVER}/bytes?n=10`);
        r.body.getReader();
        return { used: r.bodyUsed, text: await outcome(() => r.text()), clone: await outcome(async () => r.clone()) };
      },
      // An empty body the app held a reader on until it closed, then released: natively its clone is a genuine one
      // (immutable headers, no own members), and both read as empty. (Firefox closes an empty body only once it is
      // read: there the reader is released before.)
      emptyHeldUntilClosedThenClone: async () => {
        const r = await fetch(`${SERVER}/bytes?n=0&x=held-closed`);
        const reader = r.body.getReader();
        await Promise.race([reader.closed, sleep(1000)]);
        reader.releaseLock();
        const copy = r.clone();
        return {
          copyHeaders: await outcome(async () => { copy.headers.set('x-mine', '1'); return 'changed'; }),
          ownKeys: Reflect.ownKeys(copy).length, texts: [await copy.text(), await r.text()], used: r.bodyUsed,
        };
      },
      // bodyUsed and clone() right after cancel() or a pending read(), before any data moved.
      cloneThenCancel: async () => {
        const r = await fetch(`${SERVER}/bytes?n=300&x=cancel`);
        const copy = r.clone();
        const cancelled = r.body.cancel();
        const used = r.bodyUsed;
        const cloneAfter = await outcome(async () => r.clone().status);
        // The copy is read before the cancel is awaited: a cancelled tee branch's promise may wait for the other
        // branch (WebKit's does, natively).
        const copied = (await copy.text()).length;
        await cancelled;
        return { used, cloneAfter, usedLater: r.bodyUsed, copy: copied };
      },
      pendingRead: async () => {
        const r = await fetch(`${SERVER}/slow?chunks=2&firstDelayMs=300&x=pending`);
        const reader = r.body.getReader();
        const pending = reader.read();
        const used = r.bodyUsed;
        const cloneAfter = await outcome(async () => r.clone().status);
        // How much the first read gets is the network's timing (WebKit splits chunks as they arrive).
        const first = (await pending).value.byteLength > 0;
        await reader.cancel();
        return { used, cloneAfter, first };
      },
      requestInput: async () => {
        const request = new Request(`${SERVER}/echo`, { method: 'POST', body: 'from-request', headers: { 'x-a': '1' } });
        const r = await fetch(request);
        return { text: await r.text(), used: request.bodyUsed, method: r.headers.get('x-echo-method') };
      },
      requestWithInit: async () => {
        const request = new Request(`${SERVER}/echo`, { method: 'POST', body: 'original', headers: { 'x-a': '1' } });
        const headers = new Headers({ 'content-type': 'text/plain', 'x-b': '2' });
        const init = { method: 'PUT', body: 'from-init', headers };
        const r = await fetch(request, init);
        return { text: await r.text(), requestUsed: request.bodyUsed, init: Object.keys(init), headers: [...headers], method: r.headers.get('x-echo-method') };
      },
      streamingUpload: async () => {
        const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('streamed')); c.close(); } });
        return outcome(async () => (await fetch(`${SERVER}/echo`, { method: 'POST', body, duplex: 'half' })).text());
      },
      // Headers in a one-shot iterable, one of them invalid: rejected, as natively.
      invalidHeadersInAGenerator: () => fetch(`${SERVER}/bytes?n=1&x=generator`, { headers: headerGenerator() }),
      // Headers given as an object with a getter: the app's code runs once, as natively.
      getterHeaders: async () => {
        let reads = 0;
        const headers = { get 'x-a'() { reads++; return '1'; } };
        const echoed = await (await fetch(`${SERVER}/trace-echo?id=${id('getter')}`, { headers })).json();
        return { reads, sent: echoed['x-a'] ?? null };
      },
      tupleHeaders: async () => {
        const init = { method: 'POST', body: 'x', headers: [['content-type', 'text/plain'], ['x-c', '3']] };
        const r = await fetch(`${SERVER}/echo`, init);
        return { text: await r.text(), headers: init.headers };
      },
    };
    for (const [name, steps] of Object.entries(cases)) {
      // compileStreaming and `cache.put` read the body natively, past our accessors: their spans end when they
      // settle. A stream taken and never read ends by the idle timeout.
      const spans = await sameAsNative(name, steps, { idleTimeoutMs: 500 });
      check(spans.length >= 1, `${name}: a span`);
      if (name === 'wasm') equal(spans.map((s) => s.endReason), ['completed'], `${name}: completed`);
      if (name.endsWith('ache')) equal(spans.map((s) => s.endReason), ['completed'], `${name}: completed`);
    }
    const endOf = async (url, init) => {
      const { spans, tracer } = traced();
      await fetch(url, init);
      const span = await spanFor(spans, url.slice(SERVER.length));
      await uninstall(tracer);
      return [span.endReason, span.attributes['http.response.status_code'] ?? null];
    };
    equal(await endOf(`${SERVER}/status?code=204&t=1`), ['no-body', 204], '204');
    equal(await endOf(`${SERVER}/status?code=304&t=2`), ['no-body', 304], '304');
    equal(await endOf(`${SERVER}/bytes?n=9&t=3`, { method: 'HEAD' }), ['no-body', 200], 'HEAD');
    equal(await endOf(`${SERVER}/bytes?n=9&t=4`, { mode: 'no-cors' }), ['no-body', null], 'opaque');
    // A response whose body the app took, then cloned before reading: its own body, read as a stream after the
    // clone, is counted.
    const { spans, tracer } = traced();
    const cloned = await fetch(`${SERVER}/bytes?n=300&x=reclone`);
    check(cloned.body, 'a body');
    equal((await cloned.clone().arrayBuffer()).byteLength, 300, 'the clone');
    equal(await readAll(cloned.body), 300, 'the response, read after its clone');
    const span = await spanFor(spans, 'x=reclone');
    equal([span.endReason, span.attributes['fetchspan.response.decoded_size']], ['completed', 300], 'its span');
    await uninstall(tracer);
    // Where fetchspan adds a trace header: the app's own `traceparent` in a one-shot iterable goes out with every
    // header given.
    await sameAsNative('ownTraceparentInAnIterable', async () => {
      const headers = new Map([['traceparent', OWN_TRACEPARENT], ['x-a', '1']]).entries();
      const echoed = await (await fetch(`${SERVER}/trace-echo?id=${id('iterable')}`, { headers })).json();
      return [echoed.traceparent ?? null, echoed['x-a'] ?? null];
    }, { propagateTo: [SERVER] });
    await sameAsNative('invalidHeadersInAGeneratorWithATraceHeader',
      () => fetch(`${SERVER}/bytes?n=1&x=generator-tp`, { headers: headerGenerator() }), { propagateTo: [SERVER] });
    // Untraced and untouched: a call without arguments (natively a rejection), and a `Request` of another realm,
    // which a same-origin trace header would have stripped of its own headers.
    equal(await noSpan('noArguments', () => fetch()), 0, 'no arguments: no span');
    if (globalThis.document) {
      const frame = document.createElement('iframe');
      document.body.append(frame);
      try {
        equal(await noSpan('requestOfAnotherRealm', async () => {
          const request = new frame.contentWindow.Request(`${SERVER}/trace-echo?id=${id('realm')}`, { headers: { 'x-a': '1' } });
          const echoed = await (await fetch(request)).json();
          return [echoed.traceparent ?? null, echoed['x-a'] ?? null];
        }), 0, 'a Request of another realm: no span');
      } finally {
        frame.remove();
      }
    }
  },

  async errorsReachTheAppUnchangedWithTheRightEndReason() {
    const cases = {
      refused: { steps: () => fetch('http://127.0.0.1:9/refused'), end: 'error', part: '/refused' },
      resetMidBody: { steps: async () => (await fetch(`${SERVER}/reset?x=1`)).text(), end: 'error', part: '/reset?x=1' },
      resetMidStream: { steps: async () => readAll((await fetch(`${SERVER}/reset?x=2`)).body), end: 'error', part: '/reset?x=2' },
      abortBeforeHeaders: {
        steps: () => { const c = new AbortController(); setTimeout(() => c.abort(), 100); return fetch(`${SERVER}/hang?x=1`, { signal: c.signal }); },
        end: 'aborted', part: '/hang?x=1', errorType: 'AbortError',
      },
      timeoutBeforeHeaders: {
        steps: () => fetch(`${SERVER}/hang?x=timeout`, { signal: AbortSignal.timeout(100) }),
        end: 'aborted', part: '/hang?x=timeout', errorType: 'TimeoutError',
      },
      abortMidBody: {
        steps: async () => {
          const c = new AbortController();
          const r = await fetch(`${SERVER}/stream?id=${id('abort')}`, { signal: c.signal });
          const reader = r.body.getReader();
          await reader.read();
          c.abort();
          for (;;) {
            if ((await reader.read()).done) throw new Error('the stream closed instead of failing');
          }
        },
        end: 'aborted', part: '/stream?id=abort', midBody: true,
      },
      abortThenText: {
        steps: async () => {
          const c = new AbortController();
          const r = await fetch(`${SERVER}/slow?chunks=20&x=1`, { signal: c.signal });
          c.abort();
          return r.text();
        },
        end: 'aborted', part: '/slow?chunks=20&x=1',
      },
      timeoutMidBody: {
        steps: async () => readAll((await fetch(`${SERVER}/slow?chunks=50&x=2`, { signal: AbortSignal.timeout(300) })).body),
        end: 'aborted', part: '/slow?chunks=50&x=2', errorType: 'TimeoutError', midBody: true,
      },
      // The abort errors the body at once, inside `abort()`: a read pending then rejects with it, even when the app
      // cancels or releases its reader right after (a "Stop" button). (The next chunk is 3 s away. fetchspan learns how the engine fails an aborted body from the first abort it
      // sees, abortMidBody's above: WebKit's error is its own, not the signal's reason.)
      abortThenCancel: {
        steps: async () => {
          const c = new AbortController();
          const reader = (await fetch(`${SERVER}/slow?chunks=3&delayMs=3000&x=ac`, { signal: c.signal })).body.getReader();
          await reader.read();
          const pending = reader.read();
          c.abort();
          const cancelled = await outcome(() => reader.cancel());
          return [await outcome(() => pending), cancelled];
        },
        end: 'aborted', part: '/slow?chunks=3&delayMs=3000&x=ac',
      },
      abortThenReleaseLock: {
        steps: async () => {
          const c = new AbortController();
          const reader = (await fetch(`${SERVER}/slow?chunks=3&delayMs=3000&x=ar`, { signal: c.signal })).body.getReader();
          await reader.read();
          const pending = reader.read();
          c.abort();
          reader.releaseLock();
          return outcome(() => pending);
        },
        end: 'aborted', part: '/slow?chunks=3&delayMs=3000&x=ar',
      },
      // The app cancels, then aborts, in one task: the cancel resolves (the abort finds the body closed).
      cancelThenAbort: {
        steps: async () => {
          const c = new AbortController();
          const reader = (await fetch(`${SERVER}/slow?chunks=3&delayMs=3000&x=ca`, { signal: c.signal })).body.getReader();
          await reader.read();
          const cancelled = reader.cancel();
          c.abort();
          return [await outcome(() => cancelled), await outcome(() => reader.closed)];
        },
        end: 'cancelled', part: '/slow?chunks=3&delayMs=3000&x=ca',
      },
      // The same before any read, as pdf.js cancels a reader it won't use (`disableStream`) and then aborts: before
      // the pump holds the native body (it ended `aborted`).
      cancelUnreadThenAbort: {
        steps: async () => {
          const c = new AbortController();
          const reader = (await fetch(`${SERVER}/slow?chunks=3&delayMs=3000&x=cu`, { signal: c.signal })).body.getReader();
          const cancelled = reader.cancel(new Error('not streaming'));
          c.abort();
          return [await outcome(() => cancelled), await outcome(() => reader.closed)];
        },
        end: 'cancelled', part: '/slow?chunks=3&delayMs=3000&x=cu',
      },
      bodyCancelledThenAbort: {
        steps: async () => {
          const c = new AbortController();
          const response = await fetch(`${SERVER}/slow?chunks=3&delayMs=3000&x=cb`, { signal: c.signal });
          const cancelled = response.body.cancel();
          c.abort();
          return [await outcome(() => cancelled), response.bodyUsed];
        },
        end: 'cancelled', part: '/slow?chunks=3&delayMs=3000&x=cb',
      },
      // WPT fetch/api/abort "Stream will not error if body is empty": an empty body has closed before the abort,
      // and the app locks it in the abort's task, before fetchspan's pump holds it. (WebKit closes an empty body a
      // little after the response: 300 ms, so that its native run closes too, which `premise` checks. The span ends
      // aborted all the same: README, Known differences.)
      emptyBodyLockedThenAbort: {
        steps: async () => {
          const c = new AbortController();
          const response = await fetch(`${SERVER}/bytes?n=0&x=empty-abort`, { signal: c.signal });
          await sleep(300);
          const reader = response.body.getReader();
          c.abort();
          return [await outcome(() => reader.read()), await outcome(() => reader.closed)];
        },
        end: 'aborted', part: '/bytes?n=0&x=empty-abort',
        // (Firefox closes a body only once it is read past its end: natively, the abort fails this one.)
        premise: ENGINE === 'firefox' ? undefined : { ok: [{ ok: { done: true } }, { ok: undefined }] },
      },
      // A stream the app locked (and the pump took the native body for), released unread, then the response cloned
      // (the native body goes back, the clone is native) and its new body taken: an abort ends the span at once.
      abortAfterCloneOfAReleasedStream: {
        steps: async () => {
          const c = new AbortController();
          const r = await fetch(`${SERVER}/slow?chunks=3&delayMs=3000&x=cr`, { signal: c.signal });
          const reader = r.body.getReader();
          await sleep(0);
          reader.releaseLock();
          const copy = r.clone();
          const body = r.body;
          c.abort();
          return [await outcome(() => copy.text()), await outcome(() => body.getReader().read())];
        },
        end: 'aborted', part: '/slow?chunks=3&delayMs=3000&x=cr',
      },
      alreadyAborted: { steps: () => fetch(`${SERVER}/bytes?n=1&x=9`, { signal: AbortSignal.abort() }), end: 'aborted', part: '/bytes?n=1&x=9',
        errorType: 'AbortError' },
      badUrl: { steps: () => fetch('http://[bad'), end: 'error', part: 'http://[bad' },
      // WPT error-after-response: headers, then the connection fails before any body byte; the app holds a reader
      // but never reads. (Once a chunk is in flight to an app that never reads, pipeTo waits for that write before
      // it propagates the failure: a documented difference.)
      readerClosedAfterLateError: {
        steps: async () => {
          const reader = (await fetch(`${SERVER}/reset?x=3&chunks=0`)).body.getReader();
          return reader.closed;
        },
        end: 'error', part: '/reset?x=3',
      },
    };
    for (const [name, { steps, end: expected, part, premise, errorType, midBody }] of Object.entries(cases)) {
      // WebKit ends a body cut off by a connection reset as complete (text() resolves with what arrived, an idle
      // reader's `closed` resolves): the span then says completed, as the app saw it.
      const cutOff = name.startsWith('resetMid') || name === 'readerClosedAfterLateError';
      const nativeOutcome = cutOff || premise ? await outcome(steps) : null;
      // What the case is about, as the engine does it natively.
      if (premise) equal(nativeOutcome, premise, `${name}: natively`);
      const end = cutOff && 'ok' in nativeOutcome ? 'completed' : expected;
      const spans = await sameAsNative(name, steps);
      const span = spans.find((s) => s.attributes['url.full'].includes(part));
      check(span, `${name}: no span for ${part} among ${JSON.stringify(spans.map((s) => s.attributes['url.full']))}`);
      equal(span.endReason, end, `${name}: endReason`);
      // Cut short in the body, not before the response (which would end the same way): the response and some of
      // its body arrived.
      if (midBody) {
        equal(span.attributes['http.response.status_code'], 200, `${name}: the response arrived`);
        check(span.attributes['fetchspan.response.decoded_size'] > 0, `${name}: body bytes before the abort: ${span.attributes['fetchspan.response.decoded_size']}`);
      }
      // An abort is an error (the HTTP conventions' request cut short) before the response, or by a timeout; an
      // abort of a body the app no longer wants is not, as its cancel is not.
      if (end === 'error' || errorType) {
        equal(span.status, 'error', `${name}: status`);
        if (errorType) equal(span.attributes['error.type'], errorType, `${name}: error.type`);
        else check(span.attributes['error.type'], `${name}: error.type`);
      } else {
        equal([span.status, span.attributes['error.type']], ['unset', undefined], `${name}: not an error`);
      }
    }
    // `json()` of a body that is not JSON: the request completed; only the app's parse failed.
    const notJson = await sameAsNative('not JSON', () => fetch(`${SERVER}/bytes?n=3&x=notjson`).then((r) => r.json()));
    equal([notJson[0].endReason, notJson[0].status], ['completed', 'unset'], 'not JSON: the span');
    const notFound = await sameAsNative('404', () => fetch(`${SERVER}/status?code=404&x=1`).then((r) => r.text()));
    equal([notFound[0].status, notFound[0].attributes['error.type']], ['error', '404'], '404 span');
    // A signal made from AbortSignal's prototype, which the native call refuses (WebKit ignores it): a promise
    // (never a throw) that settles as natively, and the span ends (with our header on: a resend looks at the
    // signal too).
    const fake = () => fetch(`${SERVER}/bytes?n=1&x=fake-signal`, { signal: Object.create(AbortSignal.prototype) });
    const nativeFake = await outcome(() => fake().then((r) => r.text()));
    const { tracer, spans } = traced({ propagateTo: [SERVER] });
    let returned;
    try {
      returned = fake();
    } catch (error) {
      returned = error;
    }
    check(returned instanceof Promise, `a fake signal: fetch returned a promise, not ${returned}`);
    equal(await outcome(() => returned.then((r) => r.text())), nativeFake, 'a fake signal: as natively');
    equal((await spanFor(spans, 'x=fake-signal')).endReason, 'error' in nativeFake ? 'error' : 'completed', 'a fake signal: the span');
    equal([tracer.stats().open, tracer.stats().passthroughFailures], [0, 0], 'a fake signal: open spans, failures');
    await uninstall(tracer);
  },

  async alreadyAbortedSignalIsAnsweredByTheNativePromise() {
    const order = async () => {
      const events = [];
      const pending = fetch(`${SERVER}/bytes?n=1`, { signal: AbortSignal.abort() });
      pending.catch(() => events.push('rejected'));
      Promise.resolve().then(() => events.push('tick1')).then(() => events.push('tick2')).then(() => events.push('tick3'));
      await sleep(50);
      return events;
    };
    const native = await order();
    const { tracer } = traced();
    equal(await order(), native, 'microtask order of the rejection');
    await uninstall(tracer);
    // With a trace header to add (whose request could be resent without it after a TypeError, never after an abort).
    traced({ propagateTo: [SERVER] });
    equal(await order(), native, 'microtask order of the rejection, with a trace header');
  },

  async unhandledFetchFailuresStillReachThePage() {
    const unhandled = async () => {
      let count = 0;
      const listener = (event) => {
        if (event.reason instanceof TypeError || event.reason instanceof SyntaxError) {
          count++;
          event.preventDefault();
        }
      };
      globalThis.addEventListener('unhandledrejection', listener);
      fetch('http://127.0.0.1:9/nobody-handles-this');
      fetch(`${SERVER}/bytes?n=3`).then((response) => { response.json(); });
      await sleep(500);
      globalThis.removeEventListener('unhandledrejection', listener);
      return count;
    };
    const native = await unhandled();
    check(native >= 1, 'natively, an unhandled fetch failure fires unhandledrejection');
    traced();
    equal(await unhandled(), native, 'unhandledrejection events with fetchspan');
  },

  async noPerRequestLeak() {
    const { tracer } = traced();
    // 16 at a time, a third read as a stream, a third with text(), a third with text() after a look at `body`; a GC every 1,000 lets finalizers run, so the
    // high-water mark measures what accumulates, not how late the collector happens to run.
    const requests = async (count, signal, sample) => {
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const n = next++;
          if (n % 1000 === 0) await collect();
          const r = await fetch(`${SERVER}/bytes?n=16`, signal ? { signal } : undefined);
          sample?.(r, n);
          if (n % 3 === 0) await readAll(r.body);
          else if (n % 3 === 1) await r.text();
          // The body only looked at, then read whole: what Rust keeps of it must not hold the response.
          else if (r.body) await r.text();
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    };
    const settle = async () => {
      await until(() => tracer.stats().open === 0, 'every span ended', 10_000);
      for (let i = 0; i < 3; i++) {
        await collect();
        await sleep(50);
      }
    };
    // Warm-up: spans are freed when the collector finalizes their handles, so the allocator's high-water mark
    // settles only after a while (measured: one 64 KiB page within the first 20,000, then flat for 40,000 more).
    await requests(20_000);
    await settle();
    // The positive control of the live-heap check below: 200 responses kept unread keep their spans open, and what
    // each holds in the wasm heap shows; read, they end and give it back.
    // Measured both ways, opening and ending them, and the larger taken: where the collector runs when it chooses
    // (Firefox, WebKit), it may free earlier requests' handles meanwhile, which hides part of one of the two (WebKit
    // once measured 104 bytes a span opening them, where Chromium, with `gc()`, measures 648 both ways).
    const beforeKept = liveHeap();
    const kept = [];
    for (let i = 0; i < 200; i++) kept.push(await fetch(`${SERVER}/bytes?n=16`));
    const withKept = liveHeap();
    await Promise.all(kept.splice(0).map((response) => response.text()));
    const perSpan = Math.max(withKept - beforeKept, withKept - liveHeap()) / 200;
    check(perSpan >= 100, `200 open spans hold ${perSpan} bytes each of the live heap`);
    await settle();
    const warm = wasmMemory.buffer.byteLength;
    const warmLive = liveHeap();
    // Every 100th response is watched for collection: nothing of fetchspan's may hold a response once its span
    // ended (a leak the wasm memory would not show: the response lives in the JS heap). This check can't pass
    // wrongly: a response something still holds is never finalized, and a collection that didn't happen leaves them
    // all uncollected. With fetchspan changed by hand to keep every response, Chromium saw none collected (0 of 180).
    // Counted per way of reading (`n % 3`, as `requests` reads), so that a leak on one of them shows.
    const collected = [0, 0, 0];
    const watchedOf = [0, 0, 0];
    const watched = new FinalizationRegistry((n) => { collected[n % 3]++; });
    await requests(20_000, undefined, (response, n) => {
      if (n % 100 !== 0) return;
      watched.register(response, n);
      watchedOf[n % 3]++;
    });
    await settle();
    // Firefox and WebKit collect by allocation pressure (`collect`), WebKit conservatively: some may stay.
    const least = globalThis.gc ? 0.9 : 0.5;
    console.log(`${ENGINE}: responses collected, per way of reading: ${collected.join(', ')} of ${watchedOf.join(', ')}`);
    ['as a stream', 'with text()', 'with text() after a look at body'].forEach((way, path) => {
      check(collected[path] >= watchedOf[path] * least,
        `responses read ${way} collected once their spans ended: ${collected[path]} of ${watchedOf[path]} (at least ${least * 100}%)`);
    });
    equal(tracer.stats().open, 0, 'open spans after 20,000 requests');
    equal(tracer.stats().passthroughFailures, 0, 'failures');
    // With gc() (Chromium) the wasm memory must not grow at all. Firefox and WebKit free the handles wasm-bindgen
    // gives JS (one per request) only when their collector gets to them, so there the high-water mark may move a
    // few pages while finalizers lag; a span kept per request would still show: 20,000 spans are over 3 MiB.
    const allowed = globalThis.gc ? 0 : 1 << 20;
    check(wasmMemory.buffer.byteLength - warm <= allowed, `wasm memory grew from ${warm} to ${wasmMemory.buffer.byteLength} bytes over 20,000 requests (allowed ${allowed})`);
    // What the heap has live, which a leak can't hide in free space: back where it was, but for the spans whose
    // handles the collector has not finalized yet (Firefox and WebKit collect when they choose to).
    const liveGrowth = liveHeap() - warmLive;
    console.log(`${ENGINE}: live heap ${warmLive} bytes warm, ${liveGrowth} more after 20,000 requests; an open span holds ${perSpan}`);
    check(liveGrowth <= (globalThis.gc ? 20 : 500) * perSpan, `the live heap grew by ${liveGrowth} bytes over 20,000 requests (${(liveGrowth / perSpan).toFixed(0)} open spans' worth)`);

    // fetchspan listens on a signal that follows the request's (`AbortSignal.any`): every abort listener on any
    // signal is counted.
    const controller = new AbortController();
    const signal = controller.signal;
    const listeners = listenerCounter([AbortSignal.prototype]);
    // Then under a page's polyfill of `AbortSignal.any` (for engines before it) of the usual kind, which leaves a
    // listener on each source signal until that aborts: fetchspan never calls it (it takes the engine's own when it
    // loads, or none), so the long-lived signal keeps no listener per request.
    const pageAny = Object.getOwnPropertyDescriptor(AbortSignal, 'any');
    let anyCalls = 0;
    let afterPolyfill;
    try {
      await requests(10_000, signal);
      await settle();
      Object.defineProperty(AbortSignal, 'any', { configurable: true, writable: true, value: function any(signals) {
        anyCalls++;
        const dependent = new AbortController();
        for (const source of signals) source.addEventListener('abort', () => dependent.abort(source.reason));
        return dependent.signal;
      } });
      afterPolyfill = listeners.live();
      await requests(2_000, signal);
      await settle();
    } finally {
      if (pageAny) Object.defineProperty(AbortSignal, 'any', pageAny);
      else delete AbortSignal.any;
      listeners.restore();
    }
    const peak = listeners.peak();
    equal(afterPolyfill, 0, 'abort listeners left after 10,000 requests on a long-lived signal');
    equal([listeners.live(), anyCalls], [0, 0], 'abort listeners left, and calls of a page\'s AbortSignal.any, after 2,000 more requests under the polyfill');
    check(peak <= 16, `at most one listener per request in flight (peak ${peak})`);
    // The positive control: the counter saw the listeners it is meant to catch.
    check(peak >= 1, `the listener counter saw no listener while requests were in flight (peak ${peak})`);
  },

  async abandonedBodiesEndByIdleTimeoutAndByCollection() {
    const { spans, tracer } = traced({ idleTimeoutMs: 300 });
    const streamId = id('idle');
    const response = await fetch(`${SERVER}/stream?id=${streamId}`);
    const reader = response.body.getReader();
    await reader.read();
    const lastRead = performance.timeOrigin + performance.now();
    const span = await spanFor(spans, streamId, 3000);
    equal(span.endReason, 'abandoned', 'a stream left unread');
    // It ends where the app stopped pulling, not when the idle timeout noticed, 300 ms later.
    check(span.endTime <= lastRead + 50, `the abandoned stream's end (${span.endTime}) is its last read (${lastRead})`);
    reader.cancel();
    const slow = await fetch(`${SERVER}/slow?chunks=8&delayMs=100&x=idle`);
    equal((await readAll(slow.body)), 8 * 1024, 'a slow but active body');
    equal((await spanFor(spans, 'x=idle')).endReason, 'completed', 'activity keeps a body from being abandoned');
    await uninstall(tracer);

    const long = traced({ idleTimeoutMs: 600_000 });
    await (async () => { await fetch(`${SERVER}/bytes?n=1000&x=dropped`); })();
    for (let i = 0; i < 20 && long.spans.length === 0; i++) {
      await collect();
      await sleep(50);
    }
    const dropped = await spanFor(long.spans, 'x=dropped', 3000);
    equal(dropped.endReason, 'abandoned', 'a response dropped unread');
    // It ends where the response arrived (its last event), not when the collector found it.
    equal(dropped.endTime, dropped.events.find((e) => e.name === 'fetchspan.response.headers').time, 'the dropped response\'s end');
    await uninstall(long.tracer);
    // A stream taken, then dropped with its response, unread: the engine keeps an unread network body (and so our
    // pump) alive, so this span ends by the idle timeout, as abandoned.
    const short = traced({ idleTimeoutMs: 300 });
    await (async () => {
      (await fetch(`${SERVER}/bytes?n=10&x=dropped-stream`)).body.getReader();
    })();
    await collect();
    equal((await spanFor(short.spans, 'x=dropped-stream', 3000)).endReason, 'abandoned', 'a stream dropped unread');
    equal(short.tracer.stats().open, 0, 'open after the idle timeout');
  },

  async installAndUninstallRestoreEverything() {
    const names = ['body', 'bodyUsed', 'clone', 'arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text'];
    const snapshot = () => ({
      fetch: globalThis.fetch,
      Request: globalThis.Request,
      descriptors: [
        ...names.map((n) => Object.getOwnPropertyDescriptor(Response.prototype, n)),
        Object.getOwnPropertyDescriptor(globalThis, 'Request'),
        Object.getOwnPropertyDescriptor(Request.prototype, 'clone'),
        Object.getOwnPropertyDescriptor(Request.prototype, 'constructor'),
        Object.getOwnPropertyDescriptor(Cache.prototype, 'put'),
        Object.getOwnPropertyDescriptor(WebAssembly, 'compileStreaming'),
        Object.getOwnPropertyDescriptor(WebAssembly, 'instantiateStreaming'),
      ],
    });
    const same = (a, b) => a.fetch === b.fetch && a.Request === b.Request && a.descriptors.every((d, i) =>
      ['get', 'set', 'value', 'writable', 'enumerable', 'configurable'].every((k) => d[k] === b.descriptors[i][k]));
    const before = snapshot();
    // What a page can see of the functions we stand in for: their `name`, `length`, `prototype` and whether `new`
    // takes them (asked of `Reflect.construct` with the function as `new.target`, which calls nothing of it) stay
    // the native ones.
    const constructible = (f) => {
      try {
        Reflect.construct(Object, [], f);
        return true;
      } catch (_) {
        return false;
      }
    };
    const signatures = ({ fetch, Request, descriptors }) => [fetch, Request, ...descriptors.map((d) => d.get ?? d.value)]
      .map((f) => (typeof f === 'function' ? [f.name, f.length, 'prototype' in f, constructible(f)] : null));
    const cycle = async () => {
      const { tracer } = traced();
      check(globalThis.fetch !== before.fetch && globalThis.Request !== before.Request, 'installed');
      equal(signatures(snapshot()), signatures(before), 'name, length, prototype and constructibility of what is patched');
      await uninstall(tracer);
    };
    const cycles = async (count) => {
      for (let i = 0; i < count; i++) {
        if (i % 100 === 0) {
          await collect();
          await sleep(10);
        }
        await cycle();
      }
      await collect();
      await sleep(50);
    };
    await cycles(1000);
    const warm = wasmMemory.buffer.byteLength;
    // The positive control of the live-heap check: an installation shows in it.
    const uninstalled = liveHeap();
    const probe = traced();
    const perInstall = liveHeap() - uninstalled;
    await uninstall(probe.tracer);
    check(perInstall >= 100, `an installation holds ${perInstall} bytes of the live heap`);
    await cycles(10);
    const warmLive = liveHeap();
    await cycles(1000);
    check(same(snapshot(), before), 'fetch, Request, Response.prototype, Cache.prototype.put and WebAssembly\'s streaming compiles restored exactly');
    // The memory's size is a high-water mark: the heap peaks with the 100 `Tracer` handles left between two
    // collections (about 150 KB), and where that peak lands is up to the allocator, so a page of it may be new.
    // 1,000 installations kept would be 1,000 times `perInstall`, far more.
    const grown = wasmMemory.buffer.byteLength - warm;
    check(grown <= 65536 && grown < 1000 * perInstall, `wasm memory grew by ${grown} bytes over 1,000 install/uninstall cycles`);
    // Back where it was, but for the `Tracer` handles the collector has not finalized yet (Firefox and WebKit collect
    // when they choose to): 1,000 installations kept would be 1,000 times `perInstall`.
    const liveGrowth = liveHeap() - warmLive;
    console.log(`${ENGINE}: live heap ${liveGrowth} bytes more after 1,000 install/uninstall cycles; an installation holds ${perInstall}`);
    check(liveGrowth <= (globalThis.gc ? 0 : 10) * perInstall, `the live heap grew by ${liveGrowth} bytes over 1,000 install/uninstall cycles`);

    // The idle watch's timer, armed by a stream, is gone once uninstall returns (timers counted by wrapping the
    // page's setTimeout and clearTimeout, which the wasm calls).
    const timers = new Map();
    const { setTimeout: nativeSetTimeout, clearTimeout: nativeClearTimeout } = globalThis;
    globalThis.setTimeout = function setTimeout(callback, ms, ...rest) {
      const timer = nativeSetTimeout.call(this, (...args) => { timers.delete(timer); callback(...args); }, ms, ...rest);
      timers.set(timer, ms);
      return timer;
    };
    globalThis.clearTimeout = function clearTimeout(timer) {
      timers.delete(timer);
      nativeClearTimeout.call(this, timer);
    };
    try {
      const idleTimers = () => [...timers.values()].filter((ms) => ms === 123_456).length;
      const { tracer } = traced({ idleTimeoutMs: 123_456 });
      equal(await readAll((await fetch(`${SERVER}/bytes?n=10&x=timer`)).body), 10, 'a stream read to its end');
      equal(idleTimers(), 1, 'the idle timer, armed by the stream (the check sees it)');
      await uninstall(tracer);
      equal(idleTimers(), 0, 'the idle timer after uninstall');
    } finally {
      globalThis.setTimeout = nativeSetTimeout;
      globalThis.clearTimeout = nativeClearTimeout;
    }

    // A wrapper installed before us is what uninstall restores.
    const calls = [];
    const outer = function fetch(...args) { calls.push('before'); return before.fetch.apply(this, args); };
    globalThis.fetch = outer;
    const first = traced();
    await (await fetch(`${SERVER}/bytes?n=3&x=before`)).text();
    equal(calls, ['before'], 'the earlier wrapper still runs');
    await spanFor(first.spans, 'x=before');
    await uninstall(first.tracer);
    check(globalThis.fetch === outer, 'uninstall restores the earlier wrapper');

    // A wrapper installed after us survives our uninstall; ours becomes a pass-through.
    const second = traced();
    const ours = globalThis.fetch;
    const later = function fetch(...args) { calls.push('after'); return ours.apply(this, args); };
    globalThis.fetch = later;
    const inFlight = await fetch(`${SERVER}/slow?chunks=3&x=inflight`);
    await uninstall(second.tracer);
    check(globalThis.fetch === later, 'uninstall leaves a later wrapper in place');
    equal(await readAll(inFlight.body), 3 * 1024, 'a body in flight at uninstall still reads');
    await (await fetch(`${SERVER}/bytes?n=3&x=passthrough`)).text();
    check(!second.spans.some((s) => s.attributes['url.full'].includes('passthrough')), 'no span after uninstall');
    equal(second.tracer.stats().started, 1, 'spans started before uninstall only');
    equal((await spanFor(second.spans, 'x=inflight')).endReason, 'completed', 'a span in flight at uninstall still ends');
    globalThis.fetch = before.fetch;

    // An unread response the app keeps across install → uninstall → install → uninstall: the prototype stays
    // patched while its span is open (the positive control); once no install is left, the span of a response still
    // unread ends `abandoned` within the idle timeout, and then nothing of fetchspan is left.
    const third = traced({ idleTimeoutMs: 300 });
    const kept = await fetch(`${SERVER}/bytes?n=5&x=kept`);
    await uninstall(third.tracer);
    const fourth = traced({ idleTimeoutMs: 300 });
    // (Past twice the idle timeout of the first uninstall, the most its sweep takes to end an unread response: the
    // install in place leaves the kept response's span open.)
    await sleep(1000);
    await (await fetch(`${SERVER}/bytes?n=2&x=fourth`)).text();
    await spanFor(fourth.spans, 'x=fourth');
    check(!third.spans.some((s) => s.attributes['url.full'].includes('x=kept')), 'the kept response\'s span stays open while installed');
    await uninstall(fourth.tracer);
    const uninstalledAt = performance.now();
    check(globalThis.fetch === before.fetch, 'fetch restored with an unread response alive');
    check(!same(snapshot(), before), 'Response.prototype stays patched while the kept response\'s span is open');
    const keptSpan = await spanFor(third.spans, 'x=kept', 3000);
    const endedAfter = performance.now() - uninstalledAt;
    check(endedAfter < 1500, `the kept response's span ended ${endedAfter.toFixed(0)} ms after the last uninstall (idle timeout 300 ms)`);
    equal([keptSpan.endReason, keptSpan.attributes['fetchspan.response.decoded_size']], ['abandoned', undefined],
      'its span ends abandoned within the idle timeout after the last uninstall');
    check(same(snapshot(), before), 'fetch and Response.prototype restored once its span ended');
    equal(await kept.text(), 'abcde', 'the kept response reads, natively');

    // A page that makes restoring `fetch` fail (a frozen global would): uninstall still returns its promise, the
    // failure is counted, and the rest is restored.
    const fifth = traced();
    const define = Object.defineProperty;
    Object.defineProperty = function defineProperty(target, key, descriptor) {
      if (target === globalThis && key === 'fetch') throw new TypeError('the page froze fetch');
      return define.call(this, target, key, descriptor);
    };
    let returned;
    try {
      returned = await outcome(() => uninstall(fifth.tracer));
    } finally {
      Object.defineProperty = define;
    }
    equal([returned, fifth.tracer.stats().passthroughFailures], [{ ok: undefined }, 1], 'uninstall when fetch cannot be restored');
    globalThis.fetch = before.fetch;
    check(same(snapshot(), before), 'Request and Response.prototype restored all the same');

    // What the app keeps of traced requests once their spans ended (a response read whole, a stream it stopped
    // reading, abandoned by the idle timer), and the `fetch` a library took while installed, hold nothing of the installation once it is uninstalled: its
    // `onSpanEnd` is collected. The control: the same steps with the installation still in place keep it. (Where
    // the page can force a collection: elsewhere one that didn't happen can't be told from a leak.)
    const hookKept = async (uninstalled) => {
      let collected = false;
      const registry = new FinalizationRegistry(() => { collected = true; });
      let tracer;
      const held = await (async () => {
        const onSpanEnd = () => {};
        registry.register(onSpanEnd, 0);
        tracer = installNow({ onSpanEnd, idleTimeoutMs: 300 });
        open.push(tracer);
        const response = await fetch(`${SERVER}/bytes?n=10&x=held-${uninstalled}`);
        await response.text();
        const reader = (await fetch(`${SERVER}/stream?id=${id('held')}`)).body.getReader();
        await reader.read();
        await until(() => tracer.stats().open === 0, 'the stream abandoned by the idle timer', 5000);
        // A library that took `fetch` while fetchspan was installed (or a wrapper put on over it).
        const libraryFetch = globalThis.fetch;
        if (uninstalled) {
          await uninstall(tracer);
          tracer = null;
        }
        return { response, reader, libraryFetch };
      })();
      for (let i = 0; i < 6 && !collected; i++) {
        await collect();
        await sleep(50);
      }
      await held.reader.cancel();
      const { libraryFetch } = held;
      equal(await (await libraryFetch(`${SERVER}/bytes?n=3&x=library`)).text(), 'abc', 'the kept fetch works');
      if (tracer) await uninstall(tracer);
      return !collected;
    };
    if (globalThis.gc) {
      equal([await hookKept(false), await hookKept(true)], [true, false],
        'onSpanEnd kept while installed (the control), and after uninstall by a response, a stream and the fetch the app keeps');
    }
  },

  async badOptionsAndDoubleInstallRejectAndPatchNothing() {
    const before = globalThis.fetch;
    const beforeRequest = globalThis.Request;
    const rejects = (options, pattern) => {
      let error;
      try {
        const tracer = installNow(options);
        open.push(tracer);
      } catch (e) {
        error = e;
      }
      check(error, `install(${JSON.stringify(options)}) should fail`);
      check(pattern.test(error.message), `message "${error.message}" should match ${pattern}`);
      check(globalThis.fetch === before && globalThis.Request === beforeRequest
        && Request.prototype.constructor === beforeRequest, 'nothing patched after a rejected install');
    };
    rejects({ colour: 'red' }, /unknown option "colour"/);
    rejects({ idleTimeoutMs: 'soon' }, /option "idleTimeoutMs" must be .*got "soon"/);
    rejects({ onSpanEnd: 3 }, /option "onSpanEnd" must be a function, got 3/);
    rejects({ ignoreUrls: [4] }, /option "ignoreUrls\[0\]"/);
    rejects({ endpoint: 'ftp://x' }, /option "endpoint" must be an absolute http\(s\) URL/);
    rejects({ maxQueueSize: 10, maxExportBatchSize: 20 }, /maxExportBatchSize/);
    // Shown up to its first space or colon: a header line given as a name ("Authorization: Bearer …") holds a value.
    rejects({ headers: { 'bad name': 'x' } }, /invalid header name "bad…"/);
    rejects({ headers: { 'bad(name)': 'x' } }, /invalid header name "bad\(name\)"/);
    rejects({ headers: { 'x-key': ['secret'] } }, /^fetchspan: option "headers.x-key" must be a string$/);
    rejects({ headers: { 'x-key': 'secret\nx' } }, /^fetchspan: option "headers.x-key" must be a valid header value \(Latin-1 text without line breaks\)$/);
    rejects({ endpoint: 'https://user:secret@collector.example' }, /^fetchspan: option "endpoint" must not carry a user name or password \(fetch refuses such a URL\); send credentials with the "headers" option$/);
    rejects('fast', /takes an options object, got "fast"/);
    rejects({ propagateTo: ['api.example.com'] }, /option "propagateTo\[0\]" must be an absolute http\(s\) URL prefix/);
    rejects({ propagateTo: 'https://a.example' }, /option "propagateTo" must be an array/);
    rejects({ sampleRate: 1.5 }, /option "sampleRate" must be a number between 0 and 1, got 1.5/);
    rejects({ tracestate: 'Bad Key=1' }, /option "tracestate" must be a W3C tracestate/);
    rejects({ tracestate: '1vendor=x' }, /option "tracestate" must be a W3C tracestate/);
    rejects({ ignoreUrls: ['//[bad'] }, /option "ignoreUrls\[0\]" must be a URL prefix, absolute or relative to the page, or a RegExp, got "\/\/\[bad"/);
    rejects({ redactQueryParams: ['token', ''] }, /option "redactQueryParams\[1\]" must be a non-empty string/);
    rejects({ captureHeaders: { request: ['x-a', 'Authorization'] } }, /option "captureHeaders.request\[1\]" names the sensitive header "Authorization": set captureSensitiveHeaders: true/);
    rejects({ captureHeaders: { body: [] } }, /option "captureHeaders" must be an object/);
    rejects({ requestAttributes: {} }, /option "requestAttributes" must be a function/);
    rejects({ maxAttributeLength: 8 }, /option "maxAttributeLength" must be a whole number of bytes from 16 to 65536, got 8/);
    // Patterns that could never match: a host without a scheme (a path of the page), a host and port (a scheme),
    // a wildcard (matched as written).
    rejects({ ignoreUrls: ['/health', 'analytics.example.com'] }, /option "ignoreUrls\[1\]" must be a URL prefix, absolute with its scheme .*got "analytics.example.com"/);
    rejects({ ignoreUrls: ['localhost:3000'] }, /option "ignoreUrls\[0\]" must be a URL prefix, absolute with its scheme/);
    rejects({ ignoreUrls: ['https://*.example.com'] }, /option "ignoreUrls\[0\]" must be a URL prefix without "\*"/);
    rejects({ propagateTo: ['https://*.example.com'] }, /option "propagateTo\[0\]" must be a URL prefix without "\*"/);
    // What fetchspan sets itself, or what the collector would refuse.
    rejects({ resource: { 'service.name': 'shop' } }, /option "resource" must not set "service.name": use the serviceName option/);
    rejects({ resource: { 'telemetry.sdk.name': 'x' } }, /option "resource" must not set "telemetry.sdk.name"/);
    rejects({ resource: { '': 'x' } }, /option "resource" must not set an empty key/);
    rejects({ endpoint: 'http://127.0.0.1:1', headers: { 'Content-Type': 'text/plain' } }, /option "headers.content-type" must be application\/json/);
    // The default batch size (512) follows a smaller queue; a simple tracestate key of 256 characters is valid;
    // null-prototype objects are options bags like any other.
    const bare = (fields) => Object.assign(Object.create(null), fields);
    const small = traced(bare({ maxQueueSize: 100, endpoint: collector(id('small-queue')), tracestate: `${'k'.repeat(256)}=v`,
      resource: bare({ 'deployment.environment': 'test' }), captureHeaders: bare({ response: ['content-type'] }) }));
    // So are an iframe's objects, functions and RegExps.
    if (globalThis.document?.body) {
      await uninstall(small.tracer);
      const frame = document.body.appendChild(document.createElement('iframe'));
      try {
        traced(frame.contentWindow.eval('({ onSpanEnd: () => {}, ignoreUrls: [/never/], redactQueryParams: ["token"] })'));
      } finally {
        frame.remove();
      }
    }
    const patched = globalThis.fetch;
    let error;
    try { installNow({}); } catch (e) { error = e; }
    check(error && /already installed/.test(error.message), 'a second install is refused clearly');
    check(globalThis.fetch === patched, 'the second install changed nothing');
  },

  async failuresOfOursLeaveRequestsWorking() {
    const { tracer } = traced({ onSpanEnd: () => { throw new Error('hook broke'); } });
    equal(await (await fetch(`${SERVER}/bytes?n=12`)).text(), 'abcdefghijkl', 'body with a throwing hook');
    await until(() => tracer.stats().ended === 1, 'the span ended');
    equal([tracer.stats().hookFailures, tracer.stats().passthroughFailures], [1, 0], 'a throwing hook is counted as the hook\'s failure');

    // Page code patched over `Headers.prototype.get` after the response came never runs on a `body` read: the body
    // is read as natively (fetchspan reads the content type with the native getters).
    const r = await fetch(`${SERVER}/bytes?n=5&x=patched-get`);
    const nativeGet = Headers.prototype.get;
    let calls = 0;
    Headers.prototype.get = function get() { calls++; throw new Error('a page patched Headers.prototype.get'); };
    let read;
    try {
      read = await outcome(() => readAll(r.body));
    } finally {
      Headers.prototype.get = nativeGet;
    }
    equal([read, calls], [{ ok: 5 }, 0], 'the body read with Headers.prototype.get patched over');
  },

  async aPanicLeavesTheRequestWorkingAndDoesNotPoisonLaterOnes() {
    const { spans, tracer } = traced();
    equal(await (await fetch(`${SERVER}/bytes?n=5&__fetchspan_panic__`)).text(), 'abcde', 'the request that panicked');
    equal(tracer.stats().passthroughFailures, 1, 'the panic is counted');
    for (let i = 0; i < 3; i++) {
      equal(await (await fetch(`${SERVER}/bytes?n=4&after=${i}`)).text(), 'abcd', 'a request after the panic');
      equal((await spanFor(spans, `after=${i}`)).endReason, 'completed', 'later requests are instrumented');
    }
  },

  async traceparentGoesOnlyWhereItMayAndCarriesTheSpansIds() {
    // SERVER is cross-origin to the test page; `localhost` names the same server as another origin.
    const other = SERVER.replace('127.0.0.1', 'localhost');
    const sent = async (url, tag) => {
      const echoed = await (await fetch(`${url}/trace-echo?id=${tag}`)).json();
      const log = await (await raw(`${SERVER}/trace-log?id=${tag}`)).json();
      return { traceparent: echoed.traceparent, tracestate: echoed.tracestate, methods: log.map((e) => e.method) };
    };
    let { spans, tracer } = traced({ propagateTo: [SERVER, /never-matches/], tracestate: 'fetchspan=test' });
    const matched = id('tp');
    const got = await sent(SERVER, matched);
    const span = await spanFor(spans, matched);
    equal(got.traceparent, `00-${span.traceId}-${span.spanId}-01`, 'the traceparent sent carries the span\'s ids');
    equal(got.tracestate, 'fetchspan=test', 'tracestate sent');
    check(got.methods.includes('OPTIONS'), `a cross-origin traceparent is preflighted (server saw ${got.methods})`);
    const unmatched = id('tp-other');
    equal(await sent(other, unmatched), { methods: ['GET'] }, 'another origin: no header and no preflight');
    await spanFor(spans, unmatched);
    await uninstall(tracer);
    // String prefixes end at a boundary.
    for (const prefix of [SERVER.slice(0, -1), `${SERVER}/trace`, `${SERVER}/trace-echo?id=x`]) {
      ({ spans, tracer } = traced({ propagateTo: [prefix] }));
      const tag = id('tp-prefix');
      equal(await sent(SERVER, tag), { methods: ['GET'] }, `propagateTo ${prefix} does not match ${SERVER}/trace-echo`);
      await uninstall(tracer);
    }
    ({ spans, tracer } = traced({ propagateTo: [`${SERVER}/trace-echo`] }));
    check((await sent(SERVER, id('tp-bounded'))).traceparent, 'a prefix ending at "?" matches');
    await uninstall(tracer);
    // A RegExp matches anywhere in the URL.
    ({ spans, tracer } = traced({ propagateTo: [/echo\?id=tp-re-/] }));
    const re = id('tp-re');
    const reGot = await sent(SERVER, re);
    const reSpan = await spanFor(spans, re);
    equal(reGot.traceparent, `00-${reSpan.traceId}-${reSpan.spanId}-01`, 'a RegExp that matches');
    equal(await sent(SERVER, id('tp-no-re')), { methods: ['GET'] }, 'and not where it does not');
    await uninstall(tracer);
    // ignoreUrls: no span and no header; sampleRate 0: a header flagged 00 and no span.
    ({ spans, tracer } = traced({ propagateTo: [SERVER], ignoreUrls: [/tp-ignored/] }));
    equal(await sent(SERVER, id('tp-ignored')), { methods: ['GET'] }, 'an ignored URL gets no header');
    equal(tracer.stats().started, 0, 'and no span');
    // The control: a URL the pattern doesn't cover gets both.
    check((await sent(SERVER, id('tp-not-ignored'))).traceparent, 'a URL not ignored gets a header');
    equal(tracer.stats().started, 1, 'and a span');
    await uninstall(tracer);
    ({ spans, tracer } = traced({ propagateTo: [SERVER], sampleRate: 0 }));
    const unsampled = await sent(SERVER, id('tp-unsampled'));
    check(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/.test(unsampled.traceparent), `unsampled: flag 00 (${unsampled.traceparent})`);
    await sleep(50);
    equal(tracer.stats().started, 0, 'unsampled: no span');
  },

  async theAppsOwnTraceparentIsKeptAndBecomesTheParent() {
    // Where fetchspan propagates (propagateTo) and where it adds no header of its own (a cross-origin URL it doesn't
    // match): either way the app's header goes out as the app set it, and its trace is the span's parent.
    const parent = OWN_TRACEPARENT;
    for (const options of [{ propagateTo: [SERVER] }, {}]) {
      const { spans, tracer } = traced(options);
      const where = options.propagateTo ? 'propagated' : 'not propagated';
      for (const [how, make] of [
        ['init headers', (url, tp) => fetch(url, { headers: { traceparent: tp } })],
        ['init Headers', (url, tp) => fetch(url, { headers: new Headers([['traceparent', tp]]) })],
        ['Request headers', (url, tp) => fetch(new Request(url, { headers: { traceparent: tp } }))],
      ]) {
        const tag = id('parent');
        const echoed = await (await make(`${SERVER}/trace-echo?id=${tag}`, parent)).json();
        equal(echoed.traceparent, parent, `${where}, ${how}: the app's traceparent goes out unchanged`);
        const span = await spanFor(spans, tag);
        equal([span.traceId, span.parentSpanId], ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331'], `${where}, ${how}: parent`);
        check(span.spanId !== 'b7ad6b7169203331', `${where}, ${how}: a span id of its own`);
        // The parent's sampled flag decides: 00 gives no span.
        const started = tracer.stats().started;
        const unsampled = id('parent-00');
        await (await make(`${SERVER}/trace-echo?id=${unsampled}`, parent.replace(/01$/, '00'))).json();
        await sleep(20);
        equal(tracer.stats().started, started, `${where}, ${how}: an unsampled parent gives no span`);
      }
      await uninstall(tracer);
    }
  },

  async propagationLeavesTheCallersObjectsAndBehaviourAlone() {
    // What the native run saw, but for the one expected difference: our header went out.
    const headerAside = (native) => JSON.parse(JSON.stringify(native).replaceAll('"traceparent":"undefined"', '"traceparent":"string"'));
    // Each case runs natively, then through fetchspan with the header going out; what the app sees must be equal.
    // Every case returns its caller objects' state after the call, and how often each init member was read.
    // Counts every look at `init`, not only reads: the native call makes one [[Get]] per member, and so must we.
    const counted = (init) => {
      const reads = {};
      const count = (what) => { reads[what] = (reads[what] ?? 0) + 1; };
      const proxy = new Proxy(init, {
        get(target, key) { count(key); return Reflect.get(target, key); },
        has(target, key) { count(`has ${String(key)}`); return Reflect.has(target, key); },
        ownKeys(target) { count('ownKeys'); return Reflect.ownKeys(target); },
        getOwnPropertyDescriptor(target, key) { count(`descriptor ${String(key)}`); return Reflect.getOwnPropertyDescriptor(target, key); },
      });
      return { proxy, reads };
    };
    const echo = async (response) => {
      const headers = await response.json();
      return { x: [headers['x-a'], headers['x-b']], traceparent: typeof headers.traceparent, referer: typeof headers.referer };
    };
    const url = () => `${SERVER}/trace-echo?id=${id('same')}`;
    const cases = {
      headersObject: async () => {
        const headers = new Headers({ 'x-a': '1' });
        const { proxy, reads } = counted({ headers });
        const response = await fetch(url(), proxy);
        return { seen: await echo(response), headers: [...headers], reads };
      },
      plainObject: async () => {
        const init = { headers: { 'x-a': '1', 'x-b': '2' } };
        const { proxy, reads } = counted(init);
        const response = await fetch(new URL(url()), proxy);
        return { seen: await echo(response), init: JSON.stringify(init), reads };
      },
      pairs: async () => {
        const init = { headers: [['x-a', '1']], method: 'GET' };
        const { proxy, reads } = counted(init);
        return { seen: await echo(await fetch(url(), proxy)), init: JSON.stringify(init), reads };
      },
      noHeaders: async () => {
        const { proxy, reads } = counted({ cache: 'no-store' });
        return { seen: await echo(await fetch(url(), proxy)), reads };
      },
      request: async () => {
        const request = new Request(url(), { headers: { 'x-a': '1' } });
        const seen = await echo(await fetch(request));
        return { seen, headers: [...request.headers], used: request.bodyUsed };
      },
      requestAndInit: async () => {
        const request = new Request(url(), { headers: { 'x-a': '1' } });
        const { proxy, reads } = counted({ headers: { 'x-b': '2' } });
        const seen = await echo(await fetch(request, proxy));
        return { seen, headers: [...request.headers], reads };
      },
      requestWithBody: async () => {
        const request = new Request(`${SERVER}/echo?x=body`, { method: 'POST', body: 'from-request' });
        const response = await fetch(request);
        return { text: await response.text(), used: request.bodyUsed, again: await outcome(() => fetch(request)) };
      },
      postWithInit: async () => {
        const { proxy, reads } = counted({ method: 'POST', body: 'sent', headers: { 'content-type': 'text/plain' } });
        const response = await fetch(`${SERVER}/echo?x=post`, proxy);
        return { text: await response.text(), reads };
      },
      badHeaders: async () => outcome(() => fetch(url(), { headers: { 'bad name': 'x' } })),
      // A record is read key by key, descriptor then value: a getter that deletes or hides a later key keeps it
      // from going out, and a Symbol key fails the call after the members before it were read once.
      headerGetterChangesLaterKeys: async () => {
        const headers = {
          get 'x-a'() {
            delete this['x-b'];
            Object.defineProperty(this, 'x-c', { enumerable: false });
            return '1';
          },
          'x-b': '2',
          'x-c': '3',
          'x-d': '4',
        };
        const sent = await (await fetch(url(), { headers })).json();
        return { sent: ['x-a', 'x-b', 'x-c', 'x-d'].map((name) => sent[name] ?? null), traceparent: typeof sent.traceparent };
      },
      symbolHeaderKey: async () => {
        let reads = 0;
        const headers = { get 'x-a'() { reads++; return '1'; }, [Symbol('s')]: 'x' };
        return { failure: await outcome(() => fetch(url(), { headers })), reads };
      },
      throwingHeaders: async () => outcome(() => fetch(url(), { get headers() { throw new RangeError('app getter'); } })),
      noHeaderGoesOut: async () => {
        // Another origin, not in propagateTo: the init is still read once, by the native call alone.
        const { proxy, reads } = counted({ method: 'POST', body: 'x', headers: { 'x-a': '1' }, signal: new AbortController().signal });
        const response = await fetch(`${SERVER.replace('127.0.0.1', 'localhost')}/echo?x=other`, proxy);
        return { text: await response.text(), reads };
      },
      // A `keepalive` request with a body (an analytics beacon), as given, as a copy, and with the app's own
      // `traceparent`: WebKit refuses `keepalive` with a stream body, which reading `request.body` makes of it.
      keepaliveRequest: async () => {
        const make = (x, headers) => new Request(`${SERVER}/echo?x=${x}`, { method: 'POST', body: x, keepalive: true, headers });
        const request = make('keepalive');
        const text = await outcome(async () => (await fetch(request)).text());
        const copy = await outcome(async () => (await fetch(new Request(make('keepalive-copy')))).text());
        const own = make('keepalive-own', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
        return { text, copy, own: await outcome(async () => (await fetch(own)).text()), used: request.bodyUsed };
      },
      // A locked body: the native call refuses it with its own error, and nothing of ours goes out.
      lockedRequest: async () => {
        // (Firefox has no `Request.prototype.body`.)
        if (!('body' in Request.prototype)) return (await (await fetch(url())).arrayBuffer()).byteLength > 0;
        const request = new Request(`${SERVER}/echo?x=locked`, { method: 'POST', body: 'locked' });
        request.body.getReader();
        return outcome(() => fetch(request));
      },
      usedRequest: async () => {
        const request = new Request(`${SERVER}/echo?x=used`, { method: 'POST', body: 'once' });
        await request.text();
        return outcome(() => fetch(request));
      },
      // A frozen `init` (and frozen headers): our header still goes out, and nothing else changes.
      frozenInit: async () => {
        const { proxy, reads } = counted(Object.freeze({ headers: Object.freeze({ 'x-a': '1' }), cache: 'no-store' }));
        return { seen: await echo(await fetch(url(), proxy)), reads };
      },
      frozenPost: async () => {
        const init = Object.freeze({ method: 'POST', body: 'sent', headers: Object.freeze({ 'content-type': 'text/plain' }) });
        return { text: await (await fetch(`${SERVER}/echo?x=frozen`, init)).text() };
      },
      frozenOtherOrigin: async () => {
        const init = Object.freeze({ headers: Object.freeze({ 'x-a': '1' }) });
        return { text: await (await fetch(`${SERVER.replace('127.0.0.1', 'localhost')}/echo?x=frozen-other`, init)).text() };
      },
      // A getter that throws after `headers` was read: natively nothing is sent, and the app's error is the
      // rejection (a GET, yet no request goes out again without our header).
      throwingAfterHeaders: async () => {
        const tag = id('throwing');
        const failure = await outcome(() => fetch(`${SERVER}/trace-echo?id=${tag}`, {
          headers: { 'x-a': '1' }, get integrity() { throw new TypeError('app integrity'); },
        }));
        const log = await (await raw(`${SERVER}/trace-log?id=${tag}`)).json();
        return { failure, sent: log.map((e) => e.method) };
      },
      // A non-empty `init` resets a `Request`'s referrer policy; an empty one keeps it.
      requestPolicyAndInit: async () => {
        const request = new Request(url(), { referrerPolicy: 'no-referrer' });
        const { proxy, reads } = counted({ cache: 'no-store' });
        return { seen: await echo(await fetch(request, proxy)), reads };
      },
      // The URL of an object input is converted once (its `toString` runs once), and that is what goes out.
      urlObjectOnce: async () => {
        let conversions = 0;
        const input = { toString: () => `${url()}&n=${++conversions}` };
        const response = await fetch(input);
        return { seen: await echo(response), conversions, sent: new URL(response.url).searchParams.get('n') };
      },
      // Called on another object than the global: natively rejected before the request's body is taken.
      wrongReceiver: async () => {
        const request = new Request(`${SERVER}/echo?x=receiver`, { method: 'POST', body: 'kept' });
        const failure = await outcome(() => fetch.call({}, request));
        const used = request.bodyUsed;
        await (await fetch(url())).text();
        return { failure, used };
      },
      // An object method or header value is converted once (its `toString` runs once), with or without our header.
      methodObjectOnce: async () => {
        let conversions = 0;
        const method = { toString: () => { conversions++; return 'POST'; } };
        const text = await (await fetch(`${SERVER}/echo?x=method-object`, { method, body: 'm' })).text();
        return { text, conversions };
      },
      headerValueOnce: async () => {
        let conversions = 0;
        const value = { toString: () => { conversions++; return 'v'; } };
        const seen = await echo(await fetch(url(), { headers: { 'x-a': value } }));
        const other = await (await fetch(`${SERVER.replace('127.0.0.1', 'localhost')}/echo?x=value-object`, { method: 'POST', body: 'o', headers: { 'x-a': value } })).text();
        const pairs = await echo(await fetch(url(), { headers: [['x-a', value]] }));
        const otherPairs = await (await fetch(`${SERVER.replace('127.0.0.1', 'localhost')}/echo?x=value-pairs`, { method: 'POST', body: 'p', headers: [['x-a', value]] })).text();
        return { seen, other, pairs, otherPairs, conversions };
      },
      // Only a member read after `referrer` (a GET `Request`'s copy carries our header: before, the request's own
      // policy was kept, and a Referer went out where natively none does).
      requestPolicyAndSignal: async () => {
        const request = new Request(url(), { referrerPolicy: 'no-referrer' });
        const { proxy, reads } = counted({ signal: new AbortController().signal });
        return { seen: await echo(await fetch(request, proxy)), reads };
      },
      requestPolicyAndEmptyInit: async () => {
        const request = new Request(url(), { referrerPolicy: 'no-referrer' });
        return { seen: await echo(await fetch(request, {})) };
      },
      // `fetch` is no constructor: `new fetch()` throws at once, and it has no `prototype`.
      notAConstructor: async () => {
        let constructed;
        try {
          constructed = typeof new fetch(url());
        } catch (error) {
          constructed = [error.constructor.name, error.message];
        }
        return { constructed, prototype: 'prototype' in fetch, seen: await echo(await fetch(url())) };
      },
    };
    for (const [name, steps] of Object.entries(cases)) {
      const native = await outcome(steps);
      const { spans, tracer } = traced({ propagateTo: [SERVER] });
      const ours = await outcome(steps);
      await until(() => tracer.stats().open === 0, `${name}: spans ended`);
      await uninstall(tracer);
      // The one expected difference: the header went out.
      const expected = headerAside(native);
      equal(ours, expected, `${name} (through fetchspan vs natively, header aside)`);
      check(spans.length >= 1, `${name}: a span`);
    }
    // Under a `fetch` wrapper installed before fetchspan, of the usual interceptor kind: it adds a header to a copy
    // of the init it gets, spreading the app's headers, or uses an init of its own when the app gave none. It sees
    // the app's headers in the form the app gave them (ours among them), as natively.
    const before = globalThis.fetch;
    const interceptor = function fetch(input, init) {
      const given = init || { cache: 'no-store' };
      return before.call(this, input, { ...given, headers: { ...given.headers, 'x-b': 'wrapper' } });
    };
    const other = SERVER.replace('127.0.0.1', 'localhost');
    const wrapped = {
      record: () => fetch(url(), { headers: { 'x-a': '1' } }),
      recordOtherOrigin: () => fetch(`${other}/trace-echo?id=${id('other')}`, { headers: { 'x-a': '1' } }),
      noInit: () => fetch(url()),
      // An init without headers: ours go as a record the wrapper's spread keeps.
      noHeaders: () => fetch(url(), { signal: new AbortController().signal }),
      // (Refused natively: the wrapper's spread keeps the Symbol key.)
      symbolKey: () => fetch(url(), { headers: { 'x-a': '1', [Symbol('key')]: 'x' } }),
    };
    for (const [name, steps] of Object.entries(wrapped)) {
      globalThis.fetch = interceptor;
      try {
        const native = await outcome(async () => echo(await steps()));
        const { tracer } = traced({ propagateTo: [SERVER] });
        const ours = await outcome(async () => echo(await steps()));
        await until(() => tracer.stats().open === 0, `${name} under a wrapper: spans ended`);
        await uninstall(tracer);
        const expected = name === 'recordOtherOrigin' ? native
          : headerAside(native);
        equal(ours, expected, `${name}, under a wrapper installed before fetchspan (vs natively, header aside)`);
      } finally {
        globalThis.fetch = before;
      }
    }
    // Wrappers of other kinds, each with the app's `init` without headers, with a record and with a `Headers`: one
    // that appends to `init.headers` (or a `Headers` of its own), the same bound (which prints as native code), ones
    // that set a header or a member on `init.headers` in place and pass `init` on, and one that takes a third
    // argument. What the server gets is as natively, our header aside.
    const kinds = {
      appends: function fetch(input, init = {}) {
        const headers = init.headers || new Headers();
        headers.append('x-b', 'wrapper');
        return before.call(this, input, { ...init, headers });
      },
      appendsBound: function fetch(input, init = {}) {
        const headers = init.headers || new Headers();
        headers.append('x-b', 'wrapper');
        return before.call(this, input, { ...init, headers });
      }.bind(globalThis),
      inPlace: function fetch(input, init = {}) {
        init.headers = init.headers || {};
        if (init.headers instanceof Headers) init.headers.set('x-b', 'wrapper');
        else init.headers['x-b'] = 'wrapper';
        return before.call(this, input, init);
      },
      setsAMember: function fetch(input, init = {}) {
        init.headers = init.headers || {};
        init.headers['x-b'] = 'wrapper';
        return before.call(this, input, init);
      },
      // A copy of the app's `init`, as Sentry's wrapper makes (an `init` without headers too).
      spreads: function fetch(input, init) {
        return before.call(this, input, init && { ...init });
      },
      thirdArgument: function fetch(input, init, options) {
        return before.call(this, input, { ...init, headers: { ...init?.headers, 'x-b': String(options?.tag) } });
      },
    };
    const inits = {
      signal: () => ({ signal: new AbortController().signal }),
      record: () => ({ headers: { 'x-a': '1' } }),
      headers: () => ({ headers: new Headers({ 'x-a': '1' }) }),
    };
    for (const [kind, wrapper] of Object.entries(kinds)) {
      for (const [form, init] of Object.entries(inits)) {
        if (kind === 'thirdArgument' && form !== 'signal') continue;
        const steps = async () => echo(await fetch(url(), init(), { tag: 'third' }));
        globalThis.fetch = wrapper;
        try {
          const native = await outcome(steps);
          const { tracer } = traced({ propagateTo: [SERVER] });
          const ours = await outcome(steps);
          await until(() => tracer.stats().open === 0, `${kind}, ${form}: spans ended`);
          await uninstall(tracer);
          const expected = headerAside(native);
          equal(ours, expected, `a wrapper that ${kind}, init with ${form}: as natively, header aside`);
          // (An `append` on the app's record fails natively too.)
          if ('ok' in native) check(ours.ok.traceparent === 'string', `a wrapper that ${kind}, init with ${form}: our header went out`);
        } finally {
          globalThis.fetch = before;
        }
      }
    }
    // A `Request` with a referrer policy of its own and an empty `init`, under the wrapper that copies `init`: the
    // copy stays empty (ours would reset the policy, and a Referer would go out).
    globalThis.fetch = kinds.spreads;
    try {
      const steps = async () => echo(await fetch(new Request(url(), { referrerPolicy: 'no-referrer' }), {}));
      const native = await outcome(steps);
      const { tracer } = traced({ propagateTo: [SERVER] });
      const ours = await outcome(steps);
      await until(() => tracer.stats().open === 0, 'a Request under a wrapper that copies init: spans ended');
      await uninstall(tracer);
      equal([ours.ok?.referer, ours.ok?.x], [native.ok?.referer, native.ok?.x], "a Request's referrer policy under a wrapper that copies init");
    } finally {
      globalThis.fetch = before;
    }
    // An `init` the app sends twice through a wrapper that writes `init.headers` back (what it read, a spread of it,
    // a `Headers` made from it): the second request is a trace of its own, not a child of the first, and the app's
    // object never holds our header.
    const writesBack = {
      inPlace: kinds.inPlace,
      spread: function fetch(input, init = {}) {
        init.headers = { ...init.headers, 'x-b': 'wrapper' };
        return before.call(this, input, init);
      },
      newHeaders: function fetch(input, init = {}) {
        const headers = new Headers(init.headers);
        headers.set('x-b', 'wrapper');
        init.headers = headers;
        return before.call(this, input, init);
      },
    };
    for (const [kind, wrapper] of Object.entries(writesBack)) {
      globalThis.fetch = wrapper;
      try {
        const { tracer, spans } = traced({ propagateTo: [SERVER] });
        const shared = { cache: 'no-store' };
        const tags = [id(`reused-a-${kind}`), id(`reused-b-${kind}`)];
        const seen = [];
        for (const tag of tags) seen.push(await (await fetch(`${SERVER}/trace-echo?id=${tag}`, shared)).json());
        const [a, b] = [await spanFor(spans, tags[0]), await spanFor(spans, tags[1])];
        const kept = new Headers(shared.headers);
        // (Our copy written back is not stored: the app's object then lacks the wrapper's header too. README.)
        equal([a.parentSpanId, b.parentSpanId, b.traceId === a.traceId, kept.has('traceparent'), kept.get('x-b')],
          [undefined, undefined, false, false, kind === 'inPlace' ? null : 'wrapper'],
          `${kind}: parents, a trace of its own, the app's object without our header (with the wrapper's)`);
        equal(seen.map((echoed) => [echoed['x-b'], echoed.traceparent?.split('-')[2]]), [['wrapper', a.spanId], ['wrapper', b.spanId]],
          `${kind}: what went out, each request with its own span's header`);
        await uninstall(tracer);
      } finally {
        globalThis.fetch = before;
      }
    }
    // A wrapper that sends a `traceparent` of its own (another tracer installed first), set on the `init.headers` it
    // gets: that one goes out, as natively.
    const theirs = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
    globalThis.fetch = function fetch(input, init = {}) {
      init.headers = init.headers || new Headers();
      if (init.headers instanceof Headers) init.headers.set('traceparent', theirs);
      else init.headers.traceparent = theirs;
      return before.call(this, input, init);
    };
    try {
      const { tracer } = traced({ propagateTo: [SERVER] });
      for (const [form, init] of Object.entries(inits)) {
        const echoed = await (await fetch(`${SERVER}/trace-echo?id=${id(`theirs-${form}`)}`, init())).json();
        equal(echoed.traceparent, theirs, `a wrapper's own traceparent, init with ${form}`);
      }
      await uninstall(tracer);
    } finally {
      globalThis.fetch = before;
    }
    // A wrapper that rebuilds `init.headers` from what it finds there (Datadog's RUM): for a `Request` and an `init`
    // without headers, it appends its header to a copy of the request; else it copies `init` and sends its headers
    // as pairs, its own added. The request's own headers go out as natively (they were lost: the view answered
    // `init.headers` but its copy had none).
    const requests = {
      getAndInit: () => fetch(new Request(url(), { headers: { 'x-a': '1' } }), { cache: 'no-store' }),
      getAndEmptyInit: () => fetch(new Request(url(), { headers: { 'x-a': '1' } }), {}),
      getAndSignal: () => fetch(new Request(url(), { headers: { 'x-a': '1' } }), { signal: new AbortController().signal }),
      getAndInitHeaders: () => fetch(new Request(url(), { headers: { 'x-a': '1' } }), { headers: { 'x-a': '2' } }),
      postAndInit: () => fetch(new Request(url(), { method: 'POST', body: 'x', headers: { 'x-a': '1' } }), { cache: 'no-store' }),
      postAndEmptyInit: () => fetch(new Request(url(), { method: 'POST', body: 'x', headers: { 'x-a': '1' } }), {}),
      urlAndInit: () => fetch(url(), { cache: 'no-store' }),
    };
    globalThis.fetch = function fetch(input, init) {
      if (input instanceof Request && !init?.headers) {
        input = new Request(input);
        input.headers.append('x-b', 'wrapper');
      } else {
        init = { ...init };
        const pairs = [];
        if (init.headers instanceof Headers) init.headers.forEach((value, name) => pairs.push([name, value]));
        else if (Array.isArray(init.headers)) pairs.push(...init.headers);
        else if (init.headers) for (const name of Object.keys(init.headers)) pairs.push([name, init.headers[name]]);
        init.headers = pairs.concat([['x-b', 'wrapper']]);
      }
      return before.call(this, input, init);
    };
    try {
      for (const [name, steps] of Object.entries(requests)) {
        const native = await outcome(async () => echo(await steps()));
        const { tracer } = traced({ propagateTo: [SERVER] });
        const ours = await outcome(async () => echo(await steps()));
        await until(() => tracer.stats().open === 0, `${name} under a wrapper that rebuilds headers: spans ended`);
        await uninstall(tracer);
        const expected = headerAside(native);
        equal(ours, expected, `${name}, under a wrapper that rebuilds init.headers (vs natively, header aside)`);
      }
    } finally {
      globalThis.fetch = before;
    }
    // Another tracer installed first, which puts its own `traceparent` in place of ours (OpenTelemetry's: set on
    // the `Request` it gets, else on a `Headers` made from `init.headers`, which it writes back): theirs goes out,
    // and the span joins their trace, as it does the app's own (it kept its own ids, a trace the server is not in).
    globalThis.fetch = function fetch(input, init) {
      const options = input instanceof Request ? input : init || {};
      if (options instanceof Request) {
        options.headers.set('traceparent', theirs);
        return before.call(this, options);
      }
      const headers = new Headers(options.headers);
      headers.set('traceparent', theirs);
      options.headers = headers;
      return before.call(this, input, options);
    };
    try {
      const { tracer, spans } = traced({ propagateTo: [SERVER] });
      const ways = {
        url: (tag) => fetch(`${SERVER}/trace-echo?id=${tag}`),
        urlAndInit: (tag) => fetch(`${SERVER}/trace-echo?id=${tag}`, { cache: 'no-store' }),
        request: (tag) => fetch(new Request(`${SERVER}/trace-echo?id=${tag}`)),
        requestAndInit: (tag) => fetch(new Request(`${SERVER}/trace-echo?id=${tag}`), { cache: 'no-store' }),
        postAndInit: (tag) => fetch(new Request(`${SERVER}/trace-echo?id=${tag}`, { method: 'POST', body: 'x' }), { cache: 'no-store' }),
      };
      for (const [way, send] of Object.entries(ways)) {
        const tag = id(`replaced-${way}`);
        const echoed = await (await send(tag)).json();
        const span = await spanFor(spans, tag);
        equal([echoed.traceparent, `00-${span.traceId}-${span.parentSpanId}-01`], [theirs, theirs],
          `${way}: theirs went out, and the span is its child`);
      }
      await uninstall(tracer);
    } finally {
      globalThis.fetch = before;
    }
    // Under a wrapper that passes everything on (zone.js's), the app's headers the native call rejects: its error,
    // and no failure of ours counted (one was, where fetchspan looked at what went out).
    globalThis.fetch = function fetch(input, init) { return before.call(this, input, init); };
    try {
      const { tracer } = traced({ propagateTo: [SERVER] });
      const refused = await outcome(() => fetch(`${SERVER}/trace-echo?id=${id('passed-bad')}`, { headers: { 'bad name': 'x' } }));
      const pairs = await outcome(() => fetch(new Request(`${SERVER}/trace-echo?id=${id('passed-pairs')}`), { headers: [['a']] }));
      equal([refused.error?.[1], pairs.error?.[1], tracer.stats().passthroughFailures], ['TypeError', 'TypeError', 0],
        "the app's bad headers under a pass-through wrapper");
      await uninstall(tracer);
    } finally {
      globalThis.fetch = before;
    }
  },

  async aRedirectToAnOriginThatRefusesTheHeaderStillSucceeds() {
    // SERVER redirects to another origin whose preflight refuses traceparent. Natively (no header, a simple
    // request) it succeeds; with our header the preflight fails, so fetchspan sends it again without the header.
    const other = SERVER.replace('127.0.0.1', 'localhost');
    const hop = (tag, extra = '') => `${SERVER}/redirect?to=${encodeURIComponent(`${other}/trace-echo?refuse=1&id=${tag}`)}${extra}`;
    const native = await (await raw(hop(id('redirect-native')))).json();
    check(!('traceparent' in native), 'natively no traceparent');
    const { spans, tracer } = traced({ propagateTo: [SERVER] });
    const tag = id('redirect');
    const response = await fetch(hop(tag));
    equal(Object.keys(await response.json()).includes('traceparent'), false, 'the retried request carries no header');
    equal(response.redirected, true, 'redirected');
    const log = await (await raw(`${SERVER}/trace-log?id=${tag}`)).json();
    equal(log.map((e) => e.method), ['OPTIONS', 'GET'], 'the refused preflight, then the request without the header');
    const span = await spanFor(spans, tag);
    equal([span.endReason, span.attributes['fetchspan.propagation.retried'], span.attributes['http.request.resend_count']],
      ['completed', true, 1], 'span of the retried request');
    // A request that is not safe to repeat is never sent twice: it fails as it would with the header refused.
    const unsafe = id('redirect-put');
    const failure = await outcome(() => fetch(`${SERVER}/redirect?code=307&to=${encodeURIComponent(`${other}/trace-echo?refuse=1&id=${unsafe}`)}`, { method: 'PUT', body: 'x' }));
    check(failure.error?.[1] === 'TypeError', `the PUT fails (${JSON.stringify(failure)})`);
    const putLog = await (await raw(`${SERVER}/trace-log?id=${unsafe}`)).json();
    equal(putLog.map((e) => e.method), ['OPTIONS'], 'the PUT was not sent again');
    // Nor one whose redirect mode fails on any redirect, header or not: it fails once, as natively.
    const strict = id('redirect-error');
    const refused = await outcome(() => fetch(hop(strict), { redirect: 'error' }));
    check(refused.error?.[1] === 'TypeError', `redirect: 'error' fails (${JSON.stringify(refused)})`);
    equal((await spanFor(spans, strict)).attributes['http.request.resend_count'], undefined, "redirect: 'error' is not sent again");
    // With an `init` (a safelisted header of the app's, which it keeps): the same.
    const withInit = id('redirect-init');
    const answer = await (await fetch(hop(withInit), { headers: { accept: 'application/json' } })).json();
    equal([answer.accept, 'traceparent' in answer], ['application/json', false], 'the retried request with its init');
    const initLog = await (await raw(`${SERVER}/trace-log?id=${withInit}`)).json();
    equal(initLog.map((e) => e.method), ['OPTIONS', 'GET'], 'with an init: the refused preflight, then the request');
    await uninstall(tracer);
    // Under fetch wrappers installed before fetchspan: one that chains on the native promise (so a failure before
    // sending rejects a microtask later), one that copies the init it gets.
    const before = globalThis.fetch;
    try {
      globalThis.fetch = function fetch(input, init) { return before.call(this, input, init).then((r) => r); };
      const chained = traced({ propagateTo: [SERVER] });
      const never = id('redirect-never');
      const failure = await outcome(() => fetch(hop(never), { get integrity() { throw new TypeError('app integrity'); } }));
      equal(failure.error?.slice(1), ['TypeError', 'app integrity'], 'a getter that throws: the app\'s own error');
      equal(await (await raw(`${SERVER}/trace-log?id=${never}`)).json(), [], 'and nothing sent, not even once more');
      await uninstall(chained.tracer);
      globalThis.fetch = function fetch(input, init) { return before.call(this, input, init && { ...init }); };
      const copying = traced({ propagateTo: [SERVER] });
      const copied = await (await fetch(hop(id('redirect-copied')), { headers: { accept: 'application/json' } })).json();
      equal([copied.accept, 'traceparent' in copied], ['application/json', false], 'resent through a wrapper that copies init');
      // A GET `Request` and an `init`, whose copy carries our header (the wrapper's copy of `init` has no headers
      // to read): resent too (it failed where natively it succeeds).
      const request = id('redirect-request');
      const fromRequest = await outcome(async () => (await fetch(new Request(hop(request)), { cache: 'no-store' })).json());
      equal([fromRequest.ok && 'traceparent' in fromRequest.ok, (await spanFor(copying.spans, request)).attributes['http.request.resend_count']],
        [false, 1], 'a GET Request and an init, resent through a wrapper that copies init');
      await uninstall(copying.tracer);
      // One that calls on later (it awaits something first), so our header is handed over after `fetch` returned.
      globalThis.fetch = function fetch(input, init) { return Promise.resolve().then(() => before.call(globalThis, input, init)); };
      const later = traced({ propagateTo: [SERVER] });
      const deferred = id('redirect-deferred');
      const answered = await outcome(async () => (await fetch(hop(deferred), { headers: { accept: 'application/json' } })).json());
      equal([answered.ok?.accept, answered.ok && 'traceparent' in answered.ok, (await spanFor(later.spans, deferred)).attributes['http.request.resend_count']],
        ['application/json', false, 1], 'resent through a wrapper that calls on later');
      await uninstall(later.tracer);
    } finally {
      globalThis.fetch = before;
    }
    equal(tracer.stats().open, 0, 'every span ended');
  },

  async theServersTraceContextAndTimingsAreRecorded() {
    const { spans } = traced({ propagateTo: [SERVER] });
    const theirs = '00-11111111111111111111111111111111-2222222222222222-01';
    const get = async (query, tag) => {
      await (await fetch(`${SERVER}/server-trace?${query}&id=${tag}`)).text();
      return spanFor(spans, tag);
    };
    // Another trace (the server started its own): attributes and a link; Server-Timing metrics bounded.
    const st = encodeURIComponent('db;dur=12.5, cache;desc="hit";dur=0.25, nodur, bad name;dur=1, huge;dur=1e999');
    let span = await get(`tp=${theirs}&st=${st}`, id('st-link'));
    const a = span.attributes;
    equal([a['fetchspan.server.trace_id'], a['fetchspan.server.span_id']], ['11111111111111111111111111111111', '2222222222222222'], 'server ids');
    equal(span.links, [{ traceId: '11111111111111111111111111111111', spanId: '2222222222222222' }], 'a link to the server\'s trace');
    equal([a['fetchspan.server_timing.db.duration_us'], a['fetchspan.server_timing.cache.duration_us']], [12500, 250], 'metrics');
    check(!Object.keys(a).some((k) => /nodur|bad name|huge/.test(k)), 'metrics without a finite duration or a valid name are left out');
    // At most 8 metrics, and names of at most 64 characters (a longer one is left out, not cut).
    const long = 'n'.repeat(65);
    const many = encodeURIComponent([`${long};dur=1`, ...Array.from({ length: 10 }, (_, i) => `m${i};dur=${i + 1}`)].join(', '));
    const bounded = Object.keys((await get(`tp=${theirs}&st=${many}`, id('st-many'))).attributes)
      .filter((k) => k.startsWith('fetchspan.server_timing.'));
    equal(bounded, Array.from({ length: 8 }, (_, i) => `fetchspan.server_timing.m${i}.duration_us`), 'the first 8 valid metrics');
    // `traceresponse` in the request's own trace (here the app's traceparent): the ids, and no link.
    const tag = id('st-header');
    const sameTrace = '00-44444444444444444444444444444444-3333333333333333-01';
    await (await fetch(`${SERVER}/server-trace?tp=${sameTrace}&via=header&id=${tag}`,
      { headers: { traceparent: '00-44444444444444444444444444444444-5555555555555555-01' } })).text();
    span = await spanFor(spans, tag);
    equal([span.traceId, span.attributes['fetchspan.server.span_id']], ['44444444444444444444444444444444', '3333333333333333'], 'traceresponse read');
    equal(span.links, undefined, 'no link within the same trace');
    // Not exposed to this cross-origin page: nothing recorded.
    span = await get(`tp=${theirs}&st=${st}&hidden`, id('st-hidden'));
    check(!Object.keys(span.attributes).some((k) => k.startsWith('fetchspan.server')), 'unexposed headers record nothing');
    equal(span.links, undefined, 'and no link');
    // Headers not exposed, but Timing-Allow-Origin: resource timing's serverTiming stands in for them, where the
    // engine reports it (WebKitGTK doesn't: its entries have no serverTiming).
    const taoTag = id('st-tao');
    span = await get(`tp=${theirs}&st=${st}&hidden&tao`, taoTag);
    if (ENGINE !== 'webkit') {
      equal([span.attributes['fetchspan.server.span_id'], span.attributes['fetchspan.server_timing.db.duration_us']],
        ['2222222222222222', 12500], 'from serverTiming');
      equal(span.links?.length, 1, 'a link from serverTiming');
    } else {
      check(!Object.keys(span.attributes).some((k) => k.startsWith('fetchspan.server')), 'nothing without serverTiming');
    }
  },

  async requestBodySizesAreKnownWithoutReadingTheBody() {
    // The size the span records equals the bytes the server received (echoed back); unknown sizes are absent.
    const early = new Request(`${SERVER}/echo?kind=request-early`, { method: 'POST', body: 'made before install' });
    const { spans } = traced({ propagateTo: [SERVER] });
    const bodies = {
      string: 'héllo wörld 😀',
      arrayBuffer: new ArrayBuffer(10),
      typedArray: new Uint16Array(7),
      dataView: new DataView(new ArrayBuffer(12), 2, 5),
      blob: new Blob(['abc', new Uint8Array(4)]),
      params: new URLSearchParams({ a: 'b c', é: '1' }),
      formData: (() => { const f = new FormData(); f.set('a', 'b'); return f; })(),
    };
    for (const [kind, body] of Object.entries(bodies)) {
      for (const target of [`${SERVER}/echo?kind=${kind}`, `${SERVER}/echo?kind=${kind}-other`.replace('127.0.0.1', 'localhost')]) {
        const received = (await (await fetch(target, { method: 'POST', body })).arrayBuffer()).byteLength;
        const span = await spanFor(spans, target.slice(target.indexOf('kind=')));
        const size = span.attributes['http.request.body.size'];
        if (kind === 'formData') equal(size, undefined, `${kind}: size unknown`);
        else equal(size, received, `${kind}: http.request.body.size (the server got ${received} bytes)`);
      }
    }

    // A `Request` object's body size is taken when the app makes it (after install), and carried by a copy or a
    // clone; a request made before install, or with a body whose size is unknown, has none.
    const made = new Request(`${SERVER}/echo?kind=request-made`, { method: 'POST', body: 'héllo' });
    const cases = [
      ['request-made', () => made.clone(), 6],
      ['request-made', () => made, 6],
      ['request-copy', () => new Request(new Request(`${SERVER}/echo?kind=request-copy`, { method: 'POST', body: new Uint8Array(9) }), { headers: { 'x-a': '1' } }), 9],
      ['request-replaced', () => new Request(new Request(`${SERVER}/echo?kind=request-replaced`, { method: 'POST', body: 'abc' }), { body: new Blob(['abcdefg']) }), 7],
      ['request-init', () => [new Request(`${SERVER}/echo?kind=request-init`, { method: 'POST', body: 'abc' }), { body: 'abcdefghijk' }], 11],
      ['request-form', () => new Request(`${SERVER}/echo?kind=request-form`, { method: 'POST', body: bodies.formData }), undefined],
      ['request-early', () => early, undefined],
    ];
    for (const [kind, make, expected] of cases) {
      const of = () => spans.filter((s) => s.attributes['url.full'].includes(`kind=${kind}`));
      const before = of().length;
      const received = (await (await fetch(...[].concat(make()))).arrayBuffer()).byteLength;
      await until(() => of().length > before, `the span of ${kind}`);
      const span = of().at(-1);
      const size = span.attributes['http.request.body.size'];
      if (expected === undefined) equal(size, undefined, `${kind}: size unknown`);
      else equal([size, received], [expected, expected], `${kind}: http.request.body.size and the bytes the server got`);
    }
    equal(made.bodyUsed, true, 'the app\'s own fetch used its request, as natively');
  },

  async theRequestConstructorBehavesNatively() {
    // fetchspan replaces `Request` with a Proxy of the native constructor (to see request bodies as they are
    // made): everything the app can observe of it is the native constructor's, and uninstall puts it back.
    const Native = globalThis.Request;
    const nativeClone = Native.prototype.clone;
    const url = `${SERVER}/echo?kind=constructor`;
    const outcome = (make) => {
      try {
        const made = make();
        return { made: Object.getPrototypeOf(made) === Native.prototype, method: made.method, used: made.bodyUsed };
      } catch (error) {
        return { name: error.name, message: error.message, ctor: error.constructor.name };
      }
    };
    // The members the constructor reads of `init`, in order.
    const readsOf = (make) => {
      const reads = [];
      const init = new Proxy({ method: 'POST', body: 'abc', headers: { 'x-a': '1' }, mode: 'cors' }, {
        get(target, key) { reads.push(String(key)); return Reflect.get(target, key); },
      });
      make(init);
      return reads;
    };
    const steps = (R) => ({
      plain: outcome(() => new R(url)),
      withBody: outcome(() => new R(url, { method: 'POST', body: 'abc' })),
      getWithBody: outcome(() => new R(url, { body: 'abc' })),
      withoutNew: outcome(() => R(url)),
      badUrl: outcome(() => new R('http://a b')),
      subclass: outcome(() => { class Sub extends R {} const s = new Sub(url); check(s instanceof Sub, 'subclass instance'); return s; }),
      usedClone: outcome(() => { const r = new R(url, { method: 'POST', body: 'x' }); new Response(r.body).text(); return r.clone(); }),
      reads: readsOf((init) => new R(url, init)),
      ctor: new R(url).constructor === R && R.prototype.constructor === R,
      shape: [R.name, R.length, typeof R, R.prototype === Native.prototype, new R(url) instanceof R, new R(url) instanceof Native],
    });
    const native = steps(Native);
    const { tracer } = traced();
    check(globalThis.Request !== Native, 'the positive control: Request is replaced while installed');
    const instrumented = steps(globalThis.Request);
    equal(instrumented, native, 'Request with fetchspan installed, against the native constructor');
    check(new Native(url) instanceof globalThis.Request, 'a request made with the native constructor is still a Request');
    await uninstall(tracer);
    check(globalThis.Request === Native && Native.prototype.clone === nativeClone && Native.prototype.constructor === Native,
      'uninstall restores Request, Request.prototype.clone and .constructor');
  },

  async streamedUploadsAreCountedAsSentAndBehaveAsNative() {
    // Chromium streams a request body over HTTP/2 only (the test server's TLS port, whose self-signed certificate
    // the test browser ignores) and refuses one over HTTP/1.1. Firefox and WebKit don't stream uploads (Firefox sends
    // the text "[object ReadableStream]", WebKit rejects), so fetchspan leaves the body alone there. In every engine each
    // case must behave as natively: the same value or error, the app's stream as locked and as often pulled. Where
    // uploads don't stream, every case goes to the HTTP/1.1 echo instead, which answers with what it received.
    const H2 = 'https://127.0.0.1:47813';
    const streams = ENGINE === 'chromium';
    const target = streams ? `${H2}/upload` : `${SERVER}/echo`;
    const sizes = [1, 65536, 1000, 300000, 7];
    const total = sizes.reduce((sum, size) => sum + size, 0);
    const appStream = (chunks, end = (controller) => controller.close()) => {
      let pulls = 0;
      let cancelled;
      const stream = new ReadableStream({
        pull(controller) {
          const size = chunks[pulls++];
          if (size === undefined) return end(controller);
          controller.enqueue(new Uint8Array(size).fill(pulls));
        },
        cancel(reason) {
          cancelled = [Object.prototype.toString.call(reason), reason?.name];
        },
      }, { highWaterMark: 0 });
      return { stream, pulls: () => pulls, cancelled: () => cancelled };
    };
    const attempt = async (url, made, init = { duplex: 'half' }) => {
      const settled = await outcome(async () => (await fetch(url, { method: 'POST', body: made.stream, ...init })).text());
      await sleep(50);
      return { ...settled, locked: made.stream.locked, pulls: made.pulls(), cancelled: made.cancelled() };
    };
    // Sent and counted, with and without a traceparent (the two ways fetchspan reads `init`).
    for (const [label, options] of [['cross-origin', {}], ['propagated', { propagateTo: [new URL(target).origin] }]]) {
      const tag = id(`upload-${label}`);
      const spans = await sameAsNative(`a streamed upload (${label})`, () => attempt(`${target}?tag=${tag}`, appStream(sizes)), options);
      const size = (await spanFor(spans, tag)).attributes['http.request.body.size'];
      equal(size, streams ? total : undefined, `${label}: http.request.body.size is what was sent (none where nothing streams)`);
    }
    // Under `fetch` wrappers installed before fetchspan: one that sends later (an interceptor that awaits a token
    // first, with a copy of the init it got), and one that looks at `init.body` (a logger) and passes the `init` it
    // got on, so that the native call reads the body a second time. The same, and counted.
    const before = globalThis.fetch;
    let looked = 0;
    const wrappers = {
      'sent later': function fetch(input, init) {
        const copy = { ...init };
        return sleep(10).then(() => before.call(globalThis, input, copy));
      },
      'looked at': function fetch(input, init) {
        if (init && init.body) looked++;
        return before.call(this, input, init);
      },
    };
    for (const [label, wrapper] of Object.entries(wrappers)) {
      globalThis.fetch = wrapper;
      try {
        const tag = id(`upload-${label.replace(' ', '-')}`);
        const spans = await sameAsNative(`a streamed upload through a wrapper (${label})`, () => attempt(`${target}?tag=${tag}`, appStream(sizes)));
        equal((await spanFor(spans, tag)).attributes['http.request.body.size'], streams ? total : undefined, `${label}: http.request.body.size`);
      } finally {
        globalThis.fetch = before;
      }
    }
    equal(looked, 2, 'the logging wrapper looked at the body, natively and through fetchspan');
    // The positive control for the comparisons, what a native upload gives: every byte of the stream received
    // (Chromium), the stream's text received (Firefox), or a NotSupportedError (WebKit).
    const control = await attempt(target, appStream(sizes));
    const expected = { chromium: `{"received":${total}}`, firefox: '[object ReadableStream]', webkit: 'NotSupportedError' };
    equal(control.ok ?? control.error?.[1], expected[ENGINE], `a native upload in ${ENGINE} (${JSON.stringify(control)})`);
    const refusals = {
      'over HTTP/1.1': () => attempt(`${SERVER}/echo?tag=${id('h1')}`, appStream(sizes)),
      'without duplex': () => attempt(target, appStream(sizes), {}),
      'an app stream that errors': () => attempt(target, appStream([10, 20], (c) => c.error(new RangeError('the app failed')))),
      'a locked stream': () => {
        const made = appStream(sizes);
        made.stream.getReader();
        return attempt(target, made);
      },
      'aborted while it is sent': () => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 200);
        // One chunk, then a source that never ends: the abort is what stops the upload.
        return attempt(target, appStream([1000], () => new Promise(() => {})), { duplex: 'half', signal: controller.signal });
      },
      'a disturbed stream': async () => {
        const made = appStream(sizes);
        const reader = made.stream.getReader();
        await reader.read();
        reader.releaseLock();
        return attempt(target, made);
      },
    };
    for (const [what, steps] of Object.entries(refusals)) {
      const spans = await sameAsNative(`an upload ${what}`, steps, {});
      check(spans.length === 1 && spans[0].attributes['http.request.body.size'] === undefined, `${what}: one span, no size recorded`);
    }
  },

  async keepaliveRequestsStayKeepalive() {
    // A spy stands in for the browser's fetch, under fetchspan: it builds the Request fetch would build from what it
    // was given (reading `init` once, as fetch does) and reports whether that Request is keepalive and carries a
    // traceparent. Three ways in: an init with a traceparent added (propagateTo), an init without one (another
    // origin), and a keepalive Request object with a traceparent added.
    const run = async (instrumented) => {
      const seen = [];
      const before = globalThis.fetch;
      globalThis.fetch = function fetch(input, init) {
        const request = new Request(input, init);
        seen.push([request.keepalive, request.headers.has('traceparent')]);
        return nativeFetch.call(globalThis, request);
      };
      try {
        const { tracer, spans } = instrumented ? traced({ propagateTo: [SERVER] }) : {};
        const texts = [
          await (await fetch(`${SERVER}/bytes?n=3&x=keepalive-init`, { keepalive: true })).text(),
          await (await fetch(`${SERVER}/bytes?n=3&x=keepalive-other`.replace('127.0.0.1', 'localhost'), { keepalive: true })).text(),
          await (await fetch(new Request(`${SERVER}/bytes?n=3&x=keepalive-request`, { keepalive: true }))).text(),
        ];
        if (tracer) await uninstall(tracer);
        return { seen, texts, spans: spans?.length };
      } finally {
        globalThis.fetch = before;
      }
    };
    const native = await run(false);
    const instrumented = await run(true);
    // Firefox ESR's `new Request(request)` drops `keepalive` (natively too), so the Request object's case is
    // compared with the native run rather than with `true`.
    equal(native.seen.slice(0, 2).map(([keepalive]) => keepalive), [true, true], 'natively, the init requests are keepalive');
    equal(instrumented.texts, native.texts, 'the same responses');
    equal(instrumented.spans, 3, 'fetchspan traced all three');
    equal(instrumented.seen, native.seen.map(([keepalive], i) => [keepalive, i !== 1]),
      'keepalive as natively, with our traceparent where it goes');
  },

  async capturedHeadersAndAttributeHooksStayWithinTheirBounds() {
    const views = [];
    let { spans, tracer } = traced({
      captureHeaders: { request: ['X-A', 'x-missing'], response: ['content-type', 'X-Echo-Method'] },
      requestAttributes: (view) => {
        views.push(view);
        return { 'app.route': `${view.method} ${new URL(view.url).pathname}`, 'app.ratio': 1.5, 'app.flag': true, 'app.count': 3 };
      },
      responseAttributes: (view) => {
        views.push(view);
        return { 'app.status': view.status, 'app.has_body': 'body' in view || typeof view.text === 'function' };
      },
    });
    const tag = id('hooks');
    const response = await fetch(`${SERVER}/echo?id=${tag}`, { method: 'POST', body: 'payload', headers: { 'x-a': '1', authorization: 'Bearer secret' } });
    equal(await response.text(), 'payload', 'the body the app reads');
    const span = await spanFor(spans, tag);
    const a = span.attributes;
    equal([a['http.request.header.x-a'], a['http.request.header.x-missing'], a['http.response.header.content-type'], a['http.response.header.x-echo-method']],
      [['1'], undefined, [response.headers.get('content-type')], ['POST']], 'captured headers (string arrays, names in lower case, absent ones left out)');
    check(!JSON.stringify(span).includes('secret'), 'an unlisted header value never reaches the span');
    equal([a['app.route'], a['app.ratio'], a['app.flag'], a['app.count'], a['app.status'], a['app.has_body']],
      ['POST /echo', 1.5, true, 3, 200, false], 'hook attributes');
    check(views.every(Object.isFrozen), 'the hooks get frozen views');
    equal([tracer.stats().passthroughFailures, tracer.stats().hookFailures], [0, 0], 'no failure');
    // A page whose Number.prototype.toString writes what is no JSON number: the number is written as the engine
    // writes it, and the span (its JSON, for the hook and the exporter) stays whole.
    const toString = Number.prototype.toString;
    const odd = id('odd-number');
    let pending;
    Number.prototype.toString = function (radix) {
      return this === 1.5 ? '1.' : toString.call(this, radix);
    };
    try {
      pending = fetch(`${SERVER}/echo?id=${odd}`, { method: 'POST', body: 'x' });
    } finally {
      Number.prototype.toString = toString;
    }
    await (await pending).text();
    const oddSpan = await spanFor(spans, odd);
    equal([typeof oddSpan, oddSpan?.attributes['app.ratio'], oddSpan?.attributes['app.count']], ['object', 1.5, 3],
      'a number the page\'s toString writes as "1." is recorded as 1.5');
    await uninstall(tracer);
    // Hooks that fail: each is counted, adds nothing, and the request goes on untouched.
    const bad = [() => { throw new Error('hook broke'); }, async () => ({ a: 1 }), () => 'garbage', () => ({ nested: { a: 1 } }),
      () => Promise.reject(new Error('async hook broke'))];
    ({ spans, tracer } = traced({ requestAttributes: (view) => bad[Number(new URL(view.url).searchParams.get('n'))](), responseAttributes: () => null }));
    for (let n = 0; n < bad.length; n++) {
      equal(await (await fetch(`${SERVER}/bytes?n=${n}`)).text(), 'abcde'.slice(0, n), `request ${n} with a failing hook`);
      const a2 = (await spanFor(spans, `bytes?n=${n}`)).attributes;
      check(!Object.keys(a2).some((k) => ['a', 'nested', '0'].includes(k)), `hook ${n} added nothing`);
    }
    equal([tracer.stats().hookFailures, tracer.stats().passthroughFailures], [2 * bad.length, 0],
      'every failing hook counted (request and response side), as the hook\'s failure');
    await uninstall(tracer);
    // maxAttributeLength cuts every recorded string (at a character boundary), fetchspan's own and the hooks'.
    ({ spans, tracer } = traced({ maxAttributeLength: 24, requestAttributes: () => ({ 'app.long': 'é'.repeat(40) }) }));
    await (await fetch(`${SERVER}/bytes?n=1&x=bounded-strings`)).text();
    const cut = await until(() => spans.length === 1, 'the span').then(() => spans[0].attributes);
    equal([cut['url.full'], cut['app.long']], [`${SERVER}/bytes?n=1&x=bounded-strings`.slice(0, 24), 'é'.repeat(12)],
      'strings cut to 24 bytes');
    await uninstall(tracer);
    // At most 32 attributes from a hook, and none that fetchspan sets itself, even one it sets on some spans only
    // (`error.type`): each such key is left out and counted (`url.full` stays redacted).
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`app.n${String(i).padStart(2, '0')}`, i]));
    ({ spans, tracer } = traced({
      requestAttributes: () => ({ 'url.full': 'https://evil.example/?token=leaked', 'http.request.method': 'PUT',
        'error.type': 'app', 'fetchspan.end_reason': 'app', ...many }),
      responseAttributes: () => ({ 'http.response.status_code': 999, 'app.late': 1, '': 'no key' }),
    }));
    await (await fetch(`${SERVER}/bytes?n=1&x=many&token=t`)).text();
    const capped = (await spanFor(spans, 'x=many')).attributes;
    const kept = Object.keys(capped).filter((k) => k.startsWith('app.n'));
    equal([kept.length, kept[0], kept.at(-1)], [32, 'app.n00', 'app.n31'], 'the first 32 hook attributes');
    equal([capped['url.full'], capped['http.request.method'], capped['http.response.status_code'], capped['error.type'],
      capped['fetchspan.end_reason'], capped['app.late']],
    [`${SERVER}/bytes?n=1&x=many&token=REDACTED`, 'GET', 200, undefined, 'completed', 1],
    'a hook never gives fetchspan\'s own attributes');
    equal(capped[''], undefined, 'nor an empty key');
    equal(tracer.stats().hookFailures, 6, 'each refused key counted');
    await uninstall(tracer);
    // A key that its cut makes one of fetchspan's own is refused all the same (a FormData body's size is unknown,
    // so the span would otherwise have taken the hook's).
    ({ spans, tracer } = traced({ maxAttributeLength: 22, requestAttributes: () => ({ 'http.request.body.sizeX': 999 }) }));
    const form = new FormData();
    form.append('a', 'b');
    await (await fetch(`${SERVER}/echo?x=cut-key`, { method: 'POST', body: form })).text();
    await until(() => spans.length === 1, 'the span');
    equal([spans[0].attributes['http.request.body.size'], tracer.stats().hookFailures], [undefined, 1],
      'a hook key cut into one of fetchspan\'s own');
    await uninstall(tracer);
    // The default bound is 2048 bytes.
    ({ spans, tracer } = traced({ requestAttributes: () => ({ 'app.huge': 'x'.repeat(3000) }) }));
    await (await fetch(`${SERVER}/bytes?n=1&x=default-bound`)).text();
    equal((await spanFor(spans, 'x=default-bound')).attributes['app.huge'].length, 2048, 'maxAttributeLength defaults to 2048');
  },

  async resourceTimingIsTakenAtTheEndWithoutSwappingEntries() {
    // (The page's timeline buffer emptied first: earlier scenarios filled it, and a full one takes no more.)
    performance.clearResourceTimings();
    let { spans, tracer } = traced();
    const timingOf = (span) => ({
      bodySize: span.attributes['http.response.body.size'],
      firstByte: span.attributes['fetchspan.response.time_to_first_byte_ms'],
      phases: span.events.filter((e) => e.name.startsWith('fetchspan.timing.')),
    });
    // WebKitGTK reports no body sizes in resource timing (README); its timings are there.
    const sized = ENGINE !== 'webkit';
    // A stream can end before the engine has queued its entry (Chromium queues it a task after the body's end,
    // so an app reading as the body arrives usually ends it first): its span waits for the entry. Several of each,
    // so that some streams end first (counted in `early`: what the wait is for).
    let early = 0;
    const reads = [['text', (r) => r.text()], ['stream', (r) => readAll(r.body)],
      ['sse', (r) => readAll(r.body), '/sse?events=3&delayMs=20']];
    for (const [how, read, path = '/bytes?n=3000'] of reads) for (let i = 0; i < 5; i++) {
      const url = `${SERVER}${path}&x=rt-${how}-${i}`;
      await read(await fetch(url));
      if (performance.getEntriesByName(url, 'resource').length === 0) early++;
      const span = await spanFor(spans, `x=rt-${how}-${i}`);
      const t = timingOf(span);
      if (how !== 'sse') equal(t.bodySize, sized ? 3000 : undefined, `${how}: http.response.body.size`);
      check(t.firstByte >= 0, `${how}: time to first byte (${t.firstByte})`);
      const names = t.phases.map((e) => e.name);
      // A phase of no length is left out, but the response's: Firefox's clock (1 ms steps here) can put the
      // request's start and the response's at the same time.
      const entry = performance.getEntriesByName(url, 'resource')[0];
      const requestPhase = entry === undefined || entry.responseStart > entry.requestStart;
      check(names.includes('fetchspan.timing.request') === requestPhase && names.includes('fetchspan.timing.response'), `${how}: phases ${names}`);
      check(t.phases.every((e) => e.attributes['fetchspan.timing.duration_us'] >= 0), `${how}: phase durations`);
      equal(span.attributes['fetchspan.end_reason'], 'completed', `${how}: end reason`);
    }
    console.log(`${ENGINE}: ${early} of 15 bodies ended before their resource-timing entry was queued`);
    // A body the app cancels or aborts mid-stream: Chromium and Firefox queue its entry 5 to 15 ms later, and the
    // span waits for it; WebKit queues none (the span goes on without it, after the first one's wait taught that).
    for (const how of ['cancel', 'abort', 'cancel', 'abort']) {
      const controller = new AbortController();
      const part = `x=rt-${id(how)}`;
      // (Finite, as in `cancelAfterFirstChunk`.)
      const reader = (await fetch(`${SERVER}/sse?events=10&delayMs=100&${part}`, { signal: controller.signal })).body.getReader();
      await reader.read();
      await reader.read();
      if (how === 'cancel') await reader.cancel();
      else {
        controller.abort();
        await reader.read().catch(() => {});
      }
      const span = await spanFor(spans, part);
      equal(span.attributes['fetchspan.end_reason'], how === 'cancel' ? 'cancelled' : 'aborted', `${how}: end reason`);
      const t = timingOf(span);
      const names = t.phases.map((e) => e.name);
      if (ENGINE === 'webkit') equal([t.firstByte, names], [undefined, []], `${how}: no entry in WebKit`);
      else check(t.firstByte >= 0 && names.includes('fetchspan.timing.response'), `${how}: its entry (${t.firstByte}, ${names})`);
    }
    // `forceFlush` and `uninstall` don't wait: a span still waiting for its entry (a cancelled body's, whose entry
    // Chromium and Firefox queue some milliseconds later) is delivered at once, with it if it has come.
    for (const [how, then] of [['flush', () => tracer.forceFlush()], ['uninstall', () => uninstall(tracer)]]) {
      await cancelAfterFirstChunk(`x=rt-${how}`);
      if (ENGINE !== 'webkit') equal(tracer.stats().open, 1, `${how}: the span waits for its entry`);
      then();
      equal(tracer.stats().open, 0, `${how}: no span waits any more`);
      const span = spans.find((s) => s.attributes['url.full'].includes(`x=rt-${how}`));
      equal(span?.attributes['fetchspan.end_reason'], 'cancelled', `${how}: the span delivered at once`);
    }
    // A response that a `fetch` wrapper installed before fetchspan made up has no entry, and none comes: its span
    // waits 250 ms, and no more, even while others keep waiting (a stream of them, 40 ms apart).
    // And it takes no entry of a request to its URL made after its response came (the second fetch of `shared`).
    const real = globalThis.fetch;
    const shared = `${SERVER}/bytes?n=10&x=made-up-then-real`;
    let sharedCalls = 0;
    globalThis.fetch = function fetch(url, init) {
      const madeUp = String(url).includes('/made-up') || (url === shared && sharedCalls++ === 0);
      return madeUp ? Promise.resolve(new Response('made up')) : real.call(this, url, init);
    };
    try {
      const delivered = [];
      const made = traced({
        onSpanEnd: (span) => delivered.push({ span, ms: performance.timeOrigin + performance.now() - span.endTime }),
      });
      await readAll((await fetch(shared)).body);
      // (Read after its entry has come where the engine queues it before the body is read, as Firefox does, so that
      // the waiting span would find it first.)
      const second = await fetch(shared);
      await sleep(100);
      await second.text();
      for (let i = 0; i < 12; i++) {
        await readAll((await fetch(`${SERVER}/made-up?i=${i}`)).body);
        await sleep(40);
      }
      await until(() => delivered.length === 14, 'the made-up responses\' spans', 3000);
      const streamed = (span) => span.attributes['fetchspan.response.size_source'] === 'stream';
      const waits = delivered.filter((d) => streamed(d.span)).map((d) => d.ms);
      check(waits.length === 13 && waits.every((ms) => ms >= 240 && ms <= 600), `each waited 250 ms: ${waits.map(Math.round)}`);
      const ofShared = delivered.map((d) => d.span).filter((span) => span.attributes['url.full'] === shared);
      equal(timingOf(ofShared.find(streamed)).firstByte, undefined, 'the made-up response took no entry');
      check(timingOf(ofShared.find((span) => !streamed(span))).firstByte >= 0, 'the real request has its own');
      await uninstall(made.tracer);
    } finally {
      globalThis.fetch = real;
    }
    ({ spans } = traced());
    // A URL longer than fetchspan hands to the span (8,192 characters) still finds its entry.
    await (await fetch(`${SERVER}/bytes?n=10&x=rt-long&pad=${'a'.repeat(9000)}`)).text();
    check(timingOf(await spanFor(spans, 'x=rt-long')).firstByte >= 0, 'a 9,000-character URL: its entry found');
    // Cross-origin without Timing-Allow-Origin: nothing, rather than zeros.
    await (await fetch(`${SERVER}/server-trace?hidden&x=rt-restricted`)).text();
    const restricted = timingOf(await spanFor(spans, 'x=rt-restricted'));
    equal([restricted.bodySize, restricted.firstByte, restricted.phases.length], [undefined, undefined, 0], 'restricted entry');
    // A stream cancelled before its own entry is queued takes none of another request to its URL, started while it
    // streamed and read to its end first (made by a second copy of fetch, say): before, it took that one's timing,
    // and in WebKit, which queues no entry for a cancelled body, kept it. (`x-chunks`: that request's body is one
    // chunk, ours forty.)
    const streaming = `${SERVER}/slow?chunks=40&size=100&delayMs=100&x=rt-other`;
    const reader = (await fetch(streaming)).body.getReader();
    await reader.read();
    await sleep(150);
    // (`no-store`: Firefox otherwise holds a second request to a URL until the first one's body is in its cache.)
    await (await raw(streaming, { headers: { 'x-chunks': '1' }, cache: 'no-store' })).text();
    // The positive control: the other request's entry is there when ours ends.
    await until(() => performance.getEntriesByName(streaming, 'resource').length === 1, "the other request's entry");
    const otherStart = performance.getEntriesByName(streaming, 'resource')[0].startTime + performance.timeOrigin;
    await reader.cancel();
    const cut = await spanFor(spans, 'x=rt-other');
    check(otherStart >= cut.startTime + 150, `the other request started after ours (${otherStart - cut.startTime} ms)`);
    // (The request phase, or the response's where the request's had no length: Firefox's clock.)
    const requestOf = (span) => span.events.find((e) => e.name === 'fetchspan.timing.request')
      ?? (ENGINE === 'firefox' ? span.events.find((e) => e.name === 'fetchspan.timing.response') : undefined);
    const cutRequest = requestOf(cut);
    check(cutRequest === undefined || cutRequest.time <= cut.startTime + 100,
      `the cancelled stream took another request's entry: request phase at ${cutRequest?.time}, span started at ${cut.startTime}`);
    if (ENGINE !== 'webkit') check(cutRequest !== undefined, 'the cancelled stream has its own entry');
    // Two concurrent fetches of one URL, read in the other order: each span gets its own entry.
    const url = `${SERVER}/bytes?n=10&x=rt-same`;
    const first = await fetch(url);
    await sleep(150);
    const second = await fetch(url);
    await second.text();
    await first.text();
    await until(() => spans.filter((s) => s.attributes['url.full'] === url).length === 2, 'both spans');
    for (const span of spans.filter((s) => s.attributes['url.full'] === url)) {
      const request = requestOf(span);
      check(request && request.time >= span.startTime - 1 && request.time <= span.startTime + 100,
        `an entry of its own: request phase at ${request?.time}, span started at ${span.startTime}`);
    }
  },

  async relativeUrlsAreRecordedAsFetchResolvesThem() {
    // Paths on the test page's own origin (its server answers 404): the plain ones take fetchspan's shortcut past
    // the URL parser, the others the parser; url.full must be what the parser gives either way.
    const paths = ['/rel-a/b?c=d&n=1', '/rel-b/./c?n=2', '/rel-c/x/../d?n=3', '/rel-d/%2e%2e/e?n=4', '/rel-e/a b?n=5',
      '/rel-f/é?n=6', '/rel-g/x?n=7#frag', 'rel-h/x?n=8', '/rel-i/x.y/z?n=9&y=%2e'];
    // What the app sees of each response, natively and then through fetchspan (which adds a traceparent here).
    const seen = async (response) => {
      const bytes = (await response.arrayBuffer()).byteLength;
      return [response.status, response.url, response.type, response.redirected, bytes];
    };
    const native = [];
    for (const path of paths) native.push(await seen(await raw(path)));
    const { spans } = traced({ redactQueryParams: [] });
    for (const [i, path] of paths.entries()) {
      equal(await seen(await fetch(path)), native[i], `the response to ${path}, against native`);
      const expected = new URL(path, document.baseURI).href;
      const span = await spanFor(spans, `n=${path.match(/n=(\d)/)[1]}`);
      equal(span.attributes['url.full'].replace(/#.*/, ''), expected.replace(/#.*/, ''), `url.full of ${path}`);
    }
  },

  async sensitiveQueryValuesAreRedacted() {
    let { spans, tracer } = traced();
    await (await fetch(`${SERVER}/bytes?n=1&X-Amz-Signature=abc&keep=1&TOKEN=t&api_key=k`)).text();
    equal((await spanFor(spans, 'keep=1')).attributes['url.full'],
      `${SERVER}/bytes?n=1&X-Amz-Signature=REDACTED&keep=1&TOKEN=REDACTED&api_key=REDACTED`, 'default list');
    // Every name of the default list, in another case than the list's.
    const defaults = ['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature', 'X-Goog-Credential', 'X-Amz-Signature',
      'X-Amz-Credential', 'X-Amz-Security-Token', 'token', 'access_token', 'refresh_token', 'id_token', 'client_secret',
      'api_key', 'apikey', 'password', 'key', 'auth', 'auth_token', 'jwt', 'oauth_token', 'oauth_signature',
      'private_token', 'session', 'sessionid', 'session_id', 'sid', 'jsessionid', 'phpsessid', 'x-algolia-api-key',
      'hdnts', '__token__', 'auth_key', 'q-signature', 'security-token'];
    const query = defaults.map((name, i) => `${i % 2 ? name.toUpperCase() : name.toLowerCase()}=v${i}`).join('&');
    await (await fetch(`${SERVER}/bytes?n=1&x=all&${query}&signatures=kept`)).text();
    equal((await spanFor(spans, 'x=all')).attributes['url.full'],
      `${SERVER}/bytes?n=1&x=all&${query.replace(/=v\d+/g, '=REDACTED')}&signatures=kept`, 'every default name, any case');
    // Names as the server decodes them, and parameters in the fragment (an OAuth implicit grant's token).
    await (await fetch(`${SERVER}/bytes?n=1&x=encoded&%74oken=t&sig%6Eature=s#access_token=a&state=1`)).text();
    equal((await spanFor(spans, 'x=encoded')).attributes['url.full'],
      `${SERVER}/bytes?n=1&x=encoded&%74oken=REDACTED&sig%6Eature=REDACTED#access_token=REDACTED&state=1`,
      'percent-encoded names and the fragment');
    // Pairs split at `;` too, names read up to a `[` (as PHP, Rails and qs read them), a servlet's session id as a
    // path parameter.
    await (await fetch(`${SERVER}/bytes;jsessionid=S1?n=1&x=split;sid=s&access_token[]=a&auth[token]=b&keep=1`)).text();
    equal((await spanFor(spans, 'x=split')).attributes['url.full'],
      `${SERVER}/bytes;jsessionid=REDACTED?n=1&x=split;sid=REDACTED&access_token[]=REDACTED&auth[token]=REDACTED&keep=1`,
      'pairs split at ;, bracketed names, a path parameter');
    // A URL fetch can't parse (`pa/ss` is no port): recorded as given, but for what may be credentials.
    for (const [given, recorded] of [['https://user:pa/ss@unparsable.invalid/x', 'https://REDACTED:REDACTED@unparsable.invalid/x'],
      [' https:\\u:pa#ss@unparsable-2.invalid/x', 'https:\\REDACTED:REDACTED@unparsable-2.invalid/x'],
      ['//user:pa/ss@unparsable-3.invalid/x', '//REDACTED:REDACTED@unparsable-3.invalid/x']]) {
      const unparsable = await outcome(() => fetch(given));
      check(unparsable.error?.[1] === 'TypeError', `an unparsable URL is refused (${JSON.stringify(unparsable)})`);
      const host = recorded.split('@')[1].split('/')[0];
      equal((await spanFor(spans, host)).attributes['url.full'], recorded, 'credentials in a URL that does not parse');
    }
    // A user name longer than the 8,192 characters handed to the span is redacted all the same.
    equal((await outcome(() => fetch(`https://${'A'.repeat(9000)}:x@long-user.invalid/x`))).error?.[1], 'TypeError', 'a URL with credentials is refused');
    const longUser = (await spanFor(spans, 'long-user.invalid')).attributes;
    equal([longUser['url.full'], longUser['server.address']], ['https://REDACTED:REDACTED@long-user.invalid/x', 'long-user.invalid'], 'a long user name');
    // A `data:` URL's payload is the body itself (`fetch(canvas.toDataURL())`): its media type alone is recorded.
    equal(await (await fetch('data:image/png;base64,c2VjcmV0LWltYWdl')).text(), 'secret-image', 'a data: URL read');
    equal((await spanFor(spans, 'data:image/png')).attributes['url.full'], 'data:image/png,REDACTED', 'a data: URL\'s payload');
    // A Request's URL crosses into wasm cut, as a string's does: 8 MiB of it would grow the wasm memory for good.
    const before = wasmMemory.buffer.byteLength;
    await (await fetch(new Request(`data:text/x-long-request,${'x'.repeat(8 << 20)}`))).text();
    await spanFor(spans, 'data:text/x-long-request,REDACTED');
    const grown = wasmMemory.buffer.byteLength - before;
    check(grown < 4 << 20, `a long Request URL crosses into wasm cut (the wasm memory grew by ${grown} bytes)`);
    await uninstall(tracer);
    ({ spans, tracer } = traced({ redactQueryParams: ['n'] }));
    await (await fetch(`${SERVER}/bytes?n=1&token=t&mine=2`)).text();
    equal((await spanFor(spans, 'mine=2')).attributes['url.full'], `${SERVER}/bytes?n=REDACTED&token=t&mine=2`, 'own list');
    await uninstall(tracer);
    ({ spans, tracer } = traced({ redactQueryParams: [] }));
    await (await fetch(`${SERVER}/bytes?n=1&token=t&x=none`)).text();
    equal((await spanFor(spans, 'x=none')).attributes['url.full'], `${SERVER}/bytes?n=1&token=t&x=none`, 'an empty list redacts nothing');
  },

  async ignoredUrlsAreNotTraced() {
    // A prefix relative to the page is resolved against it, as fetch resolves the request's URL.
    // (A scheme other than http(s), as an app in a native shell fetches: taken as written.)
    const { spans, tracer } = traced({ ignoreUrls: [`${SERVER}/json`, /x=skip/, '/not-traced', 'capacitor://localhost/'] });
    await (await fetch('/not-traced?x=relative')).text();
    await (await fetch(`${SERVER}/json`)).json();
    await (await fetch(`${SERVER}/bytes?n=1&x=skip`)).text();
    await (await fetch(`${SERVER}/bytes?n=1&x=keep`)).text();
    await spanFor(spans, 'x=keep');
    equal(tracer.stats().started, 1, 'only the kept request');
    await uninstall(tracer);
    // A prefix is normalized as fetch normalizes the URL, unless it stops mid-host or mid-port.
    // Each with a request it must not ignore (a `data:` URL is traced), so that a tracer tracing nothing fails.
    const partial = traced({ ignoreUrls: [SERVER.slice(0, -1)] });
    await (await fetch(`${SERVER}/bytes?n=1&x=partial`)).text();
    await (await fetch('data:text/plain,partial')).text();
    equal(partial.tracer.stats().started, 1, 'a prefix that stops mid-port (and a data: URL traced)');
    await uninstall(partial.tracer);
    const upper = traced({ ignoreUrls: [`${SERVER.replace('http:', 'HTTP:')}/js`] });
    await (await fetch(`${SERVER}/json?x=upper`)).text();
    await (await fetch(`${SERVER}/bytes?n=1&x=upper-kept`)).text();
    equal(upper.tracer.stats().started, 1, 'a prefix in upper case (and a URL it does not cover traced)');
    await uninstall(upper.tracer);
    // A RegExp stays the app's own: its `lastIndex` is left alone, and a frozen one works.
    const global = /x=global/g;
    global.lastIndex = 5;
    const patterns = traced({ ignoreUrls: [global, Object.freeze(/x=frozen/)] });
    for (const x of ['global', 'frozen', 'kept']) await (await fetch(`${SERVER}/bytes?n=1&x=${x}`)).text();
    equal([patterns.tracer.stats().started, patterns.tracer.stats().passthroughFailures, global.lastIndex], [1, 0, 5],
      'RegExps: one span (x=kept), no failure, lastIndex kept');
    await uninstall(patterns.tracer);
    // An origin is normalized as fetch writes it (`:047811` is port 47811).
    const origin = traced({ ignoreUrls: [SERVER.replace(/:(\d+)$/, ':0$1')] });
    await (await fetch(`${SERVER}/bytes?n=1&x=origin`)).text();
    await (await fetch('data:text/plain,origin')).text();
    equal(origin.tracer.stats().started, 1, 'an origin written otherwise (and a data: URL traced)');
    await uninstall(origin.tracer);
    // The export endpoint is never traced, even when the app itself posts to it.
    const endpoint = `${SERVER}/c/${id('ignored')}/ok`;
    const exporting = traced({ endpoint, propagateTo: [SERVER] });
    const answer = await fetch(`${endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceSpans":[]}' });
    equal(answer.status, 200, 'the app\'s own post to the collector');
    await (await fetch(`${SERVER}/bytes?n=1&x=after-endpoint`)).text();
    await spanFor(exporting.spans, 'x=after-endpoint');
    equal([exporting.tracer.stats().started, exporting.spans.length], [1, 1], 'no span for the endpoint, one for the other request');
  },

  async spansCarrySemconvAttributesAndEvents() {
    const { spans } = traced();
    const response = await fetch(`${SERVER}/slow?chunks=2&x=attrs`, { method: 'post' });
    // The network may split or merge the server's two chunks (WebKit delivers three): the span counts what the
    // app's reader got.
    const reader = response.body.getReader();
    let chunksRead = 0;
    while (!(await reader.read()).done) chunksRead++;
    const span = await spanFor(spans, 'x=attrs');
    equal(span.name, 'POST', 'name');
    // A method the conventions don't know: `_OTHER`, and the span is named `HTTP`.
    await fetch(`${SERVER}/bytes?n=1&x=purge`, { method: 'PURGE' }).catch(() => {});
    const other = await spanFor(spans, 'x=purge');
    equal([other.name, other.attributes['http.request.method'], other.attributes['http.request.method_original']], ['HTTP', '_OTHER', 'PURGE'], 'an unknown method');
    // A method given as an object is converted by the native call alone (its `toString` runs once): the method
    // sent is unknown, so no original is recorded (not "_OTHER" as if sent).
    await fetch(`${SERVER}/bytes?n=1&x=object-method`, { method: { toString: () => 'PURGE' } }).catch(() => {});
    const objectMethod = await spanFor(spans, 'x=object-method');
    equal([objectMethod.name, objectMethod.attributes['http.request.method'], objectMethod.attributes['http.request.method_original']],
      ['HTTP', '_OTHER', undefined], 'a method given as an object');
    equal(span.kind, 'client', 'kind');
    check(/^[0-9a-f]{32}$/.test(span.traceId) && /^[0-9a-f]{16}$/.test(span.spanId), 'hex ids');
    equal(span.attributes['http.request.method'], 'POST', 'method');
    // (Sent as `POST`: fetch upper-cases the methods it normalizes, so there is no other original.)
    equal(span.attributes['http.request.method_original'], undefined, 'no original method');
    equal(span.attributes['server.address'], '127.0.0.1', 'server.address');
    equal(span.attributes['server.port'], 47811, 'server.port');
    equal(span.attributes['http.response.status_code'], 200, 'status code');
    check(chunksRead >= 1, 'read chunks');
    equal(span.attributes['fetchspan.response.chunks'], chunksRead, 'chunks, as the app read them');
    equal(span.events.map((e) => e.name).filter((n) => !n.startsWith('fetchspan.timing.')), ['fetchspan.response.headers', 'fetchspan.response.first_byte'], 'events (resource-timing phases aside)');
    check(span.startTime <= span.events[0].time && span.events[1].time <= span.endTime, 'event times inside the span');
    check(Math.abs(span.startTime - Date.now()) < 60_000, 'epoch milliseconds');
    // Times are at microsecond resolution; epoch milliseconds as doubles subtract with up to 0.25 µs of rounding.
    check(Math.abs(span.durationMs - (span.endTime - span.startTime)) < 1e-3, 'duration');
    const secret = await fetch(`http://user:pw@127.0.0.1:47811/bytes?n=1&x=cred`).catch(() => null);
    const credentials = await spanFor(spans, 'x=cred');
    check(!credentials.attributes['url.full'].includes('pw'), `credentials redacted: ${credentials.attributes['url.full']}`);
    secret?.body?.cancel();
    // The monotonic clock stops while the system sleeps, the wall clock doesn't: once they are a second or more
    // apart when a span ends (here the wall clock an hour ahead), spans are dated by the wall clock, their
    // durations by the monotonic one.
    const wall = Date.now;
    let slept;
    const before = wall();
    try {
      Date.now = () => wall() + 3_600_000;
      await (await fetch(`${SERVER}/bytes?n=1&x=slept`)).text();
      slept = await spanFor(spans, 'x=slept');
    } finally {
      Date.now = wall;
    }
    const after = wall();
    check(slept.startTime >= before + 3_600_000 - 2 && slept.endTime <= after + 3_600_000 + 2,
      `a span dated by the wall clock: ${slept.startTime}..${slept.endTime}, the clock ${before}..${after} plus an hour`);
    check(Math.abs(slept.durationMs - (slept.endTime - slept.startTime)) < 1e-3 && slept.durationMs < after - before + 2, 'its duration');
  },

  async quietSseStreamStaysOpenAndRecordsANetworkStall() {
    // One event, then 1 s of silence (over 3× the idle timeout) while the app sits in read(), then the rest.
    const { spans } = traced({ idleTimeoutMs: 300, stallThresholdMs: 200 });
    const response = await fetch(`${SERVER}/sse?events=4&quietMs=1000&delayMs=20&x=quiet`);
    const reader = response.body.getReader();
    let bytes = 0;
    let text = '';
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      text += decoder.decode(value, { stream: true });
    }
    const span = await spanFor(spans, 'x=quiet');
    console.log(`quiet SSE span in ${ENGINE}: ${JSON.stringify(span)}`);
    equal(span.endReason, 'completed', 'a quiet stream the app waits on is not abandoned');
    equal(span.attributes['fetchspan.response.decoded_size'], bytes, 'bytes');
    equal(span.attributes['fetchspan.sse.events'], text.split('\n\n').length - 1, 'SSE events, as the app got them');
    equal(span.attributes['fetchspan.sse.events'], 4, 'SSE events');
    const stalls = span.events.filter((e) => e.name === 'fetchspan.stall');
    equal(stalls.length, 1, `one network stall: ${JSON.stringify(span.events)}`);
    equal(stalls[0].attributes['fetchspan.stall.cause'], 'network', 'cause');
    check(stalls[0].attributes['fetchspan.stall.duration_ms'] >= 900, `stall duration ${stalls[0].attributes['fetchspan.stall.duration_ms']}`);
    equal(span.events.filter((e) => e.name === 'fetchspan.backpressure').length, 0, 'no backpressure');
    equal(span.attributes['fetchspan.response.stalls'], 1, 'stalls');
    check(span.attributes['fetchspan.response.max_gap_ms'] >= 900, 'max gap');
    check(span.attributes['fetchspan.response.time_to_first_chunk_ms'] >= 0, 'time to first chunk');
    const first = span.events.find((e) => e.name === 'fetchspan.sse.first_event');
    check(first && first.time >= span.startTime && first.time <= span.endTime, 'fetchspan.sse.first_event');
  },

  async aStreamGivenUpWhileQuietEndsWithItsStall() {
    // One event, then silence while the app waits in read(); the app gives up (a "Stop" button on a stream that
    // hung) with a cancel, or with an abort of the request's signal. The span ends with the stall that was going on:
    // the page waited on the network, as long as it waited. An app that gives up sooner than the threshold: none.
    const { spans } = traced({ stallThresholdMs: 200 });
    const quiet = (tag, init) => fetch(`${SERVER}/sse?events=2&quietMs=5000&delayMs=20&${tag}`, init);
    // The app reads the event, then waits in read(): `pending`.
    const waiting = async (response) => {
      const reader = response.body.getReader();
      const first = (await reader.read()).value.byteLength;
      return { reader, first, pending: reader.read().catch(() => {}) };
    };
    for (const [how, waitMs] of [['cancel', 600], ['abort', 600], ['soon', 20]]) {
      const controller = new AbortController();
      const tag = `x=given-up-${how}`;
      const { reader, first, pending } = await waiting(await quiet(tag, { signal: controller.signal }));
      await sleep(waitMs);
      if (how === 'abort') controller.abort();
      else await reader.cancel();
      await pending;
      const span = await spanFor(spans, tag);
      equal([span.endReason, span.attributes['fetchspan.response.decoded_size']], [how === 'abort' ? 'aborted' : 'cancelled', first],
        `${how}: the span`);
      const stalls = span.events.filter((e) => e.name === 'fetchspan.stall' || e.name === 'fetchspan.backpressure');
      if (how === 'soon') {
        equal([stalls.length, span.attributes['fetchspan.response.stalls']], [0, 0], `${how}: no stall (${JSON.stringify(span.events)})`);
        continue;
      }
      equal([stalls.map((e) => [e.name, e.attributes['fetchspan.stall.cause']]), span.attributes['fetchspan.response.stalls']],
        [[['fetchspan.stall', 'network']], 1], `${how}: the network stall going on (${JSON.stringify(span.events)})`);
      const { time, attributes } = stalls[0];
      const duration = attributes['fetchspan.stall.duration_ms'];
      check(duration >= waitMs - 50 && duration <= span.endTime - time + 1 && time + duration <= span.endTime + 1,
        `${how}: as long as the app waited, until the span's end (${duration} ms from ${time - span.startTime} ms, end at ${span.durationMs} ms)`);
    }
    // A cloned response, whose span ends once every branch is let go, with the account of the cancelled branch
    // that got the most: the stall is that branch's, as it was when the app cancelled it, however long the other
    // is kept after. Given up after 600 ms: one stall; after 20 ms, with the copy kept 600 ms more: none.
    for (const [how, waitMs, stalls] of [['clone-quiet', 600, 1], ['clone-soon', 20, 0]]) {
      const tag = `x=given-up-${how}`;
      const response = await quiet(tag);
      const copy = response.clone();
      const { reader, first, pending } = await waiting(response);
      await sleep(waitMs);
      await reader.cancel();
      await pending;
      await sleep(600 - waitMs);
      await copy.body.cancel();
      const span = await spanFor(spans, tag);
      const found = span.events.filter((e) => e.name === 'fetchspan.stall' || e.name === 'fetchspan.backpressure');
      equal([span.endReason, span.attributes['fetchspan.response.decoded_size'], found.length, span.attributes['fetchspan.response.stalls']],
        ['cancelled', first, stalls, stalls], `${how}: the span, and its stalls (${JSON.stringify(span.events)})`);
      if (stalls) {
        check(found[0].attributes['fetchspan.stall.duration_ms'] < waitMs + 150, `${how}: the stall ends at the cancel, not when the copy went (${found[0].attributes['fetchspan.stall.duration_ms']} ms)`);
      }
    }
  },

  async slowConsumerRecordsBackpressureNotAStall() {
    const { spans } = traced({ stallThresholdMs: 200 });
    // Chunks 100 ms apart, so that the first read can't get them all (with 5 ms, a slow first read sometimes did:
    // the body then ended with it, and no chunk waited for the app); all have come by the time the app reads again.
    const response = await fetch(`${SERVER}/slow?chunks=4&delayMs=100&x=lazy-reader`);
    const reader = response.body.getReader();
    let bytes = (await reader.read()).value.byteLength;
    await sleep(600);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
    }
    const span = await spanFor(spans, 'x=lazy-reader');
    equal([span.endReason, span.attributes['fetchspan.response.decoded_size']], ['completed', bytes], 'span');
    const waits = span.events.filter((e) => e.name === 'fetchspan.backpressure');
    equal(waits.length, 1, `one backpressure event: ${JSON.stringify(span.events)}`);
    equal(waits[0].attributes['fetchspan.stall.cause'], 'consumer', 'cause');
    check(waits[0].attributes['fetchspan.stall.duration_ms'] >= 500, 'duration');
    equal(span.events.filter((e) => e.name === 'fetchspan.stall').length, 0, 'no network stall');
    check(!('fetchspan.sse.events' in span.attributes), 'a non-SSE body has no SSE fields');
  },

  async sseEventsAreCountedAcrossChunkBoundaries() {
    const { spans, tracer } = traced();
    const shapes = {
      split: 'split=1', packed: 'pack=3', crlf: 'crlf=1&split=1', crlfSplitAtCr: 'crlf=1&split=cr', pings: 'ping=1&pack=2',
      bom: 'bom=1',
    };
    for (const [name, query] of Object.entries(shapes)) {
      const body = await readAll((await fetch(`${SERVER}/sse?events=7&delayMs=1&${query}&x=${name}`)).body);
      const span = await spanFor(spans, `x=${name}`);
      equal([span.attributes['fetchspan.sse.events'], span.attributes['fetchspan.response.decoded_size']], [7, body], `${name}: events and bytes`);
      // The premise of the split shapes: the app got events in pieces (more chunks than events).
      if (query.includes('split')) {
        const chunks = span.attributes['fetchspan.response.chunks'];
        check(chunks > 7, `${name}: ${chunks} chunks for 7 events, each sent in two`);
      }
    }
    await uninstall(tracer);
    const disabled = traced({ sse: false });
    await readAll((await fetch(`${SERVER}/sse?events=2&delayMs=1&x=disabled`)).body);
    check(!('fetchspan.sse.events' in (await spanFor(disabled.spans, 'x=disabled')).attributes), 'sse: false');
  },

  async everyStreamEndCarriesTheBytesTheAppReceived() {
    // Completed: once the app has the last chunk and the source has closed, the app's `reader.closed` settles
    // without another read, as natively (Chromium, WebKit), and the span ends then.
    const lastChunk = async () => {
      const reader = (await fetch(`${SERVER}/bytes?n=10&x=end-done`)).body.getReader();
      const { value } = await reader.read();
      const closed = await Promise.race([reader.closed.then(() => 'closed'), sleep(2000).then(() => 'still open')]);
      // An empty body, locked and never read.
      const empty = (await fetch(`${SERVER}/bytes?n=0&x=end-empty`)).body.getReader();
      const emptyClosed = await Promise.race([empty.closed.then(() => 'closed'), sleep(2000).then(() => 'still open')]);
      // Firefox closes a body only once it is read past its end, natively too (then `closed` is still open above):
      // the reads that follow end the spans there.
      return [value.byteLength, closed, emptyClosed, await reader.read(), await empty.read()];
    };
    const [done, empty] = await sameAsNative('the stream closes with its source', lastChunk);
    equal([done.endReason, done.attributes['fetchspan.response.decoded_size'], done.attributes['fetchspan.response.chunks']],
      ['completed', 10, 1], 'completed without a read after the last chunk');
    equal([empty.endReason, empty.attributes['fetchspan.response.decoded_size']], ['completed', 0], 'an empty body, locked');
    const { spans, tracer: idleTracer } = traced({ idleTimeoutMs: 400 });
    const readSome = async (reader, chunks) => {
      let bytes = 0;
      for (let i = 0; i < chunks; i++) bytes += (await reader.read()).value.byteLength;
      return bytes;
    };
    // Aborted mid-body by the request's signal.
    const controller = new AbortController();
    const aborted = (await fetch(`${SERVER}/stream?id=${id('end-abort')}`, { signal: controller.signal })).body.getReader();
    const abortedBytes = await readSome(aborted, 3);
    controller.abort();
    await aborted.read().catch(() => {});
    const a = await spanFor(spans, 'end-abort');
    equal([a.endReason, a.attributes['fetchspan.response.decoded_size'], a.attributes['fetchspan.response.size_source']],
      ['aborted', abortedBytes, 'stream'], 'aborted');
    check(a.attributes['fetchspan.response.chunks'] >= 3, 'chunks');
    // Aborted after the app took the body and before it read: the span ends at the abort, with no bytes, and the
    // app's first read gets the abort's error.
    const early = new AbortController();
    const unread = (await fetch(`${SERVER}/stream?id=${id('abort-unread')}`, { signal: early.signal })).body;
    early.abort();
    const u = await spanFor(spans, 'abort-unread', 2000);
    equal([u.endReason, u.attributes['fetchspan.response.decoded_size']], ['aborted', 0], 'aborted before the first read');
    equal((await outcome(() => unread.getReader().read())).error?.[1], 'AbortError', 'the first read after the abort');
    // Abandoned: the app stops pulling for the idle timeout.
    const idle = (await fetch(`${SERVER}/stream?id=${id('end-idle')}`)).body.getReader();
    const idleBytes = await readSome(idle, 2);
    const b = await spanFor(spans, 'end-idle', 3000);
    equal([b.endReason, b.attributes['fetchspan.response.decoded_size']], ['abandoned', idleBytes], 'abandoned by idle');
    await idle.cancel();
    // Abandoned by an app that released its reader with a read pending: the chunk that arrives after it (1.5 s
    // later) waits in the stream, received by no one, and the idle timeout runs from the release's pull.
    // Fetches `path` with `&x=<tag>` added and reads until a read stays pending (an engine may hand the first chunk
    // over in pieces). A body that ended first (a WebKit page held up for the whole body's 600 ms in one CI run) is
    // fetched again under a new tag, three times at most.
    const readUntilPending = async (path, tag, tracedSpans = spans) => {
      for (let attempt = 0; ; attempt++) {
        const tagged = attempt === 0 ? tag : `${tag}-${attempt}`;
        const body = (await fetch(`${SERVER}${path}&x=${tagged}`)).body;
        const reader = body.getReader();
        let bytes = 0;
        for (let reads = 0; ; reads++) {
          const pending = reader.read();
          const early = await Promise.race([pending, sleep(100).then(() => null)]);
          if (early === null) return { body, reader, tag: tagged, bytes, reads, pending };
          if (early.done) break;
          bytes += early.value.byteLength;
        }
        check(attempt < 2, `${tag}: the body ended before a read stayed pending, three times`);
        console.log(`${ENGINE}: ${tagged}: the body ended before a read stayed pending; fetched again`);
        await spanFor(tracedSpans, tagged, 3000);
      }
    };
    const { reader: released, tag: releasedTag, bytes: releasedBytes, reads: releasedReads, pending: pendingRead } =
      await readUntilPending('/slow?chunks=3&delayMs=1500', 'end-released');
    released.releaseLock();
    const releasedAt = performance.now();
    equal((await outcome(() => pendingRead)).error?.[1], 'TypeError', 'the read pending at the release');
    const r = await spanFor(spans, releasedTag, 3000);
    const after = performance.now() - releasedAt;
    check(after < 1300, `abandoned before the next chunk arrived: ${after} ms after the release`);
    equal([r.endReason, r.attributes['fetchspan.response.decoded_size'], r.attributes['fetchspan.response.chunks']],
      ['abandoned', releasedBytes, releasedReads], 'abandoned after a release with a read pending');
    // The same, with the next chunk 200 ms away: it arrives before the idle timeout (400 ms from the release's
    // pull), waits in the stream unread, and is not counted.
    const { body: lateBody, reader: lateChunk, tag: unreadTag, bytes: unreadBytes, reads: unreadReads,
      pending: unreadPending } = await readUntilPending('/slow?chunks=3&delayMs=200', 'end-unread');
    lateChunk.releaseLock();
    await unreadPending.catch(() => {});
    const u2 = await spanFor(spans, unreadTag, 3000);
    equal([u2.endReason, u2.attributes['fetchspan.response.decoded_size'], u2.attributes['fetchspan.response.chunks']],
      ['abandoned', unreadBytes, unreadReads], 'abandoned with a chunk that came after the release, unread');
    // The premise: that chunk had arrived when the span ended, and was waiting in the stream.
    const waiting = lateBody.getReader();
    const queued = await Promise.race([waiting.read(), sleep(50).then(() => null)]);
    check(queued?.value?.byteLength > 0, `the chunk that came after the release waits in the stream: ${JSON.stringify(queued)}`);
    await waiting.cancel();
    // Error: the connection resets mid-body. What the app sees is the engine's (WebKit may read a reset as the
    // end), so the expected end follows the same read made with the native fetch.
    const readReset = async (fetcher, tag) => {
      const reader = (await fetcher(`${SERVER}/reset?x=${tag}&chunks=2&afterMs=50`)).body.getReader();
      let bytes = 0;
      const result = await outcome(async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return 'done';
          bytes += value.byteLength;
        }
      });
      return [result, bytes];
    };
    const [nativeFailure] = await readReset(raw, 'native-error');
    const [failure, resetBytes] = await readReset(fetch, 'end-error');
    equal(failure, nativeFailure, 'a reset mid-body, as natively');
    const c = await spanFor(spans, 'x=end-error');
    const expected = 'ok' in nativeFailure ? 'completed' : 'error';
    equal([c.endReason, c.attributes['fetchspan.response.decoded_size']], [expected, resetBytes], `reset mid-body (${ENGINE})`);
    // An app that released its reader with a read pending, then takes a new reader, reads the chunk that arrived
    // meanwhile and goes on reading, and cancels: that chunk was received, and counts (its next read tells).
    await uninstall(idleTracer);
    const patient = traced({ idleTimeoutMs: 60_000 });
    const { body, reader: firstReader, tag: rereadTag, bytes: firstBytes, reads: firstReads, pending } =
      await readUntilPending('/slow?chunks=3&delayMs=1000', 'end-reread', patient.spans);
    let reader = firstReader;
    reader.releaseLock();
    await pending.catch(() => {});
    await sleep(1300);
    reader = body.getReader();
    const secondBytes = (await reader.read()).value.byteLength;
    const next = reader.read();
    await sleep(50);
    await reader.cancel();
    // (What that read got, if anything: the rest of a chunk an engine hands over in pieces.)
    const last = await next;
    const lastBytes = last.done ? 0 : last.value.byteLength;
    const reread = await spanFor(patient.spans, rereadTag);
    equal([reread.endReason, reread.attributes['fetchspan.response.decoded_size'], reread.attributes['fetchspan.response.chunks']],
      ['cancelled', firstBytes + secondBytes + lastBytes, firstReads + (last.done ? 1 : 2)], 'a chunk read through a second reader counts');
  },

  // A response the Cache API reads (`cache.put`: Workbox's precaching, a stale-while-revalidate's revalidation)
  // ends its span when `put` settles, not when the response is collected, which a stopped service worker never
  // sees. What the app sees stays native, and a `put` that refuses the response leaves it to the app.
  async aResponseTheCacheTakesEndsWhenPutSettles() {
    const cache = await caches.open('fetchspan-put');
    // WebKitGTK's resource timing has no sizes: a cross-origin body read natively is of unknown size (documented).
    const size = ENGINE === 'webkit' ? undefined : 42;
    const cases = {
      put: {
        steps: async () => {
          const url = `${SERVER}/bytes?n=42&x=put`;
          await cache.put(url, await fetch(url));
          return (await (await cache.match(url)).text()).length;
        },
        end: ['completed', size],
      },
      // The app's own read of a body `put` took: refused natively, and the span stays `put`'s.
      putThenText: {
        steps: async () => {
          const url = `${SERVER}/bytes?n=42&x=put-text`;
          const r = await fetch(url);
          const stored = cache.put(url, r);
          const text = await outcome(() => r.text());
          await stored;
          return [text.error?.[0], r.bodyUsed];
        },
        end: ['completed', size],
      },
      // A clone in the cache and the original read by the app: the first to end ends the span.
      cloneToTheCache: {
        steps: async () => {
          const url = `${SERVER}/bytes?n=42&x=put-clone`;
          const r = await fetch(url);
          const stored = cache.put(url, r.clone());
          const text = (await r.text()).length;
          await stored;
          return text;
        },
        end: ['completed', size],
      },
      // A request `put` won't store: the response is untouched, and the app reads it.
      refused: {
        steps: async () => {
          const url = `${SERVER}/bytes?n=42&x=put-refused`;
          const r = await fetch(url);
          const refused = await outcome(() => cache.put(new Request(url, { method: 'POST' }), r));
          return [refused.error?.[1], r.bodyUsed, (await r.text()).length];
        },
        end: ['completed', size],
      },
      // The app locks the stream it took, or cancels it, and calls `put` in the same task: `put` refuses the body,
      // as natively, and the app reads on.
      lockedThenPut: {
        steps: lockedThen(`${SERVER}/bytes?n=42&x=put-locked`, (r, url) => cache.put(url, r)),
        end: ['completed', 42],
      },
      cancelledThenPut: {
        steps: cancelledThen(`${SERVER}/bytes?n=42&x=put-cancelled`, (r, url) => cache.put(url, r)),
        end: ['cancelled'],
      },
      // The body's load fails while `put` reads it: Chromium rejects with a `NetworkError`, Firefox with an
      // `NS_ERROR_NET_PARTIAL_TRANSFER` exception.
      resetWhilePutReads: {
        steps: async () => {
          const url = `${SERVER}/reset?x=put-reset`;
          return (await outcome(async () => cache.put(url, await fetch(url)))).error?.[1];
        },
        // (WebKitGTK's `put` resolves, and stores what arrived.)
        end: [ENGINE === 'webkit' ? 'completed' : 'error'],
      },
    };
    try {
      await eachEndsAs(cases);
    } finally {
      await caches.delete('fetchspan-put');
    }
  },

  // A response a WebAssembly compile takes (`compileStreaming`, `instantiateStreaming`: how wasm-bindgen's and
  // Emscripten's glue load a module) ends its span when the compile settles, not when the response is collected.
  // What the app sees stays native; a compile that refuses the response, or comes too late, leaves it to the app.
  async aResponseAWebAssemblyCompileTakesEndsWhenTheCompileSettles() {
    // The module's size: 8 bytes of header, then a custom section of 2 + 1000 bytes (`/wasm?pad=1000`).
    const BYTES = 1013;
    // WebKitGTK's resource timing has no sizes: a cross-origin body read natively is of unknown size (documented).
    const size = ENGINE === 'webkit' ? undefined : BYTES;
    const url = (tag, extra = '') => `${SERVER}/wasm?pad=1000${extra}&x=wasm-${tag}`;
    const isModule = (module) => module instanceof WebAssembly.Module;
    // Steps: fetch, look at `body` first if `touch`, start a compile, and once it has the native body (a task later)
    // read with `read(response, stream)`; they return how the read failed, what the compile made, and whether the
    // stream looked at is locked.
    const readWhileCompiling = (tag, touch, read) => async () => {
      const r = await fetch(url(tag));
      const stream = touch ? r.body : undefined;
      const module = WebAssembly.compileStreaming(r);
      await new Promise((resolve) => setTimeout(resolve, 0));
      const got = await outcome(() => read(r, stream));
      return [got.error?.[1], got.error?.[2], isModule(await module), stream?.locked];
    };
    const cases = {
      promise: {
        steps: async () => isModule(await WebAssembly.compileStreaming(fetch(url('promise')))),
        end: ['completed', size],
      },
      response: {
        steps: async () => isModule(await WebAssembly.compileStreaming(await fetch(url('response')))),
        end: ['completed', size],
      },
      instantiate: {
        steps: async () => {
          const { module, instance } = await WebAssembly.instantiateStreaming(fetch(url('instantiate')), {});
          return [isModule(module), instance instanceof WebAssembly.Instance];
        },
        end: ['completed', size],
      },
      // The app looked at `body` first: the compile still gets the native body, and the app's stream is used.
      touched: {
        steps: async () => {
          const r = await fetch(url('touched'));
          const stream = r.body;
          const module = await WebAssembly.compileStreaming(r);
          return [isModule(module), r.bodyUsed, stream === r.body, stream.locked];
        },
        end: ['completed', size],
      },
      // The app reads the body whole in the same task: it gets it, and the compile is refused.
      readFirst: {
        steps: async () => {
          const r = await fetch(url('read-first'));
          const refused = outcome(() => WebAssembly.compileStreaming(r));
          return [(await r.arrayBuffer()).byteLength, (await refused).error?.[1]];
        },
        end: ['completed', BYTES],
      },
      // The app's read once the compile has the body is refused, as natively; the span stays the compile's.
      readAfter: { steps: readWhileCompiling('read-after', false, (r) => r.text()), end: ['completed', size] },
      // The same after looking at `body` first: the whole-body read is refused, as natively.
      touchedReadAfter: {
        steps: readWhileCompiling('touched-read-after', true, (r) => r.arrayBuffer()),
        end: ['completed', size],
      },
      // And the stream taken before: natively `getReader()` throws; here the read fails, with the same error.
      touchedStreamAfter: {
        steps: readWhileCompiling('touched-stream-after', true, (r, stream) => stream.getReader().read()),
        end: ['completed', size],
      },
      // Two compiles of one response: the second is refused, and the first one's success ends the span.
      twice: {
        steps: async () => {
          const r = await fetch(url('twice'));
          const first = WebAssembly.compileStreaming(r);
          const second = await outcome(() => WebAssembly.compileStreaming(r));
          return [second.error?.[1], isModule(await first)];
        },
        end: ['completed', size],
      },
      // `put` in the same task takes the body first: the compile is refused, and the span is `put`'s (a megabyte,
      // so that `put` settles after the compile's refusal).
      thenPut: {
        steps: async () => {
          const big = `${SERVER}/wasm?pad=1000000&x=wasm-then-put`;
          const r = await fetch(big);
          const refused = outcome(() => WebAssembly.compileStreaming(r));
          const cache = await caches.open('fetchspan-wasm');
          try {
            await cache.put(big, r);
            return (await refused).error?.[1];
          } finally {
            await caches.delete('fetchspan-wasm');
          }
        },
        // (8 bytes of header, a custom section of 1 + 3 + 2 + 1,000,000.)
        end: ['completed', ENGINE === 'webkit' ? undefined : 1_000_014],
      },
      // A module that compiles and then fails to link (an import that is not a function) had its whole body.
      linkError: {
        steps: async () => {
          const refused = await outcome(() => WebAssembly.instantiateStreaming(fetch(url('link', '&imports=1')), { m: { f: 1 } }));
          return refused.error?.[1];
        },
        end: ['completed', ENGINE === 'webkit' ? undefined : BYTES + 15],
      },
      // A MIME type other than `application/wasm`: refused before the body is read, which the app then reads
      // itself, as wasm-bindgen's glue does.
      wrongType: {
        steps: async () => {
          const r = await fetch(`${SERVER}/bytes?n=42&x=wasm-type`);
          const refused = await outcome(() => WebAssembly.instantiateStreaming(r, {}));
          return [refused.error?.[1], (await r.arrayBuffer()).byteLength];
        },
        end: ['completed', 42],
      },
      compileError: {
        steps: async () => (await outcome(() => WebAssembly.compileStreaming(fetch(url('bad', '&bad=1'))))).error?.[1],
        end: ['error'],
      },
      // The connection drops while the compiler reads the body.
      reset: {
        steps: async () => (await outcome(() => WebAssembly.compileStreaming(fetch(url('reset', '&reset=1'))))).error?.[1],
        end: ['error'],
      },
      // The app locks the stream it took, or cancels it, and compiles in the same task: the compile is refused, as
      // natively, and the app reads on.
      locked: { steps: lockedThen(url('locked'), (r) => WebAssembly.compileStreaming(r)), end: ['completed', BYTES] },
      cancelled: { steps: cancelledThen(url('cancelled'), (r) => WebAssembly.compileStreaming(r)), end: ['cancelled'] },
    };
    await eachEndsAs(cases);
    // A compile pending when the app uninstalls: the sweep of unread responses after uninstall (every
    // `idleTimeoutMs`, 10 ms here) leaves its span to the compile, which fails when the connection drops (100 ms in).
    const { spans, tracer } = traced({ idleTimeoutMs: 10 });
    const r = await fetch(url('uninstalled', '&reset=1'));
    const compile = outcome(() => WebAssembly.compileStreaming(r));
    await uninstall(tracer);
    const failed = await compile;
    equal([(await spanFor(spans, 'x=wasm-uninstalled')).endReason, failed.error !== undefined], ['error', true],
      'a compile pending at uninstall: its span ends with the compile');
  },

  async aClonedResponseIsFollowedToTheBranchTheAppReads() {
    // The native clone tees the body: the download goes on as long as a branch is read. The span follows the branch
    // the app reads and ends with the last one, or with the first to complete (the steps themselves are compared
    // with the native run's). A branch's cancel is not awaited while another lives: the Streams standard settles it
    // only once every branch is cancelled (WebKit does).
    const n = 100_000;
    const cases = {
      // ky's `onDownloadProgress`: clone, cancel the original, read the copy.
      'clone-ky': async (res) => {
        const copy = res.clone();
        res.body.cancel();
        return [await readAll(copy.body), res.bodyUsed, copy.bodyUsed];
      },
      // The copy's stream taken first, then the original cancelled.
      'clone-copy-first': async (res) => {
        const copy = res.clone();
        const body = copy.body;
        body.getReader().releaseLock();
        res.body.cancel();
        return [await readAll(body), res.bodyUsed];
      },
      // The copy read whole after the original was cancelled.
      'clone-whole': async (res) => {
        const copy = res.clone();
        res.body.cancel();
        return (await copy.arrayBuffer()).byteLength;
      },
      // The copy read in part and cancelled, then the original read: the tee kept every byte for it.
      'clone-partly': async (res) => {
        const copy = res.clone();
        const reader = copy.body.getReader();
        await reader.read();
        reader.cancel();
        return [await readAll(res.body), copy.bodyUsed];
      },
      // Both cancelled: the download stops, and the span ends as cancelled.
      'clone-both': async (res) => {
        const copy = res.clone();
        const first = res.body.cancel();
        await copy.body.cancel();
        await first;
        return [res.bodyUsed, copy.bodyUsed];
      },
      // A clone of a clone, read while the two others are cancelled.
      'clone-twice': async (res) => {
        const copy = res.clone();
        const second = copy.clone();
        res.body.cancel();
        copy.body.cancel();
        return readAll(second.body);
      },
    };
    for (const [name, steps] of Object.entries(cases)) {
      const spans = await sameAsNative(name, async () => steps(await fetch(`${SERVER}/bytes?n=${n}&x=${name}`)));
      const span = await spanFor(spans, `x=${name}`);
      const expected = name === 'clone-both' ? ['cancelled', 0, 'stream']
        : name === 'clone-whole' ? ['completed', n, 'value'] : ['completed', n, 'stream'];
      equal([span.endReason, span.attributes['fetchspan.response.decoded_size'],
        span.attributes['fetchspan.response.size_source']], expected, name);
    }
    // The original let go unread and collected while the copy is read: the copy still ends the span.
    const { spans, tracer } = traced({ idleTimeoutMs: 600_000 });
    const originals = { collected: false };
    const watch = new FinalizationRegistry(() => { originals.collected = true; });
    const copy = await (async () => {
      const res = await fetch(`${SERVER}/bytes?n=${n}&x=clone-collected`);
      watch.register(res, null);
      return res.clone();
    })();
    await until(() => originals.collected, 'the original collected', 8000, collect);
    await sleep(20);
    equal(spans.length, 0, 'spans ended when the original was collected and its copy is unread');
    equal(await readAll(copy.body), n, 'the copy\'s bytes');
    const collected = await spanFor(spans, 'x=clone-collected');
    equal([collected.endReason, collected.attributes['fetchspan.response.decoded_size']], ['completed', n],
      'the copy of a collected original');
    // Both let go unread: abandoned, as an uncloned response.
    await (async () => { (await fetch(`${SERVER}/bytes?n=10&x=clone-dropped`)).clone(); })();
    for (let i = 0; i < 20 && !spans.some((s) => s.attributes['url.full'].includes('clone-dropped')); i++) {
      await collect();
      await sleep(50);
    }
    equal((await spanFor(spans, 'x=clone-dropped', 3000)).endReason, 'abandoned', 'a response and its copy dropped unread');
    // The original read in part and cancelled, its copy kept unread and then collected: cancelled, with the bytes
    // the app read.
    const partBytes = await (async () => {
      const res = await fetch(`${SERVER}/slow?chunks=8&delayMs=100&x=clone-kept`);
      res.clone();
      const reader = res.body.getReader();
      const { value } = await reader.read();
      await reader.cancel();
      return value.byteLength;
    })();
    for (let i = 0; i < 20 && !spans.some((s) => s.attributes['url.full'].includes('clone-kept')); i++) {
      await collect();
      await sleep(50);
    }
    const kept = await spanFor(spans, 'x=clone-kept', 3000);
    equal([kept.endReason, kept.attributes['fetchspan.response.decoded_size']], ['cancelled', partBytes],
      'a branch cancelled, then its unread copy collected');
    // The original read in part and cancelled, then its copy cancelled unread (a wrapper that keeps a clone and
    // cancels it at the end): cancelled, with the bytes of the branch that got the most.
    const mostBytes = await (async () => {
      const res = await fetch(`${SERVER}/slow?chunks=8&delayMs=100&x=clone-most`);
      const copy = res.clone();
      const reader = res.body.getReader();
      const { value } = await reader.read();
      reader.cancel();
      await sleep(20);
      await copy.body.cancel();
      return value.byteLength;
    })();
    const most = await spanFor(spans, 'x=clone-most');
    equal([most.endReason, most.attributes['fetchspan.response.decoded_size']], ['cancelled', mostBytes],
      'a branch read in part and cancelled, then its copy cancelled unread');
    // An abort once the span follows a copy the app took but did not lock: the span ends at the abort.
    const abort = new AbortController();
    const aborted = await fetch(`${SERVER}/slow?chunks=20&delayMs=100&x=clone-abort`, { signal: abort.signal });
    const abortCopy = aborted.clone().body;
    const first = aborted.body.getReader();
    await first.read();
    first.cancel();
    await sleep(50);
    abort.abort();
    equal((await spanFor(spans, 'x=clone-abort', 2000)).endReason, 'aborted', 'an abort while the span follows a copy');
    equal((await outcome(() => abortCopy.getReader().read())).error?.[1], 'AbortError', 'the copy\'s read after the abort');
    equal(tracer.stats().open, 0, 'open spans');
    await uninstall(tracer);
    // The idle timeout measures the branch the app reads: a copy taken and never read doesn't make a body the app
    // reads abandoned.
    const idle = traced({ idleTimeoutMs: 300 });
    const slow = await fetch(`${SERVER}/slow?chunks=8&delayMs=100&x=clone-idle`);
    const copyOfSlow = slow.clone();
    const slowReader = slow.body.getReader();
    const idleCopy = copyOfSlow.body.getReader();
    let slowBytes = 0;
    for (let chunk; !(chunk = await slowReader.read()).done;) slowBytes += chunk.value.byteLength;
    equal(slowBytes, 8 * 1024, 'the original\'s bytes');
    const read = await spanFor(idle.spans, 'x=clone-idle');
    equal([read.endReason, read.attributes['fetchspan.response.decoded_size']], ['completed', 8 * 1024],
      'a body read while its copy is held unread');
    idleCopy.cancel();
    // The copy taken while the app waits on the original for longer than the idle timeout: the span goes on
    // following the original.
    const quiet = await fetch(`${SERVER}/slow?chunks=3&delayMs=600&x=clone-quiet`);
    const copyOfQuiet = quiet.clone();
    const quietReader = quiet.body.getReader();
    let quietBytes = (await quietReader.read()).value.byteLength;
    const next = quietReader.read();
    await sleep(50);
    const quietCopy = copyOfQuiet.body.getReader();
    for (let chunk = await next; !chunk.done; chunk = await quietReader.read()) quietBytes += chunk.value.byteLength;
    const quietSpan = await spanFor(idle.spans, 'x=clone-quiet');
    equal([quietSpan.endReason, quietSpan.attributes['fetchspan.response.decoded_size']], ['completed', quietBytes],
      'a copy taken while the app waits on the original');
    quietCopy.cancel();
  },

  async pipesAndAsyncIterationReadAsNatively() {
    // How LLM and SSE clients read a body: piped through a TextDecoderStream, piped to a sink, iterated with
    // `for await` (where the engine has it), and that loop left early, which cancels the stream.
    const chunks = 5;
    const size = 700;
    const slow = (x, count = chunks) => fetch(`${SERVER}/slow?chunks=${count}&size=${size}&delayMs=20&x=${x}`);
    let earlyBytes = 0;
    const ways = {
      pipeThrough: async () => {
        const text = (await slow('way-through')).body
          .pipeThrough(new TextDecoderStream());
        let length = 0;
        for (const reader = text.getReader(); ;) {
          const { done, value } = await reader.read();
          if (done) return length;
          length += value.length;
        }
      },
      pipeTo: async () => {
        let bytes = 0;
        const body = (await slow('way-to')).body;
        await body.pipeTo(new WritableStream({ write(chunk) { bytes += chunk.byteLength; } }));
        return [bytes, body.locked];
      },
    };
    if (Symbol.asyncIterator in ReadableStream.prototype) {
      ways.forAwait = async () => {
        let bytes = 0;
        for await (const chunk of (await slow('way-await')).body) bytes += chunk.byteLength;
        return bytes;
      };
      ways.forAwaitLeftEarly = async () => {
        const body = (await slow('way-early', 50)).body;
        let bytes = 0;
        for await (const chunk of body) {
          bytes += chunk.byteLength;
          if (bytes >= 2 * size) break;
        }
        // How the chunks came depends on the network: compared as a bound, and the span against this run's count.
        earlyBytes = bytes;
        return [bytes >= 2 * size, body.locked, await outcome(() => body.getReader().read())];
      };
    } else {
      console.log(`${ENGINE}: no async iteration of ReadableStream, natively: the for-await cases are not run`);
    }
    const expected = { pipeThrough: 'completed', pipeTo: 'completed', forAwait: 'completed', forAwaitLeftEarly: 'cancelled' };
    for (const [name, steps] of Object.entries(ways)) {
      const spans = await sameAsNative(name, steps);
      equal(spans.length, 1, `${name}: one span`);
      const [span] = spans;
      const bytes = name === 'forAwaitLeftEarly' ? earlyBytes : chunks * size;
      equal([span.endReason, span.attributes['fetchspan.response.decoded_size'], span.attributes['fetchspan.response.size_source']],
        [expected[name], bytes, 'stream'], `${name}: the span`);
    }
  },

  async workerSpansEndLikeThePageOnes() {
    const { spans } = traced();
    equal(await readAll((await fetch(`${SERVER}/bytes?n=70000&x=worker`)).body), 70000, 'stream in a worker');
    const span = await spanFor(spans, 'x=worker');
    equal([span.endReason, span.attributes['fetchspan.response.decoded_size']], ['completed', 70000], 'worker span');
    const reader = (await fetch(`${SERVER}/stream?id=${id('worker')}`)).body.getReader();
    await reader.read();
    await reader.cancel();
    equal((await spanFor(spans, 'id=worker')).endReason, 'cancelled', 'cancel in a worker');
    check(typeof document === 'undefined', 'this ran in a worker');
  },

  async aFetchThatIsNotConfigurableIsInstrumentedAndRestored() {
    const nativeFetch = globalThis.fetch;
    const own = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
    check(!own || own.configurable, 'the worker starts with a configurable fetch');
    // For the rest of this worker's life: its own fetch stays writable but can no longer be redefined.
    Object.defineProperty(globalThis, 'fetch', { value: nativeFetch, writable: true, enumerable: own?.enumerable ?? true, configurable: false });
    const original = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
    const { tracer, spans } = traced();
    check(globalThis.fetch !== nativeFetch, 'fetch is patched');
    equal(await (await fetch(`${SERVER}/bytes?n=5&x=fixed`)).text(), 'abcde', 'the request');
    equal((await spanFor(spans, 'x=fixed')).endReason, 'completed', 'the request is traced');
    await uninstall(tracer);
    const now = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
    equal([now.value === original.value, now.writable, now.enumerable, now.configurable],
      [true, true, original.enumerable, false], 'the native fetch is back, with the attributes it had');
  },
};
