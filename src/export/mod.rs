//! Stage 4 of a request: its finished span is exported as OTLP/HTTP JSON.
//!
//! Owns: the bounded queue, the scheduled-export timer, the one export run in flight (and its AbortController),
//! the unload listeners and the keepalive budget. Never: sends through the patched `fetch` (it uses the one that
//! was in place at install, so it never traces itself), holds more than `maxQueueSize` spans (queued and in
//! flight together), or leaves a timer, listener or request behind once `shutdown` returns.

mod otlp;
mod retry;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, AbortSignal};

use crate::clock::now_ms;
use crate::options::ExportOptions;
use crate::record::SpanRecord;
use crate::registration::{EventListener, Timeout};
use retry::Verdict;

/// What fetchspan's keepalive requests may hold in flight at once: bytes and requests. The page shares a
/// 64 KiB budget (and about 9 requests) across all its keepalive fetches and beacons; this leaves it room.
const KEEPALIVE_BYTES: usize = 60_000;
const KEEPALIVE_REQUESTS: usize = 8;
/// How often a flush checks whether the queue has drained.
const FLUSH_POLL_MS: f64 = 10.0;

#[wasm_bindgen(module = "/src/export/transport.js")]
extern "C" {
    #[wasm_bindgen(js_name = post)]
    fn post_js(
        fetch: &Function,
        url: &str,
        headers: &Object,
        body: &str,
        signal: &AbortSignal,
        timeout_ms: f64,
        keepalive: bool,
    ) -> Promise;

    #[wasm_bindgen(js_name = sleep)]
    fn sleep_js(ms: f64, signal: &AbortSignal) -> Promise;
}

/// Export counters, in `tracer.stats()`.
#[derive(Default)]
pub struct ExportStats {
    /// Spans the collector accepted.
    pub exported: Cell<u64>,
    /// Spans dropped: queue full, a batch refused or out of attempts, or left at shutdown.
    pub dropped: Cell<u64>,
    /// Spans the collector refused in a partial success (`rejectedSpans`).
    pub rejected: Cell<u64>,
    /// Batches given up on (refused, or out of attempts).
    pub failed_batches: Cell<u64>,
    /// Export attempts that were retries.
    pub retries: Cell<u64>,
}

fn add(counter: &Cell<u64>, n: usize) {
    counter.set(counter.get() + n as u64);
}

/// What a flush achieved: `{ exported, dropped, timedOut }`.
pub struct FlushResult {
    /// Spans exported while it ran.
    pub exported: u64,
    /// Spans dropped while it ran.
    pub dropped: u64,
    /// The deadline passed with spans still queued or in flight.
    pub timed_out: bool,
}

/// The OTLP/HTTP JSON exporter of one installation.
pub struct Exporter {
    options: ExportOptions,
    url: String,
    fetch: Function,
    queue: RefCell<VecDeque<SpanRecord>>,
    /// Spans taken out of the queue by the run in flight (they count against the queue bound).
    in_flight: Cell<usize>,
    run: RefCell<Option<AbortController>>,
    timer: RefCell<Option<Timeout>>,
    unload_listeners: RefCell<Vec<EventListener>>,
    keepalive_bytes: Cell<usize>,
    keepalive_requests: Cell<usize>,
    closed: Cell<bool>,
    /// Counters.
    pub stats: ExportStats,
}

impl Exporter {
    /// An exporter for `options`, sending with `fetch`.
    pub fn new(options: ExportOptions, fetch: Function) -> Rc<Self> {
        Rc::new(Exporter {
            url: options.url.clone(),
            options,
            fetch,
            queue: RefCell::default(),
            in_flight: Cell::new(0),
            run: RefCell::default(),
            timer: RefCell::default(),
            unload_listeners: RefCell::default(),
            keepalive_bytes: Cell::new(0),
            keepalive_requests: Cell::new(0),
            closed: Cell::new(false),
            stats: ExportStats::default(),
        })
    }

    /// The deadline of one export request, and the default of `forceFlush`.
    pub fn export_timeout_ms(&self) -> f64 {
        self.options.export_timeout_ms
    }

