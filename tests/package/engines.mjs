// The shipped package (pkg/: the `no_std` wasm, the minified module) in all three engines, over WebDriver: the
// browser suites run a test build with std, and tests/package/browser.mjs drives Chromium only. A page imports
// pkg/index.js, installs with onSpanEnd and an OTLP endpoint, and reads bodies every main way; a module service
// worker with fetchspan proxies requests and caches them; each engine must give the spans with the right end reasons
// and exact sizes, and the collector must get the page's.
// Usage: node tests/package/engines.mjs chrome|firefox|safari   (safari: under xvfb-run -a)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const engine = process.argv[2];
const root = path.resolve(new URL('../..', import.meta.url).pathname);
const capabilities = JSON.parse(readFileSync(path.join(root, 'webdriver.json'), 'utf8'));
const drivers = {
  chrome: ['/usr/bin/chromedriver', 'goog:chromeOptions', 'chrome'],
  firefox: [process.env.GECKODRIVER ?? path.join(process.env.HOME, '.cargo/bin/geckodriver'), 'moz:firefoxOptions', 'firefox'],
  safari: ['/usr/bin/WebKitWebDriver', 'webkitgtk:browserOptions', 'MiniBrowser'],
};
if (!drivers[engine]) throw new Error(`usage: node tests/package/engines.mjs chrome|firefox|safari (got ${engine})`);
const [driverPath, optionsKey, browserName] = drivers[engine];
// MiniBrowser started by WebKitWebDriver itself refuses `--headless` ("Unknown option"); under xvfb-run it needs none.
const options = engine === 'safari'
  ? { ...capabilities[optionsKey], args: capabilities[optionsKey].args.filter((arg) => arg !== '--headless') }
  : capabilities[optionsKey];

const BODY = 'x'.repeat(100_000);
const received = [];
const PAGE = `<!doctype html><title>fetchspan package</title><script type="module">
  const spans = [];
  // The name and length a page sees of each function fetchspan stands in for (minified, they would be its own).
  const signatures = () => [fetch, Request, Request.prototype.clone, ...['body', 'bodyUsed', 'clone', 'arrayBuffer',
    'blob', 'bytes', 'formData', 'json', 'text'].map((name) => Object.getOwnPropertyDescriptor(Response.prototype, name))
    .map((d) => d && (d.get ?? d.value)), Cache.prototype.put, WebAssembly.compileStreaming,
    WebAssembly.instantiateStreaming].map((f) => f && [f.name, f.length]);
  window.result = (async () => {
    const { install } = await import('/pkg/index.js');
    const native = JSON.stringify(signatures());
    const tracer = await install({ onSpanEnd: (span) => spans.push(span), endpoint: location.origin + '/otlp',
      serviceName: 'engines-test', scheduledDelayMs: 100 });
    const patched = JSON.stringify(signatures());
    const text = await (await fetch('/data?way=text')).text();
    const reader = (await fetch('/data?way=stream')).body.getReader();
    let streamed = 0;
    for (;;) { const { done, value } = await reader.read(); if (done) break; streamed += value.byteLength; }
    const cancelled = (await fetch('/data?way=cancel')).body.cancel();
    await cancelled;
    // The page's first abort of a streamed body, then a cancel in the same task (a "Stop" button that does both):
    // fetchspan can't fail the app's stream at once yet (README, Known differences), but the span ends aborted.
    const controller = new AbortController();
    const slow = (await fetch('/slow', { signal: controller.signal })).body.getReader();
    const first = (await slow.read()).value.byteLength;
    controller.abort();
    await slow.cancel().catch(() => {});
    const failed = await fetch('http://127.0.0.1:1/refused').then(() => 'resolved', (error) => error.name);
    const flushed = await tracer.forceFlush(5000);
    await tracer.uninstall();
    return { native, patched, text: text.length, streamed, first, failed, flushed, spans: spans.map((span) => [
      span.attributes['url.full'].replace(location.origin, ''), span.endReason,
      span.attributes['fetchspan.response.decoded_size'] ?? null]) };
  })().catch((error) => ({ error: String(error) + ' ' + error?.message }));
</script>`;

