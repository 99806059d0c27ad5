// Stage 3 of a request, the body's JS half (the Rust half is src/body.rs). Stage 1 (src/patch.js) hands each tracked
// response to `patchPrototype`'s `track`; from there on its body is this module's.
//
// Interposition: `Response.prototype`'s `body`, `bodyUsed`, `clone` and whole-body methods are routed, per tracked
// response (a WeakMap gate), to the body stage while its span is open. A body read whole is served natively (native
// values, errors and timing) and its size taken from the value; a body the app takes as a stream runs through a
// pass-through TransformStream whose transformer is the Rust `CountingTransformer`, driven by a pump of ours rather
// than `pipeTo`, because the pump sees what `pipeTo` hides: whether the app has a read pending (it waits on the
// network) or chunks wait for the app. Rust decides the end reason from what this half reports.
//
// Owns: the patched `Response.prototype` and its FinalizationRegistry of unread responses, the pump, the app's stream
// (the TransformStream's readable), the stream timings and the SSE event count.
// Never: clones, tees or buffers a body (one chunk in hand at most, and backpressure passes through; only the app's
// own `clone()` tees, natively, or through our readable when the native body can't be handed back), reads a byte of
// the native body before the app asks for one, locks it before then either (a body the app only looked at stays the
// response's own, for `cache.put`, `respondWith` and `WebAssembly.compileStreaming`), copies chunk bytes into wasm,
// or lets a failure of its own reach the app (every call into Rust is guarded; `onFailure` counts it).

const BODY_READERS = ['arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text'];
// The patched `Response.prototype`, one per global, shared by every install from this module: an install after an
// uninstall whose spans are still in flight (say, an unread response the app keeps) reuses it rather than saving our
// own accessors as the "originals", and the natives come back once no install and no span in flight needs them.
let sharedPatch = null;

/**
 * Patches `scope.Response.prototype` (or joins the patch an earlier install left in place) and returns `{ track(response,
 * entry), untrack(state), release() }`.
 */
