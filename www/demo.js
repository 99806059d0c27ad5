// The demo page (README command 1, `bash www/demo.sh`): installs fetchspan with the demo server's embedded OTLP
// receiver as collector (same origin, a tenant of its own per page load, so no account is needed), makes requests
// that end every way a span can end, and shows what onSpanEnd saw, what the collector received, and the tab's
// memory while an endless stream is read through fetchspan and through a naive clone-based wrapper.
// www/check.mjs drives it headlessly; it reads `globalThis.demo`.
import { install } from '/pkg/index.js';

const MiB = 1 << 20;
const PACE = 32 * MiB; // endless streams are read at this many bytes per second
const NAIVE_SECONDS = 6;
const NAIVE_MAX_GROWTH_MIB = 384; // the naive run stops here, to spare the machine
// Retained memory is what matters, not garbage waiting for the collector: when the browser exposes gc()
// (`--js-flags=--expose-gc`, as www/check.mjs starts it), each memory sample is taken right after a collection.
const collect = typeof globalThis.gc === 'function' ? () => globalThis.gc() : () => {};
const $ = (selector) => document.querySelector(selector);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tenant = `demo-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
const collector = `${location.origin}/c/${tenant}`;

const seen = []; // every span onSpanEnd received
const pending = new Map(); // absolute URL → its table row while the request is in flight
const rowsBySpanId = new Map();
const received = new Set(); // span ids the collector has
const plots = { fetchspan: [], naive: [] };
let requestNumber = 0;

let tracer;
try {
  tracer = await install({
    endpoint: `${collector}/ok`,
    serviceName: 'fetchspan-demo',
    scheduledDelayMs: 500,
    idleTimeoutMs: 3000,
    // The page's own probes, and the naive wrapper's stream (it stands for another instrumentation).
    ignoreUrls: [`${collector}/received`, `${location.origin}/rss`, /\/stream\?id=naive-/],
    onSpanEnd: showSpan,
  });
} catch (error) {
  $('#status').textContent = String(error.message);
  $('#status').classList.add('error');
  throw error;
}
globalThis.demo = { tracer, seen, plots, received, tenant, busy: 0 };

// ---------------------------------------------------------------------------------------------------------------
// The span table.

const unique = (path) => `${path}${path.includes('?') ? '&' : '?'}r=${++requestNumber}`;
const absolute = (url) => new URL(url, location.href).href;
const shortUrl = (url) => (url.startsWith(location.origin) ? url.slice(location.origin.length) : url);
const ms = (value) => (Number.isFinite(value) ? `${value < 10 ? value.toFixed(1) : Math.round(value)} ms` : '—');

function bytes(n) {
  if (n === undefined || n === null) return '—';
  if (n < 10_000) return `${n} B`;
  if (n < 10 * MiB) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / MiB).toFixed(1)} MiB`;
}

function cells(row, values) {
  row.replaceChildren();
  for (const [text, className, title] of values) {
    const cell = row.insertCell();
    if (text instanceof Node) cell.append(text);
    else cell.textContent = text;
    if (className) cell.className = className;
    if (title) cell.title = title;
  }
}

/** What a streamed body's span says of the stream: chunks, SSE events, the longest wait, stalls by cause. */
function streamSummary(span) {
  const a = span.attributes;
  if (a['fetchspan.response.chunks'] === undefined) return ['—', 'num'];
  const parts = [`${a['fetchspan.response.chunks']} chunks`];
  if (a['fetchspan.sse.events'] !== undefined) parts.push(`${a['fetchspan.sse.events']} events`);
  const gap = a['fetchspan.response.max_gap_ms'];
  if (gap >= 1) parts.push(`max gap ${ms(gap)}`);
  for (const [event, label] of [['fetchspan.stall', 'network stall'], ['fetchspan.backpressure', 'backpressure wait']]) {
    const n = span.events.filter((e) => e.name === event).length;
    if (n > 0) parts.push(`${n} ${label}${n > 1 ? 's' : ''}`);
  }
  return [parts.join(' · '), 'num stream',
    `first chunk after ${ms(a['fetchspan.response.time_to_first_chunk_ms'])}; the longest wait for data: ${ms(gap)}`];
}

function badge(reason) {
  const span = document.createElement('span');
  span.className = `reason ${reason}`;
  span.textContent = reason;
  return span;
}

