//! Stage 3 of a request: the body (its JS half is `body.js`; `patch.js` routes the patched `Response.prototype`
//! members here). It decides how every body ends and what its span says about it: `no-body` for the
//! responses whose bodies are never touched, whole-body reads served natively (their size and where it comes
//! from), the stream, the response collected unread, and an abort after the response arrived; and a streamed span's
//! wait for its resource-timing entry when the body ended first ([`TimingWait`]). [`RequestSpan`]'s body calls are
//! here.
//!
//! A body read as a stream runs through a pass-through `TransformStream` whose transformer is
//! [`CountingTransformer`]; a pump of ours (not `pipeTo`) probes its writable for the app's reads and enqueues the
//! native body's chunks, counted, into its readable, so it knows whether the app or the network is waited on. Its
//! span gets exact bytes and chunks on every end, time to first chunk, the longest gap, stalls by cause, SSE events.
//! Never clones, never buffers: each chunk is enqueued as it came, its `byteLength` is the only thing read, and
//! nothing is copied into wasm memory.

use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::{Cell, RefCell};

use js_sys::{Array, Function, JsString};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ReadableStream, Response, ResponseType};

use crate::clock::{from_performance_ms, now_ms};
use crate::record::{Attributes, EndReason, Event, SpanRecord, Value};
use crate::registration::Timeout;
use crate::semconv;
use crate::span::{error_name, mark_error, RequestSpan, SpanCell};
use crate::timing::ResourceTiming;
use crate::tracer::TracerCore;

// `streamBody` of src/body.js, this stage's JS half, through src/patch.js (see there why).
#[wasm_bindgen(module = "/src/patch.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = streamBody)]
    fn stream_body_js(
        transformer: CountingTransformer,
        source: &ReadableStream,
        sse: bool,
        stall_ms: f64,
        branch: &JsValue,
    ) -> Result<JsValue, JsValue>;
}

// rustfmt would drop the static strings' values.
#[rustfmt::skip]
#[wasm_bindgen]
extern "C" {
    type HeaderList;
    /// `Headers.prototype.get` with the name as a JS string made once (no decode per call).
    #[wasm_bindgen(method, catch, js_name = get)]
    fn get_by(this: &HeaderList, name: &JsString) -> Result<Option<String>, JsValue>;
    #[wasm_bindgen(thread_local_v2, static_string)]
    static CONTENT_ENCODING: JsString = "content-encoding";
    #[wasm_bindgen(thread_local_v2, static_string)]
    static CONTENT_LENGTH: JsString = "content-length";
}

/// Statuses whose responses never have a body to follow.
const NULL_BODY_STATUSES: [u16; 5] = [101, 103, 204, 205, 304];

/// Ends the span now as `no-body`, and returns true, when the response that arrived has no body fetchspan follows:
/// HEAD, a null-body status, an opaque or error response (their bodies are never touched).
pub(crate) fn ended_without_body(span: &SpanCell, kind: ResponseType, status: u16, is_head: bool) -> bool {
    let opaque = matches!(
        kind,
        ResponseType::Opaque | ResponseType::Opaqueredirect | ResponseType::Error
    );
    let bodiless = is_head || opaque || NULL_BODY_STATUSES.contains(&status);
    if bodiless {
        span.end(EndReason::NoBody, |_| {});
    }
    bodiless
}

/// The body stage's calls on a request's span, from `patch.js`'s patched `Response.prototype` members: how the
/// app takes the body decides how the span ends.
#[wasm_bindgen]
impl RequestSpan {
    /// The app takes the body as a stream: returns `{ readable, used, detach }` (see `streamBody` in `body.js`).
    /// From here on, a body the app holds without pulling for the idle timeout ends as `abandoned`. (An unread body
    /// needs no timer: the span ends when the app reads it, or as `abandoned` when the `Response` is collected.)
    /// `event_stream`: the response is `text/event-stream`. `branch` is `patch.js`'s entry of the response (of the
    /// same request's span, a clone is another branch: see `streamBody`), whose `failed` counts a failure of ours.
    /// `timing` returns the request's resource-timing entry, packed (see [`crate::timing`]), when the span ends.
    #[wasm_bindgen(js_name = streamBody)]
    pub fn stream_body(
        &self,
        source: &ReadableStream,
        event_stream: bool,
        branch: &JsValue,
        timing: Function,
    ) -> Result<JsValue, JsValue> {
        stream(&self.cell, source, event_stream, branch, timing)
    }

