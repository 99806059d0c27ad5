// Stage 1 of a request: the patched `fetch` and the gated `Response.prototype` body accessors (design C of
// shared/reference/response-design.md). The Rust side (src/patch.rs) owns the object this returns and calls
// `restore()` from its `Drop`.
//
// Owns: the fetch wrapper, the patched descriptors, the WeakMap of tracked responses and the FinalizationRegistry
// that reports unread responses the app dropped.
// Never: changes what the app's promise resolves or rejects to (the same value, the same error object), throws
// synchronously, clones or tees a body on its own (only the app's own `clone()` of a body it streams tees), or lets
// a failure of ours reach the app: every call into Rust is guarded and falls back to the native behaviour.

const BODY_READERS = ['arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text'];
// Longest URL handed to the span, in UTF-16 units.
const MAX_URL_CHARS = 8192;

/**
 * Patches `scope.fetch` and `scope.Response.prototype`. `hooks` is the Rust `FetchHooks`: `start(method, url,
 * signal)` returns a `RequestSpan` or undefined, `failed(error)` counts a failure of ours.
 * Throws (before patching anything) when `fetch` can't be replaced.
 */
export function installPatches(scope, hooks) {
  const fetchDescriptor = findDescriptor(scope, 'fetch');
  if (!fetchDescriptor || typeof fetchDescriptor.value !== 'function') {
    throw new TypeError('fetchspan: this global has no fetch function to instrument');
  }
  if (!fetchDescriptor.writable && !fetchDescriptor.configurable) {
    throw new TypeError('fetchspan: globalThis.fetch is read-only and not configurable, so it cannot be instrumented');
  }
  const Response = scope.Response;
  const proto = Response.prototype;
  const nativeFetch = fetchDescriptor.value;
  const nativeBody = Object.getOwnPropertyDescriptor(proto, 'body').get;
  const nativeBodyUsed = Object.getOwnPropertyDescriptor(proto, 'bodyUsed').get;
  const nativeClone = proto.clone;
  const tracked = new WeakMap();
  const collected = new FinalizationRegistry((span) => guard(() => span.collected()));
  let active = true;
  // Tracked responses whose span is still open. Our accessors stay until the last of them ends, so that spans in
  // flight at uninstall still end; untracked responses get the native accessors either way.
  let live = 0;
  let restoreWhenIdle = null;
  const untracked = () => {
    live--;
    if (live === 0 && restoreWhenIdle) restoreWhenIdle();
  };

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
  // `data:` URL is cut before it crosses into wasm. An unparsable one is reported as given.
  function absoluteUrl(input) {
    const text = String(input);
    let url = text;
    try {
      url = new URL(text, scope.document?.baseURI ?? scope.location?.href).href;
    } catch (_) { /* fetch will reject it; the span records it as given */ }
    return url.length > MAX_URL_CHARS ? url.slice(0, MAX_URL_CHARS) : url;
  }

  // The entry of a response that fetchspan still instruments, or undefined to behave natively.
  function entryOf(response) {
    const entry = tracked.get(response);
    return entry === undefined || entry.native ? undefined : entry;
  }

  // The per-request path: kept free of helper closures (try/catch inline), measured in tests/bench.
  // The caller's `init` is read after the native call has read it (never before `fetch` would), and each member
  // once.
  function fetch(input, init) {
    if (!active) return nativeFetch.apply(this, arguments);
    const pending = nativeFetch.apply(this, arguments);
    let span;
    try {
      const request = input instanceof Request ? input : undefined;
      const given = init !== null && typeof init === 'object' ? init : undefined;
      const method = given?.method;
      let signal = given?.signal;
      if (signal === undefined) signal = request?.signal;
      span = hooks.start(
        method !== undefined ? String(method) : request ? request.method : 'GET',
        request ? request.url : absoluteUrl(input),
        signal instanceof AbortSignal ? signal : undefined,
      );
    } catch (error) {
      failed(error);
    }
    if (!span) return pending;
    // A promise derived from the native one, rejecting with the very same error: a failure the app leaves
    // unhandled still reaches `unhandledrejection` (a side reaction on the native promise would mark it handled).
    try {
      return pending.then(
        (response) => {
          track(span, response);
          return response;
        },
        (error) => {
          guard(() => span.rejected(error));
          throw error;
        },
      );
    } catch (error) {
      failed(error);
      return pending;
    }
  }

  function track(span, response) {
    try {
      if (span.response(response, untracked)) {
        live++;
        tracked.set(response, { span, stream: null, usedProbe: null, native: false, teed: false });
        collected.register(response, span);
      }
    } catch (error) {
      failed(error);
    }
  }

  // Pipes the native body through the span's counting TransformStream; the app gets the readable side. A source
  // error aborts the writable with that same error, so the app's stream fails exactly as the native one would.
  function interpose(entry, source) {
    const transformer = entry.span.transformer();
    const stream = new TransformStream(transformer);
    source.pipeTo(stream.writable).catch((reason) => sourceFailed(source).then(
      (sourceErrored) => guard(() => transformer.pipeFailed(reason, !sourceErrored)),
    )).catch(failed);
    // What `bodyUsed` reports: a Response over our readable says whether the app has read or cancelled it, at
    // once and exactly as the engine defines "disturbed" (nothing is read through it).
    entry.usedProbe = new Response(stream.readable);
    return stream.readable;
  }

  function streamOf(response, entry) {
    if (entry.stream === null) {
      const source = nativeBody.call(response);
      if (source === null || source.locked) {
        entry.native = true;
        return source;
      }
      entry.stream = guard(() => interpose(entry, source), null);
      if (entry.stream === null) {
        entry.native = true;
        return source;
      }
    }
    return entry.stream;
  }

  // `bodyUsed` of the stream the app holds: the span's own count for our readable; for a branch of the app's own
  // clone(), which we can't observe, whether it is locked.
  function isDisturbed(entry) {
    return entry.teed ? entry.stream.locked : nativeBodyUsed.call(entry.usedProbe);
  }

  const patched = {
    body: {
      get: function body() {
        const entry = entryOf(this);
        return entry === undefined ? nativeBody.call(this) : streamOf(this, entry);
      },
    },
    bodyUsed: {
      get: function bodyUsed() {
        const entry = entryOf(this);
        return entry === undefined || entry.stream === null ? nativeBodyUsed.call(this) : isDisturbed(entry);
      },
    },
    clone: {
      value: function clone() {
        const entry = entryOf(this);
        if (entry === undefined || entry.stream === null) return nativeClone.call(this);
        // Our pipe holds the native body, so the native error comes from a throwaway response in the app's state.
        if (isDisturbed(entry)) return nativeClone.call(usedResponse());
        if (entry.stream.locked) return nativeClone.call(lockedResponse());
        // The app clones a body it already streams: tee our readable, like the native clone tees the native body.
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
          if (entry.stream === null) {
            // Served natively: native timing, values and errors; the span ends when the promise settles.
            // A promise derived from the native one (same value, same error object), so that a rejection the app
            // leaves unhandled still fires `unhandledrejection` (Firefox and WebKit fire it for body reads).
            entry.native = true;
            const response = this;
            return nativeRead.apply(this, args).then(
              (value) => {
                guard(() => entry.span.readNatively(response, sizeOf(name, value)));
                return value;
              },
              (error) => {
                guard(() => entry.span.readFailed(error));
                throw error;
              },
            );
          }
          // The app took `body` first, so the counting stream is its body now: read that.
          const stream = streamOf(this, entry);
          if (entry.native || stream.locked || isDisturbed(entry)) {
            // Rejects as natively: the body is used, or locked (our pipe also disturbed the native body, so the
            // native "locked" error comes from a throwaway response in the same state).
            if (stream.locked && !isDisturbed(entry)) return nativeRead.call(lockedResponse());
            return nativeRead.apply(this, args);
          }
          return readThrough(stream, this.headers, name);
        },
      }[name],
    };
  }

  // Everything is prepared; from here on nothing can fail halfway.
  const saved = {};
  for (const name of Object.keys(patched)) {
    const original = Object.getOwnPropertyDescriptor(proto, name);
    saved[name] = original;
    Object.defineProperty(proto, name, { ...original, ...patched[name] });
  }
  const ownFetch = Object.getOwnPropertyDescriptor(scope, 'fetch');
  Object.defineProperty(scope, 'fetch', {
    value: fetch,
    writable: fetchDescriptor.writable,
    enumerable: fetchDescriptor.enumerable,
    configurable: true,
  });

  return {
    /**
     * Stops instrumenting new requests and restores every descriptor still ours (where someone patched over us,
     * ours stays as a pass-through). `fetch` is restored now; `Response.prototype` once no span in flight needs it.
     */
    restore() {
      active = false;
      const nowFetch = Object.getOwnPropertyDescriptor(scope, 'fetch');
      if (nowFetch && nowFetch.value === fetch) {
        if (ownFetch) Object.defineProperty(scope, 'fetch', ownFetch);
        else delete scope.fetch;
      }
      restoreWhenIdle = restorePrototype;
      if (live === 0) restorePrototype();
    },
  };

  function restorePrototype() {
    restoreWhenIdle = null;
    for (const name of Object.keys(saved)) {
      const now = Object.getOwnPropertyDescriptor(proto, name);
      if (now && (now.get === patched[name].get && now.value === patched[name].value)) {
        Object.defineProperty(proto, name, saved[name]);
      }
    }
  }
}

function usedResponse() {
  const response = new Response('');
  response.body.cancel();
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

function findDescriptor(object, name) {
  for (let o = object; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (descriptor) return descriptor;
  }
  return undefined;
}

// After a pipe has released it: did the source fail (network error, abort), rather than close because the pipe
// cancelled it for the app? Its state is settled by then, so this takes a microtask.
async function sourceFailed(source) {
  const reader = source.getReader();
  try {
    await reader.closed;
    return false;
  } catch (_) {
    return true;
  } finally {
    reader.releaseLock();
  }
}
