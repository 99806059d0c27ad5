// Drives tests/bench/ab.html (see ab.sh): renderer main-thread CPU (TaskDuration in thread ticks) per request,
// uninstrumented, A and B in interleaved rounds (the order alternates), and the medians of the paired differences.
// Usage: node tests/bench/ab.mjs URL [rounds=40] [paths=whole,stream] [users=0|1]
import { launch, taskTime } from './chromium.mjs';

const [url, rounds = '40', paths = 'whole,stream', users = '0'] = process.argv.slice(2);
const N = 200;
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => globalThis.ab);
  const { taskSeconds } = await taskTime(page);
  const cpu = {};
  for (let round = -1; round < Number(rounds); round++) {
    for (const mode of round % 2 ? ['off', 'a', 'b'] : ['b', 'a', 'off']) {
      await page.evaluate(([m, u]) => globalThis.ab.mode(m, u), [mode, users === '1']);
      for (const path of paths.split(',')) {
        const before = await taskSeconds();
        await page.evaluate(([p, n, u]) => globalThis.ab.window(p, n, u), [path, N, users === '1']);
        if (round >= 0) (cpu[`${path}/${mode}`] ??= []).push(((await taskSeconds()) - before) / N * 1e6);
      }
    }
  }
  const median = (list) => [...list].sort((x, y) => x - y)[list.length >> 1];
  const diff = (path, m, base) => cpu[`${path}/${m}`].map((v, i) => v - cpu[`${path}/${base}`][i]);
  console.log(`${rounds} rounds of ${N} requests, ${users === '1' ? "users' configuration" : 'bare'}; µs per request, medians of paired differences`);
  for (const path of paths.split(',')) {
    const ba = diff(path, 'b', 'a');
    console.log(`${path}: uninstrumented ${median(cpu[`${path}/off`]).toFixed(0)}; A ${median(diff(path, 'a', 'off')).toFixed(0)}; B ${median(diff(path, 'b', 'off')).toFixed(0)}; B − A ${median(ba).toFixed(0)} [p25 ${[...ba].sort((x, y) => x - y)[ba.length >> 2].toFixed(0)} .. p75 ${[...ba].sort((x, y) => x - y)[(3 * ba.length) >> 2].toFixed(0)}]`);
  }
} finally {
  await browser.close();
}