    /// A whole-body method served natively resolved; `size` is its value's size (`arrayBuffer`, `bytes`, `blob`),
    /// `timing` the request's resource-timing entry, packed, when one is visible ([`natively_read`] works out the
    /// rest). `at` is when it resolved, as `performance.now()`.
    #[wasm_bindgen(js_name = readNatively)]
    pub fn read_natively(&self, response: &Response, size: Option<f64>, timing: Option<Array>, at: f64) {
        let timing = timing.map(ResourceTiming::new);
        // Not borrowed while `natively_read` reads the headers: a page that patched `Headers.prototype.get` runs
        // there, and may abort this very request.
        let Some(same_origin) = self.cell.same_origin() else {
            return;
        };
        let known = natively_read(response, size, timing.as_ref(), same_origin);
        self.cell
            .end_at(EndReason::Completed, from_performance_ms(at), |record| {
                describe_natively_read(record, known);
                if let Some(timing) = &timing {
                    timing.describe(record);
                }
            });
    }

    /// A whole-body method served natively rejected.
    #[wasm_bindgen(js_name = readFailed)]
    pub fn read_failed(&self, error: JsValue) {
        self.cell.end_failed(&error);
    }

    /// A service worker handed the unread response to `event.respondWith`: the platform reads the body from here
    /// on, out of our sight, so the span ends now as `responded`.
    #[wasm_bindgen(js_name = respondedWith)]
    pub fn responded_with(&self) {
        self.cell.end(EndReason::Responded, |_| {});
    }

    /// The app looked at the body and there is none at all (a service worker's `new Response(null)`, in engines
    /// that pass it on as it is): nothing else would end the span, which ends now as `no-body`.
    #[wasm_bindgen(js_name = noBody)]
    pub fn no_body(&self) {
        self.cell.end(EndReason::NoBody, |_| {});
    }

    /// The garbage collector took the response. Unless its body runs through our stream (the app may hold just
    /// the stream, which then ends the span), the body was dropped unread: the span ends as `abandoned`.
    pub fn collected(&self) {
        if !self.cell.progress.streaming() {
            self.cell.abandon();
        }
    }
}

/// How a body's span ends: with the stream's account of it, abandoned, or aborted after the response arrived.
impl SpanCell {
    /// Ends a span whose body was read as a stream, with what the body stage says of it (exact bytes and chunks,
    /// timings, stalls, SSE events), `ago_ms` before now: a stream the app stopped pulling ends where it stopped,
    /// not when the idle timeout noticed.
    pub(crate) fn end_body(&self, reason: EndReason, error: Option<&JsValue>, ago_ms: f64) {
        self.end_at(reason, now_ms() - ago_ms, |record| {
            self.progress.describe(record);
            if let Some(error) = error {
                mark_error(record, error_name(error, "Error"));
            }
        });
    }

    /// Ends the span as `abandoned` where the request stopped, not when fetchspan noticed (the idle timeout, the
    /// collector): a streamed body at the app's last pull, a response dropped unread at its arrival (its first
    /// event, `fetchspan.response.headers`).
    pub(crate) fn abandon(&self) {
        if self.progress.streaming() {
            self.end_body(EndReason::Abandoned, None, self.progress.app_idle_ms());
        } else {
            self.end_at(EndReason::Abandoned, self.arrived_ms().unwrap_or_else(now_ms), |_| {});
        }
    }

    /// Hands the ended span's `record` to `tracer`, or to its [`TimingWait`] when the body ended before its
    /// resource-timing entry came and one will: it completed, or the app cancelled or aborted it where the engine
    /// gives such bodies an entry too (Chromium and Firefox do, a few milliseconds later; WebKit doesn't, which the
    /// wait learns from the first one). An abandoned body's request may still be loading, and a failed one's entry
    /// is there at once.
    pub(crate) fn deliver(&self, tracer: &Rc<TracerCore>, record: SpanRecord) {
        let waits = match record.end_reason {
            EndReason::Completed => true,
            EndReason::Cancelled | EndReason::Aborted => tracer.timing.cut_bodies.get() != NO_CUT_ENTRIES,
            _ => false,
        };
        match self.progress.awaiting_timing.take() {
            Some(lookup) if waits => TimingWait::park(tracer, record, lookup),
            _ => tracer.finish(record),
        }
    }

