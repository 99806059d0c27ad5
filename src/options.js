// install(options), checked here and handed to src/options.rs normalized. Checking in JS keeps the error texts and
// the validation out of the wasm, where they cost several times their weight (issue 7). Never patches anything:
// a bad value throws a TypeError naming the field, `fetchspan: option "x" must be …, got …`, before install starts.

const KNOWN = [
  'onSpanEnd',
  'idleTimeoutMs',
  'ignoreUrls',
  'endpoint',
  'headers',
  'serviceName',
  'resource',
  'maxQueueSize',
  'maxExportBatchSize',
  'scheduledDelayMs',
  'exportTimeoutMs',
  'unloadFlush',
  'stallThresholdMs',
  'sse',
  'propagateTo',
  'sampleRate',
  'tracestate',
  'redactQueryParams',
  'captureHeaders',
  'captureSensitiveHeaders',
  'requestAttributes',
  'responseAttributes',
  'maxAttributeLength',
];
// Headers `captureHeaders` records only with `captureSensitiveHeaders: true`.
const SENSITIVE_HEADERS = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'];
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Parameters whose values `url.full` redacts unless `redactQueryParams` says otherwise (compared ignoring case):
// signed-URL signatures (S3, GCS, Azure SAS, Akamai, Alibaba and Tencent CDNs and stores), OAuth and API tokens and
// keys, session ids (in the query, or a servlet's `;jsessionid=` path parameter). Not `code` (an OAuth code is short-
// lived, and the name is a common one of apps' own).
const REDACTED_QUERY_PARAMS = ['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature', 'X-Goog-Credential',
  'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token', 'token', 'access_token', 'refresh_token', 'id_token',
  'client_secret', 'api_key', 'apikey', 'password', 'key', 'auth', 'auth_token', 'jwt', 'oauth_token',
  'oauth_signature', 'private_token', 'session', 'sessionid', 'session_id', 'sid', 'jsessionid', 'phpsessid',
  'x-algolia-api-key', 'hdnts', '__token__', 'auth_key', 'q-signature', 'security-token'];