/** A row for a request in flight; the span fills it in when it ends. Returns a live byte counter for it. */
function track(method, url) {
  const row = $('#spans tbody').insertRow(0);
  row.className = 'pending fresh';
  const draw = (live) => cells(row, [[method], [shortUrl(url), 'url', url], ['…'], [badge('open')],
    [live === undefined ? '…' : bytes(live), 'num'], ['…', 'num'], ['…', 'num'], ['…', 'num'], ['']]);
  draw();
  pending.set(absolute(url), row);
  return (live) => row.classList.contains('pending') && draw(live);
}

function showSpan(span) {
  seen.push(span);
  const url = span.attributes['url.full'] ?? '';
  let row = pending.get(url);
  if (row) pending.delete(url);
  else row = $('#spans tbody').insertRow(0);
  row.className = 'fresh';
  const firstByte = span.events.find((e) => e.name === 'fetchspan.response.first_byte')
    ?? span.events.find((e) => e.name === 'fetchspan.response.headers');
  const status = span.attributes['http.response.status_code'];
  const size = span.attributes['fetchspan.response.decoded_size'];
  cells(row, [
    [span.name],
    [shortUrl(url), 'url', url],
    [status === undefined ? (span.attributes['error.type'] ?? '—') : String(status), span.status === 'error' ? 'error' : ''],
    [badge(span.endReason)],
    [bytes(size), 'num', `size source: ${span.attributes['fetchspan.response.size_source']}`],
    streamSummary(span),
    [ms(firstByte ? firstByte.time - span.startTime : NaN), 'num'],
    [ms(span.durationMs), 'num'],
    [received.has(span.spanId) ? '✓' : '…', 'exported', span.spanId],
  ]);
  rowsBySpanId.set(span.spanId, row);
  refreshStats();
}

// ---------------------------------------------------------------------------------------------------------------
// Requests that end every way a span can end.

async function readStream(response, onBytes, { pace = Infinity, until = () => false } = {}) {
  const reader = response.body.getReader();
  const started = performance.now();
  let read = 0;
  for (;;) {
    if (until()) return { reader, read };
    const { done, value } = await reader.read();
    if (done) return { reader, read };
    read += value.byteLength;
    onBytes(read);
    const ahead = (read / pace) * 1000 - (performance.now() - started);
    if (ahead > 0) await sleep(ahead);
  }
}

const actions = {
  async ordinary() {
    const url = unique('/json');
    track('GET', url);
    await (await fetch(url)).json();
  },
  async download() {
    const url = unique('/bytes?n=32000000');
    track('GET', url);
    await (await fetch(url)).arrayBuffer();
  },
  async failing() {
    const url = unique('/status?code=500');
    track('GET', url);
    await (await fetch(url)).text();
  },
  async network() {
    const url = unique('http://127.0.0.1:9/refused');
    track('GET', url);
    await fetch(url).catch(() => {});
  },
  async aborted() {
    const url = unique('/slow?chunks=40&size=4096&delayMs=50');
    const live = track('GET', url);
    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal });
    setTimeout(() => controller.abort(), 400);
    await readStream(response, live).catch(() => {});
  },
  async flush() {
    const result = await tracer.forceFlush(2000);
    flash(`forceFlush(2000) → ${JSON.stringify(result)}`);
  },
  streamStart: () => endless.start(),
  streamCancel: () => endless.stop('cancel'),
  streamAbandon: () => endless.stop('abandon'),
  naive: () => naiveRun(),
};

// The SSE feed, parsed as it arrives (what an app reading LLM tokens or live updates does).
actions.sse = async () => {
  const url = unique('/sse?events=20&delayMs=100');
  const live = track('GET', url);
  const response = await fetch(url, { headers: { accept: 'text/event-stream' } });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  let events = 0;
  let bytesRead = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytesRead += new TextEncoder().encode(value).byteLength;
    live(bytesRead);
    text += value;
    let end;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const data = text.slice(0, end).split('\n').find((line) => line.startsWith('data: '))?.slice(6);
      text = text.slice(end + 2);
      events += 1;
      $('#sse-line').textContent = `SSE event ${events}: ${data}`;
    }
  }
  $('#sse-line').textContent = `SSE feed done: ${events} events`;
  globalThis.demo.sseEvents = events;
};

// ---------------------------------------------------------------------------------------------------------------
// The endless stream, through fetchspan (start, cancel, abandon), and the same stream through a naive wrapper.

let rendererPid; // this tab's renderer, found once
let probe = null;

async function renderers() {
  const { renderers: list } = await (await fetch('/rss')).json();
  return new Map(list.map((r) => [r.pid, r.rssAnonKiB]));
}