    /// The request's signal aborted after the response arrived (the span's abort listener).
    pub(crate) fn body_aborted(&self) {
        if !self.progress.streaming() {
            self.end(EndReason::Aborted, |_| {});
            return;
        }
        // A body the pump watches ends from the pump, which sees the native body fail with the abort, so the span
        // carries the bytes the app received (a chunk the pump holds included); the app's stream fails with the
        // abort at once, as the native body did. Before the pump watches it (the app has neither read nor locked
        // its stream), nothing will: it ends now, with what the pump's report says (no bytes), and the app's stream
        // is left to the pump (an empty body may have closed unseen). Unless the app cancelled its stream first, in
        // this task (pdf.js cancels a reader it won't use, then aborts): that cancel, on its way to the pump, ends
        // the span as cancelled.
        if self.progress.watched() {
            if let Some(reason) = self.abort_reason() {
                self.progress.abort_stream(&reason);
            }
        } else if !self.progress.cancelled_by_app() {
            self.end_body(EndReason::Aborted, None, 0.0);
        }
    }
}

/// Interposes on a tracked response's native body: starts the pump (`streamBody` in `body.js`) and the idle
/// watch, and returns `{ readable, used, detach }` for `patch.js`.
fn stream(
    span: &Rc<SpanCell>,
    source: &ReadableStream,
    event_stream: bool,
    branch: &JsValue,
    timing: Function,
) -> Result<JsValue, JsValue> {
    // An ended span (say, aborted before the app took the body) has nothing to count: the app gets the native body.
    let tracer = span.tracer().ok_or(JsValue::UNDEFINED)?;
    let options = &tracer.options;
    let (sse, stall_ms) = (options.sse && event_stream, options.stall_threshold_ms);
    // Another branch of a cloned response may stream through us already (then the span is in the idle watch).
    let streamed = span.progress.streaming.replace(true);
    span.progress.timing.replace(Some(timing));
    let body = stream_body_js(
        CountingTransformer { span: span.clone() },
        source,
        sse,
        stall_ms,
        branch,
    )
    .inspect_err(|_| {
        // The app gets the native body: nothing (else) streams through us.
        if !streamed {
            span.progress.streaming.set(false);
            span.progress.timing.take();
        }
    })?;
    if !streamed {
        IdleWatch::add(&tracer, span);
    }
    Ok(body)
}

/// The decoded size of a body a whole-body method read natively, and its source: `value_size` (what
/// `arrayBuffer`, `bytes` and `blob` resolved to); for `text`, `json` and `formData`, `Content-Length` when that is
/// the decoded size (a same-origin response, so `Content-Encoding` is visible, with no content coding), else the
/// resource-timing entry's `decodedBodySize`; else unknown.
fn natively_read(
    response: &Response,
    value_size: Option<f64>,
    timing: Option<&ResourceTiming>,
    same_origin: bool,
) -> Option<(u64, &'static str)> {
    if let Some(size) = value_size {
        return Some((size as u64, "value"));
    }
    if let Some(length) = same_origin.then(|| decoded_length(response)).flatten() {
        return Some((length, "content-length"));
    }
    timing?
        .decoded_body_size()
        .map(|size| (size, "resource-timing"))
}

