// Types of fetchspan's npm entry (`import { install } from 'fetchspan'`) and of the script-tag global
// (`window.fetchspan`, from `fetchspan.js`). The crate (src/options.rs, src/tracer.rs, src/record.rs) is the truth.

/**
 * A value of a span or resource attribute. Integers are JS numbers. `string[]`: a header's value
 * (`http.request.header.<name>`, `http.response.header.<name>`), as one string.
 */
export type AttributeValue = string | number | boolean | string[];

/** Why a span ended. */
export type EndReason =
  /** The body was read to its end (by the app, or by `cache.put`). */
  | 'completed'
  /** The app cancelled the body (`reader.cancel()`, `body.cancel()`). */
  | 'cancelled'
  /** The request's `AbortSignal` fired. */
  | 'aborted'
  /** `fetch` rejected, or the body failed mid-way. */
  | 'error'
  /** The body was dropped unread (the response was garbage-collected) or had no activity for `idleTimeoutMs`. */
  | 'abandoned'
  /** A response without a body to follow: HEAD, 101/103/204/205/304, opaque or error responses. */
  | 'no-body'
  /** In a service worker: the unread response went to the page through `event.respondWith` (the span ends then). */
  | 'responded';

/** Where `fetchspan.response.decoded_size` came from. */
export type SizeSource = 'stream' | 'value' | 'content-length' | 'resource-timing' | 'unknown';

/**
 * The attributes of a span: OpenTelemetry's HTTP semantic conventions (stable, but for the two body sizes, which the
 * conventions still call experimental) plus `fetchspan.*`.
 */
export interface SpanAttributes {
  /** `GET`, `POST`, …; `_OTHER` for a non-standard method (then see `http.request.method_original`). */
  'http.request.method'?: string;
  /** The method sent on the request line, when it is not `http.request.method` (`PURGE`, `patch`). */
  'http.request.method_original'?: string;
  /** The absolute request URL, credentials redacted. */
  'url.full'?: string;
  'server.address'?: string;
  'server.port'?: number;
  /**
   * The request body's size in bytes: known without reading it (a string, `ArrayBuffer`, typed array, `DataView`,
   * `Blob` or `URLSearchParams` in `init.body`, or in the `init` of a `Request` made after install, also through
   * `new Request(request)` and `request.clone()`), or counted as it was handed to the browser (a `ReadableStream`
   * body that ended, where the browser streams uploads). Absent otherwise: `FormData`, a `Request` made before
   * install or by the platform, an upload cancelled or failed, a stream where the browser doesn't stream uploads.
   */
  'http.request.body.size'?: number;
  /** Absent when `fetch` rejected before a response, and for opaque, opaque-redirect and error responses. */
  'http.response.status_code'?: number;
  /**
   * The error's name (`TypeError`, `network_error` for a network-error response), the status code for 4xx/5xx
   * responses, or for an `aborted` span cut short before its response or by a timeout the signal's reason's name
   * (`AbortError`, `TimeoutError`).
   */
  'error.type'?: string;
  /** Bytes the app received (decoded); present only when exact. */
  'fetchspan.response.decoded_size'?: number;
  'fetchspan.response.size_source'?: SizeSource;
  /** Body chunks counted on a streamed body. */
  'fetchspan.response.chunks'?: number;
  'fetchspan.end_reason'?: EndReason;
  /**
   * The encoded (transferred) body size, from the request's resource-timing entry, when the entry is visible
   * (experimental in the conventions, like `http.request.body.size`).
   */
  'http.response.body.size'?: number;
  /** Milliseconds from the request's start to the response's first byte, from resource timing. */
  'fetchspan.response.time_to_first_byte_ms'?: number;
  /** Milliseconds from the request's start to the first chunk of a streamed body. */
  'fetchspan.response.time_to_first_chunk_ms'?: number;
  /** The longest wait between two chunks of a streamed body while the app had a read pending, in ms. */
  'fetchspan.response.max_gap_ms'?: number;
  /** `fetchspan.stall` and `fetchspan.backpressure` events on a streamed body (8 are kept as events; this counts them all). */
  'fetchspan.response.stalls'?: number;
  /** Server-sent events the app received (`text/event-stream` bodies, option `sse`). */
  'fetchspan.sse.events'?: number;
  /** The request went out again without `traceparent` after a `TypeError` (see the README, redirect-safe). */
  'fetchspan.propagation.retried'?: boolean;
  /** 1 when fetchspan sent the request again without its `traceparent` (see `fetchspan.propagation.retried`). */
  'http.request.resend_count'?: number;
  /** The server's trace id and span id, from `traceresponse` or `Server-Timing: traceparent`. */
  'fetchspan.server.trace_id'?: string;
  'fetchspan.server.span_id'?: string;
  /**
   * `fetchspan.server_timing.<name>.duration_us`: a `Server-Timing` metric's positive `dur`, in microseconds (at
   * most 8 metrics, names of 1 to 64 letters, digits, `_`, `.` or `-`).
   */
  [serverTiming: `fetchspan.server_timing.${string}.duration_us`]: number | undefined;
  [name: string]: AttributeValue | undefined;
}

