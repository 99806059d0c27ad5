// The npm tarball holds exactly the files a user needs, and its manifest and entry points are what bundlers, Node's
// resolver and TypeScript expect (tests/package.sh runs it on the tarball `npm pack` made in pkg/).
// Usage: node tests/package/check.mjs target/package-test/fetchspan-<version>.tgz
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const tarball = process.argv[2];
const EXPECTED = ['LICENSE-APACHE', 'LICENSE-MIT', 'README.md', 'fetchspan.js', 'fetchspan_bg.wasm', 'index.d.ts', 'index.js',
  'package.json'];

/** The files of a .tgz: name → contents (a tar reader: 512-byte headers, octal sizes). */
function untar(file) {
  const tar = gunzipSync(readFileSync(file));
  const files = new Map();
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    const name = header.subarray(0, 100).toString().replace(/\0.*$/s, '');
    if (!name) break;
    const prefix = header.subarray(345, 500).toString().replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString().replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    if (type === '0') files.set((prefix ? `${prefix}/` : '') + name, tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

const failures = [];
const check = (ok, what, detail) => {
  if (!ok) failures.push(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
};

const files = untar(tarball);
const names = [...files.keys()].map((name) => name.replace(/^package\//, '')).sort();
// The license texts too: the manifest declares `MIT OR Apache-2.0`, and Apache-2.0 asks for its copy.
const expected = [...EXPECTED].sort();
check(JSON.stringify(names) === JSON.stringify(expected), 'the tarball holds exactly the needed files', { names, expected });
const file = (name) => files.get(`package/${name}`)?.toString() ?? '';

const manifest = JSON.parse(file('package.json'));
check(manifest.name === 'fetchspan', 'name', manifest.name);
check(manifest.type === 'module', '"type": "module"', manifest.type);
check(manifest.types === './index.d.ts', 'types', manifest.types);
check(JSON.stringify(manifest.exports?.['.']) === JSON.stringify({ types: './index.d.ts', default: './index.js' }),
  'exports["."]: types first, then the ES module', manifest.exports);
check(manifest.exports?.['./fetchspan.js'] === './fetchspan.js' && manifest.exports?.['./fetchspan_bg.wasm'] === './fetchspan_bg.wasm',
  'exports: the script tag and the wasm module are reachable (to copy or host them)', manifest.exports);
check(JSON.stringify(manifest.sideEffects) === JSON.stringify(['./fetchspan.js']),
  'sideEffects: only the self-installing script tag', manifest.sideEffects);
check(JSON.stringify([...manifest.files].sort()) === JSON.stringify(['LICENSE-APACHE', 'LICENSE-MIT', 'fetchspan.js', 'fetchspan_bg.wasm', 'index.d.ts', 'index.js']),
  'files', manifest.files);
check(!manifest.dependencies && !manifest.scripts, 'no dependencies, no install scripts', manifest);

const esm = file('index.js');
check(/new URL\(["']\.\/fetchspan_bg\.wasm["'],\s*import\.meta\.url\)/.test(esm),
  'index.js loads the module with a literal new URL("./fetchspan_bg.wasm", import.meta.url)');
check((esm.match(/fetchspan_bg\.wasm/g) ?? []).length === 1, 'index.js refers to the module exactly once');
check(/export\s*\{[^}]*\binstall\b/.test(esm) && !/\bfrom\s*["'][^"']+["']|\bimport\s*\(/.test(esm),
  'index.js is one self-contained ES module exporting install (glue and shim bundled)');
check(esm.split('\n').length <= 3, 'index.js is minified', esm.split('\n').length);

const classic = file('fetchspan.js');
let classicParses = true;
try {
  new vm.Script(classic); // import, export and import.meta are syntax errors in a classic script
} catch {
  classicParses = false;
}
check(classicParses, 'fetchspan.js is a classic script (parses without import, export or import.meta)');
check(/currentScript/.test(classic) && /fetchspan_bg\.wasm/.test(classic), 'fetchspan.js finds the module next to its script');
check(classic.split('\n').length <= 3, 'fetchspan.js is minified', classic.split('\n').length);

const wasm = files.get('package/fetchspan_bg.wasm');
check(wasm && wasm.subarray(0, 4).equals(Buffer.from([0, 0x61, 0x73, 0x6d])), 'fetchspan_bg.wasm is a wasm module');
check(/export function install\(options\?: Options\): Promise<Tracer>;/.test(file('index.d.ts')), 'index.d.ts declares install');

const gzip = (text) => execFileSync('gzip', ['-9c'], { input: text }).length;
console.log(`tarball ${tarball}: ${names.join(', ')}`);
console.log(`sizes (raw / gzip -9): wasm ${wasm?.length} / ${wasm ? gzip(wasm) : '?'}, index.js ${esm.length} / ${gzip(esm)}, `
  + `fetchspan.js ${classic.length} / ${gzip(classic)}`);
if (failures.length) {
  for (const failure of failures) console.error(`FAIL ${failure}`);
  process.exit(1);
}
console.log('package contents: ok');