/** This tab's renderer: the one whose RssAnon jumps when the page touches 96 MiB. */
async function findRenderer() {
  if (rendererPid !== undefined) return rendererPid;
  const before = await renderers();
  let ballast = new Uint8Array(96 * MiB).fill(1);
  const after = await renderers();
  let best = null;
  for (const [pid, kib] of after) {
    const grew = kib - (before.get(pid) ?? kib);
    if (ballast[pid % ballast.length] === 1 && (!best || grew > best.grew)) best = { pid, grew };
  }
  ballast = null;
  collect();
  rendererPid = best && best.grew > 48 * 1024 ? best.pid : null;
  $('#probe').textContent = rendererPid
    ? `· renderer pid ${rendererPid}, ${typeof globalThis.gc === 'function'
      ? 'retained memory (collected before each sample)'
      : 'includes garbage not yet collected (Chromium with --js-flags=--expose-gc shows retained memory only)'}`
    : '· memory probe unavailable (the server reads Chromium renderers from its own /proc)';
  return rendererPid;
}

async function rssMiB() {
  if (!rendererPid) return NaN;
  return ((await renderers()).get(rendererPid) ?? NaN) / 1024;
}

/** Samples bytes read and memory growth into `series` every 200 ms until `stop()` is called. */
async function sampler(series, canvas, readNow) {
  await findRenderer();
  collect();
  const base = await rssMiB();
  const started = performance.now();
  series.length = 0;
  const state = { running: true, growth: 0 };
  (async () => {
    while (state.running) {
      collect();
      const rss = await rssMiB();
      state.growth = rss - base;
      series.push({ t: (performance.now() - started) / 1000, read: readNow() / MiB, rss: state.growth });
      draw(canvas, series);
      await sleep(200);
    }
  })();
  return state;
}

const endless = {
  run: null,
  async start() {
    if (this.run) return;
    const url = `/stream?id=demo-live-${++requestNumber}`;
    const live = track('GET', url);
    const run = { stopping: null, read: 0 };
    this.run = run;
    buttons(true);
    const sampling = await sampler(plots.fetchspan, $('#plot-fetchspan'), () => run.read);
    try {
      const response = await fetch(url);
      const { reader } = await readStream(response, (read) => {
        run.read = read;
        live(read);
      }, { pace: PACE, until: () => run.stopping !== null });
      if (run.stopping === 'cancel') await reader.cancel();
      // 'abandon': the reader is simply dropped; the span ends as abandoned after idleTimeoutMs.
    } finally {
      sampling.running = false;
      this.run = null;
      buttons(false);
    }
  },
  stop(how) {
    if (this.run) this.run.stopping = how;
  },
};

function buttons(streaming) {
  $('[data-action=streamStart]').disabled = streaming;
  $('[data-action=streamCancel]').disabled = !streaming;
  $('[data-action=streamAbandon]').disabled = !streaming;
}

/** A naive instrumentation: keeps a clone of every response to measure its body "once the app is done". */
const kept = [];
async function naiveFetch(input, init) {
  const response = await fetch(input, init);
  kept.push(response.clone());
  return response;
}

