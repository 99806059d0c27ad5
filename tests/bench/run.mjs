// fetchspan's benchmark: one headless Chromium run, uninstrumented and instrumented side by side.
//   per-request cost: renderer main-thread task time (CDP Performance.getMetrics TaskDuration, thread CPU time)
//                     per fetch().json(),
//                     median of paired differences over interleaved rounds (wall time swings too much here);
//   own cost:         the same calls against a stub fetch (no network), wall time: fetchspan's work alone;
//   throughput:       MiB/s reading an endless stream, median of paired ratios over interleaved rounds;
//   memory:           retained renderer RSS growth while reading 512 MiB.
import { chromium } from 'playwright-core';

const url = process.argv[2];
const ROUNDS = 20;
const PER_ROUND = 200;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run', '--js-flags=--expose-gc'],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => globalThis.bench);
  const cdp = await page.context().newCDPSession(page);
  // threadTicks: task durations in the renderer main thread's CPU time, so a thread descheduled on a busy
  // 2-core machine does not count as work.
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  const taskSeconds = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
  const mode = (on) => page.evaluate((value) => globalThis.bench.instrument(value), on);
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

  // Interleaved rounds; the figure is the median of paired differences (each instrumented round against the
  // uninstrumented round next to it), which cancels the drift of a shared, noisy machine.
  const cost = { off: [], on: [], diff: [] };
  for (let round = -1; round < ROUNDS; round++) {
    const pair = {};
    for (const on of round % 2 ? [false, true] : [true, false]) {
      await mode(on);
      const before = await taskSeconds();
      await page.evaluate((n) => globalThis.bench.smallFetches(n), PER_ROUND);
      pair[on] = ((await taskSeconds()) - before) / PER_ROUND * 1e6;
    }
    if (round >= 0) {
      cost.off.push(pair[false]);
      cost.on.push(pair[true]);
      cost.diff.push(pair[true] - pair[false]);
    }
  }
  const own = await page.evaluate(() => globalThis.bench.ownCost(2000, 8));

  const speed = { off: [], on: [], ratio: [] };
  for (let round = 0; round < 8; round++) {
    const pair = {};
    for (const on of round % 2 ? [false, true] : [true, false]) {
      await mode(on);
      pair[on] = await page.evaluate(() => globalThis.bench.throughput(256));
    }
    speed.off.push(pair[false]);
    speed.on.push(pair[true]);
    speed.ratio.push(pair[true] / pair[false]);
  }

  const sse = { off: [], on: [], ratio: [] };
  for (let round = 0; round < 6; round++) {
    const pair = {};
    for (const on of round % 2 ? [false, true] : [true, false]) {
      await mode(on);
      pair[on] = await page.evaluate(() => globalThis.bench.sseThroughput(20000));
    }
    sse.off.push(pair[false]);
    sse.on.push(pair[true]);
    sse.ratio.push(pair[true] / pair[false]);
  }

  await mode(false);
  const pid = await page.evaluate(() => globalThis.bench.findRenderer());
  const rssOff = await page.evaluate((p) => globalThis.bench.rssGrowth(p), pid);
  await mode(true);
  const rssOn = await page.evaluate((p) => globalThis.bench.rssGrowth(p), pid);
  await mode(false);

  const off = median(cost.off);
  const on = median(cost.on);
  const signed = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(0)} µs`;
  const rows = [
    [`per-request main-thread task time (CPU), fetch().json() (${ROUNDS} paired rounds of ${PER_ROUND}; median difference)`, `${off.toFixed(0)} µs`, `${on.toFixed(0)} µs`, signed(median(cost.diff))],
    ['fetchspan\'s own cost per request against a stub fetch, no network (wall time, median of 8 × 2000)', `${own.off.toFixed(1)} µs`, `${own.on.toFixed(1)} µs`, `+${(own.on - own.off).toFixed(1)} µs`],
    ['same, reading the body as a stream (through the counting TransformStream)', `${own.streamOff.toFixed(1)} µs`, `${own.streamOn.toFixed(1)} µs`, `+${(own.streamOn - own.streamOff).toFixed(1)} µs`],
    ['endless-stream throughput (8 paired rounds of 256 MiB; medians, and the median of paired ratios)', `${median(speed.off).toFixed(0)} MiB/s`, `${median(speed.on).toFixed(0)} MiB/s`, `ratio ${median(speed.ratio).toFixed(3)}`],
    ['SSE throughput, 20,000 small events one per chunk (6 paired rounds; medians, median of paired ratios)', `${median(sse.off).toFixed(0)} events/s`, `${median(sse.on).toFixed(0)} events/s`, `ratio ${median(sse.ratio).toFixed(3)}`],
    ['retained renderer RSS growth over 512 MiB', `${rssOff.toFixed(1)} MiB`, `${rssOn.toFixed(1)} MiB`, `${(rssOn - rssOff).toFixed(1)} MiB`],
  ];
  console.log('| measure | uninstrumented | fetchspan | difference |\n|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log(`\npaired differences (µs): ${cost.diff.map((v) => v.toFixed(0)).join(' ')}`);
  console.log(`throughput rounds (MiB/s, off / on): ${speed.off.map((v) => v.toFixed(0)).join(' ')} / ${speed.on.map((v) => v.toFixed(0)).join(' ')}`);
} finally {
  await browser.close();
}