// One W3C `tracestate` list member: a key (simple, starting with a letter, or `tenant@system`), `=`, and a value of
// printable ASCII without `,` or `=` that doesn't end in a space.
const TRACESTATE_MEMBER = /^([a-z][a-z0-9_\-*\/]{0,255}|[a-z0-9][a-z0-9_\-*\/]{0,240}@[a-z][a-z0-9_\-*\/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MS = 'a number of milliseconds greater than 0 (at most 2147483647)';
// The `fetch` the script tag hands over for the exports (the page's own, before any wrapper the page adds while the
// module loads: js/script.js), under a key no option has.
const EXPORT_FETCH = Symbol.for('fetchspan.exportFetch');
const COUNT = 'a whole number from 1 to 1000000';
const ENDPOINT = 'an absolute http(s) URL such as "http://localhost:4318"';

/**
 * Checks `install`'s argument (undefined or null: all defaults) in a fixed order, so the first bad field is the one
 * reported. Returns `{ onSpanEnd, idleTimeoutMs, stallThresholdMs, maxAttributeLength, sse, ignoreUrls, propagateTo,
 * sampleRate, tracestate, redactQueryParams (lower case), captureHeaders: { request, response } (lower case), requestAttributes,
 * responseAttributes, export }`, where `export` (undefined without an endpoint) is
 * `{ url, headers, serviceName, resource: [[key, value]], maxQueueSize, maxExportBatchSize, scheduledDelayMs, exportTimeoutMs, unloadFlush,
 * fetch }` (`fetch`: the script tag's, or undefined).
 */
export function parseOptions(value) {
  let source = {};
  if (value !== undefined && value !== null) {
    // Any object: a null-prototype one, or one of another realm (an iframe's), is as good an options bag.
    if (typeof value !== 'object') {
      fail(`install(options) takes an options object, got ${describe(value)}`);
    }
    for (const key of Object.keys(value)) {
      if (!KNOWN.includes(key)) fail(`unknown option "${key}" (known options: ${KNOWN.join(', ')})`);
    }
    source = value;
  }
  const get = (name) => source[name];
  const check = (name, ok, expected, fallback) => {
    const v = get(name);
    if (v === undefined) return fallback;
    if (!ok(v)) invalid(name, expected, v);
    return v;
  };
  const string = (name, fallback) => check(name, (v) => typeof v === 'string' && v !== '', 'a non-empty string', fallback);
  const ms = (name, fallback) =>
    check(name, (v) => typeof v === 'number' && v > 0 && v <= 2147483647, MS, fallback);
  const count = (name, fallback) =>
    check(name, (v) => Number.isInteger(v) && v >= 1 && v <= 1000000, COUNT, fallback);

  const serviceName = string('serviceName', 'unknown_service');
  const resource = entries(get, 'resource').map(([key, v]) => {
    // fetchspan writes these itself: one given here would be overwritten, or say something else than `serviceName`.
    if (key === '') fail('option "resource" must not set an empty key');
    if (key === 'service.name') fail('option "resource" must not set "service.name": use the serviceName option');
    if (key.startsWith('telemetry.sdk.')) fail(`option "resource" must not set "${key}": fetchspan sets it`);
    const ok = typeof v === 'string' || typeof v === 'boolean' || (Number.isInteger(v) && Math.abs(v) < 9e15);
    if (!ok) invalid(`resource.${key}`, 'a string, an integer or a boolean', v);
    return [key, v];
  });
  const maxQueueSize = count('maxQueueSize', 2048);
  // The default batch fits any queue: only a batch size the app gave can exceed it.
  const maxExportBatchSize = count('maxExportBatchSize', Math.min(512, maxQueueSize));
  if (maxExportBatchSize > maxQueueSize) {
    fail(`option "maxExportBatchSize" must not exceed maxQueueSize (${maxQueueSize}), got ${maxExportBatchSize}`);
  }
  // Names lower-cased, so that one given as `Content-Type` replaces ours rather than being sent alongside it.
  const headers = { 'content-type': 'application/json' };
  for (const [name, v] of entries(get, 'headers')) {
    // Shown up to its first space or colon (a name such as "Authorization: Bearer …" holds a value).
    if (!TOKEN.test(name)) fail(`option "headers" has an invalid header name ${describe(name.replace(/[\s:][^]*/, '…'))}`);
    // The value is never shown: it may be a secret.
    if (typeof v !== 'string') fail(`option "headers.${name}" must be a string`);
    // Checked as `fetch` will check it (Latin-1, no line breaks); the value is not echoed: it may be a secret.
    try {
      new Headers([[name, v]]);
    } catch {
      fail(`option "headers.${name}" must be a valid header value (Latin-1 text without line breaks)`);
    }
    // The body is OTLP JSON: another type (`text/plain`, to spare a CORS preflight) has the collector refuse it.
    if (name.toLowerCase() === 'content-type' && !/^application\/json\s*(;|$)/i.test(v)) {
      fail('option "headers.content-type" must be application/json: the body is OTLP JSON');
    }
    headers[name.toLowerCase()] = v;
  }
  const scheduledDelayMs = ms('scheduledDelayMs', 1000);
  const exportTimeoutMs = ms('exportTimeoutMs', 10000);
  const unloadFlush = check('unloadFlush', (v) => typeof v === 'boolean', 'true or false', true);
  const onSpanEnd = check('onSpanEnd', (v) => typeof v === 'function', 'a function', undefined);
  const requestAttributes = check('requestAttributes', (v) => typeof v === 'function', 'a function', undefined);
  const responseAttributes = check('responseAttributes', (v) => typeof v === 'function', 'a function', undefined);
  const captureSensitiveHeaders = check('captureSensitiveHeaders', (v) => typeof v === 'boolean', 'true or false', false);
  const captured = check('captureHeaders', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)
    && Object.keys(v).every((k) => k === 'request' || k === 'response'),
  'an object { request?: [header names], response?: [header names] }', {});
  const captureHeaders = {};
  for (const side of ['request', 'response']) {
    const names = captured[side] ?? [];
    if (!Array.isArray(names)) invalid(`captureHeaders.${side}`, 'an array of header names', names);
    captureHeaders[side] = names.map((name, i) => {
      const field = `captureHeaders.${side}[${i}]`;
      if (typeof name !== 'string' || !TOKEN.test(name)) invalid(field, 'a header name', name);
      const lower = name.toLowerCase();
      if (SENSITIVE_HEADERS.includes(lower) && !captureSensitiveHeaders) {
        fail(`option "${field}" names the sensitive header "${name}": set captureSensitiveHeaders: true to record it`);
      }
      return lower;
    });
  }
  const idleTimeoutMs = ms('idleTimeoutMs', 300000);
  const stallThresholdMs = ms('stallThresholdMs', 2000);
  const maxAttributeLength = check('maxAttributeLength', (v) => Number.isInteger(v) && v >= 16 && v <= 65536,
    'a whole number of bytes from 16 to 65536', 2048);
  const sse = check('sse', (v) => typeof v === 'boolean', 'true or false', true);
  // A prefix is compared with the normalized absolute URL, so it is normalized as `fetch` would (`/health` is this
  // origin's, `HTTPS://A.example:443/x` is `https://a.example/x`), unless it may stop within the host
  // (`https://www.google-analytics`): then its origin, if it parses as one, else its lower case.
  const ignoreUrls = urlPatterns(get, 'ignoreUrls', (item, name) => {
    // One that can never match a URL `fetch` requests: a host without a scheme (`analytics.example.com`, read as a
    // path of the page) or with a port (`localhost:3000`, read as a scheme). Any other scheme is one a page may
    // fetch (`capacitor://localhost`, `chrome-extension://…`).
    if (/^[a-z][a-z\d+.-]*:/i.test(item) ? /^[^:/?#]+:\d/.test(item) : !/^[/?#.]/.test(item)) {
      invalid(name, 'a URL prefix, absolute with its scheme ("https://analytics.example.com") or relative to the page '
        + '("/health", "./api", "?debug"), or a RegExp', item);
    }
    if (/^[a-z][a-z\d+.-]*:(\/\/[^/?#\\]*)?$/i.test(item)) {
      // A whole origin (`https://A.example:443`, an international name) as `fetch` writes it.
      try {
        const url = new URL(item);
        if (/^https?:$/.test(url.protocol) && url.host !== '') return url.origin;
      } catch {}
      return item.toLowerCase();
    }
    try {
      return new URL(item, globalThis.document?.baseURI ?? globalThis.location?.href).href;
    } catch {
      return invalid(name, 'a URL prefix, absolute or relative to the page, or a RegExp', item);
    }
  });
  // A prefix of `propagateTo` is compared with the normalized URL, so it is normalized too (`https://a.example`
  // becomes `https://a.example/`); it matches up to a boundary (see `matchesAny` in patch.js).
  const propagateTo = urlPatterns(get, 'propagateTo', (item, name) => {
    try {
      const url = new URL(item);
      if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
    } catch {}
    return invalid(name, 'an absolute http(s) URL prefix such as "https://api.example.com" or a RegExp', item);
  });
  const sampleRate = check('sampleRate', (v) => typeof v === 'number' && v >= 0 && v <= 1, 'a number between 0 and 1', 1);
  const tracestate = check('tracestate', (v) => typeof v === 'string' && v.length <= 512 && v.split(',').length <= 32
    && v.split(',').every((member) => TRACESTATE_MEMBER.test(member.trim())),
    'a W3C tracestate header value such as "vendor=value" (at most 32 members and 512 characters)', undefined);
  const redactQueryParams = check('redactQueryParams', (v) => Array.isArray(v), 'an array of query parameter names',
    REDACTED_QUERY_PARAMS);
  redactQueryParams.forEach((item, i) => {
    if (typeof item !== 'string' || item === '') invalid(`redactQueryParams[${i}]`, 'a non-empty string', item);
  });
  const endpoint = get('endpoint');
  let url;
  if (endpoint !== undefined) {
    let parsed;
    try {
      parsed = typeof endpoint === 'string' && new URL(endpoint);
    } catch {}
    if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
      // Shown without what may hold a key: a user name and password (all up to the last `@`), and all after the
      // scheme and host (a path, query or fragment, or text after a space: a token pasted in); a value of another
      // type (a `URL` object's JSON is its whole `href`) by its type only.
      fail(`option "endpoint" must be ${ENDPOINT}, got ${typeof endpoint === 'string'
        ? describe(endpoint.replace(/^[^]*@/, '…@').replace(/^(?=((…@)?([a-z][\w+.-]*:\/\/)?[^/?#\s]*))\1[^]+/i, '$1…'))
        : kind(endpoint)}`);
    }
    if (parsed.username || parsed.password) {
      fail('option "endpoint" must not carry a user name or password (fetch refuses such a URL); send credentials with the "headers" option');
    }
    // The signal's path goes after the base path, before any query (a fragment is never sent); a URL that already
    // ends with it (the OTLP traces endpoint itself) is taken as it is.
    const base = parsed.pathname.replace(/\/+$/, '');
    parsed.pathname = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
    parsed.hash = '';
    url = parsed.href;
  }
  return {
    onSpanEnd,
    idleTimeoutMs,
    stallThresholdMs,
    maxAttributeLength,
    sse,
    ignoreUrls,
    propagateTo,
    sampleRate,
    tracestate,
    redactQueryParams: redactQueryParams.map((name) => name.toLowerCase()),
    captureHeaders,
    requestAttributes,
    responseAttributes,
    export: url && {
      url,
      headers,
      serviceName,
      resource,
      maxQueueSize,
      maxExportBatchSize,
      scheduledDelayMs,
      exportTimeoutMs,
      unloadFlush,
      fetch: typeof source[EXPORT_FETCH] === 'function' ? source[EXPORT_FETCH] : undefined,
    },
  };
}

/**
 * A `timeoutMs` the app gave `forceFlush` or `uninstall`: undefined (or null) for the default, else 0 to 2147483647
 * ms, a timer's range. Throws a TypeError naming it otherwise.
 */
export function checkTimeout(timeoutMs) {
  if (timeoutMs == null) return undefined;
  if (typeof timeoutMs === 'number' && timeoutMs >= 0 && timeoutMs <= 2147483647) return timeoutMs;
  return fail(`timeoutMs must be a number of milliseconds from 0 to 2147483647, got ${describe(timeoutMs)}`);
}

/**
 * A list option of URL patterns: non-empty strings (passed through `prefix`, which may normalize or reject them)
 * and RegExps. Returns a copy, so later changes to the app's array change nothing.
 */
function urlPatterns(get, name, prefix) {
  const v = get(name);
  if (v === undefined) return [];
  if (!Array.isArray(v)) invalid(name, 'an array of URL prefixes (strings) and RegExps', v);
  return Array.from(v, (item, i) => {
    // A RegExp is copied: the app's own keeps its `lastIndex` (which matching resets), and may be frozen.
    if (Object.prototype.toString.call(item) === '[object RegExp]') return new RegExp(item.source, item.flags);
    if (typeof item !== 'string' || item === '') invalid(`${name}[${i}]`, 'a non-empty string or a RegExp', item);
    // A string is matched as written: a wildcard is a RegExp's job.
    if (item.includes('*')) {
      invalid(`${name}[${i}]`, 'a URL prefix without "*" (for a pattern, a RegExp such as /^https:\\/\\/[^/]+\\.example\\.com\\//)', item);
    }
    return prefix(item, `${name}[${i}]`);
  });
}

/**
 * The own entries of a plain-object option (a null-prototype one too; a `Headers` or a `Map` has no own entries, so
 * is refused). A bad value is named by its type only: `headers` may hold a key.
 */
function entries(get, name) {
  const v = get(name);
  if (v === undefined) return [];
  if (Object.prototype.toString.call(v) !== '[object Object]') {
    fail(`option "${name}" must be a plain object, got ${kind(v)}`);
  }
  return Object.entries(v);
}

/** The type of a value not to be shown: `an array`, `a string`, `a Map object`, `null`. */
function kind(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? `a ${Object.prototype.toString.call(value).slice(8, -1)} object` : `a ${typeof value}`;
}

function invalid(name, expected, got) {
  fail(`option "${name}" must be ${expected}, got ${describe(got)}`);
}

function fail(message) {
  throw new TypeError(`fetchspan: ${message}`);
}

/** A short, readable rendering of a bad value: its JSON (cut after 77 characters past 80 bytes), else String(). */
function describe(value) {
  if (typeof value === 'function') return 'a function';
  // JSON would show NaN and ±Infinity as null.
  if (typeof value === 'number') return String(value);
  let json;
  try {
    json = JSON.stringify(value);
  } catch {}
  if (typeof json !== 'string') return typeof value === 'bigint' ? `${value}n` : String(value);
  return new TextEncoder().encode(json).length <= 80 ? json : Array.from(json).slice(0, 77).join('') + '…';
}
