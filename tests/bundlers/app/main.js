// The fixture app every bundler builds (tests/bundlers/build.mjs): installs fetchspan from the package as any app
// would, makes one fetch, and publishes what happened as `window.fixture` for tests/package/browser.mjs.
import { install } from 'fetchspan';

async function main() {
  const spans = [];
  const tracer = await install({ serviceName: 'bundler-fixture', onSpanEnd: (span) => spans.push(span) });
  const data = await (await fetch('/api/json?from=fixture')).json();
  await tracer.uninstall();
  return { data, spans, stats: tracer.stats() };
}

main().then(
  (result) => { window.fixture = result; },
  (error) => { window.fixture = { error: String(error && error.message || error) }; },
);
