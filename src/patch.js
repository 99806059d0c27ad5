// Stage 1 of a request: the patched `fetch` and the gated `Response.prototype` body accessors (design C of
// shared/reference/response-design.md). The Rust side (src/patch.rs) owns the object this returns and calls
// `restore()` from its `Drop`.
//
// Owns: the fetch wrapper, the patched descriptors, the WeakMap of tracked responses and the FinalizationRegistry
// that reports unread responses the app dropped.
// Never: changes what the app's promise resolves or rejects to (the same value, the same error object), throws
// synchronously, clones or tees a body on its own (only the app's own `clone()` tees, natively, or through our
// readable when the native body can't be handed back), or lets
// a failure of ours reach the app: every call into Rust is guarded and falls back to the native behaviour.

// Stage 3's JS half, src/body.js, is imported from here only, and src/body.rs takes `streamBody` from here: the test
// runner's page loads every module wasm-bindgen links (this file's snippets) at once, over as many connections, and
// its server (tiny_http 0.12, under wasm-bindgen-test-runner) can leave a connection unserved for good when more
// open at once than it has idle threads: a race in its thread pool (`TaskPool::spawn` counts threads still waking
// as idle): on a fresh server, 6 keep-alive connections opened at once left one unserved in 14 of 20 trials, 5 in 3,
// 4 in none (README, Layout). The page links four modules, the tests' own included; a fifth made suites' pages hang
// in about a third of runs. An import of this file's is fetched a wave later, over a connection already open. Its
// path is from the crate's folder, which the runner serves (its copy of this folder holds only linked modules);
// js/link-body.cjs makes it relative for bundlers.
import { dropped, streamBody as streamThrough, timingLookup } from '/src/body.js';

/** `streamBody` of src/body.js, with the engine's own `TransformStream` (see `NativeTransformStream`). */
export function streamBody(transformer, source, sse, stallMs, branch) {
  return streamThrough(NativeTransformStream, transformer, source, sse, stallMs, branch);
}

const BODY_READERS = ['arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text'];
// Longest URL handed to the span, in UTF-16 units.
const MAX_URL_CHARS = 8192;
// A path-absolute URL the URL parser leaves as it is (no `//`, backslash, dot segment, fragment, or character it
// would percent-encode).
const SLASH = 47;
const PLAIN_PATH = /^\/(?![/\\])[A-Za-z0-9\-._~!$&()*+,;=:@%/]*(\?[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*)?$/;
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:[/?]|$)/i;
// Resource-timing entries kept for spans to take, at most.
const RECENT_ENTRIES = 256;
// Where a streamed upload's record goes in what `fetch` read of `init` (a Symbol: no init member can collide).
const UPLOAD = Symbol('upload');
// The engine's own promise prototype and its `then` (an async function's result is one of its promises, whatever the
// global `Promise` is).
const PROMISE_PROTOTYPE = Object.getPrototypeOf((async () => {})());
const PROMISE_THEN = PROMISE_PROTOTYPE.then;

// fetchspan's timers (the idle watch, the resource-timing wait, the sweep) are the engine's own, also where zone.js
// (Angular) patched `setTimeout`, which keeps the engine's under `__zone_symbol__setTimeout`: a timer of ours pending
// in the app's zone would keep an Angular app from ever being stable (`ApplicationRef.isStable`), and its firing would
// run the app's change detection.
export function setTimer(callback, ms) {
  const engines = globalThis.__zone_symbol__setTimeout;
  return (typeof engines === 'function' ? engines : setTimeout)(callback, ms);
}

export function clearTimer(id) {
  const engines = globalThis.__zone_symbol__clearTimeout;
  (typeof engines === 'function' ? engines : clearTimeout)(id);
}
// The engine's own `TransformStream` (the body stage's) and `ReadableStream` (a counted upload's), taken when
// fetchspan loads. Where a page replaced them before (a streams polyfill's global variant), a stream of ours would be
// the polyfill's, which the engine's `pipeThrough`, `new Response`, whole-body reads and `fetch` don't take as a
// stream: there, response bodies stay native (their spans end without a byte count, as a body the platform took
// does) and uploads go out as given.
const NativeTransformStream = nativeGlobal('TransformStream');
const NativeReadableStream = nativeGlobal('ReadableStream');

/**
 * Patches `scope.fetch` and `scope.Response.prototype`. `hooks` is the Rust `FetchHooks`: `start(method, url,
 * signal, startedAt, ids, parentSpanId, requestBodySize, extraAttributes)` returns a `RequestSpan` or undefined,
 * `failed(error)` counts a failure of ours. `config` is the normalized options (src/options.js): `ignoreUrls`, `propagateTo`, `sampleRate`,
 * `tracestate`, `captureHeaders`, the attribute hooks, and `export.url`, which is never traced.
 * Throws (before patching anything) when `fetch` can't be replaced.
 */