/** A span event. */
export interface SpanEvent {
  /**
   * `fetchspan.response.headers` (the response's headers arrived), `fetchspan.response.first_byte` (the first body chunk reached a
   * streamed body), `fetchspan.sse.first_event`, `fetchspan.stall` / `fetchspan.backpressure` (with `fetchspan.stall.cause` and
   * `fetchspan.stall.duration_ms`), and the resource-timing phases `fetchspan.timing.dns`, `.connect`, `.tls`,
   * `.request`, `.response` (each at its start, with `fetchspan.timing.duration_us`).
   */
  name:
    | 'fetchspan.response.headers' | 'fetchspan.response.first_byte' | 'fetchspan.sse.first_event' | 'fetchspan.stall' | 'fetchspan.backpressure'
    | 'fetchspan.timing.dns' | 'fetchspan.timing.connect' | 'fetchspan.timing.tls' | 'fetchspan.timing.request'
    | 'fetchspan.timing.response' | (string & {});
  /** Epoch milliseconds (fractional). */
  time: number;
  attributes: Record<string, AttributeValue>;
}

/** A finished span, as `onSpanEnd` receives it. Times are epoch milliseconds (fractional). */
export interface SpanData {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** The span id of the app's own `traceparent` on the request, when it sent one (16 lowercase hex digits). */
  parentSpanId?: string;
  /** The request method (`GET`, …), or `HTTP` for a method the HTTP semantic conventions don't know (`_OTHER`). */
  name: string;
  kind: 'client';
  startTime: number;
  endTime: number;
  /** `endTime - startTime`. */
  durationMs: number;
  /**
   * `error` for network errors, body failures and 4xx/5xx responses, and for an abort before the response arrived or
   * a timeout (`AbortSignal.timeout`) at any time; a cancel, or an abort of a body already arriving, is not an error.
   */
  status: 'unset' | 'error';
  endReason: EndReason;
  attributes: SpanAttributes;
  events: SpanEvent[];
  /** The server's own span, when the response named one (`traceresponse`, `Server-Timing`) in another trace. */
  links?: { traceId: string; spanId: string }[];
  /** Attributes left out by the bounds (captured headers and hook attributes past 32 a side), when any. */
  droppedAttributesCount?: number;
  /** Events left out (stall events past 8), when any. */
  droppedEventsCount?: number;
}

/**
 * `install`'s options. Each one is validated: a bad value (or an unknown key) rejects `install` with a `TypeError`
 * naming the field, and nothing is patched.
 */