export function patchPrototype(scope) {
  if (sharedPatch !== null && sharedPatch.scope === scope) {
    sharedPatch.users++;
    return sharedPatch;
  }
  const proto = scope.Response.prototype;
  const nativeBody = Object.getOwnPropertyDescriptor(proto, 'body').get;
  const nativeBodyUsed = Object.getOwnPropertyDescriptor(proto, 'bodyUsed').get;
  const nativeClone = proto.clone;
  const nativeHeaders = Object.getOwnPropertyDescriptor(proto, 'headers').get;
  const headerValue = scope.Headers.prototype.get;
  const tracked = new WeakMap();
  // Holds the entry (and so the span) of an unread response until the collector takes the response or the span
  // ends, whichever comes first (its `state` is the unregister token).
  const collected = new FinalizationRegistry((entry) => guard(entry, () => entry.span.collected()));
  // Tracked responses whose span is still open.
  let live = 0;

  function guard(entry, call, fallback) {
    try {
      return call();
    } catch (error) {
      entry.failed(error);
      return fallback;
    }
  }

  // The entry of a response that fetchspan still instruments, or undefined to behave natively (once its span has
  // ended, an entry whose body the app never took behaves natively; one whose body streams through us keeps our
  // stream, which the app holds).
  function entryOf(response) {
    return instrumented(tracked.get(response));
  }

  // `entry` while fetchspan still instruments its response, else undefined.
  function instrumented(entry) {
    return entry === undefined || entry.native || (entry.stream === null && entry.state.ended) ? undefined : entry;
  }

  // The body stage (src/body.rs and `streamBody` below) interposes on the native body: the app gets the counting stream.
  function streamOf(response, entry) {
    if (entry.stream === null) {
      const source = nativeBody.call(response);
      if (source === null || source.locked) {
        entry.native = true;
        if (source === null) guard(entry, () => entry.span.noBody());
        return source;
      }
      // With the native getters, and guarded: page code patched over them never runs (or throws) on a `body` read.
      const eventStream = guard(entry, () => /^\s*text\/event-stream/i
        .test(headerValue.call(nativeHeaders.call(response), 'content-type') ?? ''), false);
      // The lookup Rust keeps until the span ends, made outside this function: a closure made here would share its
      // scope with the one below, and so hold the entry (which holds the span: a cycle through the wasm heap).
      const timing = timingLookup(entry.takeTiming, entry.url, entry.startedAt);
      entry.body = guard(entry, () => entry.span.streamBody(source, eventStream, entry.failed, timing), null);
      if (entry.body === null) {
        entry.native = true;
        return source;
      }
      entry.stream = entry.body.readable;
    }
    return entry.stream;
  }
  // `bodyUsed` of the stream the app holds: the span's own count for our readable; for a branch of the app's own
  // clone(), which we can't observe, whether it is locked.
  function isDisturbed(entry) {
    return entry.teed ? entry.stream.locked : nativeBodyUsed.call(entry.body.used);
  }

  const patched = {
    body: {
      get: function body() {
        const entry = tracked.get(this);
        // The stream the app took before a whole-body read stays its body, as natively (used and locked now).
        if (entry?.native && entry.stream !== null) return entry.stream;
        return instrumented(entry) === undefined ? nativeBody.call(this) : streamOf(this, entry);
      },
    },
    bodyUsed: {
      get: function bodyUsed() {
        const entry = entryOf(this);
        // The native body too: the platform may have taken it (`cache.put`) while the app only looked at `body`.
        return nativeBodyUsed.call(this) || (entry !== undefined && entry.stream !== null && isDisturbed(entry));
      },
    },
    clone: {
      value: function clone() {
        const entry = entryOf(this);
        if (entry === undefined || entry.stream === null) return nativeClone.call(this);
        // Our pipe holds the native body, so the native error comes from a throwaway response in the app's state.
        if (isDisturbed(entry)) return nativeClone.call(usedResponse());
        if (entry.stream.locked) return nativeClone.call(lockedResponse());
        // The app clones a body it took but has not read: the native body goes back (the stream the app took is
        // then locked, as the native clone's tee locks it) and is cloned natively, so the copy is a genuine clone
        // (its headers immutable, its `url`, `type` and `redirected` the response's own, for `cache.put` too). This
        // response's new native body is interposed on when the app takes it.
        if (!entry.teed && entry.body.detach()) {
          entry.body = null;
          entry.stream = null;
          return nativeClone.call(this);
        }
        // Only when the native body can't be handed back untouched (its source failed, or closed while the app held
        // a reader it released unused): tee our readable, like the native clone tees the native body.
        const [mine, theirs] = entry.stream.tee();
        entry.stream = mine;
        entry.teed = true;
        const copy = new Response(theirs, { status: this.status, statusText: this.statusText, headers: this.headers });
        Object.defineProperties(copy, {
          url: { value: this.url },
          redirected: { value: this.redirected },
          type: { value: this.type },
        });
        return copy;
      },
    },
  };

  for (const name of BODY_READERS) {
    const nativeRead = proto[name];
    if (typeof nativeRead !== 'function') continue;
    patched[name] = {
      value: {
        [name](...args) {
          const entry = entryOf(this);
          if (entry === undefined) return nativeRead.apply(this, args);
          // Served natively when the app hasn't read the stream it took (just touching `body` changes nothing).
          if (entry.stream === null || (!entry.teed && !isDisturbed(entry) && !entry.stream.locked && entry.body.detach())) {
            // Served natively: native timing, values and errors; the span ends when the promise settles.
            // A promise derived from the native one (same value, same error object), so that a rejection the app
            // leaves unhandled still fires `unhandledrejection` (Firefox and WebKit fire it for body reads).
            entry.native = true;
            const response = this;
            return nativeRead.apply(this, args).then(
              (value) => {
                readWhole(entry, response, sizeOf(name, value));
                return value;
              },
              (error) => {
                // `json()` of a body that is not JSON: the body arrived whole, only the app's parse failed (a
                // SyntaxError; WebKit's is a DOMException of that name).
                if (name === 'json' && error?.name === 'SyntaxError') readWhole(entry, response, undefined);
                else guard(entry, () => entry.span.readFailed(error));
                throw error;
              },
            );
          }
          // The app took `body` first, so the counting stream is its body now: read that.
          const stream = streamOf(this, entry);
          if (entry.native) return nativeRead.apply(this, args);
          // Rejects as natively when the app's stream is used or locked: the native body is ours and in another
          // state (locked by our pump, perhaps not yet disturbed by a cancel), so the native error comes from a
          // throwaway response in the app's stream's state. But an unread stream the app cancelled: its cancel,
          // which reaches the native body a few microtasks later, is made now, and the native body answers (WebKit's
          // cancelled load rejects as "Load failed", not as a used body).
          if (isDisturbed(entry)) {
            if (!stream.locked && entry.body.cancelUnread()) return nativeRead.apply(this, args);
            return nativeRead.call(usedResponse(stream.locked));
          }
          if (stream.locked) return nativeRead.call(lockedResponse());
          return readThrough(stream, this.headers, name);
        },
      }[name],
    };
  }


  // In a service worker, `event.respondWith(response)` hands an unread response's body to the platform, which reads
  // it out of our sight: its span ends there, as `responded` (the page's own fetch is the page's to trace).
  // A whole-body method served natively got the whole body (`size`: its value's, when that tells).
  function readWhole(entry, response, size) {
    guard(entry, () => entry.span.readNatively(response, size, entry.takeTiming(entry.url, entry.startedAt),
      performance.now()));
  }

  const fetchEventProto = scope.FetchEvent?.prototype;
  const nativeRespondWith = fetchEventProto?.respondWith;
  const respondWith = typeof nativeRespondWith === 'function' ? function respondWith(answer) {
    try {
      Promise.resolve(answer).then((response) => {
        const entry = entryOf(response);
        if (entry !== undefined && entry.stream === null) guard(entry, () => entry.span.respondedWith());
      }, () => {});
    } catch (_) { /* a thenable that throws: the native call reports it */ }
    return nativeRespondWith.apply(this, arguments);
  } : undefined;

  const saved = {};
  for (const name of Object.keys(patched)) {
    const original = Object.getOwnPropertyDescriptor(proto, name);
    saved[name] = original;
    const ours = patched[name];
    if (ours.get) likeNative(ours.get, original.get);
    else likeNative(ours.value, original.value);
    Object.defineProperty(proto, name, { ...original, ...ours });
  }
  if (respondWith) fetchEventProto.respondWith = likeNative(respondWith, nativeRespondWith);

  function restoreWhenUnused() {
    if (patch.users > 0 || live > 0) return;
    sharedPatch = null;
    if (respondWith && fetchEventProto.respondWith === respondWith) fetchEventProto.respondWith = nativeRespondWith;
    for (const name of Object.keys(saved)) {
      const now = Object.getOwnPropertyDescriptor(proto, name);
      if (now && (now.get === patched[name].get && now.value === patched[name].value)) {
        Object.defineProperty(proto, name, saved[name]);
      }
    }
  }

  const patch = {
    scope,
    users: 1,
    /** Routes `response`'s body accessors to `entry` until its span ends. */
    track(response, entry) {
      live++;
      tracked.set(response, entry);
      collected.register(response, entry, entry.state);
    },
    /** The span of the entry with this `state` ended (called from Rust, once). */
    untrack(state) {
      state.ended = true;
      collected.unregister(state);
      live--;
      restoreWhenUnused();
    },
    /** An install is done with the patch. */
    release() {
      patch.users--;
      restoreWhenUnused();
    },
  };
  sharedPatch = patch;
  return patch;
}

