// The demo check (`bash www/demo.sh --check`): clicks every button of the demo in headless Chromium, checks that the
// span table and the memory plot fill in, that every span reached the embedded collector, and that the console
// has no error the page did not cause on purpose (the HTTP 500 and the refused connection); saves a screenshot;
// then loads fetchspan through the one-line script tag and checks a span.
// Usage: node www/check.mjs http://127.0.0.1:PORT/   (FETCHSPAN_DEMO_SCREENSHOT overrides target/demo.png)
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';

const url = process.argv[2];
const screenshot = process.env.FETCHSPAN_DEMO_SCREENSHOT ?? 'target/demo.png';
const ON_PURPOSE = [/\/status\?code=500/, /^http:\/\/127\.0\.0\.1:9\//]; // the failing request and the network error

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
    '--js-flags=--expose-gc'], // the demo then plots retained memory (it collects before each sample)
});
const failures = [];
const check = (ok, what, detail) => {
  if (!ok) failures.push(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
};

let page;
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const source = message.location()?.url ?? '';
    const onPurpose = message.text().startsWith('Failed to load resource') && ON_PURPOSE.some((p) => p.test(source));
    if (!onPurpose) errors.push(`${message.text()} (${source})`);
  });
  await page.goto(url);
  await page.waitForFunction(() => globalThis.demo, null, { timeout: 20_000 });
  const idle = () => page.waitForFunction(() => globalThis.demo.busy === 0, null, { timeout: 30_000 });
  const spansWith = (reason, count = 1) => page.waitForFunction(([r, n]) =>
    globalThis.demo.seen.filter((s) => s.endReason === r).length >= n, [reason, count], { timeout: 20_000 });

  for (const action of ['ordinary', 'download', 'sse', 'failing', 'network', 'aborted']) {
    await page.click(`button[data-action=${action}]`);
  }
  await idle();

  // The endless stream: start, cancel; start, abandon (ends after idleTimeoutMs, 3 s); then the naive wrapper.
  await page.click('button[data-action=streamStart]');
  await page.waitForFunction(() => globalThis.demo.plots.fetchspan.length >= 10, null, { timeout: 20_000 });
  await page.click('button[data-action=streamCancel]');
  await spansWith('cancelled');
  await idle();
  await page.click('button[data-action=streamStart]');
  await page.waitForFunction(() => globalThis.demo.plots.fetchspan.length >= 25, null, { timeout: 30_000 });
  const fetchspanPlot = await page.evaluate(() => [...globalThis.demo.plots.fetchspan]);
  await page.click('button[data-action=streamAbandon]');
  await spansWith('abandoned');
  await idle();
  await page.click('button[data-action=naive]');
  await page.waitForTimeout(500);
  await idle();
  await page.click('button[data-action=flush]');
  await idle();

  // Every span reached the collector (it is polled every second).
  await page.waitForFunction(() => globalThis.demo.seen.length > 0
    && globalThis.demo.seen.every((s) => globalThis.demo.received.has(s.spanId)), null, { timeout: 20_000 })
    .catch(() => {});
  const summary = await page.evaluate(() => ({
    spans: globalThis.demo.seen.map((s) => [s.attributes['url.full'].replace(location.origin, ''), s.endReason,
      s.attributes['http.response.status_code'] ?? null, s.attributes['fetchspan.response.decoded_size'] ?? null]),
    missing: globalThis.demo.seen.filter((s) => !globalThis.demo.received.has(s.spanId)).map((s) => s.spanId),
    received: globalThis.demo.received.size,
    rows: document.querySelectorAll('#spans tbody tr').length,
    pendingRows: document.querySelectorAll('#spans tbody tr.pending').length,
    exportedMarks: [...document.querySelectorAll('#spans td.exported')].filter((td) => td.textContent === '✓').length,
    collectorRows: document.querySelectorAll('#received tbody tr').length,
    naive: globalThis.demo.plots.naive,
    sseEvents: globalThis.demo.sseEvents,
    stats: globalThis.demo.tracer.stats(),
    probe: document.querySelector('#probe').textContent,
    // The table's cells: method, URL, status, end reason, bytes, stream, time to first byte, duration.
    cells: [...document.querySelectorAll('#spans tbody tr')].map((tr) => [...tr.cells].slice(0, 8).map((td) => td.textContent)),
  }));
  const reasons = (path) => summary.spans.filter(([u]) => u.startsWith(path)).map(([, r]) => r);
  check(reasons('/json').includes('completed'), 'ordinary request: completed', summary.spans);
  check(summary.spans.some(([u, r, , size]) => u.startsWith('/bytes') && r === 'completed' && size === 32_000_000),
    'large download: completed with its 32,000,000 bytes', summary.spans);
  check(reasons('/sse').includes('completed') && summary.sseEvents === 20, 'SSE feed: 20 events, completed', summary.sseEvents);
  check(summary.spans.some(([u, r, status]) => u.startsWith('/status?code=500') && status === 500 && r === 'completed'),
    'failing request: HTTP 500', summary.spans);
  check(reasons('http://127.0.0.1:9/').includes('error'), 'network error: error', summary.spans);
  check(reasons('/slow').includes('aborted'), 'aborted request: aborted', summary.spans);
  check(reasons('/stream?id=demo-live').sort().join() === 'abandoned,cancelled', 'endless stream: cancelled, then abandoned', summary.spans);
  check(!summary.spans.some(([u]) => u.includes('naive-') || u.includes('/rss') || u.includes('/received')),
    'the naive wrapper\'s stream and the page\'s probes are not traced (ignoreUrls)', summary.spans);
  check(summary.rows === summary.spans.length && summary.pendingRows === 0, 'a row per span, none left in flight', summary);
  const completedRow = summary.cells.find((c) => c[1].startsWith('/json') && c[3] === 'completed');
  check(completedRow && completedRow[0] === 'GET' && completedRow[2] === '200' && / B$/.test(completedRow[4])
    && completedRow[5] === '—' && / ms$/.test(completedRow[6]) && / ms$/.test(completedRow[7]),
  'the ordinary request\'s row: method, status, bytes, no stream, time to first byte and duration', summary.cells);
  check(summary.cells.some((c) => c[1].startsWith('/sse') && / chunks · 20 events/.test(c[5])),
    'the SSE feed\'s row: its chunks and 20 events', summary.cells);
  check(summary.cells.some((c) => c[1].startsWith('/status') && c[2] === '500'), 'the failing request\'s row shows 500', summary.cells);
  check(summary.missing.length === 0 && summary.received >= summary.spans.length && summary.exportedMarks === summary.spans.length,
    'the collector received every span', { missing: summary.missing, received: summary.received });
  check(summary.collectorRows > 0, 'the collector panel lists spans');
  const peak = (series) => Math.max(...series.map((p) => p.rss).filter(Number.isFinite));
  check(fetchspanPlot.length >= 25 && summary.naive.length >= 3, 'both plots have points',
    { fetchspan: fetchspanPlot.length, naive: summary.naive.length });
  check(fetchspanPlot.at(-1).read > 64 && summary.naive.at(-1).read > 8, 'bytes read climb in both plots',
    { fetchspan: fetchspanPlot.at(-1), naive: summary.naive.at(-1) });
  if (/unavailable/.test(summary.probe)) {
    failures.push(`the memory probe found no renderer: ${summary.probe}`);
  } else {
    check(peak(summary.naive) > 256 && peak(fetchspanPlot) < 48, 'the naive wrapper\'s memory climbs, fetchspan\'s stays flat',
      { fetchspanPeakMiB: peak(fetchspanPlot), naivePeakMiB: peak(summary.naive) });
  }
  check(errors.length === 0, 'no console error the page did not cause on purpose', errors);

  // The one-line script tag.
  const tag = await browser.newPage();
  const tagErrors = [];
  tag.on('console', (message) => message.type() === 'error' && tagErrors.push(message.text()));
  tag.on('pageerror', (error) => tagErrors.push(error.message));
  await tag.goto(new URL('script-tag.html', url).href);
  const viaTag = await tag.evaluate(async () => {
    await Promise.race([globalThis.fetchspan.ready,
      new Promise((_, reject) => setTimeout(() => reject(new Error('fetchspan.ready: not within 20 s')), 20_000))]);
    await (await fetch('/json')).json();
    return globalThis.endedSpans.map((span) => [span.name, span.endReason, span.attributes['fetchspan.response.decoded_size']]);
  });
  check(viaTag.length >= 1 && viaTag.every((s) => JSON.stringify(s) === JSON.stringify(['GET', 'completed', 27])),
    'script tag: spans for /json', viaTag);
  check(tagErrors.length === 0, 'script tag: no console error', tagErrors);

  console.log(`demo: ${summary.spans.length} spans (${summary.spans.map(([, r]) => r).join(', ')}), collector got ${summary.received}; `
    + `memory peaks: fetchspan +${peak(fetchspanPlot).toFixed(0)} MiB, naive clone +${peak(summary.naive).toFixed(0)} MiB; `
    + `screenshot ${screenshot}; script tag: ${JSON.stringify(viaTag)}`);
} catch (error) {
  failures.push(`the check stopped: ${error.message}`);
} finally {
  // The screenshot, whatever happened (a failed wait shows where the page was).
  if (page) {
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0)).catch(() => {});
    await page.screenshot({ path: screenshot, fullPage: true }).catch((error) => failures.push(`no screenshot: ${error.message}`));
  }
  await browser.close();
}
if (failures.length) {
  for (const failure of failures) console.error(`FAIL ${failure}`);
  process.exit(1);
}
console.log('demo check passed');