    /// Spans waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queue.borrow().len()
    }

    /// Whether an export run is in flight.
    pub fn exporting(&self) -> bool {
        self.run.borrow().is_some()
    }

    /// Keepalive requests in flight.
    pub fn keepalive_in_flight(&self) -> usize {
        self.keepalive_requests.get()
    }

    /// Queues a finished span, or drops and counts it when the queue is full or the exporter shut down.
    pub fn enqueue(self: &Rc<Self>, span: SpanRecord) {
        let held = self.queued() + self.in_flight.get();
        if self.closed.get() || held >= self.options.max_queue_size {
            add(&self.stats.dropped, 1);
            return;
        }
        self.queue.borrow_mut().push_back(span);
        if self.exporting() {
            return;
        }
        if self.queued() >= self.options.max_export_batch_size {
            self.start_run();
        } else if self.timer.borrow().is_none() {
            self.schedule();
        }
    }

    fn schedule(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let timer = Timeout::new(self.options.scheduled_delay_ms, move || {
            if let Some(exporter) = weak.upgrade() {
                exporter.timer.take();
                exporter.start_run();
            }
        });
        self.timer.replace(Some(timer));
    }

    /// Starts exporting the queue, batch after batch, unless a run is already in flight.
    fn start_run(self: &Rc<Self>) {
        if self.exporting() || self.closed.get() || self.queued() == 0 {
            return;
        }
        self.timer.take();
        let controller = abort_controller();
        let signal = controller.signal();
        self.run.replace(Some(controller));
        let exporter = self.clone();
        spawn_local(async move {
            exporter.export_queue(&signal).await;
            exporter.run.take();
            if !exporter.closed.get() && exporter.queued() > 0 && exporter.timer.borrow().is_none()
            {
                exporter.schedule();
            }
        });
    }

    async fn export_queue(&self, signal: &AbortSignal) {
        while !signal.aborted() {
            let batch: Vec<SpanRecord> = {
                let mut queue = self.queue.borrow_mut();
                let n = queue.len().min(self.options.max_export_batch_size);
                queue.drain(..n).collect()
            };
            if batch.is_empty() {
                return;
            }
            self.in_flight.set(batch.len());
            let sent = self.send_with_retries(&batch, signal).await;
            self.in_flight.set(0);
            if !sent {
                // Aborted by a flush deadline or shutdown: the spans go back to the front of the queue.
                let mut queue = self.queue.borrow_mut();
                for span in batch.into_iter().rev() {
                    queue.push_front(span);
                }
                return;
            }
        }
    }

    /// Sends one batch, retrying as [`retry::verdict`] says. False when `signal` aborted it.
    async fn send_with_retries(&self, batch: &[SpanRecord], signal: &AbortSignal) -> bool {
        let body = otlp::encode(&self.options.resource, batch);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = self.post(&body, signal, false).await;
            if signal.aborted() {
                return false;
            }
            let (status, retry_after) = match &answer {
                Ok(answer) => (Some(answer.status), answer.retry_after_ms),
                Err(_) => (None, None),
            };
            match retry::verdict(status, retry_after, attempt, js_sys::Math::random()) {
                Verdict::Done => {
                    let rejected = answer
                        .map_or(0, |answer| answer.rejected_spans)
                        .min(batch.len());
                    add(&self.stats.exported, batch.len() - rejected);
                    add(&self.stats.rejected, rejected);
                    return true;
                }
                Verdict::Refused => {
                    add(&self.stats.failed_batches, 1);
                    add(&self.stats.dropped, batch.len());
                    return true;
                }
                Verdict::RetryAfter(ms) => {
                    add(&self.stats.retries, 1);
                    let _ = JsFuture::from(sleep_js(ms, signal)).await;
                    if signal.aborted() {
                        return false;
                    }
                }
            }
        }
    }

    async fn post(
        &self,
        body: &str,
        signal: &AbortSignal,
        keepalive: bool,
    ) -> Result<Answer, JsValue> {
        let answer = JsFuture::from(self.start_post(body, signal, keepalive)).await?;
        Ok(Answer::read(&answer))
    }

    /// Starts the POST now (synchronously: an unload handler must have sent before it returns).
    fn start_post(&self, body: &str, signal: &AbortSignal, keepalive: bool) -> Promise {
        post_js(
            &self.fetch,
            &self.url,
            &self.options.headers,
            body,
            signal,
            self.options.export_timeout_ms,
            keepalive,
        )
    }

    /// Exports everything queued, by `timeout_ms` at the latest. At the deadline the run in flight is aborted (its
    /// spans go back to the queue) and awaited, so nothing of this flush is pending when it resolves.
    pub async fn force_flush(self: &Rc<Self>, timeout_ms: f64) -> FlushResult {
        let (exported, dropped) = (self.stats.exported.get(), self.stats.dropped.get());
        let deadline = now_ms() + timeout_ms;
        let never = never_aborts();
        let timed_out = loop {
            if !self.exporting() {
                if self.queued() == 0 {
                    break false;
                }
                self.start_run();
            }
            let left = deadline - now_ms();
            if left <= 0.0 {
                break true;
            }
            let _ = JsFuture::from(sleep_js(left.min(FLUSH_POLL_MS), &never)).await;
        };
        if timed_out {
            self.abort_run().await;
        }
        FlushResult {
            exported: self.stats.exported.get() - exported,
            dropped: self.stats.dropped.get() - dropped,
            timed_out,
        }
    }

    /// Aborts the run in flight, if any, and waits until it has let go of its request.
    async fn abort_run(&self) {
        let controller = self.run.borrow().clone();
        if let Some(controller) = controller {
            controller.abort();
            let never = never_aborts();
            // The aborted fetch settles in a microtask; a zero sleep lets the run observe it and finish.
            while self.exporting() {
                let _ = JsFuture::from(sleep_js(0.0, &never)).await;
            }
        }
    }

    /// Flushes by `timeout_ms`, then releases everything: listeners, the timer, any request in flight. Spans left
    /// (or arriving later) are counted as dropped.
    pub async fn shutdown(self: &Rc<Self>, timeout_ms: f64) -> FlushResult {
        self.unload_listeners.take();
        let result = self.force_flush(timeout_ms).await;
        self.closed.set(true);
        self.timer.take();
        self.abort_run().await;
        let left = self.queue.take().len();
        add(&self.stats.dropped, left);
        result
    }

    /// Flushes with `keepalive` when the page is hidden or unloaded (option `unloadFlush`; pages only).
    pub fn listen_for_unload(self: &Rc<Self>) {
        if !self.options.unload_flush {
            return;
        }
        let global = js_sys::global();
        let mut listeners = Vec::new();
        let document = Reflect::get(&global, &"document".into())
            .ok()
            .and_then(|d| d.dyn_into::<web_sys::Document>().ok());
        if let Some(document) = document {
            let weak = Rc::downgrade(self);
            let watched = document.clone();
            listeners.push(EventListener::new(
                &document,
                "visibilitychange",
                move |_| {
                    if watched.visibility_state() == web_sys::VisibilityState::Hidden {
                        flush_for_unload(&weak);
                    }
                },
            ));
            let weak = Rc::downgrade(self);
            listeners.push(EventListener::new(
                global.unchecked_ref(),
                "pagehide",
                move |_| flush_for_unload(&weak),
            ));
        }
        self.unload_listeners.replace(listeners);
    }

    /// Sends what is queued with `keepalive`, within fetchspan's share of the page's keepalive budget: batches are
    /// halved until they fit; what doesn't fit stays queued for the next chance.
    fn send_for_unload(self: &Rc<Self>) {
        loop {
            let room = KEEPALIVE_BYTES.saturating_sub(self.keepalive_bytes.get());
            if self.keepalive_requests.get() >= KEEPALIVE_REQUESTS || self.queued() == 0 {
                return;
            }
            let mut n = self.queued().min(self.options.max_export_batch_size);
            let body = loop {
                let mut queue = self.queue.borrow_mut();
                let body = otlp::encode(&self.options.resource, &queue.make_contiguous()[..n]);
                if body.len() <= room || n == 1 {
                    break body;
                }
                n /= 2;
            };
            if body.len() > room {
                return;
            }
            self.queue.borrow_mut().drain(..n);
            self.keepalive_bytes
                .set(self.keepalive_bytes.get() + body.len());
            self.keepalive_requests
                .set(self.keepalive_requests.get() + 1);
            let never = never_aborts();
            let sending = JsFuture::from(self.start_post(&body, &never, true));
            let exporter = self.clone();
            spawn_local(async move {
                match sending.await.map(|answer| Answer::read(&answer)) {
                    Ok(answer) if (200..300).contains(&answer.status) => {
                        let rejected = answer.rejected_spans.min(n);
                        add(&exporter.stats.exported, n - rejected);
                        add(&exporter.stats.rejected, rejected);
                    }
                    _ => add(&exporter.stats.dropped, n),
                }
                exporter
                    .keepalive_bytes
                    .set(exporter.keepalive_bytes.get() - body.len());
                exporter
                    .keepalive_requests
                    .set(exporter.keepalive_requests.get() - 1);
            });
        }
    }
}