export interface Options {
  /** Called with every finished span. A hook that throws is counted in `hookFailures`, never propagated. */
  onSpanEnd?: (span: SpanData) => void;
  /**
   * A streamed body the app holds but has stopped pulling from (no read pending) for this long ends its span as
   * `abandoned`; a quiet stream the app waits on with a read pending stays open however long it is silent.
   * Milliseconds, greater than 0, at most 2147483647. Default 300000 (5 minutes).
   */
  idleTimeoutMs?: number;
  /**
   * Requests not to trace: URL prefixes (non-empty strings, matched against the request's absolute URL: one with
   * a scheme normalized as fetch writes URLs, so an origin alone, `https://API.example.com:443`, becomes
   * `https://api.example.com`, and a `host:port` such as `localhost:3000` is refused; one without resolved against the
   * page, which must start with `/`, `.`, `?` or `#`, so a bare host such as `analytics.example.com` is refused; no
   * `*`) or RegExps (tested on it). Default `[]`.
   */
  ignoreUrls?: readonly (string | RegExp)[];
  /**
   * Cross-origin URLs that get a W3C `traceparent` (same-origin requests always do): absolute http(s) URL prefixes
   * (no `*`),
   * matched against the normalized URL up to a boundary (`https://api.example.com` matches
   * `https://api.example.com/v1`, not `https://api.example.com.evil.io`), or RegExps tested on it. The other origin
   * must allow the header in its CORS preflight. Default `[]`.
   */
  propagateTo?: readonly (string | RegExp)[];
  /**
   * Share of requests traced, from 0 to 1. The sampled flag of the `traceparent` sent follows it; unsampled
   * requests still send one (flag `00`) but produce no span. A request with the app's own `traceparent` follows
   * that header's flag. Default 1.
   */
  sampleRate?: number;
  /** A W3C `tracestate` value sent with every `traceparent` (unless the request has its own). Default none. */
  tracestate?: string;
  /**
   * Parameters whose values `url.full` shows as `REDACTED`, in the query (split at `&` and `;`), the fragment and
   * a path's `;` parameters (names compared percent-decoded and ignoring case, whole or up to a `[`, as a server
   * reads them: `%74oken` and `token[]` are `token`). Replaces the default list: `AWSAccessKeyId`, `Signature`,
   * `sig`, `X-Goog-Signature`, `X-Goog-Credential`, `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`,
   * `token`, `access_token`, `refresh_token`, `id_token`, `client_secret`, `api_key`, `apikey`, `password`, `key`,
   * `auth`, `auth_token`, `jwt`, `oauth_token`, `oauth_signature`, `private_token`, `session`, `sessionid`,
   * `session_id`, `sid`, `jsessionid`, `phpsessid`, `x-algolia-api-key`, `hdnts`, `__token__`, `auth_key`,
   * `q-signature`, `security-token`. `[]` turns redaction off.
   */
  redactQueryParams?: readonly string[];
  /**
   * Header values to record, by name (case-insensitive): `http.request.header.<name>` and
   * `http.response.header.<name>`. No header value is recorded otherwise. `authorization`, `cookie`, `set-cookie`
   * and `proxy-authorization` also need `captureSensitiveHeaders: true`. Default none.
   */
  captureHeaders?: { request?: readonly string[]; response?: readonly string[] };
  /** Allows the sensitive headers in `captureHeaders`. Default `false`. */
  captureSensitiveHeaders?: boolean;
  /**
   * Extra attributes for a request's span, from a frozen view of it (a copy of its headers; never its body). Must
   * return synchronously an object of strings, booleans and finite numbers (safe integers exported as OTLP
   * `intValue`, others as `doubleValue`), at most 32; an empty key is left out and counted as a failure. A hook that throws or returns anything else adds nothing and is counted in
   * `hookFailures`; the request is never affected. A key fetchspan sets itself, even on some spans only
   * (`url.full`, `http.request.method`, `http.response.status_code`, `error.type`, `fetchspan.*`, …), is left out
   * and counted the same way.
   */
  requestAttributes?: (request: Readonly<{ method: string; url: string; headers: Headers }>) => Record<string, string | number | boolean> | undefined;
  /** The same for the response, from a frozen view of it (its immutable headers; never its body). */
  responseAttributes?: (response: Readonly<{ status: number; statusText: string; url: string; type: ResponseType; redirected: boolean; headers: Headers }>) => Record<string, string | number | boolean> | undefined;
  /**
   * The longest attribute string kept, in bytes (16 to 65536); longer ones are cut at a character boundary. Every
   * recorded string is cut: URLs, captured headers, hook attributes. Default 2048.
   */
  maxAttributeLength?: number;
  /**
   * A wait on a streamed body this long (the app waiting for the network, or chunks waiting for the app) is
   * recorded as a `fetchspan.stall` or `fetchspan.backpressure` event. Milliseconds, greater than 0, at most
   * 2147483647. Default 2000.
   */
  stallThresholdMs?: number;
  /** Count server-sent events in `text/event-stream` bodies (`fetchspan.sse.events`). Default `true`. */
  sse?: boolean;
  /**
   * OTLP/HTTP base URL, an absolute `http:` or `https:` URL; spans are POSTed as JSON to `{endpoint}/v1/traces`
   * (a URL already ending in `/v1/traces` is used as it is).
   * Without it nothing is exported and spans only reach `onSpanEnd`. An invalid one is reported without its user
   * name, password, query or fragment.
   */
  endpoint?: string;
  /**
   * Static headers for export requests (an API key, …): a plain object (a null-prototype one too; not a `Headers`
   * or a `Map`: `Object.fromEntries(headers)` makes one of those). Names must be HTTP tokens, values strings; a
   * `content-type` other than `application/json` is refused (the body is OTLP JSON). An error about it never shows
   * a value.
   */
  headers?: Record<string, string>;
  /** `service.name` of the exported resource; a non-empty string. Default `unknown_service`. */
  serviceName?: string;
  /**
   * Extra resource attributes: strings, integers (below 9e15 in magnitude) or booleans, under non-empty keys. Not
   * `service.name` (the `serviceName` option) nor `telemetry.sdk.*` (fetchspan sets them). Default `{}`.
   */
  resource?: Record<string, string | number | boolean>;
  /**
   * Spans kept for export at most (queued and in flight together); more are dropped and counted in `dropped`. A
   * whole number from 1 to 1000000. Default 2048.
   */
  maxQueueSize?: number;
  /** Spans per export request at most; from 1 to `maxQueueSize`. Default 512, or `maxQueueSize` if smaller. */
  maxExportBatchSize?: number;
  /** Delay between scheduled exports, in milliseconds (greater than 0, at most 2147483647). Default 1000. */
  scheduledDelayMs?: number;
  /**
   * Deadline of one export request, and `forceFlush`'s default deadline, in milliseconds (greater than 0, at most
   * 2147483647). Default 10000.
   */
  exportTimeoutMs?: number;
  /**
   * Send what is queued with `keepalive` when the page is hidden (`visibilitychange`) or unloaded (`pagehide`).
   * Default `true`.
   */
  unloadFlush?: boolean;
}

