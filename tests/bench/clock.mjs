// What one `performance.now()` call costs in headless Chromium: the price of the pump's second clock read per
// streamed chunk (README, Known differences). `node tests/bench/clock.mjs`; prints ns per call, five rounds of 10^7
// calls whose results are used (an unused result lets the compiler drop the calls), against the same empty loop.
import { launch } from './chromium.mjs';

const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto('about:blank');
  const rounds = await page.evaluate(() => {
    const n = 1e7;
    const out = [];
    let sink = 0;
    for (let round = 0; round < 5; round++) {
      let t0 = Date.now();
      let sum = 0;
      for (let i = 0; i < n; i++) sum += performance.now();
      const clock = ((Date.now() - t0) / n) * 1e6;
      t0 = Date.now();
      let empty = 0;
      for (let i = 0; i < n; i++) empty += i * 0.5;
      const loop = ((Date.now() - t0) / n) * 1e6;
      sink += sum + empty;
      out.push(`${clock.toFixed(0)} ns (empty loop ${loop.toFixed(1)} ns)`);
    }
    return sink > 0 ? out : [];
  });
  console.log(`performance.now(), per call: ${rounds.join('; ')}`);
} finally {
  await browser.close();
}
