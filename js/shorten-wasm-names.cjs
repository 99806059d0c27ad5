// Renames the wasm module's imports and exports in wasm-bindgen's glue to the short names `wasm-opt
// --minify-imports-and-exports-and-modules` gave them (issue 7: size). wasm-bindgen names them like
// `__wbg_new_5f28518387ad0e34` or `wasm_bindgen__convert__closures_____invoke__h6bf4e86d54799c35`, once in the
// wasm and once in the glue, where minifiers keep them (they are property names).
//
// usage: node js/shorten-wasm-names.cjs <glue.js> <mapping.json> <module.wasm>
// The glue is rewritten in place. An import of the module that the glue doesn't define where expected, or an export
// the glue reads that the module lacks, fails the build: a wasm-bindgen upgrade that changes the glue's shape can't
// ship a module whose imports or exports don't resolve.
const fs = require('fs');

const [gluePath, mappingPath, wasmPath] = process.argv.slice(2);
const { imports, exports: exportNames } = JSON.parse(fs.readFileSync(mappingPath, 'utf8'));
let glue = fs.readFileSync(gluePath, 'utf8');
const fail = (message) => {
  console.error(`js/shorten-wasm-names.cjs: ${message}; update it for this wasm-bindgen's glue`);
  process.exit(1);
};
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const GLUE_MODULE = './fetchspan_bg.js';

// Exports: every `wasm.name` the glue reads.
const exported = new Map(exportNames);
glue = glue.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (_, name) => {
  if (!exported.has(name)) fail(`the glue reads wasm.${name}, which the module does not export`);
  return `wasm.${exported.get(name)}`;
});

// Imports the glue defines itself: the keys of its `import0` object, each written `name: function(`.
for (const [, name, short] of imports.filter(([module]) => module === GLUE_MODULE)) {
  const key = new RegExp(`^(\\s+)${escape(name)}: function\\(`, 'm');
  if (!key.test(glue)) fail(`no definition of the import ${name}`);
  glue = glue.replace(key, `$1${short}: function(`);
}

// Imports from JS snippets (`import * as importN from "./snippets/…"`), added to `import0` under their short names.
const fromSnippets = imports.filter(([module]) => module !== GLUE_MODULE).map(([module, name, short]) => {
  const namespace = glue.match(new RegExp(`import \\* as (import\\d+) from "${escape(module)}"`));
  if (!namespace) fail(`no namespace import of ${module}`);
  return `${short}: ${namespace[1]}.${name}`;
});

// The import object: one module, under the one name the minified wasm gives it.
const modules = [...new Set(WebAssembly.Module.imports(new WebAssembly.Module(fs.readFileSync(wasmPath))).map((i) => i.module))];
if (modules.length !== 1) fail(`the minified module imports from ${modules.length} modules`);
const returned = /return \{\n\s+__proto__: null,\n(\s+"[^"]+": import\d+,\n)+\s+\};/;
if (!returned.test(glue)) fail('no import object returned by __wbg_get_imports');
glue = glue.replace(returned,
  `return { __proto__: null, ${JSON.stringify(modules[0])}: Object.assign(import0, { ${fromSnippets.join(', ')} }) };`);
fs.writeFileSync(gluePath, glue);
