// Puts src/body.js next to wasm-bindgen's copy of src/patch.js in a build's stage folder (argument 1), and points
// patch.js's import of it there. In the crate, patch.js imports it from '/src/body.js', the path the test runner
// serves (see src/patch.js), which a bundler would take as one from the file system's root.
const fs = require('fs');
const path = require('path');

const stage = process.argv[2];
const snippets = path.join(stage, 'snippets');
const copies = fs.readdirSync(snippets).map((dir) => path.join(snippets, dir, 'src', 'patch.js')).filter(fs.existsSync);
if (copies.length !== 1) {
  console.error(`js/link-body.cjs: expected one copy of src/patch.js under ${snippets}, found ${copies.length}`);
  process.exit(1);
}
const [patch] = copies;
const text = fs.readFileSync(patch, 'utf8');
const from = "from '/src/body.js'";
if (text.split(from).length !== 2) {
  console.error(`js/link-body.cjs: ${patch} no longer imports body.js exactly once as ${from}; update this script`);
  process.exit(1);
}
fs.writeFileSync(patch, text.replace(from, "from './body.js'"));
fs.copyFileSync(path.join(__dirname, '..', 'src', 'body.js'), path.join(path.dirname(patch), 'body.js'));
