// Stage 3 of a request, the body's JS half: the Rust half is src/body.rs, whose `stream` calls `streamBody` (through
// src/patch.js, which hands it the engine's `TransformStream`; see there why this file is imported by patch.js
// alone). Imports nothing: the test runner serves this file from the crate's own folder, where it can't see
// wasm-bindgen's copies of the others.
//
// A body the app reads as a stream runs through a pass-through TransformStream whose transformer is the Rust
// `CountingTransformer`, driven by a pump of ours rather than `pipeTo`, because the pump sees what `pipeTo` hides:
// whether the app has a read pending (it waits on the network) or chunks wait for the app.
//
// Owns: the pump, the app's stream (the TransformStream's readable), the stream timings, the SSE event count, and
// the branches of a cloned response (which one the span follows, and when letting one go ends it).
// Never: clones, tees or buffers a body (one chunk in hand at most, and backpressure passes through), reads a byte of
// the native body before the app asks for one, locks it before then either (a body the app only looked at stays the
// response's own, for `cache.put`, `respondWith` and `WebAssembly.compileStreaming`), copies chunk bytes into wasm,
// or lets a failure of its own reach the app (the response's entry's `failed` counts it).

// Stall events kept per span at most.
const MAX_STALLS = 8;
const LF = 10;
const CR = 13;
const COLON = 58;

/**
 * Interposes on the native body `source` of a tracked response (called from src/body.rs, through src/patch.js).
 * `NativeTransformStream` is the engine's own (`NativeTransformStream` in src/patch.js); `transformer` the Rust
 * `CountingTransformer`; `branch`, the response's entry (see `patchPrototype`), whose `failed` counts a failure of
 * ours. Returns `readable`, the stream to hand the app; `used`, a Response over that stream whose native `bodyUsed`
 * says at once whether the app has read or cancelled it; `takeIfLocked()` and `cancelUnread()`, which pass a lock or
 * a cancel the app made in this task on to the native body at once; and `detach()`, which gives the native body
 * back untouched if the app hasn't read yet (true if it did).
 *
 * The branches of a cloned response (its `family`, see `branched`) share one span, whose report is one stream's at a
 * time, `family.current`: the one the app last pulled (before any pull, the last to start), or the one that ends
 * the span. A branch the app cancels while others remain leaves the span to them (natively, the download goes on
 * for them too): the span ends with the first branch to complete or fail, with its own stream's account, or once
 * every branch is let go, as cancelled with the account of the cancelled one that got the most (see `cancel`).
 */