/** `tracer.stats()`: counters since `install`. Export counters stay 0 without an `endpoint`. */
export interface Stats {
  /** Spans opened. */
  started: number;
  /** Spans ended (each reached `onSpanEnd` and the export queue). */
  ended: number;
  /**
   * Spans in flight: `started - ended`. A streamed body's span that waits for its resource-timing entry (which
   * Chromium queues a few milliseconds after the body's end, and Firefox after a cancel or an abort) counts here
   * until it reaches `onSpanEnd`, 250 ms at most (longer in a hidden page, whose timers the browser slows).
   */
  open: number;
  /** Requests that went on uninstrumented because something of fetchspan's own failed: what to alert on. */
  passthroughFailures: number;
  /**
   * The app's hooks that failed, never propagated: `onSpanEnd` calls that threw, and attributes hooks that threw,
   * returned something other than attributes, or gave a key fetchspan sets (or an empty one).
   */
  hookFailures: number;
  /** Spans the collector accepted. */
  exported: number;
  /**
   * Spans dropped: the queue full, a batch refused (e.g. HTTP 400) or out of attempts, a span a keepalive request
   * (unload flush) gets back when the queue has no room (or after `uninstall`), or left at `uninstall` (an export it
   * aborts included, whether or not the collector got it). A span too big for a keepalive request stays queued.
   */
  dropped: number;
  /** Spans the collector refused in a partial success. */
  rejected: number;
  /** Batches given up on: refused with a final status (keepalive requests included), or out of attempts. */
  exportFailures: number;
  /**
   * Retries made (after 429, 502, 503, 504 or a network error; at most 5 attempts per batch), each counted when
   * it is made. The unload flush may send a batch waiting to retry, and queues again what its keepalive requests get back
   * (over the browser's keepalive quota, a network error, 429/502/503/504): one attempt more, not counted here.
   */
  retries: number;
  /**
   * Spans waiting for export: queued, or in a batch waiting to retry. With the spans of the export request in
   * flight, they are what `maxQueueSize` bounds (spans in keepalive requests aside).
   */
  queued: number;
  /** 1 while an export request (not keepalive) is in flight, else 0: 0 while its batch waits to retry. */
  exportInFlight: number;
  /** `keepalive` export requests in flight (unload flush). They may outlive `uninstall` (see there). */
  keepaliveInFlight: number;
}

/**
 * What `forceFlush` settled with. `exported` and `dropped` are how much `stats()`'s counters grew while it waited:
 * they count any span settling then (one queued after the call, a keepalive request's), not only the flush's own, and
 * spans the collector rejected in a partial success are in neither (`stats().rejected`).
 */
export interface FlushResult {
  /** The growth of `stats().exported` during this flush: spans the collector accepted meanwhile. */
  exported: number;
  /** The growth of `stats().dropped` during this flush: spans dropped meanwhile, at a full queue included. */
  dropped: number;
  /**
   * Whether the deadline passed before each span queued at the call was exported, rejected or dropped. An export
   * in flight then goes on, and `stats()` counts how it ends.
   */
  timedOut: boolean;
}