fn abort_controller() -> AbortController {
    // AbortController exists wherever fetch does. (No `expect`: its message formatting would pull in core::fmt.)
    AbortController::new()
        .unwrap_or_else(|_| wasm_bindgen::throw_str("fetchspan: AbortController is missing"))
}

/// A signal for waits and requests nothing aborts.
fn never_aborts() -> AbortSignal {
    abort_controller().signal()
}

fn flush_for_unload(exporter: &Weak<Exporter>) {
    if let Some(exporter) = exporter.upgrade() {
        exporter.send_for_unload();
    }
}

/// The parts of the collector's answer the exporter uses.
struct Answer {
    status: u16,
    retry_after_ms: Option<f64>,
    rejected_spans: usize,
}

impl Answer {
    fn read(answer: &JsValue) -> Answer {
        let get = |key: &str| Reflect::get(answer, &key.into()).unwrap_or(JsValue::UNDEFINED);
        let retry_after = get("retryAfterMs").as_f64().filter(|ms| *ms >= 0.0);
        Answer {
            status: get("status").as_f64().unwrap_or(0.0) as u16,
            retry_after_ms: retry_after,
            // Parsed in transport.js: a JSON parser in the wasm would weigh more than the exporter.
            rejected_spans: get("rejectedSpans").as_f64().unwrap_or(0.0) as usize,
        }
    }
}
