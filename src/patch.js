// Stage 1 of a request: the patched `fetch` and `Request` (design C of shared/reference/response-design.md). The Rust
// side (src/patch.rs) owns the object this returns and calls `restore()` from its `Drop`. Each response it tracks is
// handed to the body stage (src/body.js), which patches `Response.prototype`.
//
// Owns: the fetch wrapper, the `Request` constructor proxy, trace context on the way out, the resource-timing
// observer and the captured headers and hook attributes that cross into wasm.
// Never: changes what the app's promise resolves or rejects to (the same value, the same error object), throws
// synchronously, mutates or consumes the caller's `Request`, `init` or `Headers`, or lets a failure of ours reach the
// app: every call into Rust is guarded and falls back to the native behaviour.

import { likeNative, patchPrototype } from './body.js';

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
  const nativeFetch = fetchDescriptor.value;
  const NativeRequest = scope.Request;
  const requestUrl = Object.getOwnPropertyDescriptor(NativeRequest.prototype, 'url').get;
  const uploadsStream = canStreamUploads();
  let active = true;

  function failed(error) {
    try { hooks.failed(error); } catch (_) { /* the counter itself is gone: nothing left to tell */ }
  }

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

  // Resource timing (src/timing.rs says what is recorded): the `fetch` entries the observer delivered, at most
  // RECENT_ENTRIES (oldest first in `kept`), indexed by URL, until a span takes its own. An observer keeps getting
  // entries when the timeline buffer is full, which fetchspan never clears. Per URL, the entries are sorted by
  // `startTime`, read once into `starts`: a request finds its entry by binary search. (Scanning them, with a
  // platform getter call per entry, took 69 µs a request in the benchmark's profile, where one URL is fetched over
  // and over and the entries that arrive after their span ended fill the 256 kept.)
  const kept = new Set();
  const byName = new Map();
  let observer;
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

  // The resource-timing entry of the request to `url` that fetch started at `startedAt`, taken synchronously and
  // used once: the earliest unused entry for that URL that started with it (so two concurrent fetches of one URL
  // can't swap entries; a URL cut before it crossed into wasm matches by prefix). Packed as src/timing.rs reads
  // it, or undefined when there is none or it is restricted (cross-origin without Timing-Allow-Origin).
  function takeTiming(url, startedAt) {
    if (observer === undefined) return undefined;
    keepEntries(observer.takeRecords());
    let same = byName.get(url);
    if (same === undefined && url.length === MAX_URL_CHARS) {
      for (const [name, list] of byName) {
        if (name.startsWith(url)) same = list;
      }
    }
    if (same === undefined) return undefined;
    const at = firstStartAfter(same.starts, startedAt - 1, true);
    if (at === same.entries.length) return undefined;
    const e = same.entries[at];
    forget(e, same, at);
    if (e.responseStart <= 0) return undefined;
    return [e.decodedBodySize, e.encodedBodySize, e.startTime, e.domainLookupStart, e.domainLookupEnd, e.connectStart,
      e.secureConnectionStart, e.connectEnd, e.requestStart, e.responseStart, e.responseEnd, e.transferSize,
      e.serverTiming?.length ? packServerTiming(e.serverTiming) : undefined];
  }

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
  // (integers as numbers, others as their decimal text). Anything else (a throw, a promise, another value) adds
  // nothing and is counted as a failure of ours. (A key fetchspan sets itself is left out and counted in Rust:
  // `is_own` in src/span.rs.)
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
        else if (typeof value === 'boolean' || Number.isSafeInteger(value)) found.push(bound(key), value);
        else if (Number.isFinite(value)) found.push(bound(key), String(value));
        else throw new TypeError(`fetchspan: attribute "${key}" from a hook must be a string, a finite number or a boolean`);
      }
      out.push(...found);
    } catch (error) {
      failed(error);
    }
  }
  const origin = scope.location?.origin;
  // What a same-origin URL starts with (`null/` for an opaque origin, which nothing starts with).
  const originPrefix = `${origin}/`;

  // The per-request path: kept free of helper closures (try/catch inline), measured in tests/bench.
  // The caller's `init` is read only by the native call, through a Proxy that remembers each member it read (so
  // each is read once, in the native order); what the span needs (method, signal, body size) comes from there.
  function fetch(input, init) {
    // Without arguments, or called on another object than the global, the native call rejects (before it reads
    // anything); a `Request` of another realm (an iframe's) would read as the URL "[object Request]". All go out
    // untouched.
    if (!active || arguments.length === 0 || (this !== undefined && this !== null && this !== scope)) {
      return nativeFetch.apply(this, arguments);
    }
    // The span starts when fetch was called, as the resource-timing entry does.
    const startedAt = performance.now();
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
          return nativeFetch.call(this, input, init);
        }
        url = absoluteUrl(input);
      } else {
        url = request && capped(requestUrl.call(request));
      }
      if (url === undefined || matchesAny(ignoreUrls, url, false)) url = undefined;
      else if (url.startsWith(originPrefix) || matchesAny(propagateTo, url, true)) outgoing = propagate(request, input, init);
    } catch (error) {
      failed(error);
      url = undefined;
    }
    if (url === undefined) return nativeFetch.call(this, input, init);
    // What the native call read of `init`, member by member, so that nothing is read twice (see `propagate` for a
    // request that gets a trace header).
    let read;
    let pending;
    if (outgoing !== undefined) {
      read = outgoing.given;
      pending = nativeFetch.call(this, outgoing.input, outgoing.init);
    } else if (init !== null && typeof init === 'object') {
      read = {};
      pending = nativeFetch.call(this, input, initView({ init, answer: recorder(read) }));
    } else {
      pending = nativeFetch.call(this, input, init);
    }
    const upload = read?.[UPLOAD];
    if (upload !== undefined) {
      // A streamed body the native call did not take (it threw first) goes back to the app unlocked, as natively.
      try {
        if (!upload.stream.locked) upload.reader.releaseLock();
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
      const method = bound(read?.method !== undefined ? String(read.method) : request ? request.method : 'GET');
      const signal = signalOf(read, request);
      let extras;
      if (captureRequest.length > 0 || requestAttributes) extras = requestExtras(method, url, context.headers ?? new Headers());
      span = hooks.start(
        method,
        url,
        signal instanceof AbortSignal ? signal : undefined,
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
      if (outgoing?.resend === undefined) return pending.then(arrived, rejected);
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

  // Whether a request that failed with `error` goes out once more without our header: a TypeError of a request
  // that went out with it (see `afterSending`; a getter of `init` that threw stopped it, even where a wrapper
  // installed before us delays the rejection, and an abort is no header's fault), safe to send twice (GET or HEAD,
  // no body), in a mode that sends our header (a `no-cors` request drops it), may be the header's fault (see
  // `propagate`). A resend that fails too rejects with the first error.
  function resendable(outgoing, request, error) {
    const { given } = outgoing;
    const method = given.method !== undefined ? given.method : request?.method ?? 'GET';
    return outgoing.sent && !outgoing.view?.threw && !signalOf(given, request)?.aborted && error instanceof TypeError
      && /^(GET|HEAD)$/i.test(String(method)) && given.body == null && (given.mode ?? request?.mode) !== 'no-cors';
  }

  // Returns `derived`, the reaction to the native promise, and marks `outgoing` sent a microtask later: a `fetch`
  // that fails before sending anything (a bad or throwing `init` member, an aborted signal, a URL it can't parse)
  // returns a promise already rejected, whose reaction, registered just before, runs first and finds it unsent.
  function afterSending(derived, outgoing) {
    queueMicrotask(() => { outgoing.sent = true; });
    return derived;
  }

  // The native promise of a request without a span, resent once without our header where `resendable` says so.
  // A signal that had already aborted rejects it with the signal's reason, never resendable: the native promise is
  // returned untouched, so its rejection comes as early as natively (a reaction would delay it by a microtask).
  function resending(pending, outgoing, request, self) {
    // (Not a promise: what a `fetch` wrapper installed before us returned, given to the app as it is.)
    if (outgoing?.resend === undefined || typeof pending?.then !== 'function') return pending;
    const signal = signalOf(outgoing.given, request);
    if (signal instanceof AbortSignal && signal.aborted) return pending;
    return afterSending(pending.then(undefined, (error) => {
      if (!resendable(outgoing, request, error)) throw error;
      return outgoing.resend(self).then(undefined, () => { throw error; });
    }), outgoing);
  }

  // The answer to each read of `init` (see `initView`) that passes it through and remembers it in `read` (a
  // streamed `body` goes out counted: see `countedUpload`; `headers` as `headerPairs`, which `fetch` then looks in
  // for the app's own `traceparent`).
  function recorder(read) {
    return (key, value) => {
      if (key === 'headers') value = headerPairs(value);
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
  // reader, bytes, span }` for `fetch`. A stream the native call would refuse (locked or disturbed: `new Response`
  // tells without locking it), and any other body, goes out as given.
  function countedUpload(read, body) {
    if (!uploadsStream) return body;
    try {
      if (!(body instanceof ReadableStream)) return body;
      try {
        new Response(body);
      } catch (_) {
        return body;
      }
      const reader = body.getReader();
      const upload = { stream: undefined, reader, bytes: 0, span: undefined };
      let cancelled = false;
      upload.stream = new ReadableStream({
        pull(controller) {
          return reader.read().then(({ done, value }) => {
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
          return reader.cancel(reason);
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
  // matches). Returns `{ input, init, sampled, ids, parentSpanId, given, resend, headers, sent, view }` (`headers`:
  // the app's, copied; `sent`: see `afterSending`; `view`: see `initView`) to send instead of the caller's
  // arguments, or undefined to send those untouched. The caller's
  // `Request`, `init` and `Headers` are never changed: the header goes on a copy.
  // - `fetch(request)`: a `new Request(request)` (which takes over the body exactly as `fetch` would) with the
  //   header set on its own headers.
  // - `fetch(input, init)`: the native call gets a Proxy of `init` that reads each member from `init` when the
  //   native call asks for it (so once each, in the native order), remembering it in `given`, and answers
  //   `headers` with a copy plus the header. With a `Request` and no `init.headers`, the copy is of the request's
  //   headers, as natively; `referrer` and `referrerPolicy` fall back to the request's, which an init with members
  //   would otherwise reset.
  // - If the app already sent a `traceparent`, it goes out unchanged and becomes the span's parent (whose sampled
  //   flag decides).
  // - Redirect-safe: `resend(self)` sends the request again without our header, with what the native call got
  //   (nothing is read twice); `fetch` calls it once for a GET or HEAD (no body, safe to send twice, not
  //   `no-cors`) that went out and failed with a TypeError (`resendable`), since that may be a cross-origin
  //   redirect whose preflight refuses the header.
  function propagate(request, input, init) {
    const given = {};
    const outgoing = {
      input, init, sampled: sampleRate >= 1 || Math.random() < sampleRate, ids: newIds(), parentSpanId: undefined,
      given, resend: undefined, headers: undefined, sent: false, view: undefined,
    };
    if (init === undefined || init === null) {
      if (request) {
        if (request.bodyUsed || request.body?.locked) return undefined;
        outgoing.headers = new Headers(request.headers);
        const added = traceHeaders(outgoing, outgoing.headers);
        if (added === undefined) return outgoing;
        outgoing.input = new NativeRequest(request);
        for (const [name, value] of added) outgoing.input.headers.set(name, value);
      } else {
        // A URL alone has no headers of the app's to look in: ours go as pairs, which the native call turns into
        // headers.
        outgoing.init = { headers: ourTraceHeaders(outgoing, undefined) };
      }
      outgoing.resend = (self) => nativeFetch.call(self, input);
      return outgoing;
    }
    // A navigation's request (a service worker's `event.request`) keeps its mode only with an empty `init`, which
    // our header would make non-empty: it goes out as given.
    if ((typeof init !== 'object' && typeof init !== 'function') || request?.mode === 'navigate') return undefined;
    // Our `headers` make the `init` non-empty, which resets a `Request`'s referrer and its policy: where every
    // member read before them was undefined, they fall back to the request's own, as an empty `init` would keep
    // them (one that gives only `signal` or `window`, read later, keeps them too: README, Known differences).
    const member = (key, value) => value === undefined && request && (key === 'referrer' || key === 'referrerPolicy')
      && Object.values(given).every((read) => read === undefined) ? request[key] : value;
    // What the native call got for each member, which a resend gets again (`headers` without ours), as own
    // members: a `fetch` wrapper installed before us may copy the `init` it gets.
    const answered = {};
    outgoing.view = { init, threw: false, answer: (key, value) => {
      if (key === 'headers') value = headerPairs(value);
      given[key] = value;
      if (key === 'body') return (answered.body = countedUpload(given, value));
      if (key !== 'headers') return (answered[key] = member(key, value));
      try {
        const base = new Headers(value !== undefined ? value : request?.headers);
        outgoing.headers = base;
        const added = traceHeaders(outgoing, base);
        // The app's own `traceparent`: its headers go out as given.
        if (added === undefined) return value;
        const sent = new Headers(base);
        for (const [name, header] of added) sent.set(name, header);
        answered.headers = base;
        outgoing.resend = (self) => nativeFetch.call(self, input, answered);
        return sent;
      } catch (_) {
        // Headers the native call rejects with its own error (or a failure of ours): sent as given.
        return value;
      }
    } };
    outgoing.init = initView(outgoing.view);
    return outgoing;
  }

  // Whether `headers` carry the app's own `traceparent`; a valid one becomes `context`'s parent (its trace id with
  // `context`'s own span id, and its flag decides sampling).
  function appsOwnTrace(context, headers) {
    const own = headers.get('traceparent');
    if (own === null) return false;
    const parent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(own.trim());
    if (parent && !/^0+$/.test(parent[1]) && !/^0+$/.test(parent[2])) {
      context.ids = parent[1] + context.ids.slice(32);
      context.parentSpanId = parent[2];
      context.sampled = (parseInt(parent[3], 16) & 1) === 1;
    }
    return true;
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
      const extras = captureResponse.length > 0 || responseAttributes ? responseExtras(response) : undefined;
      if (span.response(response, () => prototype.untrack(state), serverTrace(response.headers), extras,
        performance.now())) {
        prototype.track(response, {
          span, state, failed, stream: null, body: null, native: false, teed: false, url, startedAt, takeTiming,
        });
      }
    } catch (error) {
      failed(error);
    }
  }

  // Everything is prepared; from here on nothing can fail halfway.
  const requests = patchRequest(scope);
  const prototype = patchPrototype(scope);
  // A writable `fetch` that is not configurable keeps its attributes: only its value may change.
  Object.defineProperty(scope, 'fetch', {
    value: likeNative(fetch, nativeFetch),
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
      // Each step on its own: one the page made fail (a frozen global, a frozen prototype) is counted and leaves
      // the others to run.
      guard(() => {
        const nowFetch = Object.getOwnPropertyDescriptor(scope, 'fetch');
        if (nowFetch && nowFetch.value === fetch) {
          if (ownFetch) Object.defineProperty(scope, 'fetch', ownFetch);
          else delete scope.fetch;
        }
      });
      observer?.disconnect();
      guard(() => requests?.restore());
      guard(() => prototype.release());
    },
  };
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
    return view.answer(key, value);
  },
  // A view can't be made non-extensible (its target would then have to show our own members), nor get a
  // non-configurable member (which its target would have to hold): both fail, leaving the app's object as it is.
  preventExtensions: () => false,
  defineProperty: (view, key, descriptor) => descriptor.configurable !== false
    && Reflect.defineProperty(view.init, key, descriptor),
  // (Without the Proxy as the receiver, which would define the member on the target.)
  set: (view, key, value) => Reflect.set(view.init, key, value),
  getOwnPropertyDescriptor(view, key) {
    const descriptor = Reflect.getOwnPropertyDescriptor(view.init, key);
    if (descriptor !== undefined) descriptor.configurable = true;
    return descriptor;
  },
};
for (const trap of ['has', 'deleteProperty', 'ownKeys', 'getPrototypeOf']) {
  INIT_VIEW[trap] = (view, ...args) => Reflect[trap](view.init, ...args);
}

// The app's `init.headers`, read once the way the native call reads them (a sequence through the iterator it has,
// else a record of its own enumerable properties) into pairs that can be read again: so the app's code (a one-shot
// iterable, getters) runs once, and the native call still checks the pairs and rejects bad ones with its own error.
// A `Headers` object, and anything else that is not an object, go as given.
function headerPairs(value) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function') || value instanceof Headers) {
    return value;
  }
  const iterator = value[Symbol.iterator];
  if (iterator === undefined || iterator === null) return Object.entries(value);
  return typeof iterator === 'function' ? Array.from({ [Symbol.iterator]: () => iterator.call(value) }) : value;
}

// The request's signal: what `fetch` read of `init.signal`, else the `Request`'s own.
function signalOf(given, request) {
  return given?.signal !== undefined ? given.signal : request?.signal;
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
  return out;
}

function findDescriptor(object, name) {
  for (let o = object; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (descriptor) return descriptor;
  }
  return undefined;
}