// A response whose body is used (disturbed), and locked too with `locked`.
function usedResponse(locked) {
  const response = new Response('');
  if (locked) response.body.getReader().read();
  else response.body.cancel();
  return response;
}

function lockedResponse() {
  const response = new Response('');
  response.body.getReader();
  return response;
}

function sizeOf(method, value) {
  if (method === 'blob') return value.size;
  return method === 'arrayBuffer' || method === 'bytes' ? value.byteLength : undefined;
}

// Reads our counting stream to its end, so that a failure rejects with exactly the stream's error (the abort
// reason after an abort), then lets a native Response decode the bytes, so that text, JSON and form data (and
// their parse errors) are exactly the native ones.
async function readThrough(stream, headers, name) {
  const reader = stream.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new Response(whole, { headers })[name]();
}

// Gives a function of ours the `name` and `length` of the native one it stands in for (the minified build would
// otherwise call `fetch` something like `te`, and our `fetch(input, init)` has length 2 where the native has 1).
// Stage 1 (patch.js) imports it from here.
export function likeNative(ours, native) {
  Object.defineProperty(ours, 'name', { value: native.name, configurable: true });
  Object.defineProperty(ours, 'length', { value: native.length, configurable: true });
  return ours;
}

// Stall events kept per span at most.
const MAX_STALLS = 8;
const LF = 10;
const CR = 13;
const COLON = 58;

/**
 * Interposes on the native body `source` of a tracked response (called from src/body.rs). `transformer` is the
 * Rust `CountingTransformer`. Returns `readable`, the stream to hand the app; `used`, a Response over that stream
 * whose native `bodyUsed` says at once whether the app has read or cancelled it; and `detach()`, which gives the
 * native body back untouched if the app hasn't read yet (true if it did).
 */