export function streamBody(NativeTransformStream, transformer, source, sse, stallMs, branch) {
  // The native body's reader, taken at the app's first read, or as soon as the app has locked our stream (`take`).
  let reader = null;
  const stats = {
    waitingForApp: true, since: performance.now(), pulledAt: 0, firstChunkAt: -1, maxGapMs: 0,
    sseEvents: sse ? 0 : -1, sseFirstAt: -1, stalls: [], dropped: 0, bytes: 0, chunks: 0, closed: false,
    cancelled: false, aborted: false, abortedFirst: false, reason: undefined,
  };
  // The controller stays on the JS side (held from Rust it would root the stream, and through it the span, in a
  // cycle the collector can't see through): `start` is an own property the TransformStream calls at once. So is
  // `transform`, which only takes the pump's probes (see the pump below, and CountingTransformer in src/body.rs).
  let controller;
  // `stats.cancelled`: whether the app cancelled our stream: engines with the transformer's `cancel` call it at
  // once; the others error our writable at once (its `desiredSize` turns null).
  transformer.start = (c) => { controller = transformer.controller = c; };
  transformer.transform = probed;
  transformer.cancel = () => { stats.cancelled = true; };
  const stream = new NativeTransformStream(transformer);
  const writer = transformer.writer = stream.writable.getWriter();
  transformer.readable = stream.readable;
  const scan = sse ? eventScanner(stats) : null;
  let read = false;
  let detached = false;
  let ended = false;
  let sourceFailed = false;
  // Whether the pump waits on the network (a chunk it gets is still to be enqueued); `stats.closed`, whether the
  // source has closed meanwhile.
  let reading = false;
  // A chunk that arrived after the app released its reader, read pending, and `queuedAt` its arrival: it waits in
  // our stream's queue (which keeps the backpressure on), and counts once the app pulls again (so has taken it), or
  // when the stream completes. (A chunk the app takes with a new reader and then cancels, without another read,
  // goes uncounted: our stream tells no one of a read its queue answers.)
  let queued = null;
  let queuedAt = 0;
  // Counts `chunk`, arrived `at`, as received.
  const received = (chunk, at) => {
    stats.bytes += chunk.byteLength;
    stats.chunks++;
    if (scan !== null) scan(chunk, at);
  };
  const end = (call) => {
    if (ended) return;
    ended = true;
    // A network wait still going on, the app's read pending, is a stall once it is as long as one: a stream that
    // went quiet and that the app then cancels or aborts (a "Stop" button), or that fails or closes after the
    // silence, says so, as long as it waited. Taken now, at this stream's end: a cloned response's span may end
    // with this stream's account later, once the other branches are let go.
    if (!stats.waitingForApp && stream.readable.locked) {
      const at = performance.now();
      const waited = at - stats.pulledAt;
      if (waited >= stallMs) stall(stats, 'stall', stats.pulledAt, waited);
      stats.waitingForApp = true;
      stats.since = at;
    }
    family?.streams.delete(follow);
    try { call(); } catch (error) { branch.failed(error); }
    // (The native body stays locked by the pump's reader: releasing a reader of a closed stream makes a TypeError,
    // 17 µs in Chromium, on every streamed body. README, Known differences: `body` after uninstall.)
  };
  // The source closed and the app has every chunk: our readable closes now, as the native body did, without
  // waiting for the app's next read. That also saves a body's last round (probe, read of `done`): half of a small
  // body's rounds. With no probe write pending, the writable closes, which closes the readable; with one pending
  // (the source closed while the app was not reading), the TransformStream is terminated, which fails that write
  // and ends the pump. Only then: terminating makes an error, which cost 40 µs a body in the benchmark's profile.
  const complete = (probing) => end(() => {
    if (queued !== null) received(queued, queuedAt);
    try {
      if (probing) controller.terminate();
      else writer.close().catch(() => {});
    } finally {
      own();
      transformer.completed();
    }
  });
  // Once taken, a failure of the source (network error, the request's signal) reaches the app's stream at once, read
  // pending or not, with the source's own error (WPT error-after-response), and its end closes the app's stream
  // (`complete`). Before, the app meets either at its first read.
  const failed = (error) => {
    sourceFailed = true;
    // An app's cancel the pump has not heard of yet came first (the transformer's `cancel` ran, or the writable
    // errored, but not by `abortStream`): the body was cancelled. Not if the abort came before it.
    const cancelled = !stats.abortedFirst && (stats.cancelled || (writer.desiredSize === null && !stats.aborted));
    // The source failed after the signal aborted while the pump held it: how this engine fails an aborted body (see
    // `abortStream`), learnt once.
    if (stats.reason !== undefined) {
      abortFailure ??= error === stats.reason || (error instanceof DOMException ? [error.message, error.name] : undefined);
    }
    // Errors both sides now; an abort would wait for the pending probe write, that is for the app's next read.
    controller.error(error);
    // (A failure reaches every branch of a cloned response: the one the span follows ends it, if it holds its
    // reader and so sees the failure too.)
    const other = family?.watched && family.current !== follow && family.streams.has(family.current);
    end(() => (cancelled ? cancel() : other || (own(), transformer.sourceFailed(error))));
  };
  // False when the platform took the native body first (`cache.put` of a response whose stream the app had not
  // locked yet, in the same task): the app's stream then fails with the engine's own "locked" error.
  const take = () => {
    try {
      reader = source.getReader();
    } catch (error) {
      // A platform consumer holds the native body (a WebAssembly compile that took it after the app took our
      // stream): the app's stream fails with the engine's own "locked" error, and the span is the consumer's
      // (`platformTook`, see `compiled` in src/patch.js), as for a native body handed back.
      if (source.locked) {
        branch.platformTook = true;
        controller.error(error);
        end(() => leave());
      } else {
        failed(error);
      }
      return false;
    }
    if (family === undefined || family.current === follow) follow(family?.pulled);
    reader.closed.then(() => {
      if (detached) return;
      stats.closed = true;
      if (!reading) complete(true);
    }, (error) => {
      if (!detached) failed(error);
    });
    return true;
  };
  // The app cancelled our readable: the writable errors, so the network read is cancelled too, with its reason
  // (the native body itself, if the app cancelled before reading).
  writer.closed.then(null, (reason) => {
    // (An abort that failed our stream first, before fetch's own abort steps failed the source, where a page
    // replaced `AbortSignal.any`: `failed` ends it, as aborted.)
    if (detached || sourceFailed || ended || stats.aborted) return;
    (reader ?? source).cancel(reason).catch(() => {});
    // An abort the app's stream could not mirror came first (see `abortStream`): the span ends aborted all the same.
    end(stats.abortedFirst ? () => (own(), transformer.sourceFailed(stats.reason)) : cancel);
  });
  // This stream's report becomes the span's.
  const family = branch.family;
  const report = reporter(stats, new WeakRef(transformer));
  // (`pulled`: the app has pulled this stream since it became the one followed.)
  const follow = (pulled = false) => {
    if (family !== undefined) {
      family.current = follow;
      family.pulled = pulled;
      family.watched = reader !== null;
    }
    transformer.observe(report, reader !== null);
  };
  // A stream that ends the span makes its report the span's first (it is, but for a cloned response's branches).
  const own = () => {
    if (family !== undefined && family.current !== follow) follow();
  };
  // A stream that starts becomes the one followed, unless the app is reading another (whose account, abort and
  // idle time stay the span's).
  if (!(family?.pulled && family.streams.has(family.current))) follow();
  family?.streams.add(follow);
  // The app cancelled this stream: the span ends as cancelled. Of a cloned response's branches, the cancelled one
  // that got the most bytes ends it so (`family.pending`), once the others are let go too (see `dropped`: natively,
  // the download stops only then).
  const cancel = () => {
    if (family === undefined) return transformer.cancelled();
    if (!(family.pending?.stats.bytes > stats.bytes)) {
      family.pending = { stats, end: () => (transformer.observe(report, false), transformer.cancelled()) };
    }
    if (dropped(branch) && family.kept > 0) leave(true);
  };
  // This stream no longer tells the span anything. If its report was the span's, another branch's stream through
  // us takes over. Else, for a stream the app cancelled, its report stays the span's (the idle timeout and an abort
  // end the span with it, unwatched) until another branch is read or all are let go; for a native body handed back,
  // the span no longer streams.
  const leave = (cancelled) => {
    if (family !== undefined && family.current !== follow) return;
    const next = family?.streams.values().next().value;
    if (next !== undefined) {
      next();
    } else if (!cancelled) {
      transformer.detached();
    } else {
      // The app holds the other branches without reading: idle from now on.
      stats.waitingForApp = true;
      stats.since = performance.now();
      transformer.observe(report, false);
    }
  };
  // An app that locks our stream right away (`res.body.getReader()`) sees the source's end or failure on its reader
  // even before it reads, as natively; one that only looked at `body` leaves the native body to the platform.
  const takeIfLocked = () => {
    if (reader === null && !detached && !ended && stream.readable.locked) take();
  };
  queueMicrotask(takeIfLocked);

  // Each round: a probe write (`undefined`, which the transformer passes nothing on for) completes once the app
  // has a read pending; only then is the network read, and the chunk, counted, is enqueued straight into that read
  // through the controller. So the native body is never read ahead of the app, and the two waits are told apart.
  // Enqueueing instead of writing the chunk saves a write per chunk, a little: 11.4 to 13.8 µs a chunk against 11.9
  // to 17.4 in Chromium, where pipeThrough takes 7 (and sees no pull) and the native read 2 (`node
  // tests/bench/per-chunk.mjs`, three runs). Most of it is the probe, the price of seeing the app's pulls.
  const pump = async () => {
    for (;;) {
      await writer.write(undefined);
      if (detached || ended) return;
      // Of a cloned response's branches, the span follows the one the app reads.
      if (family !== undefined && !(family.current === follow && family.pulled)) follow(true);
      read = true;
      if (reader === null && !take()) return;
      if (queued !== null) {
        received(queued, queuedAt);
        queued = null;
      }
      const pulledAt = stats.pulledAt = performance.now();
      const waited = pulledAt - stats.since;
      if (waited >= stallMs && stats.firstChunkAt >= 0) stall(stats, 'backpressure', stats.since, waited);
      stats.waitingForApp = false;
      reading = true;
      const { done, value } = await reader.read();
      reading = false;
      if (done) {
        complete(false);
        return;
      }
      const at = performance.now();
      const gap = at - pulledAt;
      if (stats.firstChunkAt < 0) stats.firstChunkAt = at;
      // Whether the read the pump answers is still pending: only a reader's release takes it away (with the lock).
      // Then no one waited for this chunk: it waits in our queue, and the app's idle time runs on from its last pull.
      const answered = stream.readable.locked;
      if (answered) {
        if (gap > stats.maxGapMs && stats.chunks > 0) stats.maxGapMs = gap;
        if (gap >= stallMs) stall(stats, 'stall', pulledAt, gap);
      }
      stats.waitingForApp = true;
      stats.since = answered ? at : pulledAt;
      try {
        controller.enqueue(value);
      } catch (_) {
        return; // the app cancelled meanwhile: handled above
      }
      if (answered) {
        received(value, at);
      } else {
        queued = value;
        queuedAt = at;
      }
      // The source closed as this chunk was read (its `closed` reaction runs before the read's).
      if (stats.closed) {
        complete(false);
        return;
      }
    }
  };
  // A rejected write is the app's cancel or the source's failure, both handled above.
  pump().catch(() => {});

  return {
    readable: stream.readable,
    used: new Response(stream.readable),
    // The native body is locked now if the app locked our stream (see above), not a microtask later: for a platform
    // consumer called in the same task (`cache.put`), which then refuses it as natively.
    takeIfLocked,
    // If the app cancelled our stream before the pump read anything: cancels the native body now (true), rather
    // than when the cancel reaches it.
    cancelUnread() {
      // A read the app released unanswered disturbs our stream without cancelling it.
      if (reader !== null || read || detached || !(stats.cancelled || writer.desiredSize === null)) return false;
      source.cancel().catch(() => {});
      return true;
    },
    detach() {
      // (A source that closed before the app read anything goes back too: closed, so it reads as empty natively.)
      if (read || (ended && !stats.closed)) return false;
      detached = true;
      reader?.releaseLock();
      // A reference the app took to our stream is now a used body, as natively: locked (by a reader of ours, so
      // the app's `getReader()` and `cancel()` fail with the engine's own errors), and errored, which ends the pump.
      if (!stream.readable.locked) stream.readable.getReader();
      controller.error(new TypeError('fetchspan: body already read by a whole-body method'));
      end(() => leave());
      return true;
    },
  };
}