export function installPatches(scope, hooks, config) {
  const fetchDescriptor = findDescriptor(scope, 'fetch');
  if (!fetchDescriptor || typeof fetchDescriptor.value !== 'function') {
    throw new TypeError('fetchspan: this global has no fetch function to instrument');
  }
  if (!fetchDescriptor.writable && !fetchDescriptor.configurable) {
    throw new TypeError('fetchspan: globalThis.fetch is read-only and not configurable, so it cannot be instrumented');
  }
  const ownFetch = Object.getOwnPropertyDescriptor(scope, 'fetch');
  if (!ownFetch && !Object.isExtensible(scope)) {
    throw new TypeError('fetchspan: the global object is not extensible, so fetch cannot be instrumented');
  }
  const owner = scope[PATCHED_BY];
  if (owner !== undefined && owner !== THIS_COPY) {
    throw new Error('fetchspan: another copy of fetchspan is installed here (two bundles, or a bundle and the script tag)');
  }
  // What `patchPrototype` redefines must be redefinable (a page may have frozen `Response.prototype`): a member that
  // is neither configurable nor writable can't change.
  if (sharedPatch === null || sharedPatch.scope !== scope) {
    // (`respondWith` is assigned: it must be writable.)
    for (const name of ['body', 'bodyUsed', 'clone', ...BODY_READERS, 'respondWith']) {
      const holder = name === 'respondWith' ? 'FetchEvent' : 'Response';
      const member = Object.getOwnPropertyDescriptor(scope[holder]?.prototype ?? {}, name);
      if (member && !member.writable && (!member.configurable || holder === 'FetchEvent')) {
        throw new TypeError(`fetchspan: ${holder}.prototype.${name} is read-only`);
      }
    }
  }
  const nativeFetch = fetchDescriptor.value;
  const NativeRequest = scope.Request;
  const requestUrl = Object.getOwnPropertyDescriptor(NativeRequest.prototype, 'url').get;
  const uploadsStream = canStreamUploads();
  let active = true;

  const failed = failureCounter(hooks, 'failed');
  const hookFailed = failureCounter(hooks, 'hookFailed');

  function guard(call, fallback) {
    try {
      return call();
    } catch (error) {
      failed(error);
      return fallback;
    }
  }

  // The URL `fetch` will request, resolved like fetch resolves it (against the document's base URL); a huge
  // `data:` URL is cut before it crosses into wasm. An unparsable one is reported as given, but for what may be
  // credentials.
  function absoluteUrl(text) {
    // A path-absolute URL already in normal form resolves to the origin plus itself: `new URL` costs more than the
    // rest of the request's JS (13 µs in the benchmark's profile). Anything else takes the parser.
    if (text.charCodeAt(0) === SLASH && PLAIN_PATH.test(text) && !DOT_SEGMENT.test(text)
      && (scope.document?.baseURI ?? scope.location?.href ?? '').startsWith(originPrefix)) {
      return capped(origin + text);
    }
    let url;
    try {
      const parsed = new URL(text, scope.document?.baseURI ?? scope.location?.href);
      // Credentials (fetch rejects such a URL; its span records it) are redacted here, on the parsed URL and before
      // the cut, so a user name of any length goes too.
      if (parsed.username || parsed.password) {
        parsed.username = 'REDACTED';
        parsed.password = 'REDACTED';
      }
      url = parsed.href;
    } catch (_) {
      // fetch will reject it; the span records it as given, but for what may be credentials (`user:pa/ss@`, which
      // the parser would have told from the host).
      // (As the parser reads it: tabs and newlines anywhere and leading controls and spaces don't count.)
      url = text.replace(/[\t\n\r]/g, '').replace(/^[\x00-\x20]*([a-z][a-z\d+.-]*:[\\/]*|[\\/]{2})[^]*@/i,
        '$1REDACTED:REDACTED@');
    }
    return capped(url);
  }

  // Resource timing, taken per span (see `resourceTimings`).
  const { takeTiming, stopTimings } = resourceTimings();

  const ignoreUrls = config.export ? [...config.ignoreUrls, config.export.url] : config.ignoreUrls;
  const { propagateTo, sampleRate, tracestate, requestAttributes, responseAttributes } = config;
  const captureRequest = config.captureHeaders.request;
  const captureResponse = config.captureHeaders.response;
  // A page's string cut before it crosses into wasm, whose memory never shrinks (a 20 MB header value or hook
  // attribute would keep 20 MB of it for the page's life): at `maxAttributeLength` UTF-16 units, which are at least
  // as many UTF-8 bytes, so src/record.rs's own cut in bytes still decides what is kept.
  const bound = (text) => (text.length > config.maxAttributeLength ? text.slice(0, config.maxAttributeLength) : text);

  // Attributes of a request beyond fetchspan's own, `[key, value, …]`: the headers `captureHeaders.request` names,
  // then what `requestAttributes` returns for a read-only view `{ method, url, headers }` (a copy of the headers).
  function requestExtras(method, url, headers) {
    const out = [];
    for (const name of captureRequest) {
      const value = headers.get(name);
      if (value !== null) out.push(`http.request.header.${name}`, bound(value));
    }
    if (requestAttributes) hookAttributes(requestAttributes, Object.freeze({ method, url, headers: new Headers(headers) }), out);
    return out;
  }

  // The same for a response: `captureHeaders.response`, then `responseAttributes` of a read-only view `{ status,
  // statusText, url, type, redirected, headers }` (the response's own immutable headers; never the body).
  function responseExtras(response) {
    const out = [];
    for (const name of captureResponse) {
      const value = response.headers.get(name);
      if (value !== null) out.push(`http.response.header.${name}`, bound(value));
    }
    if (responseAttributes) {
      const { status, statusText, url, type, redirected, headers } = response;
      hookAttributes(responseAttributes, Object.freeze({ status, statusText, url, type, redirected, headers }), out);
    }
    return out;
  }

  // Appends what an attributes hook returns to `out`: a plain object of strings, booleans and finite numbers
  // (safe integers become integer attributes, others doubles). Anything else (a throw, a promise, another value) adds
  // nothing and is counted in `hookFailures`. (A key fetchspan sets itself, or an empty one, is left out and counted
  // in Rust: `add_extra` in src/span.rs.)
  function hookAttributes(hook, view, out) {
    try {
      const result = hook(view);
      if (result === undefined) return;
      if (typeof result?.then === 'function') {
        result.then(undefined, () => {});
        throw new TypeError('fetchspan: an attributes hook returned a promise; it must return attributes synchronously');
      }
      if (result === null || typeof result !== 'object') throw new TypeError('fetchspan: an attributes hook must return an object');
      const found = [];
      for (const [key, value] of Object.entries(result)) {
        if (typeof value === 'string') found.push(bound(key), bound(value));
        else if (typeof value === 'boolean' || Number.isFinite(value)) found.push(bound(key), value);
        else throw new TypeError(`fetchspan: attribute "${key}" from a hook must be a string, a finite number or a boolean`);
      }
      out.push(...found);
    } catch (error) {
      hookFailed(error);
    }
  }
  const origin = scope.location?.origin;
  // What a same-origin URL starts with (`null/` for an opaque origin, which nothing starts with).
  const originPrefix = `${origin}/`;

  // The per-request path: kept free of helper closures (try/catch inline), measured in tests/bench.
  // The caller's `init` is read only by the native call, through a Proxy that remembers each member it read (so
  // each is read once, in the native order); what the span needs (method, signal, body size) comes from there.
  function traced(input, init) {
    // Without arguments, or called on another object than the global, the native call rejects (before it reads
    // anything); a `Request` of another realm (an iframe's) would read as the URL "[object Request]". All go out
    // untouched.
    if (!active || arguments.length === 0 || (this !== undefined && this !== null && this !== scope)) {
      return nativeFetch.apply(this, arguments);
    }
    // The span starts when fetch was called, as the resource-timing entry does.
    const startedAt = performance.now();
    // What the app passed after `init`, for a `fetch` wrapper installed before us (a timeout, say).
    const extra = arguments.length > 2 ? Array.prototype.slice.call(arguments, 2) : undefined;
    let url;
    let request;
    let outgoing;
    try {
      request = input instanceof NativeRequest ? input : undefined;
      if (request === undefined && !foreignRequest(input, requestUrl)) {
        // Converted once, as natively (an object's `toString` runs once): the string goes on in its place. One
        // that fails to convert is the native call's to reject.
        try {
          input = `${input}`;
        } catch (_) {
          return send(this, input, init, extra);
        }
        url = absoluteUrl(input);
      } else {
        url = request && capped(requestUrl.call(request));
      }
      if (url === undefined || matchesAny(ignoreUrls, url, false)) url = undefined;
      else if (url.startsWith(originPrefix) || matchesAny(propagateTo, url, true)) outgoing = propagate(request, input, init, extra);
    } catch (error) {
      failed(error);
      url = undefined;
    }
    if (url === undefined) return send(this, input, init, extra);
    // What the native call read of `init`, member by member, so that nothing is read twice (see `propagate` for a
    // request that gets a trace header).
    let read;
    let pending;
    if (outgoing !== undefined) {
      read = outgoing.given;
      pending = send(this, outgoing.input, outgoing.init, extra);
      if (!fetchIsNative) {
        try {
          joinWhatWentOut(outgoing);
        } catch (error) {
          failed(error);
        }
      }
    } else if (init !== null && typeof init === 'object') {
      read = {};
      pending = send(this, input, initView(newView(init, recorder(read), undefined)), extra);
    } else {
      pending = send(this, input, init, extra);
    }
    const upload = read?.[UPLOAD];
    if (upload !== undefined) {
      // A streamed body the native call did not take (it threw first) goes back to the app unlocked, as natively;
      // should a `fetch` wrapper installed before us send it later, its first pull locks it again.
      try {
        if (!upload.stream.locked) {
          upload.reader.releaseLock();
          upload.reader = null;
        }
      } catch (error) {
        failed(error);
      }
    }
    // Decided while the native call read the headers, when it has an `init` (see `propagate`). A request that gets
    // no header of ours may carry the app's own `traceparent`: that trace is the span's parent all the same.
    let context = outgoing;
    if (context === undefined) {
      const sampledHere = sampleRate >= 1 || Math.random() < sampleRate;
      context = { sampled: sampledHere, ids: undefined, parentSpanId: undefined, headers: undefined };
      const given = read?.headers !== undefined ? read.headers : request?.headers;
      if (given !== undefined && given !== null) {
        try {
          context.headers = given instanceof Headers ? given : new Headers(given);
          context.ids = newIds();
          appsOwnTrace(context, context.headers);
        } catch (_) { /* headers the native call rejected */ }
      }
    }
    if (!context.sampled) return resending(pending, outgoing, request, this);
    let span;
    try {
      const method = bound(read?.method !== undefined ? methodName(read.method) : request ? request.method : 'GET');
      const signal = genuineSignal(signalOf(read, request));
      let extras;
      if (captureRequest.length > 0 || requestAttributes) extras = requestExtras(method, url, context.headers ?? new Headers());
      span = hooks.start(
        method,
        url,
        signal,
        startedAt,
        context.ids ?? newIds(),
        context.parentSpanId,
        read?.body !== undefined && read.body !== null ? bodySize(read.body) : request && requests?.sizes.get(request),
        extras,
      );
      if (upload !== undefined) upload.span = span;
    } catch (error) {
      failed(error);
    }
    if (!span) return resending(pending, outgoing, request, this);
    // A promise derived from the native one, rejecting with the very same error: a failure the app leaves
    // unhandled still reaches `unhandledrejection` (a side reaction on the native promise would mark it handled).
    // One reaction for both outcomes and the resend: no promise in between.
    try {
      const arrived = (response) => {
        track(span, response, url, startedAt);
        return response;
      };
      const rejected = (error) => {
        guard(() => span.rejected(error));
        throw error;
      };
      if (!mayResend(outgoing)) return pending.then(arrived, rejected);
      const self = this;
      return afterSending(pending.then(arrived, (error) => {
        if (!resendable(outgoing, request, error)) return rejected(error);
        guard(() => span.retriedWithoutTraceparent());
        return outgoing.resend(self).then(arrived, () => rejected(error));
      }), outgoing);
    } catch (error) {
      failed(error);
      return resending(pending, outgoing, request, this);
    }
  }

  // Whether the `fetch` we call is the engine's own: then nothing but it sees what we answer for `init`. Not a bound
  // function (which prints as native code too), nor under a page's `Function.prototype.toString` (a library's that
  // shows its wrappers as native).
  const fetchIsNative = isNative(nativeFetch, 'fetch') && isNative(Function.prototype.toString);

  // The native call (or a `fetch` wrapper installed before us), given what the app passed after `init` too.
  function send(self, input, init, extra) {
    return extra === undefined ? nativeFetch.call(self, input, init) : nativeFetch.call(self, input, init, ...extra);
  }

  // Whether a request that failed with `error` goes out once more without our header: a TypeError of a request
  // that went out with it (see `afterSending`; a getter of `init` that threw stopped it, even where a wrapper
  // installed before us delays the rejection, and an abort is no header's fault), safe to send twice (GET or HEAD,
  // no body), in a mode where a preflight can refuse our header (a `no-cors` request drops it; a `same-origin` one
  // fails at another origin with or without it, so its failure is never the header's; a mode given as an object is
  // converted by the native call alone), may be the header's fault (see `propagate`). A resend that fails too
  // rejects with the first error.
  function resendable(outgoing, request, error) {
    const { given } = outgoing;
    if (outgoing.resend === undefined) return false;
    const method = given.method !== undefined ? given.method : request?.method ?? 'GET';
    const mode = given.mode ?? request?.mode ?? 'cors';
    return outgoing.sent && !outgoing.view?.threw && !genuineSignal(signalOf(given, request))?.aborted && error instanceof TypeError
      && /^(GET|HEAD)$/i.test(methodName(method)) && given.body == null && (typeof mode !== 'string' || mode === 'cors')
      && (given.redirect ?? request?.redirect ?? 'follow') === 'follow';
  }

  // Returns `derived`, the reaction to the native promise, and marks `outgoing` sent a microtask later: a `fetch`
  // that fails before sending anything (a bad or throwing `init` member, an aborted signal, a URL it can't parse)
  // returns a promise already rejected, whose reaction, registered just before, runs first and finds it unsent.
  function afterSending(derived, outgoing) {
    queueMicrotask(() => { outgoing.sent = true; });
    return derived;
  }

  // Whether `outgoing` may be sent again without our header (see `resendable`): its resend is set, or will be if the
  // native call reads `init.headers` later (a `fetch` wrapper installed before us that calls it later: Angular's
  // zone.js, or one that awaits something first).
  function mayResend(outgoing) {
    return outgoing?.resend !== undefined || (!fetchIsNative && outgoing?.view?.headersRead === false);
  }

  // The native promise of a request without a span, resent once without our header where `resendable` says so.
  // A signal that had already aborted rejects it with the signal's reason, never resendable: the native promise is
  // returned untouched, so its rejection comes as early as natively (a reaction would delay it by a microtask).
  function resending(pending, outgoing, request, self) {
    // (Not a promise: what a `fetch` wrapper installed before us returned, given to the app as it is.)
    if (!mayResend(outgoing) || typeof pending?.then !== 'function') return pending;
    if (genuineSignal(signalOf(outgoing.given, request))?.aborted) return pending;
    return afterSending(pending.then(undefined, (error) => {
      if (!resendable(outgoing, request, error)) throw error;
      return outgoing.resend(self).then(undefined, () => { throw error; });
    }), outgoing);
  }

  // The answer to each read of `init` (see `initView`) that passes it through and remembers it in `read` (a
  // streamed `body` goes out counted: see `countedUpload`; `headers` as `headersCopy`, which `fetch` then looks in
  // for the app's own `traceparent`).
  function recorder(read) {
    return (key, value) => {
      if (key === 'headers') value = headersCopy(value);
      read[key] = value;
      return key === 'body' ? countedUpload(read, value) : value;
    };
  }

  // A streamed request body (`body: ReadableStream`, `duplex: 'half'`), where the browser can send one (Chromium,
  // over HTTP/2): what goes out is a pull source of ours over the app's stream, which counts the bytes as the browser
  // takes them and, when the app's stream has ended and every chunk was handed to the browser, gives the span
  // `http.request.body.size` (a cancelled or failed upload gives none). High-water mark 0: a chunk is read from the
  // app's stream only when the browser asks for one, so nothing is buffered, copied or read ahead, and the app's
  // stream sees the native backpressure; cancel and errors pass through both ways. `read[UPLOAD]` keeps `{ stream,
  // reader, bytes, span, appStream }` for `fetch`. A stream the native call would refuse (locked or disturbed: `new
  // Response` tells without locking it), and any other body, goes out as given. The same body read again (by a
  // `fetch` wrapper installed before us, then by the native call) gets the same pull source.
  function countedUpload(read, body) {
    if (!uploadsStream) return body;
    try {
      if (NativeReadableStream === null || !(body instanceof NativeReadableStream)) return body;
      if (read[UPLOAD]?.appStream === body) return read[UPLOAD].stream;
      try {
        new Response(body);
      } catch (_) {
        return body;
      }
      const upload = { stream: undefined, reader: body.getReader(), bytes: 0, span: undefined, appStream: body };
      let cancelled = false;
      upload.stream = new NativeReadableStream({
        pull(controller) {
          // Locked again if `fetch` gave it back (see there): a `fetch` wrapper installed before us may send later.
          upload.reader ??= body.getReader();
          return upload.reader.read().then(({ done, value }) => {
            if (cancelled) return;
            if (done) {
              controller.close();
              if (upload.span) guard(() => upload.span.requestBodySent(upload.bytes));
              return;
            }
            // The browser refuses a chunk that is not a Uint8Array (of any realm) and fails the request.
            if (ArrayBuffer.isView(value)) upload.bytes += value.byteLength;
            controller.enqueue(value);
          });
        },
        cancel(reason) {
          cancelled = true;
          return (upload.reader ?? body).cancel(reason);
        },
      }, { highWaterMark: 0 });
      read[UPLOAD] = upload;
      return upload.stream;
    } catch (error) {
      failed(error);
      return body;
    }
  }

  // Stage 1's request side: what goes out with a `traceparent` (same-origin requests, and those `propagateTo`
  // matches). Returns `{ input, init, sampled, ids, parentSpanId, given, resend, headers, added, sent, view, copied }`
  // (`headers`: the app's, copied; `added`: the trace headers we add, as pairs; `sent`: see `afterSending`; `view`:
  // see `initView`; `copied`: set where `input` is our copy of the app's `Request` and `init` has a view) to send
  // instead of the caller's arguments, or undefined to send those untouched. The caller's `Request`, `init` and
  // `Headers` are never changed: the header goes on a copy.
  // - `fetch(request)`: a `new Request(request)` (which takes over the body exactly as `fetch` would) with the
  //   header set on its own headers.
  // - `fetch(input, init)`: the native call gets a Proxy of `init` that reads each member from `init` when the
  //   native call asks for it (so once each, in the native order), remembering it in `given`, and answers
  //   `headers` with a copy plus the header.
  // - `fetch(request, init)` for a GET or HEAD `Request` (no body that a copy would take) without a `traceparent`:
  //   the header goes on a copy of the request, as with no `init`, and `headers` is answered with a copy plus the
  //   header only where `init` has headers (they replace the request's). So the `init` a `fetch` wrapper installed
  //   before us sees has headers exactly where the app's has (Datadog's takes the request's own path for one
  //   without, and rebuilds `init.headers` from what it finds there otherwise), and an `init` with members resets
  //   the referrer as natively.
  // - `fetch(request, init)` for another `Request`: with no `init.headers`, the answer is a copy of the request's
  //   headers, as natively; `referrer` and `referrerPolicy` fall back to the request's, which an init with members
  //   would otherwise reset.
  // - If the app already sent a `traceparent`, it goes out unchanged and becomes the span's parent (whose sampled
  //   flag decides).
  // - Redirect-safe: `resend(self)` sends the request again without our header, with what the native call got
  //   (nothing is read twice); `fetch` calls it once for a GET or HEAD (no body, safe to send twice, in `cors`
  //   mode) that went out and failed with a TypeError (`resendable`), since that may be a cross-origin redirect
  //   whose preflight refuses the header.
  function propagate(request, input, init, extra) {
    const given = {};
    const outgoing = {
      input, init, sampled: sampleRate >= 1 || Math.random() < sampleRate, ids: newIds(), parentSpanId: undefined,
      given, resend: undefined, headers: undefined, added: undefined, sent: false, view: undefined,
    };
    if (init === undefined || init === null) {
      if (request) {
        // (Never `request.body`: WebKit turns a request's stored body into a stream when it is read, and then
        // refuses a `keepalive` request with it, as natively after the same read. A locked body fails the copy.)
        if (request.bodyUsed) return undefined;
        outgoing.headers = new Headers(request.headers);
        const added = outgoing.added = traceHeaders(outgoing, outgoing.headers);
        if (added === undefined) return outgoing;
        if (!headersOnACopy(outgoing, request, added)) return undefined;
      } else {
        // A URL alone has no headers of the app's to look in: ours go as a record, the form a `fetch` wrapper
        // installed before us most likely expects (`{ ...init.headers }`).
        outgoing.init = { headers: Object.fromEntries(outgoing.added = ourTraceHeaders(outgoing, undefined)) };
      }
      outgoing.resend = (self) => (extra === undefined ? nativeFetch.call(self, input) : send(self, input, undefined, extra));
      return outgoing;
    }
    // A navigation's request (a service worker's `event.request`) keeps its mode only with an empty `init`, which
    // our header would make non-empty: it goes out as given.
    if ((typeof init !== 'object' && typeof init !== 'function') || request?.mode === 'navigate') return undefined;
    // What the native call got for each member, which a resend gets again (`headers` without ours), as own
    // members: a `fetch` wrapper installed before us may copy the `init` it gets.
    const answered = {};
    // A copy of the request carries our header whatever the native call reads of `init` (a `fetch` wrapper
    // installed before us that copies `init` reads no `headers` of it); a request the copy refuses gets it in
    // `init.headers`, below.
    if ((request?.method === 'GET' || request?.method === 'HEAD') && !request.headers.has('traceparent')
      && headersOnACopy(outgoing, request, ourTraceHeaders(outgoing, request.headers))) {
      outgoing.headers = request.headers;
      outgoing.copied = true;
      outgoing.resend = (self) => send(self, input, answered, extra);
    }
    // Our `headers` make the `init` non-empty, which resets a `Request`'s referrer and its policy: where every
    // member read before them was undefined, they fall back to the request's own, as an empty `init` would keep
    // them (one that gives only `signal` or `window`, read later, keeps them too: README, Known differences).
    const member = (key, value) => value === undefined && request && !outgoing.copied && (key === 'referrer' || key === 'referrerPolicy')
      && Object.values(given).every((read) => read === undefined) ? request[key] : value;
    const answer = (key, value) => {
      if (key === 'headers') value = headersCopy(value);
      given[key] = value;
      if (key === 'body') return (answered.body = countedUpload(given, value));
      if (key !== 'headers') return (answered[key] = member(key, value));
      try {
        // No headers of the app's (an `init` such as `{ signal }`): ours go as a record, as for a URL alone, which
        // the native call converts for about half what two `Headers` copies cost (10 µs against 21 a call in
        // Chromium 156, `new Request` with each, hot). A `fetch` wrapper installed before us gets a `Headers`, which
        // it may `append` to, with ours as its own members too, which its spread of `init.headers` keeps.
        if (value === undefined && outgoing.copied) return value;
        if (value === undefined && request === undefined) {
          outgoing.resend = (self) => send(self, input, answered, extra);
          const added = outgoing.added = ourTraceHeaders(outgoing, undefined);
          return fetchIsNative ? Object.fromEntries(added) : headersWithMembers(added);
        }
        const base = new Headers(value !== undefined ? value : request?.headers);
        outgoing.headers = base;
        const added = outgoing.added = traceHeaders(outgoing, base);
        // The app's own `traceparent`: its headers go out as given.
        if (added === undefined) return value;
        // In the app's own form (a copy), for a `fetch` wrapper installed before us: a record or a sequence gets ours
        // as members; a `Headers`, or the request's headers, as a `Headers` copy.
        let sent;
        if (Array.isArray(value)) sent = value.concat(added);
        else if (value !== undefined && !(value instanceof Headers)) sent = Object.assign({ ...value }, Object.fromEntries(added));
        else {
          sent = new Headers(base);
          for (const [name, header] of added) sent.set(name, header);
        }
        answered.headers = base;
        outgoing.resend = (self) => send(self, input, answered, extra);
        return sent;
      } catch (_) {
        // Headers the native call rejects with its own error (or a failure of ours): sent as given.
        return value;
      }
    };
    outgoing.view = newView(init, answer, outgoing);
    outgoing.init = initView(outgoing.view);
    return outgoing;
  }

  // `outgoing.input` becomes a copy of `request` with the trace headers `added` (`outgoing.added`): `new
  // Request(request)`, which takes over the body exactly as `fetch` would. False if the copy fails (a locked body).
  function headersOnACopy(outgoing, request, added) {
    try {
      outgoing.input = new NativeRequest(request);
    } catch (_) {
      return false;
    }
    outgoing.added = added;
    for (const [name, value] of added) outgoing.input.headers.set(name, value);
    return true;
  }

  // Whether `headers` carry the app's own `traceparent`; a valid one becomes `context`'s parent (`joinTrace`).
  function appsOwnTrace(context, headers) {
    const own = headers.get('traceparent');
    if (own === null) return false;
    joinTrace(context, own);
    return true;
  }

  // A valid `traceparent` value becomes `context`'s parent: its trace id with `context`'s own span id, and its flag
  // decides sampling.
  function joinTrace(context, traceparent) {
    const parent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent.trim());
    if (parent && !/^0+$/.test(parent[1]) && !/^0+$/.test(parent[2])) {
      context.ids = parent[1] + context.ids.slice(32);
      context.parentSpanId = parent[2];
      context.sampled = (parseInt(parent[3], 16) & 1) === 1;
    }
  }

  // Under a `fetch` wrapper installed before us (another tracer, set up first), the request may have gone out with
  // that tracer's `traceparent` in place of ours: OpenTelemetry's sets its own on the `Request` it gets, or on
  // `init.headers`. Looked at once that wrapper has called on (synchronously): a valid one then becomes the span's
  // parent, as the app's own does, so the span is in the trace the server's span is in. (Where the wrapper
  // appends its own to ours, two values go out, which no tracer can join: README, Known differences.)
  function joinWhatWentOut(outgoing) {
    // (None, where the native call never read the view's `headers`: then only the request went out.)
    const ours = outgoing.added?.[0][1];
    const view = outgoing.view;
    const sent = view?.headersRead && view.headersAnswer !== undefined ? view.headersAnswer
      : typeof outgoing.input !== 'string' ? outgoing.input.headers
        : view === undefined ? outgoing.init.headers : undefined;
    if (sent === undefined || sent === null) return;
    // (Under a wrapper that passes things on as given, zone.js's in every Angular app: a look at our own record, no
    // `Headers` made.)
    let value;
    try {
      value = sent instanceof Headers ? sent.get('traceparent')
        : sent.traceparent === ours ? ours : new Headers(sent).get('traceparent');
    } catch (_) {
      return; // the app's headers, which the native call rejected
    }
    if (value !== null && value !== ours) joinTrace(outgoing, value);
  }

  // The trace headers to add to a request whose headers are `headers`: `[[name, value]]`, or undefined when it has
  // its own `traceparent` (see `appsOwnTrace`).
  function traceHeaders(outgoing, headers) {
    return appsOwnTrace(outgoing, headers) ? undefined : ourTraceHeaders(outgoing, headers);
  }

  // Our `traceparent` for `outgoing`, and our `tracestate` unless the request's `headers` (if any) have their own:
  // `[[name, value]]`.
  function ourTraceHeaders(outgoing, headers) {
    const added = [['traceparent', `00-${outgoing.ids.slice(0, 32)}-${outgoing.ids.slice(32)}-0${outgoing.sampled ? 1 : 0}`]];
    if (tracestate !== undefined && !headers?.has('tracestate')) added.push(['tracestate', tracestate]);
    return added;
  }

  function track(span, response, url, startedAt) {
    try {
      // `state` is all the span's end callback holds (not the entry, which holds the span: that would be a cycle
      // through the wasm heap that the collector can't see through).
      const state = { ended: false };
      const respondedAt = performance.now();
      const extras = captureResponse.length > 0 || responseAttributes ? responseExtras(response) : undefined;
      if (span.response(response, () => prototype.untrack(state), serverTrace(response.headers), extras, respondedAt)) {
        const entry = {
          span, state, failed, stream: null, body: null, native: false, teed: false, url, startedAt, respondedAt,
          takeTiming, seenUnread: false,
        };
        // (A response that arrives once fetchspan's patches are gone: nothing could follow its body.)
        if (!prototype.track(response, entry)) span.collected();
      }
    } catch (error) {
      failed(error);
    }
  }

  // Everything is prepared; from here on nothing can fail halfway, but a prototype a page changed in a way the checks
  // above don't foresee: then what was done is undone, and install fails.
  let requests;
  let prototype;
  try {
    requests = patchRequest(scope);
    prototype = patchPrototype(scope);
  } catch (error) {
    requests?.restore();
    stopTimings();
    throw error;
  }
  if (owner === undefined) {
    try {
      Object.defineProperty(scope, PATCHED_BY, { value: THIS_COPY, configurable: true });
    } catch (_) { /* a global that takes no new member: one copy goes unnoticed by the others */ }
  }
  const installed = installedFetch(nativeFetch, traced);
  // A writable `fetch` that is not configurable keeps its attributes: only its value may change.
  Object.defineProperty(scope, 'fetch', {
    value: installed.fetch,
    writable: fetchDescriptor.writable,
    enumerable: fetchDescriptor.enumerable,
    configurable: ownFetch ? ownFetch.configurable : true,
  });

  return {
    /**
     * Stops instrumenting new requests and restores `fetch` and `Request` if they are still ours (where someone
     * patched over us, ours stays as a pass-through). `Response.prototype` is restored once no install needs it and no span in
     * flight does.
     */
    restore() {
      if (!active) return;
      active = false;
      installed.stop();
      // Each step on its own: one the page made fail (a frozen global, a frozen prototype) is counted and leaves
      // the others to run.
      guard(() => {
        const nowFetch = Object.getOwnPropertyDescriptor(scope, 'fetch');
        if (nowFetch && nowFetch.value === installed.fetch) {
          if (ownFetch) Object.defineProperty(scope, 'fetch', ownFetch);
          else delete scope.fetch;
        }
      });
      stopTimings();
      guard(() => requests?.restore());
      guard(() => prototype.release(config.idleTimeoutMs));
    },
  };
}

