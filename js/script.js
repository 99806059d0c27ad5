// fetchspan's <script type="module"> entry: installs with `globalThis.fetchspanConfig` (if the page set one before
// this script) and publishes `globalThis.fetchspan = { tracer }`, where `tracer` is a promise of the tracer.
import { install } from './index.js';

const tracer = install(globalThis.fetchspanConfig);
tracer.catch((error) => console.error(error));
globalThis.fetchspan = { tracer };
