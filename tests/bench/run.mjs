// fetchspan's benchmark (issue 8): one headless Chromium run, uninstrumented and instrumented side by side.
//   per-request cost: renderer main-thread CPU time (CDP Performance.getMetrics TaskDuration in thread ticks) per
//                     request, whole body (`json()`) and stream (`getReader()` loop) of a small same-origin JSON;
//                     each window is BENCH_N requests 4 at a time, then the exporter's flush and a gc (so a window
//                     carries its export and garbage); the figure is the median of paired differences over
//                     interleaved rounds, with p25..p75. Configurations: uninstrumented; a bare `.then()`
//                     wrapper (not fetchspan: a reference for the floor of any wrapper); the app sending the
//                     `traceparent` header itself (not fetchspan: what Chromium spends on the header); bare `install({})`;
//                     the users' configuration (onSpanEnd, endpoint = the test server's strict collector, an
//                     AbortSignal on every other request) against an uninstrumented baseline doing the same app work
//                     (same signals). Same-origin, so instrumented requests carry a traceparent.
//   throughput:       MiB/s, users' configuration / uninstrumented, median of paired ratios: endless stream read as
//                     a stream, 256 MiB fixed-size body (/bytes, Content-Length) read as a stream and with
//                     arrayBuffer(); plus SSE events/s of small events (the per-chunk worst case); and, as a
//                     reference without fetchspan, each stream read through pipeThrough(new TransformStream()) against
//                     the plain read next to it, with the plain read's chunk count; and main-thread CPU per streamed
//                     MiB (TaskDuration), users' configuration against uninstrumented, pairs of 64 MiB endless reads.
//   profile:          CDP CPU profile (100 µs sampling) of instrumented requests in the users' configuration, on a
//                     copy of the package with names kept (same code): fetchspan's top self-time functions per
//                     request, JS and wasm, native calls fetchspan makes, and the top overall against uninstrumented.
//   memory:           retained renderer RSS growth while reading 512 MiB.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { launch, taskTime } from './chromium.mjs';

const url = process.argv[2];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const N = Number(process.env.BENCH_N ?? 200);
const SPEED_ROUNDS = Number(process.env.BENCH_SPEED_ROUNDS ?? 12);
const PROFILE_N = Number(process.env.BENCH_PROFILE_N ?? 2000);
const MIB = 256;

