// Builds the fixture app (tests/bundlers/app) with Vite, esbuild and webpack 5, each into <out>/<bundler>/ with an
// index.html, importing `fetchspan` from tests/bundlers/node_modules (the packed tarball, installed by
// tests/package.sh). Production builds, the settings a user would start from.
import { readdirSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const app = join(here, 'app');
const out = resolve(process.argv[2] ?? 'target/package-test/bundlers');
const page = (script, type = 'module') => `<!doctype html>\n<meta charset="utf-8">\n<title>fetchspan fixture</title>\n`
  + `<script type="${type}" src="${script}"></script>\n`;

async function vite() {
  const { build } = await import('vite');
  await build({
    root: app,
    base: './',
    logLevel: 'warn',
    configFile: false,
    build: { outDir: join(out, 'vite'), emptyOutDir: true },
  });
}

async function esbuild() {
  const { build } = await import('esbuild');
  const dir = join(out, 'esbuild');
  await rm(dir, { recursive: true, force: true });
  await build({
    entryPoints: [join(app, 'main.js')],
    bundle: true,
    minify: true,
    format: 'esm',
    outdir: dir,
    logLevel: 'warning',
  });
  // esbuild leaves `new URL('./fetchspan_bg.wasm', import.meta.url)` as it is: the module goes next to the bundle.
  const require = createRequire(join(app, 'main.js'));
  await copyFile(require.resolve('fetchspan/fetchspan_bg.wasm'), join(dir, 'fetchspan_bg.wasm'));
  await writeFile(join(dir, 'index.html'), page('./main.js'));
}

async function webpack() {
  const { default: webpackCompiler } = await import('webpack');
  const dir = join(out, 'webpack');
  await rm(dir, { recursive: true, force: true });
  const stats = await new Promise((done, fail) => webpackCompiler({
    mode: 'production',
    context: app,
    entry: './main.js',
    output: { path: dir, filename: 'main.js' },
    performance: { hints: false },
  }, (error, result) => (error ? fail(error) : done(result))));
  if (stats.hasErrors() || stats.hasWarnings()) throw new Error(stats.toString('errors-warnings'));
  await writeFile(join(dir, 'index.html'), page('./main.js', 'text/javascript'));
}

await mkdir(out, { recursive: true });
for (const [name, run] of Object.entries({ vite, esbuild, webpack })) {
  const started = performance.now();
  await run();
  const files = readdirSync(join(out, name), { recursive: true });
  console.log(`${name}: built in ${Math.round(performance.now() - started)} ms: ${files.sort().join(', ')}`);
}
