// Smoke test of the demo (www/demo.sh --check): clicks every action and checks that onSpanEnd and the embedded
// collector saw the spans; then loads fetchspan the script-tag way and checks a span.
import { chromium } from 'playwright-core';

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(url);
  await page.waitForFunction(() => globalThis.demo);
  for (const action of ['json', 'bytes', 'stream', 'abort', 'notFound', 'refused', 'head']) {
    await page.click(`button[data-action=${action}]`);
  }
  await page.waitForFunction(() => globalThis.demo.seen.length >= 7, null, { timeout: 20_000 });
  await page.click('button[data-action=flush]');
  await page.waitForFunction(() => /collector: |spans in/.test(document.querySelector('#collector').textContent)
    && Number(document.querySelector('#collector').textContent.split(' ')[0]) >= 7, null, { timeout: 20_000 });
  const summary = await page.evaluate(() => ({
    reasons: globalThis.demo.seen.map((s) => s.endReason).sort(),
    collector: document.querySelector('#collector').textContent,
  }));
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);

  // The script-tag entry: configured through globalThis.fetchspanConfig, tracer at globalThis.fetchspan.tracer.
  const tag = await browser.newPage();
  await tag.goto(new URL('script-tag.html', url).href);
  const viaTag = await tag.evaluate(async () => {
    await globalThis.fetchspan.tracer;
    await (await fetch('/json')).json();
    return globalThis.endedSpans.map((span) => [span.name, span.endReason, span.attributes['fetchspan.response.decoded_size']]);
  });
  if (JSON.stringify(viaTag) !== JSON.stringify([['GET', 'completed', 27]])) {
    throw new Error(`script-tag entry: unexpected spans ${JSON.stringify(viaTag)}`);
  }
  console.log(`demo check passed: ${JSON.stringify(summary)}; script tag: ${JSON.stringify(viaTag)}`);
} finally {
  await browser.close();
}