// A branch of a cloned response that the app dropped (cancelled, or let go unread) leaves its family: true while
// another may still be read, which the span then follows (see `streamBody`), or when this last one ended the span
// as cancelled; false for a response never cloned, or the last branch when none was cancelled (the caller ends the
// span).
export function dropped(entry) {
  const family = entry.family;
  if (family === undefined) return false;
  if (!entry.left) {
    entry.left = true;
    family.kept--;
  }
  if (family.kept > 0) return true;
  // The last one: if the app cancelled a branch, the span ends as cancelled (see `cancel` in `streamBody`).
  const pending = family.pending;
  family.pending = undefined;
  pending?.end();
  return pending !== undefined;
}

function stall(stats, name, at, durationMs) {
  if (stats.stalls.length < MAX_STALLS * 3) stats.stalls.push(name === 'stall' ? 0 : 1, at, durationMs);
  else stats.dropped++;
}

// The transformer's `transform`: the only chunks written are the pump's probes (`undefined`), each completing once
// the app has a read pending; nothing is passed on for them.
function probed() {}

// The resource-timing lookup Rust holds for a streamed body: a closure over these four alone (see `reporter`).
export function timingLookup(takeTiming, url, startedAt, respondedAt) {
  return () => takeTiming(url, startedAt, respondedAt);
}

