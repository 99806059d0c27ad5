// How every benchmark script starts Chromium and reads its CPU time, in one place, so that their figures are taken
// under the same conditions: Debian's Chromium through playwright-core (its own browser download fails here),
// headless, with the background work that would add noise turned off, and `gc()` exposed to the page.
import { chromium } from 'playwright-core';

/** Launches the benchmarks' headless Chromium. */
export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run', '--js-flags=--expose-gc'],
  });
}

/**
 * Starts counting `page`'s renderer main-thread task time in thread ticks (its CPU time, so a thread descheduled on
 * a busy 2-core machine does not count as work). Resolves to `{ cdp, taskSeconds }`: the CDP session, and a
 * function that resolves to the seconds counted so far (`TaskDuration`).
 */
export async function taskTime(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  const taskSeconds = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
  return { cdp, taskSeconds };
}