// A module service worker with fetchspan installed: a request proxied with `respondWith(fetch(request))`, and
// stale-while-revalidate as Workbox does it (the network's response, or its clone, goes to the cache with
// `cache.put`). The page asks the worker for its spans once the revalidations are done.
const SERVICE_WORKER = `import { install } from '/pkg/index.js';
const spans = [];
const revalidations = [];
const ready = install({ onSpanEnd: (span) => spans.push([new URL(span.attributes['url.full']).search, span.endReason,
  span.attributes['fetchspan.response.decoded_size'] ?? null]) });
self.addEventListener('install', (event) => event.waitUntil(ready.then(() => self.skipWaiting())));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  const { pathname } = new URL(event.request.url);
  if (pathname === '/proxied') event.respondWith(fetch(event.request));
  if (pathname === '/swr') {
    const network = fetch(event.request).then(async (r) => {
      await (await caches.open('swr')).put(event.request, r.clone());
      return r;
    });
    revalidations.push(network);
    event.waitUntil(network);
    event.respondWith(caches.match(event.request).then((hit) => hit ?? network));
  }
});
self.addEventListener('message', (event) => event.waitUntil((async () => {
  await ready;
  await Promise.allSettled(revalidations);
  event.source.postMessage(spans);
})()));
`;
const SW_PAGE = `<!doctype html><title>fetchspan service worker</title><script type="module">
  window.result = (async () => {
    await navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' });
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((done) => navigator.serviceWorker.addEventListener('controllerchange', done, { once: true }));
    }
    const texts = [];
    for (const url of ['/proxied?sw=1', '/swr?sw=2', '/swr?sw=2']) texts.push((await (await fetch(url)).text()).length);
    const spans = await new Promise((done) => {
      navigator.serviceWorker.addEventListener('message', (event) => done(event.data), { once: true });
      navigator.serviceWorker.controller.postMessage('report');
    });
    return { texts, spans };
  })().catch((error) => ({ error: String(error) + ' ' + error?.message }));
</script>`;

// A module shared worker with fetchspan installed (one install serves every page connected to it): it reads a body
// whole and one as a stream, and reports its spans and what went out. (The body read whole has a `Content-Length`:
// Firefox and WebKit give a shared worker's fetches resource-timing entries without sizes, 0.)
const SHARED_WORKER = `import { install } from '/pkg/index.js';
const spans = [];
const ready = install({ onSpanEnd: (span) => spans.push(span) });
onconnect = (event) => {
  const [port] = event.ports;
  port.onmessage = async () => {
    try {
      await ready;
      const text = (await (await fetch('/sized?way=shared-text')).text()).length;
      const reader = (await fetch('/data?way=shared-stream')).body.getReader();
      let streamed = 0;
      for (;;) { const { done, value } = await reader.read(); if (done) break; streamed += value.byteLength; }
      const traced = await (await fetch('/traceparent')).text();
      port.postMessage({ text, streamed, traced, spans: spans.map((span) => [span.attributes['url.full']
        .replace(location.origin, ''), span.endReason, span.attributes['fetchspan.response.decoded_size'] ?? null,
        span.traceId]) });
    } catch (error) {
      port.postMessage({ error: String(error) + ' ' + error?.message });
    }
  };
};
`;
const SHARED_PAGE = `<!doctype html><title>fetchspan shared worker</title><script type="module">
  window.result = new Promise((done) => {
    const worker = new SharedWorker('/shared.js', { type: 'module' });
    worker.onerror = (event) => done({ error: 'the shared worker failed: ' + event.message });
    worker.port.onmessage = (event) => done(event.data);
    worker.port.postMessage('go');
  });
</script>`;

// A same-origin request redirected to another origin whose preflight refuses our `traceparent` (a CDN, a storage
// bucket), run natively first, then through fetchspan, with the requests the server got for each. A GET that fails
// for the header is sent again without it, and succeeds as natively; one in `same-origin` mode fails natively at
// the other origin, so its failure is never the header's, and it goes out once, as natively (WPT
// request-cache-only-if-cached).
const REDIRECTS_PAGE = `<!doctype html><title>fetchspan redirects</title><script type="module">
  const steps = (tag) => [fetch('/hop?id=' + tag + '-follow'),
    fetch('/hop?id=' + tag + '-same-origin', { mode: 'same-origin' })];
  const outcomes = (promises) => Promise.all(promises.map((p) => p.then((r) => r.text(), (e) => [e.name, e.message])));
  const hits = async (tag) => (await fetch('/hits?id=' + tag)).json();
  window.result = (async () => {
    const native = await outcomes(steps('native'));
    const { install } = await import('/pkg/index.js');
    const spans = [];
    const tracer = await install({ onSpanEnd: (span) => spans.push(span) });
    const traced = await outcomes(steps('traced'));
    await tracer.uninstall();
    const resends = spans.filter((span) => span.attributes['url.full'].includes('/hop?'))
      .map((span) => [new URL(span.attributes['url.full']).search, span.attributes['http.request.resend_count'] ?? 0]).sort();
    return { native, traced, resends, hits: { native: await hits('native'), traced: await hits('traced') } };
  })().catch((error) => ({ error: String(error) + ' ' + error?.message }));
</script>`;
// The requests the server got per `id` prefix (`/hits?id=native`), as `METHOD /path?id=…` with the prefix left out.
const hits = [];