// How this engine fails a response's body when the request's signal aborts, as the pump first saw it: `true`, with
// the signal's reason (the Fetch standard; Chromium, Firefox), or `[message, name]`, with an error of its own
// (WebKit: an `AbortError` "Fetch is aborted", whatever the reason); undefined until a first abort was seen.
let abortFailure;

// The request's signal aborted, and fetch's own abort steps have failed the native body the pump holds (see
// `afterFetch`; Rust calls this only then: a body it doesn't hold yet may have closed unseen, an empty one): the
// app's stream fails now too, with the error the native body got, not when the pump next hears from it a few
// microtasks later (an app that cancels or releases its reader right after `abort()` sees the abort, as natively).
// Not when the native body had already closed (the abort leaves it alone) or the app had cancelled (its cancel
// resolves), nor before `abortFailure` is known: the page's first abort of a streamed body fails the app's stream
// as the pump hears of it, and a cancel in between, which then resolves, still ends the span as aborted
// (`abortedFirst`).
function abortStream(stats, transformer, reason) {
  stats.reason = reason;
  const streams = transformer.deref();
  // The app's cancel: the transformer's `cancel` ran, or, in engines without it, our writable errored at once.
  if (stats.closed || streams === undefined || stats.cancelled || streams.writer.desiredSize === null) return;
  if (abortFailure === undefined) {
    stats.abortedFirst = true;
    return;
  }
  stats.aborted = true;
  streams.controller.error(abortFailure === true ? reason : new DOMException(...abortFailure));
}

