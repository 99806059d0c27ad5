// fetchspan's benchmark: one headless Chromium run, uninstrumented and instrumented side by side.
//   per-request cost: renderer main-thread task time (CDP Performance.getMetrics TaskDuration) per fetch().json(),
//                     median over interleaved rounds (wall time swings too much here to show it);
//   throughput:       MiB/s reading an endless stream, best of interleaved rounds;
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
  await cdp.send('Performance.enable');
  const taskSeconds = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
  const mode = (on) => page.evaluate((value) => globalThis.bench.instrument(value), on);
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

  const cost = { off: [], on: [] };
  for (let round = -1; round < ROUNDS; round++) {
    for (const on of round % 2 ? [false, true] : [true, false]) {
      await mode(on);
      const before = await taskSeconds();
      await page.evaluate((n) => globalThis.bench.smallFetches(n), PER_ROUND);
      const microseconds = ((await taskSeconds()) - before) / PER_ROUND * 1e6;
      if (round >= 0) cost[on ? 'on' : 'off'].push(microseconds);
    }
  }

  const speed = { off: [], on: [] };
  for (let round = 0; round < 4; round++) {
    for (const on of round % 2 ? [false, true] : [true, false]) {
      await mode(on);
      speed[on ? 'on' : 'off'].push(await page.evaluate(() => globalThis.bench.throughput(256)));
    }
  }

  await mode(false);
  const pid = await page.evaluate(() => globalThis.bench.findRenderer());
  const rssOff = await page.evaluate((p) => globalThis.bench.rssGrowth(p), pid);
  await mode(true);
  const rssOn = await page.evaluate((p) => globalThis.bench.rssGrowth(p), pid);
  await mode(false);

  const off = median(cost.off);
  const on = median(cost.on);
  const best = (values) => Math.max(...values);
  const rows = [
    ['per-request main-thread task time (median of 20 rounds of 200 fetch().json())', `${off.toFixed(0)} µs`, `${on.toFixed(0)} µs`, `+${(on - off).toFixed(0)} µs`],
    ['endless-stream throughput (best of 4 × 256 MiB)', `${best(speed.off).toFixed(0)} MiB/s`, `${best(speed.on).toFixed(0)} MiB/s`, `ratio ${(best(speed.on) / best(speed.off)).toFixed(3)}`],
    ['retained renderer RSS growth over 512 MiB', `${rssOff.toFixed(1)} MiB`, `${rssOn.toFixed(1)} MiB`, `${(rssOn - rssOff).toFixed(1)} MiB`],
  ];
  console.log('| measure | uninstrumented | fetchspan | difference |\n|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log(`\nrounds (µs, off / on): ${cost.off.map((v) => v.toFixed(0)).join(' ')} / ${cost.on.map((v) => v.toFixed(0)).join(' ')}`);
  console.log(`throughput rounds (MiB/s, off / on): ${speed.off.map((v) => v.toFixed(0)).join(' ')} / ${speed.on.map((v) => v.toFixed(0)).join(' ')}`);
} finally {
  await browser.close();
}
