//! Stage 4 of a request: its finished span is exported as OTLP/HTTP JSON.
//!
//! The Rust half encodes each span once, as it ends ([`otlp`]), and hands the string to the JS half,
//! `exporter.js`: the bounded queue, the scheduled export, retries, `forceFlush`, the keepalive flush when the page
//! is hidden, and `shutdown`. Those are async and timer-driven; written as Rust futures they weighed about 9 KB of
//! the gzipped wasm (issue 7), for no speed: they run once per batch, not per request.

mod otlp;

use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;

use crate::options::ExportOptions;
use crate::record::SpanRecord;

#[wasm_bindgen(module = "/src/export/exporter.js")]
extern "C" {
    /// The exporter of one installation (`Exporter` in `exporter.js`).
    pub type Exporter;

    #[wasm_bindgen(constructor)]
    fn new(fetch: &Function, options: &JsValue, prefix: &str, suffix: &str) -> Exporter;

    /// Queues one span's OTLP JSON, or drops and counts it when the queue is full.
    #[wasm_bindgen(method)]
    fn enqueue(this: &Exporter, span: &str);

    /// Starts the keepalive flush on `visibilitychange` (hidden) and `pagehide`, when `unloadFlush` is on.
    #[wasm_bindgen(method, js_name = listenForUnload)]
    pub fn listen_for_unload(this: &Exporter, settle: &Function);

    /// `tracer.stats()`: the span counters, then the export counters (zeros without an exporter).
    #[wasm_bindgen(js_name = tracerStats)]
    pub fn tracer_stats(
        started: f64,
        ended: f64,
        passthrough_failures: f64,
        hook_failures: f64,
        exporter: Option<&Exporter>,
    ) -> Object;

    /// `forceFlush`: resolves to `{ exported, dropped, timedOut }` by `timeout_ms` (default `exportTimeoutMs`).
    #[wasm_bindgen(js_name = forceFlush)]
    pub fn force_flush(exporter: Option<&Exporter>, timeout_ms: Option<f64>) -> Promise;

    /// Flushes by `timeout_ms`, then releases every listener, timer and request of the exporter (but a keepalive
    /// request the page's unload sent, which is meant to outlive the page).
    pub fn shutdown(exporter: Option<&Exporter>, timeout_ms: f64) -> Promise;
}

impl Exporter {
    /// An exporter for `options`, sending with `fetch`.
    pub fn create(options: &ExportOptions, fetch: &Function) -> Exporter {
        let [prefix, suffix] = otlp::envelope(&options.resource);
        Exporter::new(fetch, &options.settings, &prefix, &suffix)
    }

    /// Encodes a finished span and queues it.
    pub fn export(&self, span: &SpanRecord) {
        self.enqueue(&otlp::encode_span(span));
    }
}
