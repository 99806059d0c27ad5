// The browser half of tests/package.sh, in one headless Chromium: serves the installed package, the bundled
// fixture apps and test pages from a small node server on 127.0.0.1 (a free port), and checks
// - each bundler's app: a fetch made by the app produced a span, and the .wasm loaded without a failed request;
// - the classic script tag: installs from its data-* attributes without blocking the page, counts early fetches,
//   exports; an invalid attribute gives one console error naming it and patches nothing;
// - broken .wasm files (404, an HTML page, a corrupt module) reject install, from the ES module and from the
//   script tag, with the URL and the reason, and patch nothing; a real module with a non-wasm type still works.
// Usage: node tests/package/browser.mjs target/package-test   (tests/package.sh runs it under the browser lock)
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, resolve, extname } from 'node:path';
import { chromium } from 'playwright-core';

const out = resolve(process.argv[2] ?? 'target/package-test');
const installed = resolve('tests/bundlers/node_modules/fetchspan');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// ---------------------------------------------------------------------------------------------------------------
// The server.

const otlpRequests = []; // OTLP requests received: { headers, body }
const pages = {};
const wasmVariants = {
  pkg: null,
  'slow-pkg': async (bytes) => { await sleep(1500); return [200, 'application/wasm', bytes]; },
  'bad-404': async () => [404, 'text/plain', 'not found'],
  'bad-html': async () => [200, 'text/html; charset=utf-8', '<!doctype html><title>app shell</title><p>an SPA fallback'],
  'bad-corrupt': async (bytes) => [200, 'application/wasm', bytes.subarray(0, bytes.length >> 1)],
  'octet-pkg': async (bytes) => [200, 'application/octet-stream', bytes],
};

async function handle(request, response) {
  const url = new URL(request.url, 'http://localhost');
  const send = (status, type, body, headers = {}) => {
    response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers });
    response.end(body);
  };
  const path = url.pathname;
  if (path === '/favicon.ico') return send(204, 'image/x-icon', '');
  if (path === '/sw.js') return send(200, 'text/javascript', SERVICE_WORKER);
  if (path === '/api/chunks') {
    response.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    for (const chunk of ['one ', 'two ', 'three']) {
      response.write(chunk);
      await sleep(50);
    }
    return response.end();
  }
  if (path === '/api/json' || path === '/api/ignored' || path === '/swr/json') {
    return send(200, 'application/json', JSON.stringify({ ok: true, path, traceparent: request.headers.traceparent }));
  }
  if (path === '/api/server-trace') {
    // Same-origin: the page reads these headers without any Access-Control-Expose-Headers.
    return send(200, 'text/plain', 'traced', {
      traceresponse: '00-11111111111111111111111111111111-2222222222222222-01',
      'server-timing': 'db;dur=12.5, cache;desc="hit";dur=0.3',
    });
  }
  if (path === '/otlp/v1/traces' && request.method === 'POST') {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    otlpRequests.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
    return send(200, 'application/json', '{}');
  }
  if (path.startsWith('/pages/') && pages[path.slice(7)]) return send(200, TYPES['.html'], pages[path.slice(7)]);
  const [, first, ...rest] = path.split('/');
  const file = rest.join('/') || 'index.html';
  if (file.split('/').includes('..')) return send(404, 'text/plain', 'not found');
  let root;
  if (first in wasmVariants) root = installed;
  else if (first === 'apps') root = join(out, 'bundlers');
  else return send(404, 'text/plain', 'not found');
  const target = first === 'apps' ? join(root, file.endsWith('/') || !extname(file) ? join(file, 'index.html') : file) : join(root, file);
  let bytes;
  try {
    bytes = await readFile(target);
  } catch {
    return send(404, 'text/plain', 'not found');
  }
  if (target.endsWith('.wasm') && wasmVariants[first]) {
    const [status, type, body] = await wasmVariants[first](bytes);
    return send(status, type, body);
  }
  return send(200, TYPES[extname(target)] ?? 'application/octet-stream', bytes);
}