// The one function Rust holds per stream: called bare, it reports (`report`, which looks at the `readable`
// `streamBody` leaves on the transformer); with an abort's reason, it fails the app's stream (`abortStream`, through
// the `controller` and `writer` it leaves there). A
// closure over `stats` and a weak reference to the transformer alone, so that what Rust keeps alive is just the
// numbers (a closure made inside `streamBody` would share its scope, and with it the transformer, which owns the
// span).
function reporter(stats, transformer) {
  return (reason) => (reason === undefined ? report(stats, transformer) : abortStream(stats, transformer, reason));
}

// What the Rust side reads when the span ends or the idle timer fires (one crossing, not one per chunk):
// [ms the app has not pulled (0 while it waits for data), first chunk (performance ms, -1: none), longest gap,
//  SSE events (-1: not SSE), first SSE event (-1: none), more stalls than kept, bytes, chunks,
//  1 if the app cancelled its stream (else 0), ...stalls as (kind, at, ms)].
function report(stats, transformer) {
  // The app waits for data while the pump reads, unless it released its reader since it pulled (`transformer` is a
  // weak reference, see `reporter`).
  const streams = transformer.deref();
  const idle = stats.waitingForApp ? performance.now() - stats.since
    : streams?.readable.locked === false ? performance.now() - stats.pulledAt : 0;
  // (As `abortStream` tells the app's cancel, which the pump hears of a few microtasks later.)
  const cancelled = stats.cancelled || streams?.writer.desiredSize === null ? 1 : 0;
  return [idle, stats.firstChunkAt, stats.maxGapMs, stats.sseEvents, stats.sseFirstAt, stats.dropped, stats.bytes,
    stats.chunks, cancelled, ...stats.stalls];
}

// Counts server-sent events in the chunks as the app gets them: an event is dispatched by a blank line after at
// least one `data` line (`data` or `data:…`); blocks of other fields (`retry`, `event`, `id`) or of comments (`:…`)
// dispatch nothing, as in EventSource. Line ends are LF, CRLF or CR, split anywhere across chunks. Reads the chunk's
// bytes in place.
const DATA = [100, 97, 116, 97];
const BOM = [0xef, 0xbb, 0xbf];

function eventScanner(stats) {
  // How much of `data` the line starts with (4: all of it), -1 once it can't be a data line.
  let matched = 0;
  let empty = true;
  let data = false;
  let afterCR = false;
  // The stream's leading UTF-8 BOM, which EventSource drops, matched so far (3: past it).
  let bom = 0;
  return (chunk, at) => {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (bom < 3) {
        if (byte === BOM[bom]) {
          bom++;
          continue;
        }
        // Part of a BOM and then something else: the line starts with a character that is no field name.
        if (bom > 0) {
          matched = -1;
          empty = false;
        }
        bom = 3;
      }
      if (byte === LF && afterCR) {
        afterCR = false;
        continue;
      }
      afterCR = byte === CR;
      if (byte === LF || byte === CR) {
        if (!empty) {
          data ||= matched === 4;
        } else if (data) {
          stats.sseEvents++;
          if (stats.sseFirstAt < 0) stats.sseFirstAt = at;
          data = false;
        }
        empty = true;
        matched = 0;
        continue;
      }
      empty = false;
      if (matched < 0) continue;
      if (matched < 4 && byte === DATA[matched]) {
        matched++;
      } else {
        data ||= matched === 4 && byte === COLON;
        matched = -1;
      }
    }
  };
}
