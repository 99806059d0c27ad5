// The per-request work the benchmark pages measure (tests/bench/bench.js, tests/bench/ab.js): the app's side of a
// request, `init` being undefined or `{ signal }` (see `initFor`).

/** `{ signal }` on every other request when `signals` is set, else undefined. */
export const initFor = (signals, i) => (signals && i % 2 ? { signal: new AbortController().signal } : undefined);

export const reads = {
  /** Whole body: `await (await fetch('/json')).json()`. */
  whole: async (init) => (await fetch('/json', init)).json(),
  /** The same small body read as a stream, `getReader()` loop to the end. */
  stream: async (init) => {
    const reader = (await fetch('/json', init)).body.getReader();
    while (!(await reader.read()).done);
  },
};