/** The installed tracer. Dropping it does not uninstall: the page stays instrumented. */
export interface Tracer {
  /** A snapshot of the counters. */
  stats(): Stats;
  /**
   * Exports the spans queued at the call (spans still waiting for their resource-timing entry first reach
   * `onSpanEnd` and the queue, with the entry if it has come), and resolves once each is exported, rejected or
   * dropped, or at `timeoutMs` (default: the `exportTimeoutMs` option, 10000); spans ending meanwhile go with later exports. The
   * deadline aborts nothing: the collector may already have the export in flight (aborted, its spans would be sent
   * again), so it goes on. With no time left, no export is started. Without an `endpoint` it resolves at once to
   * zeros.
   */
  forceFlush(timeoutMs?: number): Promise<FlushResult>;
  /**
   * Restores `fetch` and `Response.prototype` (or leaves fetchspan as a pass-through under a later wrapper),
   * flushes by `timeoutMs` (default 1000), and releases every listener, timer and observer; an export still in
   * flight is aborted (its spans counted as dropped, never sent again). Spans in flight still end and reach
   * `onSpanEnd`. Calling it again does nothing. The one exception: `keepalive` requests of the unload flush are
   * meant to outlive the page, so they may outlive `uninstall` too, and `stats()` counts how they end, even after.
   */
  uninstall(timeoutMs?: number): Promise<void>;
  /**
   * Frees the wasm-side handle (wasm-bindgen). The installation stays, and without the handle it can no longer be
   * uninstalled (a later `install` rejects as already installed): call `uninstall` instead.
   */
  free(): void;
}

/**
 * Instruments `fetch` in this global (a page or a worker) and resolves to the tracer. The wasm module is loaded
 * on the first call, from next to this module (`new URL('./fetchspan_bg.wasm', import.meta.url)`).
 *
 * Rejects, with nothing patched:
 * - with a `TypeError` naming the option, for a bad option or an unknown key;
 * - with a `TypeError` when this global's `fetch` can't be instrumented (there is none, or it is read-only and not
 *   configurable, or the global is not extensible) or a `Response.prototype` member fetchspan patches is read-only;
 * - with an `Error` when fetchspan is already installed (call `uninstall` first), or when another copy of
 *   fetchspan (a second bundle, or a bundle and the script tag) is installed in this global;
 * - with an `Error` naming the module's URL and the reason (network error, HTTP status, not wasm) when the wasm
 *   module can't be loaded.
 */
export function install(options?: Options): Promise<Tracer>;

/**
 * The script-tag options: `window.fetchspanConfig`, set before the script, under its `data-*` attributes. Every
 * option but the three hooks (`onSpanEnd`, `requestAttributes`, `responseAttributes`, which only
 * `window.fetchspanConfig` can give) has an attribute (`data-idle-timeout-ms` → `idleTimeoutMs`).
 */
export type ScriptTagOptions = Options;

/** `window.fetchspan`, published by the classic script `fetchspan.js`. */
export interface ScriptTagApi {
  /** Resolves to the tracer once installed; rejects (already reported once on the console) if install failed. */
  readonly ready: Promise<Tracer>;
  /** The tracer once installed, else `null`. */
  readonly tracer: Tracer | null;
  /** Why install failed (an invalid attribute, a module that could not load), else `null`. */
  readonly error: Error | null;
  /** Fetches that went through untraced (to the native fetch, untouched) because the module was not ready yet. */
  readonly earlyFetches: number;
  /** The tracer's counters (all 0 until it is installed) plus `earlyFetches`. */
  stats(): Stats & { earlyFetches: number };
  /**
   * `tracer.forceFlush(timeoutMs)` once `ready`, by a deadline that runs from the call, the module's loading included
   * (default: `exportTimeoutMs`). Nothing is traced before `ready`, so a deadline that passes first resolves to
   * `{ exported: 0, dropped: 0, timedOut: true }`, and a failed install to the same with `timedOut: false`.
   */
  forceFlush(timeoutMs?: number): Promise<FlushResult>;
  /** Uninstalls (see `Tracer.uninstall`); before `ready`, cancels the install instead. */
  uninstall(timeoutMs?: number): Promise<void>;
}

declare global {
  interface Window {
    /** Published by the classic script `fetchspan.js` (not by the ES module). */
    fetchspan?: ScriptTagApi;
    /** Options for the classic script `fetchspan.js`, set before it runs; its `data-*` attributes override them. */
    fetchspanConfig?: ScriptTagOptions;
  }
}