/// Writes what [`natively_read`] found: `fetchspan.response.decoded_size` and its `size_source`, or
/// `size_source: unknown`.
fn describe_natively_read(record: &mut SpanRecord, known: Option<(u64, &'static str)>) {
    let source = match known {
        Some((bytes, source)) => {
            record
                .attributes
                .set(semconv::DECODED_SIZE, Value::Int(bytes as i64));
            source
        }
        None => "unknown",
    };
    record
        .attributes
        .set(semconv::SIZE_SOURCE, Value::string(source.into()));
}

/// `Content-Length`, when it is the decoded size, on a same-origin response (so `Content-Encoding` is visible):
/// not content-encoded.
fn decoded_length(response: &Response) -> Option<u64> {
    let headers = response.headers();
    let headers: &HeaderList = headers.unchecked_ref();
    if CONTENT_ENCODING
        .with(|name| headers.get_by(name))
        .ok()
        .flatten()
        .is_some()
    {
        return None;
    }
    CONTENT_LENGTH
        .with(|name| headers.get_by(name))
        .ok()
        .flatten()?
        .trim_ascii()
        .parse()
        .ok()
}

/// A streamed body's state on the span's side. What the app has taken (bytes, chunks) is counted by the pump in
/// JS and read with its report.
#[derive(Default)]
pub struct BodyProgress {
    streaming: Cell<bool>,
    /// Whether the pump holds the native body's reader (it takes it at the app's first read or lock).
    watched: Cell<bool>,
    /// The pump's report (bytes, chunks, timings, SSE count, stalls), read when the span ends and when the idle
    /// timer fires; called with an abort's reason, it fails the app's stream (`reporter` in `body.js`).
    report: RefCell<Option<Function>>,
    /// Returns the request's resource-timing entry, packed, null when none will come, or undefined when none has
    /// come yet; called when the span ends.
    timing: RefCell<Option<Function>>,
    /// That lookup, when the body ended before its entry came: the span may wait for it ([`TimingWait`]).
    awaiting_timing: RefCell<Option<Function>>,
}

impl BodyProgress {
    /// Whether the body runs through a counting stream (then that stream ends the span, even if the app keeps
    /// only the stream and lets the `Response` be collected).
    pub fn streaming(&self) -> bool {
        self.streaming.get()
    }

    /// Whether the pump watches the native body, and so sees its failure (an abort) itself.
    pub fn watched(&self) -> bool {
        self.watched.get()
    }

    /// The request's signal aborted, and with it the native body the pump holds: the app's stream fails with
    /// `reason` now.
    pub(crate) fn abort_stream(&self, reason: &JsValue) {
        let report = self.report.borrow().clone();
        if let Some(report) = report {
            let _ = report.call1(&JsValue::UNDEFINED, reason);
        }
    }

    /// The pump's report (see `report` in `body.js`), or an empty array before the pump started.
    fn pump_report(&self) -> Array {
        self.report
            .borrow()
            .as_ref()
            .and_then(|report| report.call0(&JsValue::UNDEFINED).ok())
            .map_or_else(Array::new, JsCast::unchecked_into)
    }

    /// How long the app has held the stream without a read pending, in milliseconds (0 while it waits for data).
    pub(crate) fn app_idle_ms(&self) -> f64 {
        self.pump_report().get(0).as_f64().unwrap_or(0.0)
    }

    /// Whether the app has cancelled its stream (the pump hears of it a few microtasks later).
    fn cancelled_by_app(&self) -> bool {
        self.pump_report().get(8).as_f64() == Some(1.0)
    }

    /// Writes what a streamed body's span says: exact size, chunks, timings, SSE events and stalls.
    pub(crate) fn describe(&self, record: &mut SpanRecord) {
        if let Some(lookup) = self.timing.take() {
            let timing = look_up(&lookup);
            if timing.is_undefined() {
                self.awaiting_timing.replace(Some(lookup));
            } else if let Ok(timing) = timing.dyn_into::<Array>() {
                ResourceTiming::new(timing).describe(record);
            }
        }
        let report = self.pump_report();
        let number = |index: u32| report.get(index).as_f64().unwrap_or(-1.0);
        let attributes = &mut record.attributes;
        attributes.set(semconv::SIZE_SOURCE, Value::string("stream".into()));
        attributes.set(semconv::DECODED_SIZE, Value::Int(number(6).max(0.0) as i64));
        attributes.set(semconv::CHUNKS, Value::Int(number(7).max(0.0) as i64));
        let first_chunk = number(1);
        if first_chunk >= 0.0 {
            // The pump's clock read when the chunk came: no clock read of its own here.
            record.events.push(Event::at(
                semconv::EVENT_FIRST_BYTE,
                from_performance_ms(first_chunk),
            ));
            let ms = from_performance_ms(first_chunk) - record.start_ms;
            attributes.set(
                semconv::TIME_TO_FIRST_CHUNK,
                Value::Int(crate::clock::round(ms)),
            );
            attributes.set(semconv::MAX_GAP, Value::Int(crate::clock::round(number(2))));
        }
        let sse_events = number(3);
        if sse_events >= 0.0 {
            attributes.set(semconv::SSE_EVENTS, Value::Int(sse_events as i64));
            let first_event = number(4);
            if first_event >= 0.0 {
                record.events.push(Event::at(
                    semconv::EVENT_SSE_FIRST,
                    from_performance_ms(first_event),
                ));
            }
        }
        let kept = report.length().saturating_sub(STALLS_AT) / 3;
        let dropped = number(5).max(0.0);
        record.dropped_events += dropped as u32;
        let stalls = f64::from(kept) + dropped;
        if report.length() > 0 {
            record
                .attributes
                .set(semconv::STALLS, Value::Int(stalls as i64));
        }
        for index in 0..kept {
            let at = STALLS_AT + index * 3;
            let network = number(at) == 0.0;
            let mut attributes = Attributes::default();
            let cause = if network { "network" } else { "consumer" };
            attributes.set(semconv::STALL_CAUSE, Value::string(cause.into()));
            attributes.set(
                semconv::STALL_DURATION,
                Value::Int(crate::clock::round(number(at + 2))),
            );
            record.events.push(Event {
                name: if network {
                    semconv::EVENT_STALL
                } else {
                    semconv::EVENT_BACKPRESSURE
                },
                time_ms: from_performance_ms(number(at + 1)),
                attributes,
            });
        }
    }
}

/// Where the stalls start in the pump's report (see `report` in `body.js`).
const STALLS_AT: u32 = 9;

/// Streams checked at most between two prunings of ended ones from [`IdleWatch`]'s list.
const PRUNE_EVERY: usize = 64;

/// Ends a streamed body as `abandoned` when the app holds the stream without pulling for the idle timeout (a quiet
/// stream the app is waiting on is alive). One timer per tracer for all its streams, armed for the earliest moment
/// any of them could reach the timeout: a timer per stream cost about 22 µs a request in `setTimeout` and
/// `clearTimeout` (the benchmark's profile). Ended streams leave the list lazily, at the next check or pruning.
#[derive(Default)]
pub struct IdleWatch {
    streams: RefCell<Vec<Weak<SpanCell>>>,
    timer: RefCell<Option<Timeout>>,
}

/// Drops the watched spans that are gone or no longer stream.
fn prune(streams: &mut Vec<Weak<SpanCell>>) {
    streams.retain(|stream| stream.upgrade().is_some_and(|span| span.is_streaming()));
}

impl IdleWatch {
    /// Watches `span`'s stream from now on.
    pub(crate) fn add(tracer: &Rc<TracerCore>, span: &Rc<SpanCell>) {
        let watch = &tracer.idle;
        {
            let mut streams = watch.streams.borrow_mut();
            if streams.len() % PRUNE_EVERY == PRUNE_EVERY - 1 {
                prune(&mut streams);
            }
            streams.push(Rc::downgrade(span));
        }
        // A timer already armed fires before this stream could time out: it is armed for at most the timeout.
        if watch.timer.borrow().is_none() {
            IdleWatch::arm(tracer, tracer.options.idle_timeout_ms);
        }
    }

    /// At uninstall: drops the timer unless a stream still needs it (spans in flight still end; once they have,
    /// the timer fires once more and is not armed again).
    pub(crate) fn release_if_unused(&self) {
        let mut streams = self.streams.borrow_mut();
        prune(&mut streams);
        if streams.is_empty() {
            drop(streams);
            self.timer.take();
        }
    }

    fn arm(tracer: &Rc<TracerCore>, after_ms: f64) {
        let timer = tracer.timer(after_ms, IdleWatch::check);
        tracer.idle.timer.replace(Some(timer));
    }

    /// Ends the streams idle for the timeout, and re-arms for the earliest of the others.
    fn check(tracer: &Rc<TracerCore>) {
        let watch = &tracer.idle;
        watch.timer.take();
        let idle_ms = tracer.options.idle_timeout_ms;
        let streams = watch.streams.take();
        let mut next_ms = f64::INFINITY;
        let mut kept = Vec::with_capacity(streams.len());
        for span in streams.iter().filter_map(Weak::upgrade) {
            if !span.is_streaming() {
                continue;
            }
            let idle = span.progress.app_idle_ms();
            if idle >= idle_ms {
                // May run app code (`onSpanEnd`), which may start streams: the list is not borrowed here.
                span.end_body(EndReason::Abandoned, None, idle);
            } else {
                next_ms = next_ms.min(idle_ms - idle);
                kept.push(Rc::downgrade(&span));
            }
        }
        let mut streams = watch.streams.borrow_mut();
        streams.extend(kept);
        let any = !streams.is_empty();
        drop(streams);
        // Armed again even if a stream started meanwhile (by `onSpanEnd`) armed it for the whole timeout: the
        // streams kept may time out sooner.
        if any {
            IdleWatch::arm(tracer, next_ms.min(idle_ms));
        }
    }
}

/// `lookup`'s answer (see [`BodyProgress::timing`]); null if it threw.
fn look_up(lookup: &Function) -> JsValue {
    lookup.call0(&JsValue::UNDEFINED).unwrap_or(JsValue::NULL)
}

/// [`TimingWait::cut_bodies`]: an entry came for a cancelled or aborted body.
const CUT_ENTRIES: u8 = 1;
/// [`TimingWait::cut_bodies`]: none came in time, and none ever did.
const NO_CUT_ENTRIES: u8 = 2;

/// Records that wait for their entry at most: past it, a body's span goes on without one.
const MAX_PARKED: usize = 256;
/// The longest wait between two looks, in milliseconds: a record parked while others wait is looked at this soon.
const MAX_TIMING_RETRY_MS: f64 = 32.0;
/// How long a record waits for its entry at most, in milliseconds: Chromium queues it 0 to 4 ms after the body's
/// end on this project's 2-core test machine; one that never comes (a response a `fetch` wrapper made up, say)
/// delays its span by this much.
const MAX_TIMING_WAIT_MS: f64 = 250.0;

/// Spans of streamed bodies that ended before the engine queued their resource-timing entry, waiting for it:
/// Chromium queues a fetch's entry a task after the body's end, so an app that reads a stream as it arrives (an SSE
/// feed, an LLM's tokens, any small body) ends it first; and a body the app cancels or aborts (a "Stop" button) gets
/// its entry 5 to 15 ms later in Chromium and Firefox. Their records reach `onSpanEnd` and the exporter once the
/// entry has come, with the network timings and sizes every other span has, ended when the body did. One timer per
/// tracer for all of them, looking again after 0, 1, 2, 4 … ms (32 at most between two looks), for at most 250 ms
/// a record (an entry that never comes); `forceFlush`, `uninstall` and the exporter's unload flush deliver them at
/// once, with the entry if it has come.
#[derive(Default)]
pub struct TimingWait {
    /// Cells, not `RefCell`s: each is taken and put back, so nothing is borrowed while app code runs and there is
    /// no borrow check to fail (and no panic path in the wasm).
    parked: Cell<Vec<Parked>>,
    /// Armed whenever records wait.
    timer: Cell<Option<Timeout>>,
    /// The last wait's length, doubled for the next (up to [`MAX_TIMING_RETRY_MS`]).
    delay_ms: Cell<f64>,
    /// How many times [`TimingWait::settle`] ran: a delivery that sees it change (`onSpanEnd` called `forceFlush`
    /// or `uninstall`) delivers the records it holds at once too.
    settles: Cell<u32>,
    /// What this engine does for a body the app cancelled or aborted, learnt from the first that waited: gives it an
    /// entry ([`CUT_ENTRIES`], from then on for good) or gives it none ([`NO_CUT_ENTRIES`]: such bodies don't wait).
    cut_bodies: Cell<u8>,
}

/// A record waiting for its entry: `lookup` returns it (see [`BodyProgress::timing`]) until `until_ms` (epoch).
struct Parked {
    record: SpanRecord,
    lookup: Function,
    until_ms: f64,
}

impl TimingWait {
    fn park(tracer: &Rc<TracerCore>, record: SpanRecord, lookup: Function) {
        let wait = &tracer.timing;
        let mut parked = wait.parked.take();
        if parked.len() >= MAX_PARKED {
            wait.parked.set(parked);
            tracer.finish(record);
            return;
        }
        parked.push(Parked {
            record,
            lookup,
            until_ms: now_ms() + MAX_TIMING_WAIT_MS,
        });
        let first = parked.len() == 1;
        wait.parked.set(parked);
        if first {
            wait.delay_ms.set(0.0);
            TimingWait::arm(tracer, 0.0);
        }
    }

    fn arm(tracer: &Rc<TracerCore>, after_ms: f64) {
        let timer = tracer.timer(after_ms, |tracer| TimingWait::deliver(tracer, false));
        tracer.timing.timer.set(Some(timer));
    }

    /// Delivers every waiting record now, each with its entry if it has come (`forceFlush`, `uninstall`, the
    /// unload flush).
    pub(crate) fn settle(tracer: &Rc<TracerCore>) {
        let settles = &tracer.timing.settles;
        settles.set(settles.get().wrapping_add(1));
        TimingWait::deliver(tracer, true);
    }

    /// Delivers the records whose entry has come, with it, and those that waited long enough (all of them when
    /// `all`); waits again for the others.
    fn deliver(tracer: &Rc<TracerCore>, all: bool) {
        let wait = &tracer.timing;
        wait.timer.take();
        let now = now_ms();
        let settles = wait.settles.get();
        let mut kept: Vec<Parked> = Vec::new();
        let mut next_ms = f64::INFINITY;
        for mut parked in wait.parked.take() {
            let timing = look_up(&parked.lookup);
            let none_yet = timing.is_undefined() && !all && wait.settles.get() == settles;
            if none_yet && now < parked.until_ms {
                next_ms = next_ms.min(parked.until_ms - now);
                kept.push(parked);
                continue;
            }
            let cut = parked.record.end_reason != EndReason::Completed;
            if none_yet && cut && wait.cut_bodies.get() != CUT_ENTRIES {
                wait.cut_bodies.set(NO_CUT_ENTRIES);
            }
            if let Ok(timing) = timing.dyn_into::<Array>() {
                if cut {
                    wait.cut_bodies.set(CUT_ENTRIES);
                }
                ResourceTiming::new(timing).describe(&mut parked.record);
            }
            // May run app code (`onSpanEnd`), which may park more (and arm the timer for them).
            tracer.finish(parked.record);
        }
        if kept.is_empty() {
            return;
        }
        let mut parked = wait.parked.take();
        let armed = !parked.is_empty();
        parked.append(&mut kept);
        wait.parked.set(parked);
        if wait.settles.get() != settles {
            // `onSpanEnd` settled (`forceFlush`, `uninstall`) while these were held here.
            TimingWait::deliver(tracer, true);
        } else if !armed {
            let delay_ms = (wait.delay_ms.get() * 2.0).clamp(1.0, MAX_TIMING_RETRY_MS);
            wait.delay_ms.set(delay_ms);
            TimingWait::arm(tracer, delay_ms.min(next_ms));
        }
    }
}

/// The transformer object handed to `new TransformStream(...)`. `streamBody` in `body.js` tells it how the pump
/// ended (it never closes the writable, so the stream never calls `flush`). Every ending consumes it, so the end of
/// the stream and its cleanup are one code path; a branch of a cloned response that leaves the span to another
/// branch ends without a call, or later (the cancelled branch that ends the span once all are let go). Its
/// `transform`, which takes only the pump's probes, is an own property `streamBody` sets, in JS, and the pump counts
/// each chunk in JS into the report Rust reads at the end: a crossing into wasm per chunk (and a second for each
/// probe) cost more than the count.
#[wasm_bindgen]
pub struct CountingTransformer {
    span: Rc<SpanCell>,
}

#[wasm_bindgen]
impl CountingTransformer {
    /// The source ended and every chunk was handed on: the body completed.
    pub fn completed(self) {
        self.span.end_body(EndReason::Completed, None, 0.0);
    }

    /// `streamBody` in `body.js`'s report of its pump, read when the span ends and by the idle timer (and what
    /// fails the app's stream when the request's signal aborts); `watched`: the pump holds the native body's reader,
    /// so it sees an abort, with any chunk it holds counted. Called again whenever that changes: the pump takes the
    /// reader, another branch of a cloned response becomes the one the span follows, or a stream that ends the span
    /// makes its report the span's first.
    pub fn observe(&self, report: Function, watched: bool) {
        let progress = &self.span.progress;
        progress.report.replace(Some(report));
        progress.watched.set(watched);
    }

    /// The native body failed (network error, or the request's signal aborted it); the app's stream already
    /// carries the same error.
    #[wasm_bindgen(js_name = sourceFailed)]
    pub fn source_failed(self, error: JsValue) {
        if self.span.abort_reason().is_some() {
            self.span.end_body(EndReason::Aborted, None, 0.0);
        } else {
            self.span.end_body(EndReason::Error, Some(&error), 0.0);
        }
    }

    /// The app cancelled its stream; the native body was cancelled with the same reason.
    pub fn cancelled(self) {
        self.span.end_body(EndReason::Cancelled, None, 0.0);
    }

    /// The app read nothing, and took a whole-body method instead (that read ends the span) or cloned the response
    /// (its new native body is interposed on when the app takes it): the native body was handed back untouched.
    pub fn detached(self) {
        let progress = &self.span.progress;
        progress.streaming.set(false);
        // A stream the app takes of the native body handed back is a new one, not yet watched.
        progress.watched.set(false);
        progress.report.take();
        progress.timing.take();
    }
}