// Counts a failure on `hooks` (the Rust `FetchHooks`, which holds its tracer weakly) with its method `count`:
// `failed` (ours) or `hookFailed` (an attributes hook of the app's). Module-level, like `resourceTimings`, so that
// what a response's entry or a stream the app keeps holds of an installation is these closures alone, not the
// installation's scope (its options, with `onSpanEnd` and the attribute hooks).
function failureCounter(hooks, count) {
  return (error) => {
    try { hooks[count](error); } catch (_) { /* the counter itself is gone: nothing left to tell */ }
  };
}

// An installation's resource-timing store: `{ takeTiming(url, startedAt, respondedAt), stopTimings() }` (the
// latter disconnects the observer, at uninstall).
function resourceTimings() {
  // Resource timing (src/timing.rs says what is recorded): the `fetch` entries the observer delivered, at most
  // RECENT_ENTRIES (oldest first in `kept`), indexed by URL, until a span takes its own. An observer keeps getting
  // entries when the timeline buffer is full, which fetchspan never clears. Per URL, the entries are sorted by
  // `startTime`, read once into `starts`: a request finds its entry by binary search. (Scanning them, with a
  // platform getter call per entry, took 69 µs a request in the benchmark's profile, where one URL is fetched over
  // and over and the entries that arrive after their span ended fill the 256 kept.)
  const kept = new Set();
  const byName = new Map();
  let observer;
  let stopped = false;
  try {
    observer = new PerformanceObserver((list) => keepEntries(list.getEntries()));
    observer.observe({ type: 'resource' });
  } catch (_) {
    observer = undefined;
  }

  function keepEntries(list) {
    for (const entry of list) {
      if (entry.initiatorType !== 'fetch') continue;
      if (kept.size === RECENT_ENTRIES) forget(kept.values().next().value);
      kept.add(entry);
      const start = entry.startTime;
      let same = byName.get(entry.name);
      if (same === undefined) byName.set(entry.name, same = { starts: [], entries: [] });
      const at = firstStartAfter(same.starts, start, false);
      same.starts.splice(at, 0, start);
      same.entries.splice(at, 0, entry);
    }
  }

  function forget(entry, same = byName.get(entry.name), at = same.entries.indexOf(entry)) {
    kept.delete(entry);
    same.starts.splice(at, 1);
    same.entries.splice(at, 1);
    if (same.entries.length === 0) byName.delete(entry.name);
  }

  // The index of the first start after `start` (or at it, with `orAt`) in the sorted `starts`.
  function firstStartAfter(starts, start, orAt) {
    let low = 0;
    let high = starts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (starts[middle] < start || (!orAt && starts[middle] === start)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  // The resource-timing entry of the request to `url` that fetch started at `startedAt` and whose response came at
  // `respondedAt`, taken synchronously and used once: the earliest unused entry for that URL that started between
  // the two (so two concurrent fetches of one URL can't swap entries, and a span that ends before its own entry is
  // queued takes none of a request started after its response came; a URL cut before it crossed into wasm matches by
  // prefix). (Not the end of the `fetch` call: WebKit starts the entry 0.2 to 4 ms after it returns.) Packed
  // as src/timing.rs reads it; null when there is none and none will come (restricted: cross-origin without
  // Timing-Allow-Origin; not an HTTP(S) URL; no observer, or stopped); undefined when none has come yet (Chromium
  // queues a streamed body's entry a task after the body's end: src/body.rs's `TimingWait` asks again).
  function takeTiming(url, startedAt, respondedAt) {
    if (observer === undefined || !url.startsWith('http')) return null;
    keepEntries(observer.takeRecords());
    const none = stopped ? null : undefined;
    let same = byName.get(url);
    if (same === undefined && url.length === MAX_URL_CHARS) {
      for (const [name, list] of byName) {
        if (name.startsWith(url)) same = list;
      }
    }
    if (same === undefined) return none;
    const at = firstStartAfter(same.starts, startedAt - 1, true);
    if (at === same.entries.length || same.starts[at] > respondedAt) return none;
    const e = same.entries[at];
    forget(e, same, at);
    if (e.responseStart <= 0) return null;
    return [e.decodedBodySize, e.encodedBodySize, e.startTime, e.domainLookupStart, e.domainLookupEnd, e.connectStart,
      e.secureConnectionStart, e.connectEnd, e.requestStart, e.responseStart, e.responseEnd, e.transferSize,
      e.serverTiming?.length ? packServerTiming(e.serverTiming) : undefined];
  }
  function stopTimings() {
    stopped = true;
    observer?.disconnect();
  }
  return { takeTiming, stopTimings };
}

// The size of a `Request` object's body: it can't be measured without reading the body, so it is taken when the app
// makes the request. `scope.Request` becomes a Proxy of the native constructor whose `construct` passes the app's
// `init` through a Proxy that sees the `body` the native constructor reads (each member still read once, by the
// native code, in its order) and keeps its size (`bodySize`) in `sizes`; `new Request(request)` and
// `request.clone()` carry the size over. What the constructor makes, throws and returns is the native one's:
// `instanceof`, subclasses, `Request.prototype.constructor === Request` and a call without `new` behave natively.
// Requests made before install, or by the platform (a service worker's `event.request`), have no size. Returns
// `{ sizes, restore() }`, or undefined when the global's `Request` can't be replaced (then no size is known).
// Module-level, so that a `Request` the app kept after uninstall holds these few closures and not the tracer.
function patchRequest(scope) {
  const own = Object.getOwnPropertyDescriptor(scope, 'Request');
  const Native = own?.value;
  if (typeof Native !== 'function' || !own.configurable) return undefined;
  const proto = Native.prototype;
  const nativeClone = proto.clone;
  const ownConstructor = Object.getOwnPropertyDescriptor(proto, 'constructor');
  if (typeof nativeClone !== 'function' || !ownConstructor?.writable) return undefined;
  const ownClone = Object.getOwnPropertyDescriptor(proto, 'clone');
  // (A `clone` the page made read-only for good can't be replaced: no size is known then.)
  if (!ownClone || (!ownClone.writable && !ownClone.configurable)) return undefined;
  const sizes = new WeakMap();
  let on = true;
  const Request = new Proxy(Native, {
    construct(target, args, newTarget) {
      const init = args[1];
      let body;
      let call = args;
      if (on && init !== null && (typeof init === 'object' || typeof init === 'function')) {
        call = Array.from(args);
        call[1] = new Proxy(init, {
          get(given, key) {
            const value = Reflect.get(given, key);
            if (key === 'body') body = value;
            return value;
          },
        });
      }
      const made = Reflect.construct(target, call, newTarget);
      if (on) {
        try {
          // A non-null `init.body` replaces the body; otherwise it is `args[0]`'s, if that is a request we sized.
          const size = body !== undefined && body !== null ? bodySize(body) : sizes.get(args[0]);
          if (size !== undefined) sizes.set(made, size);
        } catch (_) { /* no size: nothing of ours may reach the app */ }
      }
      return made;
    },
  });
  const clone = {
    clone() {
      const copy = nativeClone.call(this);
      const size = sizes.get(this);
      if (on && size !== undefined) sizes.set(copy, size);
      return copy;
    },
  }.clone;
  Object.defineProperty(scope, 'Request', { ...own, value: Request });
  Object.defineProperty(proto, 'clone', { ...ownClone, value: likeNative(clone, nativeClone) });
  Object.defineProperty(proto, 'constructor', { ...ownConstructor, value: Request });
  return {
    sizes,
    restore() {
      on = false;
      if (Object.getOwnPropertyDescriptor(scope, 'Request')?.value === Request) Object.defineProperty(scope, 'Request', own);
      if (proto.clone === clone) Object.defineProperty(proto, 'clone', ownClone);
      if (proto.constructor === Request) Object.defineProperty(proto, 'constructor', ownConstructor);
    },
  };
}

// The patched `Response.prototype`, one per global, shared by every install from this module: an install after an
// uninstall whose spans are still in flight (say, an unread response the app keeps) reuses it rather than saving our
// own accessors as the "originals", and the natives come back once no install and no span in flight needs them.
let sharedPatch = null;

// Which copy of fetchspan has patches in a global, under a key every copy shares (a page may load two: two bundles,
// or a bundle and the script tag); `THIS_COPY` is this module's. Set at install, removed once this copy's patches
// are all gone (see `restoreWhenUnused`): a second copy refuses to install over them.
const PATCHED_BY = Symbol.for('fetchspan.patchedBy');
const THIS_COPY = Object.freeze({});

function patchPrototype(scope) {
  if (sharedPatch !== null && sharedPatch.scope === scope) {
    sharedPatch.users++;
    sharedPatch.unswept();
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
  // (A branch of a cloned response that the app let go unread leaves the span to the others, if any remain.)
  const collected = new FinalizationRegistry((entry) => guard(entry,
    () => entry.left || (entry.stream === null && dropped(entry)) || entry.span.collected()));
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

  // The body stage (src/body.rs and `streamBody` in body.js) interposes on the native body: the app gets the
  // counting stream.
  function streamOf(response, entry) {
    if (entry.stream === null) {
      const source = nativeBody.call(response);
      // (Without the engine's own `TransformStream`, the body stays native: see `NativeTransformStream`.)
      if (source === null || source.locked || NativeTransformStream === null) {
        entry.native = true;
        if (source === null) guard(entry, () => entry.span.noBody());
        return source;
      }
      // With the native getters, and guarded: page code patched over them never runs (or throws) on a `body` read.
      const eventStream = guard(entry, () => /^\s*text\/event-stream/i
        .test(headerValue.call(nativeHeaders.call(response), 'content-type') ?? ''), false);
      // The lookup Rust keeps until the span ends, made outside this function: a closure made here would share its
      // scope with the one below, and so hold the entry (which holds the span: a cycle through the wasm heap).
      const timing = timingLookup(entry.takeTiming, entry.url, entry.startedAt, entry.respondedAt);
      entry.body = guard(entry, () => entry.span.streamBody(source, eventStream, entry, timing), null);
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
  // Whether the app has neither read, locked nor teed the stream it took, if it took one: the native body is then
  // still the response's own (ours to hand back, or a platform consumer's to take).
  function untouched(entry) {
    return entry.stream === null || (!entry.teed && !entry.stream.locked && !isDisturbed(entry));
  }
  // A stream the app took and, in this very task, locked or cancelled, which the pump would hear of a microtask
  // later: the native body is locked or cancelled now, so that a platform consumer called now (`put`, a WebAssembly
  // compile) refuses it as natively.
  function passOn(entry) {
    if (entry.stream !== null && !entry.teed) {
      guard(entry, () => (isDisturbed(entry) ? entry.body.cancelUnread() : entry.body.takeIfLocked()));
    }
  }

  // A native clone of a tracked response the app has not read is another branch of the same request (the native
  // clone tees the native body): tracked with an entry of its own in the same span, so that the span follows
  // whichever branch the app reads (see `streamBody` and `dropped`), as when a library cancels the original and reads
  // the copy (ky's `onDownloadProgress`). Returns `copy`.
  function branched(entry, copy) {
    // (A span that ended, say an empty body that closed as the app took it: the copy is the engine's alone.)
    if (entry.state.ended) return copy;
    // (`current` and `pending`: see `streamBody`.)
    const family = entry.family ??= { kept: 1, members: [entry], streams: new Set() };
    // (Its stream and body are null, it is neither native nor teed: only such an entry is cloned natively.)
    const twin = { ...entry, seenUnread: false, left: false, compiles: undefined };
    family.kept++;
    family.members.push(twin);
    tracked.set(copy, twin);
    collected.register(copy, twin, twin.state);
    // (A response cloned after the sweep let it go: the sweep looks at the copy too.)
    if (patch.users === 0) sweep ??= setTimer(swept, sweepMs);
    return copy;
  }

  const patched = {
    // Methods, as the native members are: no `prototype`, and `new` throws.
    body: {
      get() {
        const entry = tracked.get(this);
        // The stream the app took before a whole-body read stays its body, as natively (used and locked now).
        if (entry?.native && entry.stream !== null) return entry.stream;
        return instrumented(entry) === undefined ? nativeBody.call(this) : streamOf(this, entry);
      },
    },
    bodyUsed: {
      get() {
        const entry = entryOf(this);
        // The native body too: the platform may have taken it (`cache.put`) while the app only looked at `body`.
        return nativeBodyUsed.call(this) || (entry !== undefined && entry.stream !== null && isDisturbed(entry));
      },
    },
    clone: {
      value() {
        const entry = entryOf(this);
        if (entry === undefined) return nativeClone.call(this);
        if (entry.stream === null) return branched(entry, nativeClone.call(this));
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
          // Unread again, and no longer the idle watch's: the sweep looks at it (twice, from now) once no install is
          // left (`branched` arms it).
          entry.seenUnread = false;
          return branched(entry, nativeClone.call(this));
        }
        // Only when the native body can't be handed back untouched (its source failed): tee our readable, like the
        // native clone tees the native body.
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
          const fresh = untouched(entry);
          // (Nor a native body a WebAssembly compile of ours took, its span the compile's, whether or not the app
          // looked at `body` first: see `compiled`. Only then is the native `bodyUsed` read.)
          if (fresh && entry.compiles !== undefined && nativeBodyUsed.call(this)) return nativeRead.apply(this, args);
          // Served natively when the app hasn't read the stream it took (just touching `body` changes nothing).
          if (fresh && (entry.stream === null || entry.body.detach())) {
            // Served natively: native timing, values and errors; the span ends when the promise settles.
            // A promise derived from the native one (same value, same error object), so that a rejection the app
            // leaves unhandled still fires `unhandledrejection` (Firefox and WebKit fire it for body reads).
            entry.native = entry.took = true;
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
    guard(entry, () => entry.span.readNatively(response, size,
      entry.takeTiming(entry.url, entry.startedAt, entry.respondedAt), performance.now()));
  }

  const fetchEventProto = scope.FetchEvent?.prototype;
  const nativeRespondWith = fetchEventProto?.respondWith;
  // The reaction goes on before the native call takes the answer, so it runs first, as before install; it ends the
  // span only if that call took the answer (one too late, or a second one, throws and responds with nothing: the
  // worker may still read the response itself). Only a `Response` or a genuine promise is looked at (the engine's
  // own `then` refuses anything else, whatever the global `Promise` is): a thenable's `then` would run twice.
  const respondWith = typeof nativeRespondWith === 'function' ? { respondWith(answer) {
    let taken = false;
    try {
      PROMISE_THEN.call(answer instanceof Response ? (async () => answer)() : answer, (response) => {
        const entry = taken ? entryOf(response) : undefined;
        if (entry !== undefined && entry.stream === null) guard(entry, () => entry.span.respondedWith());
      }, () => {});
    } catch (_) { /* not a promise, or one whose `constructor` getter throws: the native call reports it */ }
    const result = nativeRespondWith.apply(this, arguments);
    taken = true;
    return result;
  } }.respondWith : undefined;

  // `cache.put(request, response)` of an unread response reads its whole body natively, out of our sight
  // (Workbox's precaching, a stale-while-revalidate's revalidation): once `put` has taken the body (the engine marks
  // it used at once), the span is the cache's, and ends when `put` settles, as a whole-body read served natively
  // would: its size from `Content-Length` or resource timing, or failed if `put` rejects. Else it would end only when
  // the response is collected, which a service worker stopped meanwhile never sees. A `put` that refuses the
  // response (a `206`, `Vary: *`, a request it won't store) takes nothing and changes nothing. Assigned, as
  // `respondWith` is: only if writable.
  const cacheProto = scope.Cache?.prototype;
  const nativePut = cacheProto?.put;
  const put = typeof nativePut === 'function' && Object.getOwnPropertyDescriptor(cacheProto, 'put')?.writable
    ? { put(request, response) {
      const entry = entryOf(response);
      let unread = false;
      if (entry !== undefined && !entry.teed) {
        passOn(entry);
        // (Not a body our pump holds, which `put` can't take: Firefox marks it used all the same.)
        unread = (entry.stream === null || !entry.stream.locked) && !nativeBodyUsed.call(response);
      }
      const result = nativePut.apply(this, arguments);
      if (!unread || !nativeBodyUsed.call(response)) return result;
      try {
        // Derived, as a whole-body read's promise is (see `patched`).
        const settled = PROMISE_THEN.call(result, (value) => {
          readWhole(entry, response, undefined);
          return value;
        }, (error) => {
          // (The body's load failed: Chromium's `NetworkError`, Firefox's `NS_ERROR_NET_PARTIAL_TRANSFER`; or storing
          // it did, which may cut the load short.)
          guard(entry, () => entry.span.readFailed(error));
          throw error;
        });
        entry.native = entry.took = true;
        // A stream the app took and never read is a used body now, as natively (see `detach`).
        if (entry.stream !== null) guard(entry, () => entry.body.detach());
        return settled;
      } catch (_) {
        return result;
      }
    } }.put : undefined;

  // `WebAssembly.compileStreaming(source)` and `instantiateStreaming(source, imports)` read an unread response's
  // whole body natively too (every wasm-bindgen and Emscripten app loads its module so), but only once `source`, a
  // `Response` or a promise of one, has settled, after a chain of reactions whose length is the engine's. So the span
  // is claimed when the compile settles (`compiled`), and ends then, as `put`'s does: its size from `Content-Length`
  // or resource timing, or failed as the compile failed. A compile that refuses the response before reading it (a
  // MIME type other than `application/wasm`, a status that is not ok) takes nothing, and the app may read the body
  // on (wasm-bindgen's glue falls back to `arrayBuffer()`). The result is derived from the native one, as `put`'s
  // is; assigned, as `put` is: only if writable.
  const wasm = scope.WebAssembly;
  // (Ours, and the engine's: `[ours, native]` by name.)
  const streaming = {};
  for (const name of ['compileStreaming', 'instantiateStreaming']) {
    const native = wasm?.[name];
    if (typeof native !== 'function' || !Object.getOwnPropertyDescriptor(wasm, name)?.writable) continue;
    streaming[name] = [likeNative({ [name](source) {
      // (A `WeakMap` lookup, which runs no code of the page's: `source` may be anything, a revoked Proxy even.)
      const entry = entryOf(source);
      if (entry !== undefined) passOn(entry);
      // (A body used already, the app's cancel just passed on, say, is refused: nothing to claim.)
      const claimable = entry !== undefined && !nativeBodyUsed.call(source);
      const result = native.apply(this, arguments);
      if (entry !== undefined && !claimable) return result;
      try {
        // Only a promise of this realm's own kind: a thenable's `then`, or a subclass's constructor, would run twice.
        if (entry === undefined && Object.getPrototypeOf(source) !== PROMISE_PROTOTYPE) return result;
        let response = source;
        const settled = PROMISE_THEN.call(result, (value) => {
          compiled(response, undefined);
          return value;
        }, (error) => {
          compiled(response, error);
          throw error;
        });
        // A promise's response, once it comes, from a reaction of ours that remembers it (in some engines it runs
        // before the engine's own takes the body).
        if (entry !== undefined) {
          compiling(entry, 1);
        } else {
          PROMISE_THEN.call(source, (value) => {
            response = value;
            const taken = tracked.get(value);
            if (taken !== undefined) compiling(taken, 1);
          }, () => {});
        }
        return settled;
      } catch (_) {
        // (What a `compileStreaming` of the page's, installed before us, returned: not a promise. Nothing counted.)
        return result;
      }
    } }[name], native), native];
  }

  // One more WebAssembly compile of `entry`'s response is pending (`by` 1; -1 when it settles): the sweep after
  // uninstall leaves it (see `unread`).
  function compiling(entry, by) {
    entry.compiles = (entry.compiles ?? 0) + by;
  }

  // A WebAssembly compile of `response` settled, failed with `error` if it did: the span ends if the compile took
  // the native body, which it did if that is used now and neither the app (a whole-body read, its stream) nor
  // `put` took it (`took`), and, for a failure, no other compile of it is pending (two compiles of one response:
  // the one refused settles first). A stream the app took and never read is a used body now, as natively (see
  // `detach`). A module that compiled and then failed to instantiate with a `LinkError`, or a `RuntimeError` of its
  // start function, had its whole body: the span completes, as a `json()` whose parse failed does. (An import
  // object `instantiateStreaming` refuses fails with a `TypeError`, which can't be told from a load that failed:
  // the span ends `error`.)
  function compiled(response, error) {
    const entry = tracked.get(response);
    if (entry === undefined || entry.compiles === undefined) return;
    compiling(entry, -1);
    if (entry.state.ended || entry.took || (error !== undefined && entry.compiles > 0)) return;
    guard(entry, () => {
      if (!nativeBodyUsed.call(response)) return;
      // (A stream the app took and then read failed, the compile holding the native body: see `take` in body.js.)
      if (!entry.platformTook && !(untouched(entry) && (entry.stream === null || entry.body.detach()))) return;
      entry.native = true;
      if (error === undefined || error instanceof wasm.LinkError || error instanceof wasm.RuntimeError) {
        readWhole(entry, response, undefined);
      } else {
        entry.span.readFailed(error);
      }
    });
  }

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
  if (put) cacheProto.put = likeNative(put, nativePut);
  for (const name of Object.keys(streaming)) wasm[name] = streaming[name][0];

  function restoreWhenUnused() {
    if (patch.users > 0 || live > 0 || sharedPatch !== patch) return;
    patch.unswept();
    sharedPatch = null;
    if (scope[PATCHED_BY] === THIS_COPY) delete scope[PATCHED_BY];
    for (const name of Object.keys(saved)) {
      const now = Object.getOwnPropertyDescriptor(proto, name);
      if (now && (now.get === patched[name].get && now.value === patched[name].value)) {
        Object.defineProperty(proto, name, saved[name]);
      }
    }
    assignBack(fetchEventProto, 'respondWith', respondWith, nativeRespondWith);
    assignBack(cacheProto, 'put', put, nativePut);
    for (const name of Object.keys(streaming)) assignBack(wasm, name, ...streaming[name]);
  }

  // Once no install uses the patch, a response whose body the app hasn't taken would keep it in place for as long
  // as the app keeps the response: a sweep every `sweepMs` (the last install's `idleTimeoutMs`) ends the spans of
  // those it finds unread twice in a row `abandoned` (at their arrival, as for a response collected unread), and
  // stops once none is left; the natives come back once the bodies that stream end too. `open`: the entries of
  // open spans, by their `state`.
  const open = new Map();
  let sweep = null;
  let sweepMs = 0;
  const unread = (entry) => entry.stream === null && !entry.native && !entry.left && !entry.state.ended
    && !(entry.compiles > 0);
  // The entries of the spans still open: a cloned response's branches each have one.
  const branches = () => [...open.values()].flatMap((entry) => entry.family?.members ?? entry);
  function swept() {
    sweep = null;
    let left = false;
    for (const entry of branches()) {
      if (!unread(entry)) continue;
      if (entry.seenUnread) guard(entry, () => dropped(entry) || entry.span.collected());
      else left = entry.seenUnread = true;
    }
    if (left && patch.users === 0) sweep = setTimer(swept, sweepMs);
  }

  const patch = {
    scope,
    users: 1,
    /**
     * Routes `response`'s body accessors to `entry` until its span ends; false if this patch is no longer in place
     * (its last install was gone before the response arrived), when nothing would route them.
     */
    track(response, entry) {
      if (sharedPatch !== patch) return false;
      live++;
      tracked.set(response, entry);
      open.set(entry.state, entry);
      collected.register(response, entry, entry.state);
      if (patch.users === 0) sweep ??= setTimer(swept, sweepMs);
      return true;
    },
    /** The span of the entry with this `state` ended (called from Rust, once). */
    untrack(state) {
      state.ended = true;
      if (!open.delete(state)) return;
      collected.unregister(state);
      live--;
      restoreWhenUnused();
    },
    /** An install is done with the patch; `idleMs`, its `idleTimeoutMs`. */
    release(idleMs) {
      patch.users--;
      sweepMs = idleMs;
      if (patch.users === 0 && live > 0) sweep ??= setTimer(swept, sweepMs);
      restoreWhenUnused();
    },
    /** An install uses the patch again (or none is left to): responses are left to their spans. */
    unswept() {
      clearTimer(sweep);
      sweep = null;
      for (const entry of branches()) entry.seenUnread = false;
    },
  };
  sharedPatch = patch;
  return patch;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
// Random bytes for ids, drawn 32 contexts at a time (one `getRandomValues` per request cost more than the rest).
const CONTEXT_BYTES = 24;
const POOLED = 32;
const randomPool = new Uint8Array(CONTEXT_BYTES * POOLED);
let poolUsed = POOLED;

// A new trace id and span id as 48 hex digits (neither all zero, as trace context requires).
function newIds() {
  if (poolUsed === POOLED) {
    crypto.getRandomValues(randomPool);
    poolUsed = 0;
  }
  const start = poolUsed++ * CONTEXT_BYTES;
  let ids = '';
  for (let i = start; i < start + CONTEXT_BYTES; i++) ids += HEX[randomPool[i]];
  return /^0{32}|0{16}$/.test(ids) ? newIds() : ids;
}

// A URL cut to what crosses into wasm (a huge `data:` URL would grow the wasm memory, which never shrinks).
function capped(url) {
  return url.length > MAX_URL_CHARS ? url.slice(0, MAX_URL_CHARS) : url;
}

// Whether a normalized URL matches one of `patterns`: a RegExp anywhere, a string as a prefix; with `bounded`
// (`propagateTo`), one that ends at a boundary (`https://api.example.com/` or `…/v1` match `…/v1/x` and `…/v1?x`,
// never `…/v10` or `https://api.example.com.evil.io`).
function matchesAny(patterns, url, bounded) {
  for (const pattern of patterns) {
    if (typeof pattern !== 'string') {
      // Our copy of the app's RegExp (src/options.js), flags kept.
      pattern.lastIndex = 0;
      if (pattern.test(url)) return true;
    } else if (url.startsWith(pattern) && (!bounded || pattern.endsWith('/') || url.length === pattern.length
      || '/?#'.includes(url[pattern.length]))) {
      return true;
    }
  }
  return false;
}

// Whether `input`, not a `Request` of this realm, is one of another realm (an iframe's), which `instanceof` doesn't
// recognize: a brand check through `requestUrl` (this realm's `Request.prototype.url` getter), which reads nothing of
// the app's object. A URL, the common object input, is told apart first, without a throw.
function foreignRequest(input, requestUrl) {
  if (typeof input !== 'object' || input === null || input instanceof URL) return false;
  try {
    requestUrl.call(input);
    return true;
  } catch (_) {
    return false;
  }
}

// What the native call gets for the app's `init` (`view.init`): each member it reads is read from `init` then and
// answered with `view.answer(key, value)`; a read that throws sets `view.threw`. The Proxy's target is `view`, ours
// (no trap shows it), not `init`: for a frozen `init`, an answer other than its own value would break the Proxy's
// invariants (a TypeError). The other traps forward to `init`, so a `fetch` wrapper installed before us sees,
// copies (`{ ...init }`) and changes the app's object as natively (`Object.freeze` of the view fails, and
// `Object.isFrozen` says false).
function initView(view) {
  return new Proxy(view, INIT_VIEW);
}

const INIT_VIEW = {
  get(view, key) {
    let value;
    try {
      value = Reflect.get(view.init, key);
    } catch (error) {
      view.threw = true;
      throw error;
    }
    if (key !== 'headers') return view.answer(key, value);
    // `headers` read again (by a `fetch` wrapper installed before us, then by the native call) and still the same:
    // the same answer, with what the wrapper did to it (an `append`, a member set on a record).
    if (view.headersRead && view.headersValue === value) {
      foldMembers(view.headersAnswer);
      return view.headersAnswer;
    }
    view.headersRead = true;
    view.headersValue = value;
    return (view.headersAnswer = view.answer(key, value));
  },
  // A view can't be made non-extensible (its target would then have to show our own members), nor get a
  // non-configurable member (which its target would have to hold): both fail, leaving the app's object as it is.
  preventExtensions: () => false,
  defineProperty: (view, key, descriptor) => descriptor.configurable !== false
    && Reflect.defineProperty(view.init, key, descriptor),
  // (Without the Proxy as the receiver, which would define the member on the target.) The app's object never gets
  // our trace headers (an `init` used again would send them again, a span's parent would be itself):
  // - our copy of `headers` written back (`init.headers = init.headers || {}`) is not stored, and the next read
  //   answers that copy again;
  // - headers made from it (`init.headers = { ...init.headers, x }`) are stored without ours, and the next read
  //   answers them as written.
  set(view, key, value) {
    if (key !== 'headers' || !view.headersRead) return Reflect.set(view.init, key, value);
    if (value === view.headersAnswer && value !== view.headersValue) {
      // (Succeeds or fails as the write would: a frozen `init` refuses it.)
      return view.headersValue === undefined ? Object.isExtensible(view.init)
        : Reflect.set(view.init, key, view.headersValue);
    }
    const added = view.outgoing?.added;
    let stripped = value;
    try {
      if (added !== undefined) stripped = withoutPairs(value, added);
    } catch (_) { /* headers we can't look into (a getter that throws): stored as written */ }
    if (stripped === value || !Reflect.set(view.init, key, stripped)) return Reflect.set(view.init, key, value);
    view.headersValue = stripped;
    view.headersAnswer = value;
    return true;
  },
  getOwnPropertyDescriptor(view, key) {
    const descriptor = Reflect.getOwnPropertyDescriptor(view.init, key);
    if (descriptor !== undefined) descriptor.configurable = true;
    else if (key === 'headers' && showsHeaders(view) && !Reflect.has(view.init, key)) {
      return { value: INIT_VIEW.get(view, key), writable: true, enumerable: true, configurable: true };
    }
    return descriptor;
  },
  ownKeys(view) {
    const keys = Reflect.ownKeys(view.init);
    if (showsHeaders(view) && !keys.includes('headers') && !Reflect.has(view.init, 'headers')) keys.push('headers');
    return keys;
  },
  has: (view, key) => Reflect.has(view.init, key) || (key === 'headers' && showsHeaders(view)),
};

// Whether the view shows our trace headers as its own `headers` where the app's `init` has none at all, so that a
// `fetch` wrapper installed before us that copies the `init` it gets (`{ ...init }`, as Sentry's does) passes them
// on, and one that looks at `init.headers` first (Datadog's) sees what a copy gets. Not where the header went on a
// copy of the request (see `propagate`). (For a `Request` with a body and an empty `init`, the copy's `headers`
// reset the request's referrer and its policy: README, Known differences.)
function showsHeaders(view) {
  return view.outgoing !== undefined && !view.outgoing.copied;
}
for (const trap of ['deleteProperty', 'getPrototypeOf']) {
  INIT_VIEW[trap] = (view, ...args) => Reflect[trap](view.init, ...args);
}

// An `init` view (see `initView`): `answer(key, value)` answers each member read; `outgoing`, where the request gets
// our trace headers (see `propagate`), has them as `added`.
function newView(init, answer, outgoing) {
  return { init, threw: false, answer, outgoing, headersRead: false, headersValue: undefined, headersAnswer: undefined };
}

// `headers` (in any form the app may give them) without the `added` pairs, `[[name, value]]`, where they have them
// with those very values; `headers` itself when they have none.
function withoutPairs(headers, added) {
  const ours = (name, value) => typeof name === 'string' && typeof value === 'string'
    && added.some(([n, v]) => n === name.toLowerCase() && v === value);
  if (headers instanceof Headers) {
    if (!added.some(([name, value]) => headers.get(name) === value)) return headers;
    const copy = new Headers(headers);
    for (const [name, value] of added) if (copy.get(name) === value) copy.delete(name);
    return copy;
  }
  if (Array.isArray(headers)) {
    const kept = headers.filter((pair) => !(Array.isArray(pair) && ours(pair[0], pair[1])));
    return kept.length === headers.length ? headers : kept;
  }
  if (headers === null || typeof headers !== 'object') return headers;
  const names = Object.keys(headers).filter((name) => ours(name, headers[name]));
  if (names.length === 0) return headers;
  const copy = { ...headers };
  for (const name of names) delete copy[name];
  return copy;
}

// The `Headers` answered to a `fetch` wrapper installed before us for an `init` without headers (see `propagate`),
// each with the members we gave it and their values.
const MEMBERED = new WeakMap();

// A `Headers` of `pairs` that has them as its own members too: a wrapper's spread of it keeps them.
function headersWithMembers(pairs) {
  const headers = new Headers(pairs);
  for (const [name, value] of pairs) headers[name] = value;
  MEMBERED.set(headers, new Map(pairs));
  return headers;
}

// What a wrapper did to the members of such a `Headers`, as on a record, done to its headers: a member set
// (`init.headers['x-csrf'] = token`) or changed becomes a header, one of ours deleted takes its header along. A
// header changed through the `Headers` methods is left as it is.
function foldMembers(headers) {
  const members = MEMBERED.get(headers);
  if (members === undefined) return;
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (members.get(name) === value) continue;
    members.set(name, value);
    try {
      headers.set(name, `${value}`);
    } catch (_) { /* not a header name or value: left out, as the native call would refuse it */ }
  }
  for (const name of members.keys()) {
    if (!Object.prototype.hasOwnProperty.call(headers, name)) {
      members.delete(name);
      headers.delete(name);
    }
  }
}

// The global `name` if it is the engine's own, else null.
function nativeGlobal(name) {
  try {
    return isNative(globalThis[name], name) ? globalThis[name] : null;
  } catch (_) {
    return null;
  }
}

// Whether `f` prints as the engine's own code (a bound function does too), and is named `name` if given.
function isNative(f, name) {
  try {
    return (name === undefined || f.name === name) && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(f));
  } catch (_) {
    return false;
  }
}

// The app's `init.headers`, read once the way the native call reads them (a sequence through the iterator it has,
// else a record of its own enumerable properties) into a copy of the same form that can be read again (an array, a
// plain object): so the app's code (a one-shot iterable, getters) runs once, the native call still checks the copy
// and rejects bad headers with its own error (one that names the form), and a `fetch` wrapper installed before us
// sees the form the app gave (it may spread a record: `{ ...init.headers, … }`). A `Headers` object, anything else
// that is not an object, and a record with a Symbol key (which the native call refuses; a copy would drop it) go as
// given.
function headersCopy(value) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function') || value instanceof Headers) {
    return value;
  }
  const iterator = value[Symbol.iterator];
  if (iterator === undefined || iterator === null) {
    // Read as the native call reads a record: key by key, its descriptor and then its value (a getter may delete or
    // hide a key after it). A Symbol key (they come last) fails the native conversion: the copy ends with it, and the
    // native call fails on the copy with its own error, having read each member once.
    const entries = [];
    for (const key of Reflect.ownKeys(value)) {
      if (!Reflect.getOwnPropertyDescriptor(value, key)?.enumerable) continue;
      if (typeof key === 'symbol') {
        entries.push([key, '']);
        break;
      }
      entries.push([key, converted(value[key])]);
    }
    return Object.fromEntries(entries);
  }
  if (typeof iterator !== 'function') return value;
  // Each pair copied too, where it is iterable (else the native call refuses it with its own error).
  return Array.from({ [Symbol.iterator]: () => iterator.call(value) },
    (pair) => (typeof pair === 'object' && pair !== null && typeof pair[Symbol.iterator] === 'function' ? Array.from(pair, converted) : pair));
}

// A header value as the native call will take it: an object converted here, once (its `toString` would otherwise
// run again for our own reads of the copy); an error it throws is the native call's rejection, as natively.
function converted(value) {
  return (typeof value === 'object' && value !== null) || typeof value === 'function' ? String(value) : value;
}

// The name of a method the app gave in `init`: an object's conversion (its `toString`) ran once already, in the
// native call, and doesn't run again: such a method is `_OTHER` (the HTTP semantic conventions' unknown method).
function methodName(method) {
  return typeof method === 'object' || typeof method === 'function' ? '_OTHER' : String(method);
}

// The request's signal: what `fetch` read of `init.signal`, else the `Request`'s own.
function signalOf(given, request) {
  return given?.signal !== undefined ? given.signal : request?.signal;
}

// `signal` if it is a genuine `AbortSignal`, else undefined: an object made from its prototype (which the native
// call refuses) throws on reading `aborted`, and must not throw out of `fetch` nor into the wasm.
function genuineSignal(signal) {
  try {
    return signal instanceof AbortSignal && typeof signal.aborted === 'boolean' ? signal : undefined;
  } catch (_) {
    return undefined;
  }
}

// Whether this browser sends a `ReadableStream` request body as a stream (the feature test of the Fetch standard's
// authors): one that doesn't know `duplex` turns the stream into the text "[object ReadableStream]", typed as text.
function canStreamUploads() {
  try {
    let duplexRead = false;
    const typed = new Request('data:,', {
      body: new ReadableStream(),
      method: 'POST',
      get duplex() {
        duplexRead = true;
        return 'half';
      },
    }).headers.has('Content-Type');
    return duplexRead && !typed;
  } catch (_) {
    return false;
  }
}

// The size in bytes of a request body given in `init`, when it is known without reading anything: a string (as
// UTF-8), an `ArrayBuffer`, a typed array or `DataView`, a `Blob` or `URLSearchParams`; undefined otherwise (form
// data, a stream, none).
function bodySize(body) {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return utf8Length(body);
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return body.byteLength;
  if (body instanceof Blob) return body.size;
  if (body instanceof URLSearchParams) return utf8Length(body.toString());
  return undefined;
}

// UTF-8 length of a string, counted without encoding it (a lone surrogate becomes U+FFFD, 3 bytes, as fetch sends it).
function utf8Length(text) {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
    } else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length
      && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2;
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

// Server-Timing metrics handed to the span at most, and the longest metric name kept.
const MAX_SERVER_TIMINGS = 8;
const SERVER_TIMING_NAME = /^[\w.-]{1,64}$/;

// What the response says of the server's side (headers a cross-origin response shows only when exposed):
// `traceresponse`, and the `Server-Timing` header parsed into the entries resource timing would give, packed by
// `packServerTiming`; undefined when it has neither header.
function serverTrace(headers) {
  const timing = headers.get('server-timing');
  const traceresponse = headers.get('traceresponse');
  if (timing === null && traceresponse === null) return undefined;
  const entries = [];
  for (const entry of (timing ?? '').split(',')) {
    const [name, ...params] = entry.split(';').map((part) => part.trim());
    let duration = 0;
    let description = '';
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      const key = param.slice(0, eq).trim().toLowerCase();
      const value = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (key === 'dur') duration = Number(value) || 0;
      else if (key === 'desc') description = value;
    }
    entries.push({ name, duration, description });
  }
  return packServerTiming(entries, traceresponse ?? '');
}

// Server-Timing entries (`{ name, duration, description }`, as `PerformanceServerTiming` has them) packed for the
// span: `[traceparent or '', name, duration ms, …]`, the traceparent from `traceresponse` or the entry named
// `traceparent` (its description), then at most MAX_SERVER_TIMINGS metrics with a positive duration (resource
// timing reports a missing `dur` as 0).
function packServerTiming(entries, traceresponse = '') {
  const out = [traceresponse];
  for (const { name, duration, description } of entries) {
    if (name === 'traceparent') {
      if (out[0] === '') out[0] = description;
    } else if (out.length < 1 + 2 * MAX_SERVER_TIMINGS && SERVER_TIMING_NAME.test(name) && duration > 0
      && duration < Infinity) {
      out.push(name, duration);
    }
  }
  // A traceparent is 55 characters: nothing longer crosses into the wasm (whose memory never shrinks back).
  out[0] = out[0].trim();
  if (out[0].length !== 55) out[0] = '';
  return out;
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

// The function installed as `fetch`: `traced` (the installation's) until `stop()`, then the native fetch alone.
// Module-level, so that what the page keeps of it after uninstall (a library that took `globalThis.fetch`, a wrapper
// put on over ours) holds the native function, not the installation (its options, with `onSpanEnd` and the hooks,
// and its resource timings).
function installedFetch(nativeFetch, traced) {
  let impl = traced;
  return {
    // A method, as the native `fetch` is no constructor: `new fetch()` throws, and it has no `prototype`.
    fetch: likeNative({
      fetch(input, init) {
        return (impl ?? nativeFetch).apply(this, arguments);
      },
    }.fetch, nativeFetch),
    stop() {
      impl = null;
    },
  };
}

// Gives a function of ours the `name` and `length` of the native one it stands in for (the minified build would
// otherwise call `fetch` something like `te`, and our `fetch(input, init)` has length 2 where the native has 1).
function likeNative(ours, native) {
  Object.defineProperty(ours, 'name', { value: native.name, configurable: true });
  Object.defineProperty(ours, 'length', { value: native.length, configurable: true });
  return ours;
}

// Puts `native` back as `holder[name]` if `ours` is still there; one a page froze since stays ours.
function assignBack(holder, name, ours, native) {
  try {
    if (ours && holder[name] === ours) holder[name] = native;
  } catch (_) { /* read-only now */ }
}

function findDescriptor(object, name) {
  for (let o = object; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (descriptor) return descriptor;
  }
  return undefined;
}

/**
 * The text of a number as the engine writes it (`1.5`, `1e+21`), which for a finite number is a JSON number: a
 * template literal converts it with the language's own ToString, which a page can't replace (the glue's
 * `toString` call would use `Number.prototype.toString`, which it can).
 */
export function numberText(number) {
  return `${number}`;
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
    return typeof any === 'function' && isNative(any) ? any : null;
  } catch (_) {
    return null;
  }
})();