async function naiveRun() {
  const button = $('[data-action=naive]');
  if (button.disabled) return;
  button.disabled = true;
  const run = { read: 0 };
  const sampling = await sampler(plots.naive, $('#plot-naive'), () => run.read);
  const deadline = performance.now() + NAIVE_SECONDS * 1000;
  try {
    const response = await naiveFetch(`/stream?id=naive-${++requestNumber}`);
    const { reader } = await readStream(response, (read) => {
      run.read = read;
    }, { pace: PACE, until: () => performance.now() > deadline || sampling.growth > NAIVE_MAX_GROWTH_MIB });
    run.stoppedEarly = sampling.growth > NAIVE_MAX_GROWTH_MIB;
    await sleep(400); // one more sample at the peak
    await reader.cancel();
  } finally {
    sampling.running = false;
    if (run.stoppedEarly) $('#probe').textContent += ` · the naive run stopped at +${NAIVE_MAX_GROWTH_MIB} MiB`;
    await Promise.all(kept.splice(0).map((clone) => clone.body?.cancel()));
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The plot: MiB read (blue) and renderer memory growth (red) against seconds, on a canvas.

function draw(canvas, series) {
  const context = canvas.getContext('2d');
  const { width, height } = canvas;
  const pad = { left: 46, right: 10, top: 12, bottom: 24 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const tMax = Math.max(NAIVE_SECONDS, ...series.map((p) => p.t));
  const values = series.flatMap((p) => [p.read, p.rss]).filter(Number.isFinite);
  const yMax = niceCeil(Math.max(32, ...values));
  const yMin = Math.min(0, ...values);
  const x = (t) => pad.left + (t / tMax) * plotW;
  const y = (v) => pad.top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
  context.clearRect(0, 0, width, height);
  context.font = '11px system-ui, sans-serif';
  context.strokeStyle = '#e3e7ef';
  context.fillStyle = '#6b7487';
  context.lineWidth = 1;
  for (let i = 0; i <= 4; i += 1) {
    const v = yMin + ((yMax - yMin) * i) / 4;
    context.beginPath();
    context.moveTo(pad.left, y(v));
    context.lineTo(width - pad.right, y(v));
    context.stroke();
    context.fillText(`${Math.round(v)} MiB`, 2, y(v) + 4);
  }
  for (let t = 0; t <= tMax; t += Math.max(1, Math.ceil(tMax / 8))) context.fillText(`${t}s`, x(t) - 6, height - 6);
  const line = (key, color) => {
    context.strokeStyle = color;
    context.lineWidth = 2.2;
    context.beginPath();
    let started = false;
    for (const point of series) {
      if (!Number.isFinite(point[key])) continue;
      if (started) context.lineTo(x(point.t), y(point[key]));
      else context.moveTo(x(point.t), y(point[key]));
      started = true;
    }
    context.stroke();
  };
  line('read', '#2f80ed');
  line('rss', '#e5484d');
  const last = series[series.length - 1];
  if (last) {
    context.fillStyle = '#1d2433';
    context.fillText(`read ${last.read.toFixed(0)} MiB · memory ${Number.isFinite(last.rss) ? `${last.rss >= 0 ? '+' : ''}${last.rss.toFixed(0)} MiB` : 'n/a'}`,
      pad.left + 8, pad.top + 12);
  }
}

function niceCeil(value) {
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

// ---------------------------------------------------------------------------------------------------------------
// Status line and the collector panel.

let flashUntil = 0;
function flash(text) {
  flashUntil = performance.now() + 4000;
  $('#status').textContent = text;
}

function refreshStats() {
  if (performance.now() < flashUntil) return;
  const s = tracer.stats();
  $('#status').textContent = `started ${s.started} · ended ${s.ended} · open ${s.open} · exported ${s.exported}`
    + ` · queued ${s.queued} · dropped ${s.dropped} · passthroughFailures ${s.passthroughFailures}`;
}

const attribute = (span, key) => {
  const value = span.attributes.find((a) => a.key === key)?.value ?? {};
  return value.stringValue ?? value.intValue ?? '';
};

async function pollCollector() {
  const report = await (await fetch(`${collector}/received`)).json();
  const spans = report.accepted.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  $('#collector').textContent = `${spans.length} spans in ${report.accepted.length} export requests`
    + ` · ${report.rejected.length} refused by the strict opentelemetry-proto decoder · tenant ${tenant}`;
  const body = $('#received tbody');
  body.replaceChildren();
  for (const span of spans) {
    if (!received.has(span.spanId)) {
      received.add(span.spanId);
      const row = rowsBySpanId.get(span.spanId);
      if (row) row.cells[8].textContent = '✓';
    }
  }
  for (const span of spans.slice(-12).reverse()) {
    const size = attribute(span, 'fetchspan.response.decoded_size');
    cells(body.insertRow(), [[span.spanId], [span.name], [shortUrl(attribute(span, 'url.full')), 'url'],
      [badge(attribute(span, 'fetchspan.end_reason'))], [size === '' ? '—' : bytes(Number(size)), 'num']]);
  }
  refreshStats();
}

for (const button of document.querySelectorAll('button[data-action]')) {
  button.addEventListener('click', async () => {
    globalThis.demo.busy += 1;
    button.classList.add('busy');
    try {
      await actions[button.dataset.action]();
    } catch (error) {
      flash(`${button.dataset.action}: ${error.message}`);
    } finally {
      button.classList.remove('busy');
      globalThis.demo.busy -= 1;
      refreshStats();
    }
  });
}

draw($('#plot-fetchspan'), plots.fetchspan);
draw($('#plot-naive'), plots.naive);
refreshStats();
setInterval(() => pollCollector().catch(() => {}), 1000);