const sorted = (values) => [...values].sort((a, b) => a - b);
const quantile = (values, q) => {
  const s = sorted(values);
  const at = (s.length - 1) * q;
  const low = Math.floor(at);
  return s[low] + (s[Math.min(low + 1, s.length - 1)] - s[low]) * (at - low);
};
const median = (values) => quantile(values, 0.5);
const signed = (v, digits = 0) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`;
const spread = (values) => `[${signed(quantile(values, 0.25))}..${signed(quantile(values, 0.75))}]`;
const spreadOf = (ratios) => `[p25 ${quantile(ratios, 0.25).toFixed(3)} .. p75 ${quantile(ratios, 0.75).toFixed(3)}]`;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;

const browser = await launch();
try {
  const version = browser.version();
  let page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => globalThis.bench);
  let { cdp, taskSeconds } = await taskTime(page);
  const mode = (name) => page.evaluate((value) => globalThis.bench.mode(value), name);
  const problem = await page.evaluate(() => globalThis.bench.selfCheck());
  if (problem) throw new Error(`fetchspan does not work in this build (${problem}); nothing measured`);

  // ---- per-request CPU: interleaved rounds; within a round each instrumented configuration runs next to its
  // baseline, orders alternate from round to round; round -1 warms up and is discarded.
  const cpu = {};
  const wall = {};
  const paths = ['whole', 'stream'];
  const pairs = [['off', 'bare', 'wrapper', 'header'], ['offSignal', 'users']];
  for (const p of paths) for (const m of ['off', 'offSignal', 'bare', 'wrapper', 'header', 'users']) {
    cpu[`${p}/${m}`] = [];
    wall[`${p}/${m}`] = [];
  }
  for (let round = -1; round < ROUNDS; round++) {
    const flip = (list, yes) => (yes ? [...list].reverse() : list);
    for (const pair of flip(pairs, round % 2 !== 0)) {
      for (const m of flip(pair, Math.floor(round / 2) % 2 !== 0)) {
        await mode(m);
        for (const p of flip(paths, round % 2 === 0)) {
          await page.evaluate(() => globalThis.bench.settle());
          const before = await taskSeconds();
          const w = await page.evaluate(([path, n]) => globalThis.bench.window(path, n), [p, N]);
          const perRequest = ((await taskSeconds()) - before) / N * 1e6;
          if (round >= 0) {
            cpu[`${p}/${m}`].push(perRequest);
            wall[`${p}/${m}`].push(w);
          }
        }
      }
    }
  }
  const diff = (p, m, base) => cpu[`${p}/${m}`].map((v, i) => v - cpu[`${p}/${base}`][i]);
  const wallDiff = (p, m, base) => wall[`${p}/${m}`].map((v, i) => v - wall[`${p}/${base}`][i]);
  console.error(`per-request rounds done (${elapsed()})`);

  await mode('users');
  const traceparent = await page.evaluate(() => globalThis.bench.traceparentSent());

  // ---- throughput: users' configuration against uninstrumented, paired rounds, alternating order.
  // `piped`: the same read through `pipeThrough(new TransformStream())` (for the stream reads; see the reference
  // rounds below).
  const kinds = {
    'endless stream, read as a stream (256 MiB)': (piped) => page.evaluate(([mib, p]) => globalThis.bench.endless(mib, p), [MIB, piped]),
    '256 MiB fixed body, read as a stream': (piped) => page.evaluate(([mib, p]) => globalThis.bench.fixed(mib, 'stream', p), [MIB, piped]),
    '256 MiB fixed body, arrayBuffer()': () => page.evaluate((mib) => globalThis.bench.fixed(mib, 'arrayBuffer'), MIB),
  };
  const streamed = (name) => name.includes('as a stream');
  const speed = {};
  for (const name of Object.keys(kinds)) speed[name] = { off: [], on: [], ratio: [] };
  for (let round = 0; round < SPEED_ROUNDS; round++) {
    for (const m of round % 2 ? ['off', 'users'] : ['users', 'off']) {
      await mode(m);
      for (const [name, run] of Object.entries(kinds)) speed[name][m === 'off' ? 'off' : 'on'].push(await run(false));
    }
    for (const s of Object.values(speed)) s.ratio.push(s.on[round] / s.off[round]);
  }
  // The reference, in rounds of its own, uninstrumented: each stream read plain and through `pipeThrough(new
  // TransformStream())`, the floor of any TransformStream between the body and the app (which the product rules ask
  // for), in alternating order; and the plain read's chunk count.
  await mode('off');
  const reference = {};
  for (const name of Object.keys(kinds).filter(streamed)) reference[name] = { plain: [], piped: [], ratio: [], chunks: [] };
  for (let round = 0; round < SPEED_ROUNDS; round++) {
    for (const [name, r] of Object.entries(reference)) {
      for (const piped of round % 2 ? [true, false] : [false, true]) {
        r[piped ? 'piped' : 'plain'].push(await kinds[name](piped));
        if (!piped) r.chunks.push(await page.evaluate(() => globalThis.bench.chunks));
      }
      r.ratio.push(r.piped[round] / r.plain[round]);
    }
  }
  // Main-thread CPU per streamed MiB (renderer TaskDuration), users' configuration against uninstrumented: pairs of
  // 64 MiB endless reads, order alternating. What the network and the other processes do doesn't count, so it
  // scatters less than wall time; the chunk counts say how the reads were cut.
  const streamCpu = { off: [], on: [], ratio: [], chunksOff: [], chunksOn: [] };
  for (let pair = 0; pair < 2 * SPEED_ROUNDS; pair++) {
    const perMiB = {};
    for (const m of pair % 2 ? ['off', 'users'] : ['users', 'off']) {
      await mode(m);
      const before = await taskSeconds();
      await page.evaluate(() => globalThis.bench.endless(64));
      perMiB[m] = ((await taskSeconds()) - before) * 1000 / 64;
      streamCpu[m === 'off' ? 'chunksOff' : 'chunksOn'].push(await page.evaluate(() => globalThis.bench.chunks));
    }
    streamCpu.off.push(perMiB.off);
    streamCpu.on.push(perMiB.users);
    streamCpu.ratio.push(perMiB.users / perMiB.off);
  }
  const sse = { off: [], on: [], ratio: [] };
  for (let round = 0; round < 4; round++) {
    for (const m of round % 2 ? ['off', 'users'] : ['users', 'off']) {
      await mode(m);
      sse[m === 'off' ? 'off' : 'on'].push(await page.evaluate(() => globalThis.bench.sseThroughput(20000)));
    }
    sse.ratio.push(sse.on[round] / sse.off[round]);
  }
  console.error(`throughput done (${elapsed()})`);

  // ---- memory
  await mode('off');
  const pid = await page.evaluate(() => globalThis.bench.findRenderer());
  const rssOff = await page.evaluate((p) => globalThis.bench.rssGrowth(p), pid);
  await mode('users');
  const rssOn = await page.evaluate((p) => globalThis.bench.rssGrowth(p), pid);
  const report = await page.evaluate(() => globalThis.bench.report());
  console.error(`memory done (${elapsed()})`);

  // ---- CPU profile, on the named copy (a fresh document).
  await cdp.detach();
  await page.close();
  page = await browser.newPage();
  await page.goto(`${url}?pkg=/named/index.js`);
  await page.waitForFunction(() => globalThis.bench);
  cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  const profileOf = async (m, path) => {
    await mode(m);
    await page.evaluate(([p, n]) => globalThis.bench.window(p, n), [path, 200]); // warm-up
    await page.evaluate(() => globalThis.bench.settle());
    await cdp.send('Profiler.start');
    for (let done = 0; done < PROFILE_N; done += 250) {
      await page.evaluate(([p, n]) => globalThis.bench.window(p, n), [path, 250]);
    }
    return (await cdp.send('Profiler.stop')).profile;
  };
  const profiles = {};
  for (const path of paths) {
    profiles[`${path}/offSignal`] = await profileOf('offSignal', path);
    profiles[`${path}/users`] = await profileOf('users', path);
  }
  await mode('off');
  console.error(`profile done (${elapsed()})`);

  // ---- output
    const gitState = (() => {
    try {
      const head = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
      const dirty = execSync('git status --porcelain -- src js Cargo.toml Cargo.lock', { encoding: 'utf8' })
        .split('\n').filter(Boolean).map((line) => line.slice(3));
      return `${head}${dirty.length ? ` + uncommitted changes in ${dirty.join(', ')}` : ''}`;
    } catch {
      return 'unknown';
    }
  })();
  console.log(`fetchspan benchmark — Chromium ${version}, ${new Date().toISOString().slice(0, 10)}, source ${gitState}`);
  console.log(`total ${elapsed()}\n`);

  const us = (v) => `${v.toFixed(0)} µs`;
  console.log(`Per-request main-thread CPU (renderer TaskDuration, thread ticks), µs per request: ${ROUNDS} interleaved rounds`);
  console.log(`of ${N} requests (4 at a time) per configuration and path; instrumented columns are the median of paired`);
  console.log(`differences against the baseline run next to it, [p25..p75]. Users' configuration: onSpanEnd + endpoint`);
  console.log(`(exporter on, strict collector) + AbortSignal on every other request, baseline with the same signals.\n`);
  console.log('| path | uninstrumented | a bare `.then()` wrapper (reference) | the app sending the `traceparent` itself (reference: the header\'s own cost) | bare `install({})` | users\' configuration | goal |');
  console.log('|---|---|---|---|---|---|---|');
  const goals = { whole: 50, stream: 150 };
  const labels = { whole: 'whole body, `await (await fetch(\'/json\')).json()`', stream: 'stream, `getReader()` loop to the end' };
  for (const p of paths) {
    const bare = diff(p, 'bare', 'off');
    const users = diff(p, 'users', 'offSignal');
    const wrapper = diff(p, 'wrapper', 'off');
    const header = diff(p, 'header', 'off');
    console.log(`| ${labels[p]} | ${us(median(cpu[`${p}/off`]))} (with signals ${us(median(cpu[`${p}/offSignal`]))}) | ${signed(median(wrapper))} µs ${spread(wrapper)} | ${signed(median(header))} µs ${spread(header)} | ${signed(median(bare))} µs ${spread(bare)} | **${signed(median(users))} µs** ${spread(users)} | ≤ +${goals[p]} µs: ${median(users) <= goals[p] ? 'met' : 'not met'} |`);
  }
  for (const p of paths) {
    console.log(`| wall time, ${p} (information) | ${us(median(wall[`${p}/off`]))} | ${signed(median(wallDiff(p, 'wrapper', 'off')))} µs | ${signed(median(wallDiff(p, 'header', 'off')))} µs | ${signed(median(wallDiff(p, 'bare', 'off')))} µs | ${signed(median(wallDiff(p, 'users', 'offSignal')))} µs | |`);
  }
  console.log('\npaired differences per round (µs):');
  for (const p of paths) {
    console.log(`  ${p} wrapper: ${diff(p, 'wrapper', 'off').map((v) => v.toFixed(0)).join(' ')}`);
    console.log(`  ${p} header:  ${diff(p, 'header', 'off').map((v) => v.toFixed(0)).join(' ')}`);
    console.log(`  ${p} bare:  ${diff(p, 'bare', 'off').map((v) => v.toFixed(0)).join(' ')}`);
    console.log(`  ${p} users: ${diff(p, 'users', 'offSignal').map((v) => v.toFixed(0)).join(' ')}`);
  }

  console.log(`\nThroughput, users' configuration / uninstrumented (${SPEED_ROUNDS} paired rounds; medians; median of paired ratios [min..max]), goal ≥ 0.97:\n`);
  console.log('| read | uninstrumented | users\' configuration | ratio | goal |');
  console.log('|---|---|---|---|---|');
  const ratioRow = (name, s, unit) => {
    const r = median(s.ratio);
    return `| ${name} | ${median(s.off).toFixed(0)} ${unit} | ${median(s.on).toFixed(0)} ${unit} | **${r.toFixed(3)}** [${Math.min(...s.ratio).toFixed(2)}..${Math.max(...s.ratio).toFixed(2)}] |`;
  };
  for (const [name, s] of Object.entries(speed)) console.log(`${ratioRow(name, s, 'MiB/s')} ${median(s.ratio) >= 0.97 ? 'met' : 'not met'} |`);
  console.log(`${ratioRow('SSE, 20,000 small events one per chunk (4 rounds)', sse, 'events/s')} (information) |`);
  console.log(`\nReference, no fetchspan (${SPEED_ROUNDS} rounds of their own, order alternating): each stream read through`);
  console.log('`pipeThrough(new TransformStream())`, the floor of any TransformStream between the body and the app, against the');
  console.log('plain read next to it (median of paired ratios [min..max]); and the plain read\'s chunks (median count):');
  for (const [name, r] of Object.entries(reference)) {
    const bytes = (MIB * 1024 * 1024) / median(r.chunks);
    console.log(`  ${name}: plain ${median(r.plain).toFixed(0)} MiB/s, pipeThrough ${median(r.piped).toFixed(0)} MiB/s, ratio ${median(r.ratio).toFixed(3)} [${Math.min(...r.ratio).toFixed(2)}..${Math.max(...r.ratio).toFixed(2)}]; ${median(r.chunks)} chunks of ${(bytes / 1024).toFixed(1)} KiB on average`);
  }
  console.log(`\nMain-thread CPU per streamed MiB (renderer TaskDuration), ${streamCpu.ratio.length} pairs of 64 MiB endless reads, order alternating:`);
  console.log(`  uninstrumented ${median(streamCpu.off).toFixed(3)} ms, users' configuration ${median(streamCpu.on).toFixed(3)} ms; median of paired ratios ${median(streamCpu.ratio).toFixed(3)} ${spreadOf(streamCpu.ratio)}; chunks per 64 MiB (medians) ${median(streamCpu.chunksOff)} and ${median(streamCpu.chunksOn)}`);
  console.log(`\nretained renderer RSS growth over 512 MiB: uninstrumented ${rssOff.toFixed(1)} MiB, users' configuration ${rssOn.toFixed(1)} MiB (${signed(rssOn - rssOff, 1)} MiB)`);
  for (const [name, s] of Object.entries(speed)) console.log(`paired ratios, ${name}: ${s.ratio.map((v) => v.toFixed(3)).join(' ')}`);
  const t = report.totals.users ?? {};
  console.log(`\nusers' configuration, checks: spans ended ${t.ended}, exported ${t.exported}, dropped ${t.dropped}, passthroughFailures ${t.passthroughFailures}, exportFailures ${t.exportFailures}; onSpanEnd calls ${report.spansSeen}; collector accepted ${report.collector.spans} spans in ${report.collector.requests} requests${report.collector.rejected.length ? `, REJECTED: ${report.collector.rejected.join('; ')}` : ''}; traceparent sent: ${traceparent ?? 'NO'}`);
  const b = report.totals.bare ?? {};
  console.log(`bare configuration, checks: spans ended ${b.ended}, passthroughFailures ${b.passthroughFailures}`);

  for (const p of paths) printProfile(p, profiles[`${p}/users`], profiles[`${p}/offSignal`], PROFILE_N);
} finally {
  await browser.close();
}

