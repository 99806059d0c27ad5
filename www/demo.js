// The demo page: installs fetchspan with an embedded default collector (the demo server's OTLP receiver, same
// origin, so no account or collector is needed) and shows what onSpanEnd saw next to what the collector received.
import { install } from '/pkg/index.js';

const collector = `${location.origin}/c/demo`;
const seen = [];
const tracer = await install({
  endpoint: `${collector}/ok`,
  serviceName: 'fetchspan-demo',
  scheduledDelayMs: 500,
  ignoreUrls: [`${collector}/received`],
  onSpanEnd: (span) => {
    seen.push(span);
    const row = document.querySelector('#spans tbody').insertRow(0);
    const cells = [span.name, span.attributes['url.full'].replace(location.origin, ''), span.status,
      span.endReason, span.attributes['fetchspan.response.decoded_size'] ?? '—', span.durationMs.toFixed(1)];
    for (const text of cells) row.insertCell().textContent = String(text);
    if (span.status === 'error') row.cells[2].className = 'error';
  },
});
globalThis.demo = { tracer, seen };

const actions = {
  json: async () => (await fetch('/json')).json(),
  bytes: async () => (await fetch('/bytes?n=10000000')).arrayBuffer(),
  stream: async () => {
    const reader = (await fetch(`/stream?id=demo-${Date.now()}`)).body.getReader();
    for (let read = 0; read < 64 << 20;) read += (await reader.read()).value.byteLength;
    await reader.cancel();
  },
  abort: async () => {
    const controller = new AbortController();
    const reader = (await fetch(`/stream?id=demo-abort-${Date.now()}`, { signal: controller.signal })).body.getReader();
    await reader.read();
    controller.abort();
    await reader.read().catch(() => {});
  },
  notFound: async () => (await fetch('/status?code=404')).text(),
  refused: async () => fetch('http://127.0.0.1:9/').catch(() => {}),
  head: async () => fetch('/bytes?n=100', { method: 'HEAD' }),
  flush: async () => {
    const result = await tracer.forceFlush(2000);
    document.querySelector('#status').textContent = `forceFlush: ${JSON.stringify(result)}`;
  },
};

for (const button of document.querySelectorAll('#actions button')) {
  button.addEventListener('click', () => actions[button.dataset.action]().then(refreshStats));
}

function refreshStats() {
  const s = tracer.stats();
  document.querySelector('#status').textContent =
    `started ${s.started} · ended ${s.ended} · open ${s.open} · exported ${s.exported} · queued ${s.queued} · dropped ${s.dropped}`;
}

async function pollCollector() {
  const report = await (await fetch(`${collector}/received`)).json();
  const spans = report.accepted.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  document.querySelector('#collector').textContent =
    `${spans.length} spans in ${report.accepted.length} requests, ${report.rejected.length} refused by the strict decoder`;
  const body = document.querySelector('#received tbody');
  body.replaceChildren();
  for (const span of spans.slice(-20).reverse()) {
    const row = body.insertRow();
    const reason = span.attributes.find((a) => a.key === 'fetchspan.end_reason')?.value.stringValue ?? '';
    for (const text of [span.spanId.slice(0, 8), span.name, reason]) row.insertCell().textContent = text;
  }
  refreshStats();
}

refreshStats();
setInterval(pollCollector, 1000);