// A module service worker that installs fetchspan (exporting to this server) and answers /api/ by fetching it.
const SERVICE_WORKER = `import { install } from '/pkg/index.js';
const spans = [];
const path = (url) => { const u = new URL(url); return u.pathname + u.search; };
const ready = install({ endpoint: new URL('/otlp', self.location).href, serviceName: 'sw-test', scheduledDelayMs: 100,
  onSpanEnd: (span) => spans.push([path(span.attributes['url.full']), span.endReason]) });
self.addEventListener('install', (event) => event.waitUntil(ready.then(() => self.skipWaiting())));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  const { pathname } = new URL(event.request.url);
  if (pathname.startsWith('/api/')) event.respondWith(fetch(event.request));
  if (pathname === '/null-body') event.respondWith(new Response(null));
  // Stale-while-revalidate, as Workbox does it: the cached copy if any, else the network's; the network's response
  // goes to the cache either way (its clone: the original answers the page when nothing was cached).
  if (pathname === '/swr/json') {
    const network = fetch(event.request).then(async (r) => {
      await (await caches.open('swr')).put(event.request, r.clone());
      return r;
    });
    (self.revalidations ??= []).push(network);
    event.waitUntil(network);
    event.respondWith(caches.match(event.request).then((hit) => hit ?? network));
  }
  // A respondWith that throws (a second one) takes nothing: the worker reads the response itself.
  if (pathname === '/api-twice') {
    event.respondWith(new Response('first'));
    const response = fetch('/api/json?twice=1');
    try {
      event.respondWith(response);
    } catch (_) { /* InvalidStateError */ }
    self.twice = response.then((r) => r.text());
    event.waitUntil(self.twice);
  }
});
self.addEventListener('message', (event) => event.waitUntil((async () => {
  const tracer = await ready;
  await self.twice;
  await Promise.allSettled(self.revalidations ?? []);
  const own = await (await fetch('/api/json?sw-own=1')).json();
  const flush = await tracer.forceFlush(3000);
  event.source.postMessage({ spans, own: own.ok, flush, stats: tracer.stats() });
})()));
`;

const server = createServer((request, response) => handle(request, response).catch((error) => {
  response.writeHead(500);
  response.end(String(error));
}));
await new Promise((done) => server.listen(0, '127.0.0.1', done));
const origin = `http://127.0.0.1:${server.address().port}`;

// ---------------------------------------------------------------------------------------------------------------
// The pages.

const SNAPSHOT = `<script>
  // What "nothing patched" is compared against.
  window.native = { fetch, body: Object.getOwnPropertyDescriptor(Response.prototype, 'body').get,
    text: Response.prototype.text, clone: Response.prototype.clone };
  window.untouched = () => fetch === native.fetch && Response.prototype.text === native.text
    && Response.prototype.clone === native.clone
    && Object.getOwnPropertyDescriptor(Response.prototype, 'body').get === native.body;
</script>`;