const server = http.createServer((request, response) => {
  const url = new URL(request.url, 'http://x');
  if (url.pathname === '/redirects') return response.writeHead(200, { 'content-type': 'text/html' }).end(REDIRECTS_PAGE);
  if (url.pathname === '/hop' || url.pathname === '/target') {
    hits.push(`${request.method} ${url.pathname}?id=${url.searchParams.get('id')}`);
    const cors = { 'access-control-allow-origin': '*', 'cache-control': 'no-store' };
    // The other origin: same server, `localhost` instead of `127.0.0.1`.
    if (url.pathname === '/hop') {
      return response.writeHead(302, { location: `http://localhost:${pagePort}/target${url.search}`, ...cors }).end();
    }
    // A preflight that allows no request header.
    if (request.method === 'OPTIONS') return response.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET' }).end();
    return response.writeHead(200, { 'content-type': 'text/plain', ...cors }).end('ok');
  }
  if (url.pathname === '/hits') {
    const prefix = url.searchParams.get('id');
    const seen = hits.filter((hit) => hit.includes(`?id=${prefix}-`)).map((hit) => hit.replace(`?id=${prefix}-`, '?id='));
    return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(seen));
  }
  if (url.pathname === '/') return response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  if (url.pathname === '/shared-page') return response.writeHead(200, { 'content-type': 'text/html' }).end(SHARED_PAGE);
  if (url.pathname === '/shared.js') return response.writeHead(200, { 'content-type': 'text/javascript' }).end(SHARED_WORKER);
  if (url.pathname === '/traceparent') {
    return response.writeHead(200, { 'content-type': 'text/plain' }).end(request.headers.traceparent ?? 'none');
  }
  if (url.pathname === '/sw-page') return response.writeHead(200, { 'content-type': 'text/html' }).end(SW_PAGE);
  if (url.pathname === '/sw.js') return response.writeHead(200, { 'content-type': 'text/javascript' }).end(SERVICE_WORKER);
  if (url.pathname === '/proxied' || url.pathname === '/swr') {
    return response.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length, 'cache-control': 'no-store' })
      .end(BODY);
  }
  if (url.pathname === '/sized') {
    return response.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length }).end(BODY);
  }
  if (url.pathname === '/data') return response.writeHead(200, { 'content-type': 'text/plain' }).end(BODY);
  if (url.pathname === '/slow') {
    // A first chunk, then nothing until the page lets go (or 10 s).
    response.writeHead(200, { 'content-type': 'text/plain' }).write('x'.repeat(1000));
    const end = setTimeout(() => response.end(), 10_000);
    request.on('close', () => clearTimeout(end));
    return undefined;
  }
  if (url.pathname === '/otlp/v1/traces') {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      for (const rs of JSON.parse(body).resourceSpans) for (const ss of rs.scopeSpans) received.push(...ss.spans);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    return undefined;
  }
  const file = path.join(root, url.pathname);
  if (!file.startsWith(path.join(root, 'pkg') + path.sep)) return response.writeHead(404).end();
  try {
    const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    return response.writeHead(200, { 'content-type': type }).end(readFileSync(file));
  } catch {
    return response.writeHead(404).end();
  }
});
await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
const pagePort = server.address().port;