export function streamBody(transformer, source, sse, stallMs, onFailure) {
  // The native body's reader, taken at the app's first read, or as soon as the app has locked our stream (`take`).
  let reader = null;
  const stats = {
    waitingForApp: true, since: performance.now(), firstChunkAt: -1, maxGapMs: 0,
    sseEvents: sse ? 0 : -1, sseFirstAt: -1, stalls: [], dropped: 0, bytes: 0, chunks: 0, closed: false,
    cancelled: false, aborted: false, reason: undefined,
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
  const stream = new TransformStream(transformer);
  const writer = transformer.writer = stream.writable.getWriter();
  const scan = sse ? eventScanner(stats) : null;
  let read = false;
  let detached = false;
  let ended = false;
  let sourceFailed = false;
  // Whether the pump waits on the network (a chunk it gets is still to be enqueued); `stats.closed`, whether the
  // source has closed meanwhile.
  let reading = false;
  const end = (call) => {
    if (ended) return;
    ended = true;
    try { call(); } catch (error) { onFailure(error); }
    // (The native body stays locked by the pump's reader: releasing a reader of a closed stream makes a TypeError,
    // 17 µs in Chromium, on every streamed body. README, Known differences: `body` after uninstall.)
  };
  // The source closed and the app has every chunk: our readable closes now, as the native body did, without
  // waiting for the app's next read. That also saves a body's last round (probe, read of `done`): half of a small
  // body's rounds. With no probe write pending, the writable closes, which closes the readable; with one pending
  // (the source closed while the app was not reading), the TransformStream is terminated, which fails that write
  // and ends the pump. Only then: terminating makes an error, which cost 40 µs a body in the benchmark's profile.
  const complete = (probing) => end(() => {
    try {
      if (probing) controller.terminate();
      else writer.close().catch(() => {});
    } finally {
      transformer.completed();
    }
  });
  // Once taken, a failure of the source (network error, the request's signal) reaches the app's stream at once, read
  // pending or not, with the source's own error (WPT error-after-response), and its end closes the app's stream
  // (`complete`). Before, the app meets either at its first read.
  const failed = (error) => {
    sourceFailed = true;
    // An app's cancel the pump has not heard of yet came first (the transformer's `cancel` ran, or the writable
    // errored, but not by `abortStream`): the body was cancelled.
    const cancelled = stats.cancelled || (writer.desiredSize === null && !stats.aborted);
    // The source failed after the signal aborted while the pump held it: how this engine fails an aborted body (see
    // `abortStream`), learnt once.
    if (stats.reason !== undefined) {
      abortFailure ??= error === stats.reason || (error instanceof DOMException ? [error.message, error.name] : undefined);
    }
    // Errors both sides now; an abort would wait for the pending probe write, that is for the app's next read.
    controller.error(error);
    end(() => (cancelled ? transformer.cancelled() : transformer.sourceFailed(error)));
  };
  // False when the platform took the native body first (`cache.put` of a response whose stream the app had not
  // locked yet, in the same task): the app's stream then fails with the engine's own "locked" error.
  const take = () => {
    try {
      reader = source.getReader();
    } catch (error) {
      failed(error);
      return false;
    }
    transformer.watching();
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
    if (detached || sourceFailed || ended) return;
    (reader ?? source).cancel(reason).catch(() => {});
    end(() => transformer.cancelled());
  });
  transformer.observe(reporter(stats, new WeakRef(transformer)));
  // An app that locks our stream right away (`res.body.getReader()`) sees the source's end or failure on its reader
  // even before it reads, as natively; one that only looked at `body` leaves the native body to the platform.
  queueMicrotask(() => {
    if (reader === null && !detached && !ended && stream.readable.locked) take();
  });

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
      read = true;
      if (reader === null && !take()) return;
      const pulledAt = performance.now();
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
      else if (gap > stats.maxGapMs) stats.maxGapMs = gap;
      if (gap >= stallMs) stall(stats, 'stall', pulledAt, gap);
      stats.waitingForApp = true;
      stats.since = at;
      try {
        controller.enqueue(value);
      } catch (_) {
        return; // the app cancelled meanwhile: handled above
      }
      stats.bytes += value.byteLength;
      stats.chunks++;
      if (scan !== null) scan(value, at);
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
    // If the app cancelled our stream before the pump read anything: cancels the native body now (true), rather
    // than when the cancel reaches it.
    cancelUnread() {
      // A read the app released unanswered disturbs our stream without cancelling it.
      if (reader !== null || read || detached || !(stats.cancelled || writer.desiredSize === null)) return false;
      source.cancel().catch(() => {});
      return true;
    },
    detach() {
      if (read || ended) return false;
      detached = true;
      reader?.releaseLock();
      // A reference the app took to our stream is now a used body, as natively: locked (by a reader of ours, so
      // the app's `getReader()` and `cancel()` fail with the engine's own errors), and errored, which ends the pump.
      if (!stream.readable.locked) stream.readable.getReader();
      controller.error(new TypeError('fetchspan: body already read by a whole-body method'));
      end(() => transformer.detached());
      return true;
    },
  };
}

