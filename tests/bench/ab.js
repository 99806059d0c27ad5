// The A/B page (driven by tests/bench/ab.mjs): two builds of fetchspan, /a/ and /b/, each installed in turn on the
// same page, and the same requests as tests/bench/bench.js.
import { initFor, reads } from './reads.js';

const builds = { a: await import('/a/index.js'), b: await import('/b/index.js') };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tenant = `ab-${Date.now().toString(36)}`;
let tracer = null;
const options = (users) => (users ? { onSpanEnd: () => {}, endpoint: `${location.origin}/c/${tenant}/ok` } : {});

globalThis.ab = {
  /** Installs build `name` (`a` or `b`), or nothing (`off`), after uninstalling the previous one. */
  async mode(name, users) {
    if (tracer) await tracer.uninstall();
    tracer = name === 'off' ? null : await builds[name].install(options(users));
  },

  /** One measured window: `n` requests of `path`, 4 at a time, then the flush and a collection. */
  async window(path, n, users) {
    globalThis.gc?.();
    await sleep(30);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < n; i = next++) await reads[path](initFor(users, i));
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    if (tracer) await tracer.forceFlush();
    globalThis.gc?.();
    await sleep(30);
  },
};