const driverPort = 47900 + Math.floor(Math.random() * 90);
const driver = spawn(driverPath, [`--port=${driverPort}`], { stdio: 'ignore' });
const webdriver = async (method, route, body) => {
  const response = await fetch(`http://127.0.0.1:${driverPort}${route}`, {
    method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body),
  });
  const { value } = await response.json();
  if (!response.ok) throw new Error(`${method} ${route}: ${JSON.stringify(value)}`);
  return value;
};
let session;
// Opens one of the pages above and waits for its `window.result`.
const pageResult = async (route) => {
  await webdriver('POST', `/session/${session}/url`, { url: `http://127.0.0.1:${pagePort}${route}` });
  return webdriver('POST', `/session/${session}/execute/async`, {
    script: 'const done = arguments[arguments.length - 1]; window.result.then(done);', args: [],
  });
};
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log(`${ok ? 'ok  ' : 'FAIL'} ${engine}: ${what}`); };
try {
  for (let tries = 0; ; tries++) {
    try {
      session = (await webdriver('POST', '/session', {
        capabilities: { alwaysMatch: { browserName, [optionsKey]: options } },
      })).sessionId;
      break;
    } catch (error) {
      if (tries > 50) throw error;
      await new Promise((wait) => setTimeout(wait, 200));
    }
  }
  const result = await pageResult('/');
  console.log(`${engine}: ${JSON.stringify(result)}`);
  check(!result.error, 'the page ran');
  check(result.text === BODY.length && result.streamed === BODY.length, 'the app got every byte, whole and streamed');
  check(result.failed === 'TypeError', 'a refused connection rejects with a TypeError');
  check(result.native === result.patched, `name and length of what is patched: ${result.patched} (natively ${result.native})`);
  const spans = Object.fromEntries((result.spans ?? []).map(([url, reason, size]) => [url, [reason, size]]));
  check(JSON.stringify(spans['/data?way=text']) === JSON.stringify(['completed', BODY.length]), 'text(): completed, exact size');
  check(JSON.stringify(spans['/data?way=stream']) === JSON.stringify(['completed', BODY.length]), 'stream: completed, exact size');
  check(spans['/data?way=cancel']?.[0] === 'cancelled', 'cancel: cancelled');
  check(JSON.stringify(spans['/slow']) === JSON.stringify(['aborted', result.first]),
    `the first abort, then a cancel: aborted, with the ${result.first} bytes read (${JSON.stringify(spans['/slow'])})`);
  check(spans['http://127.0.0.1:1/refused']?.[0] === 'error', 'refused: error');
  check(result.flushed?.exported === 5 && received.length === 5, `the collector got the 5 spans (${received.length})`);
  // The service worker, in this engine.
  const worker = await pageResult('/sw-page');
  console.log(`${engine}: service worker: ${JSON.stringify(worker)}`);
  check(JSON.stringify(worker.texts) === JSON.stringify([BODY.length, BODY.length, BODY.length]),
    'service worker: the page gets every body, proxied and stale-while-revalidate');
  check(JSON.stringify(worker.spans) === JSON.stringify([['?sw=1', 'responded', null], ['?sw=2', 'completed', BODY.length],
    ['?sw=2', 'completed', BODY.length]]),
  'service worker: respondWith(fetch(request)) ends responded; both responses cache.put takes end completed, exact size');
  // A shared worker, in this engine.
  const shared = await pageResult('/shared-page');
  console.log(`${engine}: shared worker: ${JSON.stringify(shared)}`);
  const sharedSpans = Object.fromEntries((shared.spans ?? []).map(([url, reason, size, trace]) => [url, [reason, size, trace]]));
  check(shared.text === BODY.length && shared.streamed === BODY.length
    && JSON.stringify(sharedSpans['/sized?way=shared-text']?.slice(0, 2)) === JSON.stringify(['completed', BODY.length])
    && JSON.stringify(sharedSpans['/data?way=shared-stream']?.slice(0, 2)) === JSON.stringify(['completed', BODY.length]),
  'shared worker: every byte, whole and streamed; both spans completed, exact size');
  check(shared.traced?.split('-')[1] === sharedSpans['/traceparent']?.[2],
    `shared worker: the traceparent that went out is the span's (${shared.traced})`);
  // A same-origin request redirected to an origin that refuses our header, in this engine.
  const redirects = await pageResult('/redirects');
  console.log(`${engine}: redirects: ${JSON.stringify(redirects)}`);
  check(!redirects.error && JSON.stringify(redirects.traced) === JSON.stringify(redirects.native)
    && redirects.native?.[0] === 'ok' && redirects.native?.[1]?.[0] === 'TypeError',
  'redirected to an origin that refuses the header: the same outcomes as natively (ok; a TypeError in same-origin mode)');
  const sameOrigin = (list) => JSON.stringify(list?.filter((hit) => hit.endsWith('?id=same-origin')));
  check(sameOrigin(redirects.hits?.traced) === sameOrigin(redirects.hits?.native),
    `same-origin mode: the requests the server got, as natively: ${sameOrigin(redirects.hits?.traced)}`);
  check(JSON.stringify(redirects.resends) === JSON.stringify([['?id=traced-follow', 1], ['?id=traced-same-origin', 0]]),
    `the GET refused for the header was sent once more, the same-origin one not (${JSON.stringify(redirects.resends)})`);
} catch (error) {
  check(false, `WebDriver: ${error.message}`);
} finally {
  if (session) await webdriver('DELETE', `/session/${session}`).catch(() => {});
  driver.kill();
  server.close();
}
process.exit(failures.length ? 1 : 0);
