// fetchspan's classic-script entry, built as an IIFE into pkg/fetchspan.js: a page pastes
//   <script src=".../fetchspan.js" data-endpoint="https://collector.example.com:4318" data-service-name="shop"></script>
// and it installs from its data-* attributes (over `window.fetchspanConfig`, if the page set one first), loading
// the wasm module from next to the script. It publishes `window.fetchspan`: the tracer API, `ready`, and
// `earlyFetches`.
//
// It never blocks the page and never breaks it:
// - until the module is ready, fetch goes straight to the native fetch (same arguments, the native promise) and
//   each call is counted in `fetchspan.earlyFetches`; the counting wrapper is removed before install;
// - an invalid attribute is reported with one console error naming it, and nothing is patched;
// - a module that fails to load is reported with one console error naming its URL and the reason, and the native
//   fetch is put back.
import { loadWasm } from './load.js';
import { install as installNow } from './fetchspan.js';

/** Option → the parser of its attribute, `data-` and the option's name in kebab case (`data-service-name`). */
const PARSERS = {
  endpoint: url,
  serviceName: text,
  ignoreUrls: urlList,
  idleTimeoutMs: number,
  maxQueueSize: number,
  maxExportBatchSize: number,
  scheduledDelayMs: number,
  exportTimeoutMs: number,
  unloadFlush: boolean,
  headers: jsonObject,
  resource: jsonObject,
  propagateTo: urlList,
  sampleRate: number,
  tracestate: text,
  redactQueryParams: names,
  stallThresholdMs: number,
  sse: boolean,
  maxAttributeLength: number,
  captureHeaders: jsonObject,
  captureSensitiveHeaders: boolean,
};
/** data-* attribute → [option, parser]. */
const ATTRIBUTES = Object.fromEntries(Object.entries(PARSERS).map(([option, parse]) =>
  [`data-${option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`, [option, parse]]));
const IDLE_STATS = ['started', 'ended', 'open', 'passthroughFailures', 'hookFailures', 'exported', 'dropped', 'rejected',
  'exportFailures', 'retries', 'queued', 'exportInFlight', 'keepaliveInFlight'];

function text(value) {
  if (!value.trim()) throw 'a non-empty string';
  return value.trim();
}

/**
 * An http(s) URL, absolute or relative to the page (starting with `/`, `.`, `?` or `#`: a bare host,
 * `collector.example.com`, would otherwise read as a path of the page's own site).
 */
function url(value) {
  const item = value.trim();
  let parsed;
  try {
    parsed = /^[a-z][a-z\d+.-]*:|^[/?#.]/i.test(item) && new URL(item, document.baseURI);
  } catch {
    parsed = null;
  }
  if (!/^https?:$/.test(parsed?.protocol)) throw 'an http(s) URL, absolute or starting with /, ., ? or #';
  return parsed.href;
}

function number(value) {
  const parsed = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(parsed)) throw 'a number';
  return parsed;
}

function boolean(value) {
  const word = value.trim().toLowerCase();
  if (word === 'true' || word === '') return true;
  if (word === 'false') return false;
  throw '"true" or "false"';
}

/**
 * Whitespace-separated items: `/pattern/flags` whose pattern has a metacharacter other than `.` (`\^$*+?()[]{}|`) is
 * a RegExp; anything else is a URL prefix, absolute or relative to the page (`/health`, `/static/` and
 * `/static/img` mean this origin's paths: a path must not become a RegExp matching any origin).
 */