function stall(stats, name, at, durationMs) {
  if (stats.stalls.length < MAX_STALLS * 3) stats.stalls.push(name === 'stall' ? 0 : 1, at, durationMs);
  else stats.dropped++;
}

// The transformer's `transform`: the only chunks written are the pump's probes (`undefined`), each completing once
// the app has a read pending; nothing is passed on for them.
function probed() {}

// The resource-timing lookup Rust holds for a streamed body: a closure over these three alone (see `reporter`).
function timingLookup(takeTiming, url, startedAt) {
  return () => takeTiming(url, startedAt);
}

// How this engine fails a response's body when the request's signal aborts, as the pump first saw it: `true`, with
// the signal's reason (the Fetch standard; Chromium, Firefox), or `[message, name]`, with an error of its own
// (WebKit: an `AbortError` "Fetch is aborted", whatever the reason); undefined until a first abort was seen.
let abortFailure;

// The request's signal aborted, and fetch's own abort steps have failed the native body the pump holds (see
// `afterFetch`; Rust calls this only then: a body it doesn't hold yet may have closed unseen, an empty one): the
// app's stream fails now too, with the error the native body got, not when the pump next hears from it a few
// microtasks later (an app that cancels or releases its reader right after `abort()` sees the abort, as natively).
// Not before `abortFailure` is known (the page's first abort of a streamed body behaves as before), nor when the
// native body had already closed (the abort leaves it alone) or the app had cancelled (its cancel resolves).
function abortStream(stats, transformer, reason) {
  stats.reason = reason;
  const streams = transformer.deref();
  // The app's cancel: the transformer's `cancel` ran, or, in engines without it, our writable errored at once.
  if (abortFailure === undefined || stats.closed || streams === undefined || stats.cancelled
    || streams.writer.desiredSize === null) return;
  stats.aborted = true;
  streams.controller.error(abortFailure === true ? reason : new DOMException(...abortFailure));
}

/**
 * A signal that aborts with `signal`, whose listeners run after fetch's own abort steps (which error the response's
 * body): the engine's `AbortSignal.any` makes a signal that depends on `signal`'s sources after fetch's own did. Engines
 * without it run fetch's steps before `signal`'s listeners anyway (the request's signal follows `signal`).
 */
export function afterFetch(signal) {
  if (nativeAny === null) return signal;
  try {
    return nativeAny.call(AbortSignal, [signal]);
  } catch (_) {
    return signal;
  }
}

// The engine's own `AbortSignal.any`, taken when fetchspan loads: a page's polyfill (engines before it: Safari <
// 17.4, Firefox < 124) is never called, since one typically leaves a listener on the app's signal per call until it
// aborts (a signal the app keeps for many requests would keep one per request). Told by its source text, so a
// wrapper the page made before fetchspan loaded counts as a polyfill, unless it prints as native code (a bound
// function does). Without it, `afterFetch` gives the request's signal itself (in an engine that has `any` under a
// page's wrapper, our listener then runs before fetch's abort steps: the app's stream fails with the abort all the
// same). A page whose getter or `toString` throws here leaves fetchspan loading, without it.
const nativeAny = (() => {
  try {
    const any = typeof AbortSignal === 'function' ? AbortSignal.any : undefined;
    return typeof any === 'function' && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(any)) ? any : null;
  } catch (_) {
    return null;
  }
})();

// The one function Rust holds per stream: called bare, it reports (`report`); with an abort's reason, it fails the
// app's stream (`abortStream`, through the `controller` and `writer` `streamBody` leaves on the transformer). A
// closure over `stats` and a weak reference to the transformer alone, so that what Rust keeps alive is just the
// numbers (a closure made inside `streamBody` would share its scope, and with it the transformer, which owns the
// span).
function reporter(stats, transformer) {
  return (reason) => (reason === undefined ? report(stats) : abortStream(stats, transformer, reason));
}

// What the Rust side reads when the span ends or the idle timer fires (one crossing, not one per chunk):
// [ms the app has not pulled (0 while it waits for data), first chunk (performance ms, -1: none), longest gap,
//  SSE events (-1: not SSE), first SSE event (-1: none), more stalls than kept, bytes, chunks,
//  ...stalls as (kind, at, ms)].
function report(stats) {
  const idle = stats.waitingForApp ? performance.now() - stats.since : 0;
  return [idle, stats.firstChunkAt, stats.maxGapMs, stats.sseEvents, stats.sseFirstAt, stats.dropped, stats.bytes,
    stats.chunks, ...stats.stalls];
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