// ---- profile summary
function printProfile(path, on, off, n) {
  const source = (() => {
    try {
      return readFileSync('target/bench/named/index.js', 'utf8').split('\n');
    } catch {
      return [];
    }
  })();
  const isWasm = (frame) => frame.url.startsWith('wasm') || frame.url.endsWith('.wasm');
  const ours = (frame) => frame.url.includes('/named/') || isWasm(frame);
  const special = (name) => name.startsWith('(');
  const glue = /^(wasm-to-js|js-to-wasm|handleError|__wbindgen_generic|__wbg_|getStringFromWasm0|getCachedStringFromWasm0|decodeText|passStringToWasm0)|externref shim|multivalue shim/;
  const clean = (name) => name.replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, '');
  const label = (frame) => {
    const name = clean(frame.functionName || '(anonymous)');
    if (isWasm(frame)) return `wasm ${name}`;
    if (frame.url) return `js   ${name} (${frame.url.split('/').pop()}:${frame.lineNumber + 1})`;
    return special(name) ? name : `native ${name}`;
  };
  // The app's own calls that fetchspan passes on to the browser: in the uninstrumented profile too, so they are
  // compared, not counted as fetchspan's.
  const forwarded = new Set(['fetch', 'json', 'text', 'arrayBuffer', 'blob', 'bytes', 'formData', 'read']);
  // Self time per leaf frame; a native (C++/builtin) leaf whose nearest JS caller is fetchspan's is fetchspan's
  // cost too, shown as `native X ← caller`.
  const summarize = (profile) => {
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const time = new Map();
    const { samples, timeDeltas } = profile;
    for (let i = 0; i < samples.length; i++) {
      const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
      time.set(samples[i], (time.get(samples[i]) ?? 0) + dt);
    }
    const all = new Map();
    const fetchspan = new Map();
    const chains = new Map(); // fetchspan key -> Map(caller chain -> time)
    const lines = new Map(); // fetchspan JS key -> Map(line -> samples), from the nodes' positionTicks
    for (const node of profile.nodes) {
      if (!node.positionTicks || !ours(node.callFrame) || isWasm(node.callFrame)) continue;
      const byLine = lines.get(label(node.callFrame)) ?? new Map();
      for (const { line, ticks } of node.positionTicks) byLine.set(line, (byLine.get(line) ?? 0) + ticks);
      lines.set(label(node.callFrame), byLine);
    }
    let own = 0;
    let calls = 0;
    let busy = 0;
    for (const [id, t] of time) {
      const frame = byId.get(id).callFrame;
      if (frame.functionName === '(idle)') continue;
      busy += t;
      const key = label(frame);
      all.set(key, (all.get(key) ?? 0) + t);
      let owner = null;
      if (ours(frame)) {
        owner = key;
        own += t;
      } else if (!frame.url && !special(frame.functionName) && !forwarded.has(frame.functionName)) {
        for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
          const caller = byId.get(up).callFrame;
          if (caller.url) {
            if (ours(caller)) owner = `${key} ← ${clean(caller.functionName || '(anonymous)')}`;
            break;
          }
        }
        if (owner) calls += t;
      }
      if (owner) {
        fetchspan.set(owner, (fetchspan.get(owner) ?? 0) + t);
        // Callers, wasm-bindgen's glue frames left out so that the Rust or JS function that asked shows.
        const names = [];
        for (let up = parent.get(id); up !== undefined && names.length < 4; up = parent.get(up)) {
          const name = clean(byId.get(up).callFrame.functionName || '(anonymous)');
          if (name !== '(root)' && !glue.test(name)) names.push(name);
        }
        const byChain = chains.get(owner) ?? new Map();
        const chain = names.join(' ← ');
        byChain.set(chain, (byChain.get(chain) ?? 0) + t);
        chains.set(owner, byChain);
      }
    }
    return { all, fetchspan, chains, lines, own, calls, busy };
  };
  const a = summarize(on);
  const b = summarize(off);
  const per = (t) => t / n;
  const f = (t) => per(t).toFixed(1);
  console.log(`\nCPU profile, ${path} path, users' configuration (${n} requests, 100 µs sampling; self time, µs per request):`);
  console.log(`  busy main thread ${f(a.busy)} instrumented vs ${f(b.busy)} uninstrumented (${signed(per(a.busy - b.busy), 1)})`);
  console.log(`  fetchspan's own frames (JS + wasm) ${f(a.own)}; native calls they make (not the app's forwarded calls) ${f(a.calls)}`);
  const delta = (key) => `${f(a.all.get(key) ?? 0)} vs ${f(b.all.get(key) ?? 0)} (${signed(per((a.all.get(key) ?? 0) - (b.all.get(key) ?? 0)), 1)})`;
  console.log(`  the app's calls passed on: native fetch ${delta('native fetch')}, native json ${delta('native json')}, native read ${delta('native read')};`);
  // A native call's own JS-side cost lands partly on its caller's line: the app's frames (reads.js) uninstrumented,
  // fetchspan's wrapper line that calls the native fetch instrumented. Compare the two to read fetch2's self time.
  const app = (summary) => [...summary.all].filter(([key]) => /\((bench|reads)\.js:/.test(key)).reduce((x, [, t]) => x + t, 0);
  console.log(`  the app's own frames (reads.js, where its native calls' JS-side cost lands uninstrumented) ${f(app(a))} vs ${f(app(b))}`);
  console.log(`  (garbage collector) ${delta('(garbage collector)')}, (program) ${delta('(program)')}`);
  console.log('  fetchspan, top 15 (with their main callers, wasm-bindgen glue frames left out, and for JS the busiest lines):');
  for (const [key, t] of [...a.fetchspan].sort((x, y) => y[1] - x[1]).slice(0, 15)) {
    console.log(`    ${f(t).padStart(6)}  ${key}`);
    if (per(t) < 10) continue;
    for (const [chain, ct] of [...a.chains.get(key)].sort((x, y) => y[1] - x[1]).slice(0, 2)) {
      console.log(`            ${f(ct).padStart(6)} via ${chain || '(a task or microtask of its own)'}`);
    }
    // Where in a JS function (V8 inlines callees, so a function's self time includes theirs): the busiest lines.
    const byLine = a.lines.get(key);
    if (!byLine || per(t) < 20) continue;
    const ticks = [...byLine.values()].reduce((x, y) => x + y, 0);
    for (const [line, count] of [...byLine].sort((x, y) => y[1] - x[1]).slice(0, 4)) {
      const text = (source[line - 1] ?? '').trim().slice(0, 100);
      console.log(`            ${f(t * count / ticks).padStart(6)} at line ${line}: ${text}`);
    }
  }
  console.log('  top overall (instrumented / uninstrumented):');
  for (const [key, t] of [...a.all].sort((x, y) => y[1] - x[1]).slice(0, 12)) {
    console.log(`    ${f(t).padStart(6)} / ${f(b.all.get(key) ?? 0).padStart(6)}  ${key}`);
  }
}