for (const variant of ['bad-404', 'bad-html', 'bad-corrupt', 'octet-pkg']) {
  pages[`esm-${variant}.html`] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script type="module">
  import { install } from '/${variant}/index.js';
  const spans = [];
  try {
    const tracer = await install({ onSpanEnd: (span) => spans.push(span) });
    await (await fetch('/api/json?esm=1')).json();
    await tracer.uninstall();
    window.result = { installed: true, spans: spans.map((s) => [s.attributes['url.full'], s.endReason]) };
  } catch (error) {
    const untouched = window.untouched();
    const pageFetch = await (await fetch('/api/json?after-failure=1')).json();
    const again = await install().then(() => 'installed', (e) => e.message);
    window.result = { installed: false, name: error.name, message: error.message, untouched, pageFetch, again,
      untouchedAfterRetry: window.untouched() };
  }
</script>`;
}

// A page whose `fetch` is a polyfill answering with a `Response` of its own (whatwg-fetch's kind), which streaming
// compilation refuses: the module is compiled from its bytes, and fetchspan installs (over the polyfill).
pages['polyfilled-fetch.html'] = `<!doctype html><meta charset="utf-8">
<script type="module">
  const engine = fetch;
  window.fetch = async function fetch(url, init) {
    const answer = await engine(url, init);
    const body = await answer.arrayBuffer();
    return { ok: answer.ok, status: answer.status, statusText: answer.statusText, headers: answer.headers,
      bodyUsed: false, arrayBuffer: async () => body, text: async () => new TextDecoder().decode(body) };
  };
  const { install } = await import('/pkg/index.js');
  try {
    const tracer = await install({});
    const text = await (await fetch('/api/json?polyfilled=1')).text();
    await tracer.uninstall();
    window.result = { installed: true, text };
  } catch (error) {
    window.result = { installed: false, message: error.message };
  }
</script>`;

// Two copies of fetchspan in one page (two bundles, or a bundle and the script tag): the second refuses to install
// over the first, with an error that says so, and installs once the first is gone.
pages['two-copies.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script type="module">
  import { install } from '/pkg/index.js';
  import { install as installCopy } from '/octet-pkg/index.js';
  const spans = [];
  try {
    const first = await install({ onSpanEnd: (span) => spans.push(['first', span.attributes['url.full']]) });
    const second = await installCopy({}).then(() => 'installed', (error) => error.message);
    await (await fetch('/api/json?two=1')).json();
    await first.uninstall();
    const untouched = window.untouched();
    const copy = await installCopy({ onSpanEnd: (span) => spans.push(['copy', span.attributes['url.full']]) });
    await (await fetch('/api/json?two=2')).json();
    await copy.uninstall();
    window.result = { second, spans, untouched, untouchedAtEnd: window.untouched() };
  } catch (error) {
    window.result = { error: error.message, spans };
  }
</script>`;

// A page that froze a member of Response.prototype: install rejects naming it, and nothing is patched. (One only
// made non-configurable can still take fetchspan's, and does.)
pages['frozen-prototype.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script type="module">
  import { install } from '/pkg/index.js';
  const NativeRequest = Request;
  Object.defineProperty(Response.prototype, 'text', { configurable: false });
  const sealed = await install({}).then((tracer) => tracer.uninstall().then(() => window.untouched()), (error) => error.message);
  Object.defineProperty(Response.prototype, 'json', { configurable: false, writable: false });
  const message = await install({}).then(() => 'installed', (error) => error.message);
  const untouched = window.untouched() && Request === NativeRequest;
  window.result = { sealed, message, untouched, pageFetch: await fetch('/api/json?frozen=1').then((r) => r.json(), (e) => e.message) };
</script>`;

// Server correlation on a same-origin response (the browser suites' pages are cross-origin to the test server).
pages['server-same-origin.html'] = `<!doctype html><meta charset="utf-8">
<script type="module">
  import { install } from '/pkg/index.js';
  const spans = [];
  const tracer = await install({ onSpanEnd: (span) => spans.push(span) });
  const text = await (await fetch('/api/server-trace?same=1')).text();
  await tracer.uninstall();
  window.result = { text, spans: spans.map((s) => ({ attributes: s.attributes, links: s.links, traceId: s.traceId, events: s.events })) };
</script>`;

const ALL_ATTRIBUTES = `data-endpoint="/otlp" data-service-name="tag-test" data-ignore-urls="/api/ignored /skip-me=\\d/"
  data-idle-timeout-ms="5000" data-scheduled-delay-ms="200" data-export-timeout-ms="3000" data-max-queue-size="100"
  data-max-export-batch-size="10" data-unload-flush="false" data-headers='{"x-test":"script-tag"}'
  data-resource='{"deployment.environment":"test"}' data-propagate-to="https://api.example.com /example\\.org/"
  data-sample-rate="1" data-stall-threshold-ms="1500" data-sse="true" data-max-attribute-length="4096"
  data-capture-headers='{"response":["content-type"]}' data-capture-sensitive-headers="false"`;

pages['tag-ok.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script>window.fetchspanConfig = { onSpanEnd: (span) => (window.spans ??= []).push(span) };</script>
<script src="/slow-pkg/fetchspan.js" ${ALL_ATTRIBUTES}></script>
<script>
  // The stand-in fetch while the module loads, as the native one looks to a page.
  const shape = (f) => ({ name: f.name, length: f.length, prototype: 'prototype' in f,
    construct: (() => { try { new f('/api/json?constructed=1'); return 'constructed'; } catch (e) { return e.constructor.name; } })() });
  window.standIn = { ours: shape(fetch), native: shape(native.fetch) };
  window.early = fetch('/api/json?early=1').then((r) => r.json());
  window.atParse = { tracer: fetchspan.tracer, earlyFetches: fetchspan.earlyFetches, stats: fetchspan.stats() };
  // The page's own interceptor, put on while the module loads: it adds the app's credentials to its requests, and
  // must not to the exports.
  const beforeInterceptor = fetch;
  window.fetch = function fetch(input, init) {
    const headers = new Headers(init?.headers);
    headers.set('x-app-auth', 'app-token');
    return beforeInterceptor.call(this, input, { ...init, headers });
  };
</script>
<p>parsed</p>`;

pages['tag-invalid-js.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/pkg/fetchspan.js" data-service-name="x" data-idle-timeout-ms="soon"></script>`;
pages['tag-invalid-crate.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/pkg/fetchspan.js" data-max-export-batch-size="5000"></script>`;
// A limit another option sets: the page's own batch size exceeds the attribute's queue size.
pages['tag-invalid-limit.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script>window.fetchspanConfig = { maxExportBatchSize: 200 };</script>
<script src="/pkg/fetchspan.js" data-max-queue-size="100"></script>`;
// Errors about data-headers never show its value (an API key).
pages['tag-invalid-json.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/pkg/fetchspan.js" data-headers="{x-api-key: SECRET}"></script>`;
pages['tag-invalid-header.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/pkg/fetchspan.js" data-headers='{"x-api-key":"SECRET\u20ac"}'></script>`;
// An empty list (a template's empty variable) would turn redaction off.
pages['tag-invalid-redact.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/pkg/fetchspan.js" data-redact-query-params=" "></script>`;
// Nor an endpoint's user name, password or query: refused by install (credentials) and by the script (a scheme).
pages['tag-invalid-endpoint-user.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/pkg/fetchspan.js" data-endpoint="https://ingest:SECRET@collector.example:4318"></script>`;
pages['tag-invalid-endpoint-query.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/pkg/fetchspan.js" data-endpoint="htps://collector.example/?api_key=SECRET"></script>`;
// A bare host would read as a path of the page's own site.
pages['tag-invalid-endpoint-host.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/pkg/fetchspan.js" data-endpoint="collector.example.com"></script>`;
// A mistake of window.fetchspanConfig is its own, not a valid attribute's.
pages['tag-invalid-config-key.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script>window.fetchspanConfig = { onSpanStart() {} };</script>
<script src="/pkg/fetchspan.js" data-endpoint="/otlp" data-service-name="shop"></script>`;
pages['tag-invalid-config.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script>window.fetchspanConfig = 'x';</script>
<script src="/pkg/fetchspan.js" data-service-name="shop"></script>`;
// A script in a shadow root has no document.currentScript, and one renamed can't be found by its name: its
// attributes (a bad one here) are not silently dropped, nor the module fetched from the page's folder.
pages['tag-shadow.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<div id="host"></div>
<script>
  const script = document.createElement('script');
  script.src = '/pkg/fetchspan.js';
  script.dataset.sampleRate = 'bogus';
  document.getElementById('host').attachShadow({ mode: 'open' }).append(script);
</script>`;
// The file's text inlined in a page: no `src` to find the module next to.
pages['tag-inline.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script>${readFileSync(join(installed, 'fetchspan.js'), 'utf8')}</script>`;
pages['tag-bad-404.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/bad-404/fetchspan.js" data-service-name="x"></script>`;
pages['tag-bad-html.html'] = `<!doctype html><meta charset="utf-8">${SNAPSHOT}
<script src="/bad-html/fetchspan.js" data-service-name="x"></script>`;

// ---------------------------------------------------------------------------------------------------------------
// The checks.

const failures = [];
const passed = [];
function check(condition, what, detail) {
  if (condition) passed.push(what);
  else failures.push(`${what}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});

/** Opens `path` in a fresh page, recording console messages, page errors and every request's outcome. */
async function open(path) {
  const page = await browser.newPage();
  const log = { errors: [], warnings: [], requests: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') log.errors.push(message.text());
    if (message.type() === 'warning') log.warnings.push(message.text());
  });
  page.on('pageerror', (error) => log.errors.push(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) => log.requests.push({ url: request.url(), failed: request.failure()?.errorText }));
  page.on('response', (response) => log.requests.push({ url: response.url(), status: response.status(),
    type: response.headers()['content-type'] }));
  await page.goto(`${origin}${path}`);
  return { page, log };
}
const wasmRequests = (log) => log.requests.filter((r) => /\.wasm(\?|$)/.test(r.url));
const ours = (log) => log.errors.filter((text) => text.startsWith('fetchspan:'));
const browserResourceErrors = (log) => log.errors.filter((text) => text.startsWith('Failed to load resource'));

// Bundled apps.
for (const bundler of ['vite', 'esbuild', 'webpack']) {
  const { page, log } = await open(`/apps/${bundler}/`);
  const fixture = await page.waitForFunction(() => window.fixture, null, { timeout: 15_000 })
    .then((handle) => handle.jsonValue()).catch((error) => ({ error: `no result: ${error.message}` }));
  check(!fixture.error, `${bundler}: the app ran`, fixture.error);
  const span = fixture.spans?.find((s) => s.attributes['url.full'] === `${origin}/api/json?from=fixture`);
  check(span && span.endReason === 'completed' && span.attributes['fetchspan.response.decoded_size'] > 0,
    `${bundler}: the app's fetch produced a completed span with its size`, fixture.spans);
  const wasm = wasmRequests(log);
  check(wasm.length >= 1 && wasm.every((r) => r.status === 200 && r.type === 'application/wasm'),
    `${bundler}: the .wasm was requested and served (no failed request)`, wasm);
  check(log.requests.every((r) => !r.failed && r.status < 400), `${bundler}: no failed request`, log.requests);
  check(log.errors.length === 0 && log.warnings.length === 0, `${bundler}: a quiet console`, log);
  console.log(`${bundler}: span ${span?.endReason} ${span?.attributes['fetchspan.response.decoded_size']} B; wasm ${wasm.map((r) => r.url.replace(origin, '')).join(', ')}`);
  await page.close();
}

// The ES module entry with broken and unusual .wasm files.
const expectations = {
  'bad-404': 'HTTP 404',
  'bad-html': 'not a valid WebAssembly module (served as text/html',
  'bad-corrupt': 'not a valid WebAssembly module (served as application/wasm)',
};
for (const variant of ['bad-404', 'bad-html', 'bad-corrupt', 'octet-pkg']) {
  const { page, log } = await open(`/pages/esm-${variant}.html`);
  const result = await page.waitForFunction(() => window.result, null, { timeout: 15_000 }).then((h) => h.jsonValue());
  if (variant === 'octet-pkg') {
    check(result.installed && result.spans.length === 1 && result.spans[0][1] === 'completed',
      'a real module served as application/octet-stream still installs', result);
    check(log.errors.length === 0 && log.warnings.length === 0, 'octet-stream module: no console warning', log);
  } else {
    const url = `${origin}/${variant}/fetchspan_bg.wasm`;
    check(!result.installed && result.message.includes(url) && result.message.includes(expectations[variant]),
      `${variant}: install rejects naming the URL and "${expectations[variant]}"`, result.message);
    console.log(`${variant}: ${result.message}`);
    check(result.untouched && result.untouchedAfterRetry, `${variant}: nothing patched`, result);
    check(result.pageFetch?.ok === true, `${variant}: the page's fetch keeps working`, result);
    check(result.again !== 'installed' && result.again.includes(url), `${variant}: a second install rejects the same way`, result.again);
    const allowed = variant === 'bad-404' ? 2 : 0; // Chromium's own "Failed to load resource" line, per 404
    check(log.errors.length === allowed && browserResourceErrors(log).length === allowed, `${variant}: no console error of ours`, log.errors);
  }
  await page.close();
}

{
  const { page } = await open('/pages/polyfilled-fetch.html');
  const result = await page.waitForFunction(() => window.result, null, { timeout: 15_000 }).then((h) => h.jsonValue());
  check(result.installed && result.text.length > 0, 'a page whose fetch is a polyfill (its own Response): install loads the module from its bytes', result);
  await page.close();
}

// Two copies in one page, and a frozen prototype.
{
  const { page, log } = await open('/pages/two-copies.html');
  const result = await page.waitForFunction(() => window.result, null, { timeout: 15_000 }).then((h) => h.jsonValue());
  check(/^fetchspan: another copy of fetchspan is installed here/.test(result.second),
    'two copies: the second refuses to install over the first', result.second);
  // (The first copy traces the second's fetch of its module.)
  const apiSpans = result.spans.filter(([, url]) => url.startsWith(`${origin}/api/`));
  check(JSON.stringify(apiSpans) === JSON.stringify([['first', `${origin}/api/json?two=1`], ['copy', `${origin}/api/json?two=2`]]),
    'two copies: one span per request, from the copy installed', result.spans);
  check(result.untouched && result.untouchedAtEnd, 'two copies: each uninstall restores everything', result);
  check(log.errors.length === 0, 'two copies: no console error', log.errors);
  await page.close();
}
{
  const { page, log } = await open('/pages/frozen-prototype.html');
  const result = await page.waitForFunction(() => window.result, null, { timeout: 15_000 }).then((h) => h.jsonValue());
  check(result.sealed === true, 'a Response.prototype member made non-configurable: install and uninstall work', result.sealed);
  check(result.message === 'fetchspan: Response.prototype.json is read-only',
    'a frozen Response.prototype member: install rejects naming it', result.message);
  check(result.untouched && result.pageFetch?.ok, 'a frozen Response.prototype member: nothing patched, the page\'s fetch works', result);
  check(log.errors.length === 0, 'a frozen Response.prototype member: no console error', log.errors);
  await page.close();
}

// The server's trace context and timings on a same-origin response.
{
  const { page, log } = await open('/pages/server-same-origin.html');
  const result = await page.waitForFunction(() => window.result, null, { timeout: 15_000 }).then((h) => h.jsonValue());
  const span = result.spans[0];
  const a = span?.attributes ?? {};
  check(result.text === 'traced' && result.spans.length === 1, 'same-origin server trace: one span, the body as sent', result);
  check(a['fetchspan.server.trace_id'] === '11111111111111111111111111111111' && a['fetchspan.server.span_id'] === '2222222222222222',
    'same-origin server trace: the traceresponse ids recorded', a);
  check(a['fetchspan.server_timing.db.duration_us'] === 12500 && a['fetchspan.server_timing.cache.duration_us'] === 300,
    'same-origin server trace: the Server-Timing metrics recorded', a);
  check(span?.links?.length === 1 && span.links[0].traceId === '11111111111111111111111111111111'
    && span.traceId !== '11111111111111111111111111111111', 'same-origin server trace: a link to the server\'s own trace', span);
  const phases = (span?.events ?? []).map((e) => e.name).filter((name) => name.startsWith('fetchspan.timing.'));
  check(a['http.response.body.size'] === 6 && a['fetchspan.response.time_to_first_byte_ms'] >= 0
    && phases.includes('fetchspan.timing.request') && phases.includes('fetchspan.timing.response'),
  'same-origin resource timing: encoded size, time to first byte and phases', { attributes: a, phases });
  check(log.errors.length === 0, 'same-origin server trace: no console error', log.errors);
  await page.close();
}

// The script tag: every attribute, a slow module, an early fetch.
{
  const { page, log } = await open('/pages/tag-ok.html');
  const result = await page.evaluate(async () => {
    const atParse = window.atParse;
    const early = await window.early;
    const earlyDoneBeforeReady = fetchspan.tracer === null;
    const tracer = await fetchspan.ready;
    const patched = !window.untouched();
    const sent = [(await (await fetch('/api/json?after=1')).json()).traceparent,
      (await (await fetch('/api/ignored')).json()).traceparent,
      (await (await fetch('/api/json?skip-me=1')).json()).traceparent];
    for (let i = 0; i < 50 && (window.spans ?? []).length < 1; i += 1) await new Promise((r) => setTimeout(r, 20));
    const flush = await fetchspan.forceFlush(3000);
    return { atParse, early, earlyDoneBeforeReady, sameTracer: tracer === fetchspan.tracer, patched, flush,
      stats: fetchspan.stats(), spans: (window.spans ?? []).map((s) => [s.attributes['url.full'], s.endReason]),
      sent, ids: (window.spans ?? []).map((s) => `00-${s.traceId}-${s.spanId}-01`),
      captured: window.spans?.[0]?.attributes['http.response.header.content-type'] };
  });
  check(result.atParse.tracer === null && result.atParse.earlyFetches === 1 && result.atParse.stats.started === 0,
    'script tag: the page parsed on while the module loaded, and the early fetch was counted', result.atParse);
  check(result.early.ok && result.earlyDoneBeforeReady, 'script tag: the early fetch went through untouched before ready', result);
  const standIn = await page.evaluate(() => window.standIn);
  check(JSON.stringify(standIn.ours) === JSON.stringify(standIn.native)
    && JSON.stringify(standIn.native) === '{"name":"fetch","length":1,"prototype":false,"construct":"TypeError"}',
  'script tag: the fetch that stands in while the module loads has the native name, length, no prototype, and no new', standIn);
  check(result.sameTracer && result.patched, 'script tag: ready resolves to the installed tracer', result);
  check(JSON.stringify(result.spans) === JSON.stringify([[`${origin}/api/json?after=1`, 'completed']]),
    'script tag: one span, for the fetch after ready (the early, ignored prefix and ignored regexp ones have none)', result.spans);
  check(result.stats.earlyFetches === 1 && result.stats.started === 1, 'script tag: stats() has earlyFetches', result.stats);
  check(/^application\/json/.test(result.captured?.[0]), 'script tag: data-capture-headers', result.captured);
  check(JSON.stringify(result.sent) === JSON.stringify([result.ids[0], undefined, undefined]),
    'script tag: a same-origin request carries the traceparent of its span by default, ignored ones none', result);
  const exported = otlpRequests.flatMap((e) => e.body.resourceSpans);
  const resource = Object.fromEntries((exported[0]?.resource.attributes ?? []).map((a) => [a.key, a.value.stringValue]));
  check(result.flush.exported === 1 && otlpRequests[0]?.headers['x-test'] === 'script-tag'
    && otlpRequests[0]?.headers.traceparent === undefined && otlpRequests[0]?.headers['x-app-auth'] === undefined
    && resource['service.name'] === 'tag-test' && resource['deployment.environment'] === 'test',
  'script tag: exported (with no traceparent, nor the credentials of an interceptor the page put on meanwhile) to data-endpoint with data-headers, data-service-name and data-resource', { flush: result.flush, resource });
  check(log.errors.length === 0, 'script tag: no console error', log.errors);
  console.log(`script tag: ${JSON.stringify(result.stats)}`);
  check(log.warnings.length === 0, 'script tag: no console warning', log.warnings);
  await page.close();
}

// The script tag with a library that keeps the fetch it finds as it loads (ky, ofetch, an SDK client do), before
// the module is ready: its requests are traced once installed, and untouched again after uninstall.
pages['tag-kept.html'] = `<!doctype html><meta charset="utf-8">
<script>window.fetchspanConfig = { onSpanEnd: (span) => (window.spans ??= []).push(span.attributes['url.full']) };</script>
<script src="/slow-pkg/fetchspan.js"></script>
<script>
  const libraryFetch = globalThis.fetch;
  // A deadline that passes while the module loads (1.5 s here).
  const earlyFlush = fetchspan.forceFlush(100);
  window.run = async () => {
    const tracer = await fetchspan.ready;
    const kept = await (await libraryFetch('/api/json?kept=1')).json();
    for (let i = 0; i < 50 && (window.spans ?? []).length < 1; i += 1) await new Promise((r) => setTimeout(r, 20));
    const spans = [...(window.spans ?? [])];
    await fetchspan.uninstall();
    const after = await (await libraryFetch('/api/json?kept=2')).json();
    return { spans, sent: [kept.traceparent, after.traceparent], later: (window.spans ?? []).length,
      stats: tracer.stats(), earlyFetches: fetchspan.earlyFetches, earlyFlush: await earlyFlush };
  };
</script>`;
{
  const { page, log } = await open('/pages/tag-kept.html');
  const result = await page.evaluate(() => window.run());
  check(JSON.stringify(result.spans) === JSON.stringify([`${origin}/api/json?kept=1`]) && result.sent[0] !== undefined
    && result.sent[1] === undefined && result.later === 1 && result.earlyFetches === 0,
  'script tag: a fetch a library took before the module was ready is traced once installed, and untouched after uninstall', result);
  check(JSON.stringify(result.earlyFlush) === '{"exported":0,"dropped":0,"timedOut":true}',
    'script tag: forceFlush keeps its deadline while the module loads', result.earlyFlush);
  check(log.errors.length === 0 && log.warnings.length === 0, 'script tag, a kept fetch: no console error or warning', log);
  await page.close();
}

// A service worker that installs fetchspan and proxies the page's requests with respondWith(fetch(request)).
pages['sw.html'] = `<!doctype html><meta charset="utf-8">
<script type="module">
  const seen = async (url) => {
    const r = await fetch(url);
    const reader = r.body.getReader();
    let text = '';
    let chunks = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks += 1;
      text += new TextDecoder().decode(value);
    }
    return { status: r.status, type: r.type, redirected: r.redirected, url: r.url, ok: r.ok,
      contentType: r.headers.get('content-type'), text, streamed: chunks > 0 };
  };
  const urls = ['/api/json?sw=1', '/api/chunks?sw=1'];
  const before = [];
  for (const url of urls) before.push(await seen(url));
  await navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((done) => navigator.serviceWorker.addEventListener('controllerchange', done, { once: true }));
  }
  const after = [];
  for (const url of urls) after.push(await seen(url));
  // Stale-while-revalidate: the network's answer, then the cached copy while the worker revalidates.
  const swr = [];
  for (let i = 0; i < 2; i++) swr.push(JSON.parse(await (await fetch('/swr/json?sw=2')).text()).path);
  const twice = await (await fetch('/api-twice')).text();
  const report = await new Promise((done) => {
    navigator.serviceWorker.addEventListener('message', (event) => done(event.data), { once: true });
    navigator.serviceWorker.controller.postMessage('report');
  });
  // A response the worker makes without a body (\`new Response(null)\`, status 200) in a page that traces its own
  // requests: its span ends at once, \`no-body\` where the page gets no body at all and looks (Chromium gives it an
  // empty one, read whole).
  const { install } = await import('/pkg/index.js');
  const pageSpans = [];
  const tracer = await install({ onSpanEnd: (span) => pageSpans.push(span.endReason) });
  const empty = await fetch('/null-body');
  // What an app that checks the body first does: \`if (res.body) …\`.
  const noBody = empty.body === null;
  const nullBody = { status: empty.status, noBody, text: noBody ? '' : await empty.text(), open: tracer.stats().open,
    spans: pageSpans };
  await tracer.uninstall();
  window.result = { before, after, report, nullBody, twice, swr };
</script>`;
{
  const exportedBefore = otlpRequests.length;
  const { page, log } = await open('/pages/sw.html');
  await page.waitForFunction(() => window.result, null, { timeout: 20000 }).catch(() => {});
  const result = await page.evaluate(() => window.result);
  const withoutTrace = (seen) => seen?.map((r) => ({ ...r, text: r.text.replace(/,"traceparent":"[^"]*"/, '') }));
  check(result && JSON.stringify(withoutTrace(result.after)) === JSON.stringify(withoutTrace(result.before)),
    'service worker: respondWith(fetch(request)) answers the page exactly as without it (whole and streamed)', result);
  check(/"traceparent":"00-[0-9a-f]{32}-[0-9a-f]{16}-01"/.test(result?.after[0].text ?? ''),
    'service worker: its same-origin fetch carries a traceparent', result?.after);
  const spans = JSON.stringify(result?.report.spans ?? []);
  check(['["/api/json?sw=1","responded"]', '["/api/chunks?sw=1","responded"]', '["/api/json?sw-own=1","completed"]']
    .every((span) => spans.includes(span)), 'service worker: spans of the proxied requests end as responded, its own as completed', spans);
  // Both of the worker's fetches of it go to the cache (the second only revalidates): their spans end when `put`
  // settles, not when the responses are collected, which a worker stopped meanwhile never sees.
  check(JSON.stringify(result?.swr) === '["/swr/json","/swr/json"]'
    && spans.split('["/swr/json?sw=2","completed"]').length === 3,
    'service worker: stale-while-revalidate answers the page, and both of its cache.put spans end completed', { swr: result?.swr, spans });
  check(result?.twice === 'first' && spans.includes('["/api/json?twice=1","completed"]'),
    'service worker: a respondWith that throws takes nothing, and the worker\'s own read of the response ends its span', { twice: result?.twice, spans });
  const exported = otlpRequests.slice(exportedBefore).flatMap((e) => e.body.resourceSpans)
    .filter((rs) => rs.resource.attributes.some((a) => a.key === 'service.name' && a.value.stringValue === 'sw-test'));
  const exportedSpans = exported.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
  check(result?.report.flush.timedOut === false && exportedSpans.length >= 3,
    'service worker: its spans reach the collector through the worker\'s fetch', { flush: result?.report.flush, exported: exportedSpans.length });
  // This test runs in Chromium, which gives the page an empty body (the `no-body` form isn't reached here).
  check(JSON.stringify(result?.nullBody) === JSON.stringify({ status: 200, noBody: false, text: '', open: 0, spans: ['completed'] }),
    'service worker: a response it makes without a body ends its page span at once', result?.nullBody);
  check(log.errors.length === 0, 'service worker: no console error', log.errors);
  console.log(`service worker: ${spans}`);
  await page.close();
}

// The script tag with an invalid attribute, and with a broken module.
for (const [name, attribute, wasmLoads] of [['tag-invalid-js', 'data-idle-timeout-ms', false],
  ['tag-invalid-json', 'data-headers', false], ['tag-invalid-crate', 'data-max-export-batch-size', true],
  ['tag-invalid-limit', 'data-max-queue-size', true], ['tag-invalid-header', 'data-headers', true],
  ['tag-invalid-redact', 'data-redact-query-params', false],
  ['tag-invalid-endpoint-user', 'data-endpoint', true], ['tag-invalid-endpoint-query', 'data-endpoint', false],
  ['tag-invalid-endpoint-host', 'attribute data-endpoint must be an http(s) URL', false],
  ['tag-invalid-config-key', 'unknown option "onSpanStart"', true],
  ['tag-invalid-config', 'window.fetchspanConfig must be an object', false],
  ['tag-shadow', 'found no <script> of its own', false],
  ['tag-inline', 'found no <script> of its own', false],
  ['tag-bad-404', 'bad-404/fetchspan_bg.wasm: HTTP 404', true], ['tag-bad-html', 'bad-html/fetchspan_bg.wasm: not a valid', true]]) {
  const { page, log } = await open(`/pages/${name}.html`);
  await page.waitForFunction(() => window.fetchspan, null, { timeout: 15_000 });
  const result = await page.evaluate(async () => {
    const outcome = await fetchspan.ready.then(() => 'installed', (error) => error.message);
    await new Promise((r) => setTimeout(r, 50));
    return { outcome, untouched: window.untouched(), pageFetch: await (await fetch('/api/json?page=1')).json(),
      error: fetchspan.error?.message, earlyFetches: fetchspan.earlyFetches, flush: await fetchspan.forceFlush(),
      uninstall: await fetchspan.uninstall().then(() => 'resolved', (error) => `rejected: ${error}`) };
  });
  check(result.outcome.includes(attribute) && result.error === result.outcome, `${name}: ready rejects naming ${attribute}`, result);
  check(JSON.stringify(result.flush) === '{"exported":0,"dropped":0,"timedOut":false}', `${name}: forceFlush flushes nothing`, result.flush);
  check(result.uninstall === 'resolved', `${name}: uninstall resolves`, result.uninstall);
  check(result.untouched, `${name}: nothing patched`, result);
  check(result.pageFetch.ok, `${name}: the page's own fetch keeps working`, result);
  check(ours(log).length === 1 && ours(log)[0].includes(attribute), `${name}: exactly one console error of ours, naming ${attribute}`, log.errors);
  if (name.startsWith('tag-invalid-config')) {
    check(!/data-(endpoint|service-name)/.test(ours(log)[0]), `${name}: no valid attribute is blamed`, log.errors);
  }
  check(!JSON.stringify([result, log.errors]).includes('SECRET'), `${name}: no attribute value that may be a secret is shown`, log.errors);
  const others = log.errors.filter((text) => !text.startsWith('fetchspan:'));
  check(others.length === (name === 'tag-bad-404' ? 1 : 0), `${name}: no other console error`, others);
  check((wasmRequests(log).length > 0) === wasmLoads, `${name}: the module was ${wasmLoads ? '' : 'not '}requested`, wasmRequests(log));
  console.log(`${name}: ${ours(log)[0]}`);
  await page.close();
}

// The script-tag file loaded into a worker with importScripts: it does not throw (the worker's script goes on),
// says what to use instead, and leaves the worker's fetch alone.
pages['tag-worker.html'] = `<!doctype html><meta charset="utf-8">
<script>
  const code = \`let threw = null;
const nativeFetch = fetch;
try { importScripts('\${location.origin}/pkg/fetchspan.js'); } catch (error) { threw = String(error); }
self.fetchspan.ready.then(() => 'installed', (error) => error.message).then(async (outcome) => postMessage({ threw,
  outcome, untouched: fetch === nativeFetch, fetched: (await (await fetch('\${location.origin}/api/json?worker=1')).json()).ok }))
  .catch((error) => postMessage({ error: String(error) }));\`;
  const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
  worker.onmessage = (event) => { window.result = event.data; };
  worker.onerror = (event) => { window.result = { error: event.message }; };
</script>`;
{
  const { page } = await open('/pages/tag-worker.html');
  const result = await page.waitForFunction(() => window.result, null, { timeout: 15_000 }).then((h) => h.jsonValue());
  check(result.threw === null && result.outcome?.includes('found no <script> of its own (in a worker, import the ES module)')
    && result.untouched && result.fetched, 'script tag in a worker (importScripts): no throw, a clear error, fetch untouched', result);
  await page.close();
}

await browser.close();
server.close();
for (const what of passed) console.log(`ok   ${what}`);
for (const what of failures) console.log(`FAIL ${what}`);
if (failures.length) {
  console.error(`${failures.length} package browser check(s) failed`);
  process.exit(1);
}
console.log(`package browser checks passed (${passed.length})`);