function urlList(value) {
  return value.split(/\s+/).filter(Boolean).map((item) => {
    let regex = /^\/(.+)\/([dgimsuvy]*)$/.exec(item);
    if (regex && !/[\\^$*+?()[\]{}|]/.test(regex[1])) regex = null;
    if (!regex) {
      // Absolute, or something else than a path (`analytics.example.com`): install checks it as given.
      if (/^[a-z][a-z\d+.-]*:/i.test(item) || !/^[/?#.]/.test(item)) return item;
      try {
        return new URL(item, document.baseURI).href;
      } catch {
        throw `whitespace-separated URL prefixes or /regexps/, and ${item} is neither`;
      }
    }
    try {
      return new RegExp(regex[1], regex[2]);
    } catch {
      throw `whitespace-separated URL prefixes or /regexps/, and ${item} is not a valid regular expression`;
    }
  });
}

/** Parameter names; an empty attribute (a template's empty variable?) would turn redaction off, so it is refused. */
function names(value) {
  const list = value.split(/\s+/).filter(Boolean);
  if (!list.length) throw 'parameter names (to turn redaction off, set fetchspanConfig.redactQueryParams = [])';
  return list;
}

function jsonObject(value) {
  let parsed;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw 'a JSON object';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw 'a JSON object';
  return parsed;
}

/**
 * This script's own element, whose data-* attributes are the options and next to whose `src` the module is: the
 * running script, or else (`document.currentScript` is null in some cases) the last one in the document whose `src`
 * names fetchspan.js. Throws, so that nothing is patched, where there is none with a `src` (a worker's
 * `importScripts`, a script in a shadow root, which the document's query doesn't see, the file's text inlined).
 */
function ownScript() {
  const script = typeof document === 'object' && (document.currentScript
    || [...document.querySelectorAll('script[src]')].reverse().find((s) => /fetchspan(\.min)?\.js(\?|#|$)/.test(s.src)));
  if (!script?.src) {
    throw new TypeError('fetchspan: found no <script> of its own (in a worker, import the ES module); fetchspan is not installed');
  }
  return script;
}

/** The options from `window.fetchspanConfig` and the script's attributes, with the attribute of each option. */
function readOptions(script) {
  const config = globalThis.fetchspanConfig;
  if (config != null && (typeof config !== 'object' || Array.isArray(config))) {
    throw new TypeError('fetchspan: window.fetchspanConfig must be an object; fetchspan is not installed');
  }
  const options = { ...config };
  const from = {};
  const unknown = [];
  for (const { name, value } of script.attributes) {
    if (!name.startsWith('data-')) continue;
    const entry = ATTRIBUTES[name];
    if (!entry) {
      unknown.push(name);
      continue;
    }
    const [option, parse] = entry;
    // `data-headers` may carry an API key, and `data-endpoint` credentials or a key in its query: their values are
    // never echoed to the console (`install` shows an invalid endpoint without them).
    const shown = name === 'data-headers' || name === 'data-endpoint' ? name : `${name}=${JSON.stringify(value)}`;
    try {
      options[option] = parse(value);
    } catch (expected) {
      throw new TypeError(`fetchspan: attribute ${shown} must be ${expected}; fetchspan is not installed`);
    }
    from[option] = shown;
  }
  if (unknown.length) {
    console.warn(`fetchspan: ignored unknown attribute${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${Object.keys(ATTRIBUTES).join(', ')})`);
  }
  return { options, from };
}

function start() {
  if (globalThis.fetchspan?.ready) {
    console.warn('fetchspan: the script was included twice; the second copy does nothing');
    return;
  }
  const nativeFetch = globalThis.fetch;
  let tracer = null;
  let failure = null;
  let early = 0;
  let waiting = true;
  let uninstallAsked = false;
  // The installed fetch, for what took `fetchBeforeReady` meanwhile (see there).
  let traced = null;
  const api = {
    /** Resolves to the tracer once installed; rejects (already reported on the console) if install failed. */
    ready: null,
    /** Fetches that went through untraced because the module was not ready yet. */
    get earlyFetches() {
      return early;
    },
    /** The tracer once installed, else null. */
    get tracer() {
      return tracer;
    },
    /** Why install failed, else null. */
    get error() {
      return failure;
    },
    stats() {
      const stats = tracer ? tracer.stats() : Object.fromEntries(IDLE_STATS.map((key) => [key, 0]));
      stats.earlyFetches = early;
      return stats;
    },
    // The deadline runs from the call, the module's loading included (the default one is the export timeout's):
    // nothing was traced before `ready`, so one that passes first, or a failed install, flushes nothing.
    async forceFlush(timeoutMs) {
      const start = performance.now();
      const ms = timeoutMs ?? options?.exportTimeoutMs ?? 10000;
      const valid = typeof ms === 'number' && ms >= 0 && ms <= 2147483647;
      let timer;
      const installed = await Promise.race([api.ready.catch(() => null),
        ...(valid ? [new Promise((resolve) => { timer = setTimeout(resolve, ms); })] : [])]);
      clearTimeout(timer);
      if (!installed) return { exported: 0, dropped: 0, timedOut: installed === undefined };
      // (A bad one goes as given: the tracer's own error says what is wrong with it.)
      return installed.forceFlush(valid ? Math.max(0, ms - (performance.now() - start)) : timeoutMs);
    },
    async uninstall(timeoutMs) {
      uninstallAsked = true;
      const installed = await api.ready.catch(() => null);
      traced = null;
      if (installed) await installed.uninstall(timeoutMs);
    },
  };

  let script;
  let options;
  let from;
  try {
    script = ownScript();
    ({ options, from } = readOptions(script));
  } catch (error) {
    failure = error;
    console.error(error.message);
    api.ready = Promise.reject(error);
    api.ready.catch(() => {});
    globalThis.fetchspan = api;
    return;
  }

  // Until the module is ready: the native fetch, counted. Once installed, the code that took this function
  // meanwhile (a library that keeps `globalThis.fetch` when it loads) is traced too: it calls the installed fetch,
  // when fetchspan patched the native fetch it put back (not a wrapper the page put on over this one, which calls
  // this one: that would loop), until `uninstall()` through `window.fetchspan`.
  // A method, as the native fetch is (`name` "fetch", `length` 1, no `prototype`, `new` throws).
  const fetchBeforeReady = {
    fetch(input) {
      if (traced !== null) return Reflect.apply(traced, this, arguments);
      if (waiting) early += 1;
      return Reflect.apply(nativeFetch, this, arguments);
    },
  }.fetch;
  // Whether the native fetch went back in place of this script's.
  const restoreFetch = () => {
    waiting = false;
    if (globalThis.fetch !== fetchBeforeReady) return false;
    globalThis.fetch = nativeFetch;
    return true;
  };
  if (typeof nativeFetch === 'function') globalThis.fetch = fetchBeforeReady;

  const wasmUrl = new URL('fetchspan_bg.wasm', script.src);
  api.ready = loadWasm(wasmUrl, nativeFetch).then(() => {
    const restored = restoreFetch();
    if (uninstallAsked) throw new Error('fetchspan: uninstall() was called before install finished');
    try {
      // The exports go through the page's fetch as it was before this script, not through a wrapper the page may
      // have put on while the module loaded (an auth interceptor would send the app's credentials to the collector).
      tracer = installNow({ ...options, [Symbol.for('fetchspan.exportFetch')]: nativeFetch });
      if (restored) traced = globalThis.fetch;
      return tracer;
    } catch (error) {
      // The option the message is about, or else another one it names (a limit set by another attribute), not
      // counting the list of known options an unknown one of `fetchspanConfig` gets.
      const message = String(error?.message).split(' (known')[0];
      const named = /option "(\w+)/.exec(message)?.[1];
      const option = from[named] ? named : Object.keys(from).find((key) => new RegExp(`\\b${key}\\b`).test(message));
      if (option && from[option]) {
        error = new TypeError(`fetchspan: attribute ${from[option]} is invalid: ${error.message.replace(/^fetchspan: /, '')}; fetchspan is not installed`, { cause: error });
      }
      throw error;
    }
  });
  api.ready.catch((error) => {
    restoreFetch();
    failure = error;
    if (!uninstallAsked) console.error(error.message);
  });
  globalThis.fetchspan = api;
}

start();
