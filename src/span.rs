//! Stage 2 of a request: its span's lifecycle, from `fetch` being called to its end: the record, the response's
//! arrival, the request's failure, and the one place a span ends ([`SpanCell::end_at`]).
//!
//! [`RequestSpan`] is the handle `patch.js` holds per request: it calls into it when the response arrives and when
//! the request fails; its calls about the body are the body stage's (`src/body.rs`), which decides how a body
//! ended. The span's state lives behind one `Rc` ([`SpanCell`]) that the body's transformer
//! shares. The span owns its JS registration (the abort listener): ending the span drops it, so nothing outlives
//! it. A streamed body's idle timeout is the tracer's one timer ([`crate::body::IdleWatch`]).

use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::RefCell;

use js_sys::{Array, JsString};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Response, ResponseType};

use crate::body::{self, BodyProgress};
use crate::clock::{from_performance_ms, now_ms};
use crate::ids;
use crate::ids::SpanContext;
use crate::record::{Attributes, EndReason, Event, Link, SpanRecord, Value};
use crate::registration::EventListener;
use crate::semconv;
use crate::tracer::TracerCore;

/// What the patched `fetch` learned about a request before sending it.
pub struct RequestInfo {
    /// The span's ids (and its parent's, when the app sent a `traceparent`).
    pub context: SpanContext,
    /// The method as given.
    pub method: String,
    /// The absolute URL, credentials already redacted.
    pub url: String,
    /// Host and port, when the URL has them.
    pub server: Option<(String, u16)>,
    /// The request's signal (from `init`, else from the `Request`).
    pub signal: Option<AbortSignal>,
    /// The request body's size in bytes, when known without reading it.
    pub body_size: Option<u64>,
    /// When `fetch` was called, in epoch milliseconds.
    pub start_ms: f64,
}

/// The shared state of one request's span.
pub struct SpanCell {
    signal: Option<AbortSignal>,
    open: RefCell<Option<Box<OpenSpan>>>,
    /// Told when a span whose response `patch.js` tracks ends.
    on_untracked: RefCell<Option<js_sys::Function>>,
    pub(crate) progress: BodyProgress,
}

/// What exists only while the span is open (boxed, so an ended span's cell is small). Taking it out ends the
/// span and drops the registrations.
struct OpenSpan {
    /// Held only while the span is open: an ended span (kept by a `Response` the app still holds) keeps neither the
    /// tracer nor its `onSpanEnd` alive.
    tracer: Rc<TracerCore>,
    record: SpanRecord,
    is_head: bool,
    /// The response is same-origin (`basic`), so all its headers are visible.
    same_origin: bool,
    _abort_listener: Option<EventListener>,
}

impl SpanCell {
    /// The signal's reason, once the request's signal has aborted.
    pub(crate) fn abort_reason(&self) -> Option<JsValue> {
        self.signal
            .as_ref()
            .filter(|signal| signal.aborted())
            .map(AbortSignal::reason)
    }

    /// The tracer this span reports to, while it is open.
    pub(crate) fn tracer(&self) -> Option<Rc<TracerCore>> {
        Some(self.open.borrow().as_ref()?.tracer.clone())
    }

    /// When the response arrived (its first event, `fetchspan.response.headers`), in epoch milliseconds, while the
    /// span is open.
    pub(crate) fn arrived_ms(&self) -> Option<f64> {
        Some(self.open.borrow().as_ref()?.record.events.first()?.time_ms)
    }

    /// Whether the response is same-origin (`basic`, so all its headers are visible), while the span is open.
    pub(crate) fn same_origin(&self) -> Option<bool> {
        Some(self.open.borrow().as_ref()?.same_origin)
    }

    /// Whether the span is open with its body streaming through us (what the idle watch checks).
    pub(crate) fn is_streaming(&self) -> bool {
        self.progress.streaming() && self.open.borrow().is_some()
    }

    /// Changes the record of the span while it is open; does nothing once it has ended.
    fn update(&self, change: impl FnOnce(&mut SpanRecord)) {
        if let Some(open) = self.open.borrow_mut().as_mut() {
            change(&mut open.record);
        }
    }

    /// Ends the span now, once; later calls do nothing.
    pub(crate) fn end(&self, reason: EndReason, finish: impl FnOnce(&mut SpanRecord)) {
        self.end_at(reason, now_ms(), finish);
    }

    /// Ends the span once, at `end_ms` (epoch milliseconds); later calls do nothing.
    pub(crate) fn end_at(
        &self,
        reason: EndReason,
        end_ms: f64,
        finish: impl FnOnce(&mut SpanRecord),
    ) {
        let Some(open) = self.open.borrow_mut().take() else {
            return;
        };
        let OpenSpan {
            tracer,
            mut record,
            _abort_listener,
            ..
        } = *open;
        // The span's registration goes first: nothing of it stays registered once it has ended (a streamed body
        // leaves the tracer's idle watch at its next check).
        drop(_abort_listener);
        record.end_ms = end_ms;
        record.end_reason = reason;
        if reason == EndReason::Aborted {
            self.mark_abort(&mut record);
        }
        record
            .attributes
            .set(semconv::END_REASON, Value::string(reason.as_str().into()));
        finish(&mut record);
        self.deliver(&tracer, record);
        let on_untracked = self.on_untracked.take();
        if let Some(on_untracked) = on_untracked {
            // patch.js's bookkeeping; it cannot throw.
            let _ = on_untracked.call0(&JsValue::UNDEFINED);
        }
    }

    /// The stable HTTP conventions make a request that was cut short an error (status Error, `error.type`): an
    /// aborted span is one when its signal fired before the response arrived, or by a timeout (`AbortSignal.timeout`,
    /// whose reason is a `TimeoutError`) at any time, with `error.type` the reason's name (`AbortError`,
    /// `TimeoutError`; `AbortError` for a reason without one). An app that aborts a body it has stopped wanting
    /// (the usual way to stop an SSE feed or an LLM stream) ends it as it would by cancelling it: not an error.
    #[inline(never)]
    fn mark_abort(&self, record: &mut SpanRecord) {
        let name = error_name(
            &self.abort_reason().unwrap_or(JsValue::UNDEFINED),
            "AbortError",
        );
        if name == "TimeoutError"
            || record
                .attributes
                .get(semconv::HTTP_RESPONSE_STATUS_CODE)
                .is_none()
        {
            mark_error(record, name);
        }
    }

    /// Ends the span after a failure: aborted when the signal fired, otherwise an error named after `error`.
    pub(crate) fn end_failed(&self, error: &JsValue) {
        match self.abort_reason() {
            Some(_) => self.end(EndReason::Aborted, |_| {}),
            None => self.end(EndReason::Error, |record| {
                mark_error(record, error_name(error, "Error"))
            }),
        }
    }

    /// Listens for the request's signal aborting, on a signal that follows it (`afterFetch` in `patch.js`), so the
    /// listener runs after fetch's own abort steps have failed the native body.
    fn listen_for_abort(self: &Rc<Self>) -> Option<EventListener> {
        let weak: Weak<SpanCell> = Rc::downgrade(self);
        let target = after_fetch(self.signal.as_ref()?);
        Some(EventListener::new(
            &target,
            ABORT.with(JsString::clone),
            move |_| {
                if let Some(cell) = weak.upgrade() {
                    cell.body_aborted();
                }
            },
        ))
    }
}

impl Drop for SpanCell {
    /// Every handle of the span is gone (the app dropped the response and its stream, and the collector took
    /// them) while the span is still open: its body was abandoned.
    fn drop(&mut self) {
        self.abandon();
    }
}

/// The largest integer a JS number holds exactly: a hook's number beyond it is a double.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Attributes taken from one `[key, value, …]` list at most (the request's, the response's).
const MAX_EXTRA_ATTRIBUTES: u32 = 32;

/// Whether fetchspan sets `key` itself, on some spans or all: a hook can't give it (a captured header's it can).
fn is_own(key: &str) -> bool {
    use semconv::*;
    key.starts_with("fetchspan.")
        || matches!(
            key,
            HTTP_REQUEST_METHOD
                | HTTP_REQUEST_METHOD_ORIGINAL
                | HTTP_REQUEST_BODY_SIZE
                | HTTP_REQUEST_RESEND_COUNT
                | HTTP_RESPONSE_BODY_SIZE
                | HTTP_RESPONSE_STATUS_CODE
                | URL_FULL
                | SERVER_ADDRESS
                | SERVER_PORT
                | ERROR_TYPE
        )
}

/// Adds `[key, value, …]` to `record`: at most [`MAX_EXTRA_ATTRIBUTES`], the pairs after them counted as dropped
/// (not read). A key fetchspan sets itself ([`is_own`]), whether or not this span has it, and an empty key are left
/// out and counted as the hook's failures.
fn add_extra(record: &mut SpanRecord, extra: &Array, tracer: &TracerCore) {
    let pairs = extra.length() / 2;
    let mut kept = 0;
    for index in 0..pairs {
        if kept == MAX_EXTRA_ATTRIBUTES {
            record.dropped_attributes += pairs - index;
            break;
        }
        // Cut first: a key that only its cut makes one of fetchspan's own is one all the same.
        let Some(Value::Str(key)) = extra.get(index * 2).as_string().map(Value::string) else {
            continue;
        };
        // (An empty key is no attribute key at all.)
        if key.is_empty() || is_own(&key) {
            tracer.stats.count_hook_failure();
            continue;
        }
        kept += 1;
        let value = extra.get(index * 2 + 1);
        let value = match (value.as_string(), value.as_f64(), value.as_bool()) {
            // A header's value (captured, or from a hook under that name), which the conventions type `string[]`.
            (Some(text), _, _)
                if key.starts_with(semconv::HTTP_REQUEST_HEADER)
                    || key.starts_with(semconv::HTTP_RESPONSE_HEADER) =>
            {
                Value::one_string(text)
            }
            (Some(text), _, _) => Value::string(text),
            (_, Some(number), _) if number.abs() <= MAX_SAFE_INTEGER && number as i64 as f64 == number => {
                Value::Int(number as i64)
            }
            // (Finite: `patch.js` passes no other number, so its text is a JSON number.)
            (_, Some(number), _) => Value::Double(number_text(number)),
            (_, _, Some(flag)) => Value::Bool(flag),
            _ => continue,
        };
        // The first of a key stays (a captured header before a hook's of that name).
        record.attributes.set_if_absent(key, value);
    }
}

/// Server-Timing metrics kept per span at most.
const MAX_SERVER_TIMINGS: u32 = 8;

/// Records the server's side of the request: `server` is `[traceparent or "", name, duration ms, …]` from the
/// response's `traceresponse` header or its `Server-Timing` `traceparent` entry, then its other `Server-Timing`
/// metrics (`patch.js` parses the header). The server's ids become `fetchspan.server.trace_id` and
/// `fetchspan.server.span_id`, and a link when that trace is not ours; each metric becomes
/// `fetchspan.server_timing.<name>.duration_us`. Also fed from the resource-timing entry's `serverTiming` (see
/// [`crate::timing`]) when the headers weren't readable.
pub(crate) fn describe_server(record: &mut SpanRecord, server: &Array) {
    if let Some(context) = server
        .get(0)
        .as_string()
        .as_deref()
        .and_then(ids::parse_traceparent)
    {
        record.attributes.set(
            semconv::SERVER_TRACE_ID,
            Value::string(ids::hex(&context.trace_id)),
        );
        record.attributes.set(
            semconv::SERVER_SPAN_ID,
            Value::string(ids::hex(&context.span_id)),
        );
        if context.trace_id != record.context.trace_id {
            record.links.push(Link {
                trace_id: context.trace_id,
                span_id: context.span_id,
            });
        }
    }
    let metrics = (server.length().saturating_sub(1) / 2).min(MAX_SERVER_TIMINGS);
    for index in 0..metrics {
        let (Some(name), Some(ms)) = (
            server.get(1 + index * 2).as_string(),
            server.get(2 + index * 2).as_f64(),
        ) else {
            continue;
        };
        let mut key = String::from(semconv::SERVER_TIMING_PREFIX);
        key.push_str(&name);
        key.push_str(".duration_us");
        record
            .attributes
            .set(key, Value::Int(crate::clock::round(ms * 1000.0)));
    }
}

// Made once, not decoded from wasm memory per request. (rustfmt would drop the values.)
#[rustfmt::skip]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, static_string)]
    static ABORT: JsString = "abort";
    #[wasm_bindgen(thread_local_v2, static_string)]
    static NAME: JsString = "name";
}

#[wasm_bindgen(module = "/src/patch.js")]
extern "C" {
    /// The engine's own text of a number (see `numberText` in `patch.js`).
    #[wasm_bindgen(js_name = numberText)]
    fn number_text(number: f64) -> String;
    /// A signal that aborts with `signal`, after fetch's own abort steps (see `afterFetch` in `patch.js`).
    #[wasm_bindgen(js_name = afterFetch)]
    fn after_fetch(signal: &AbortSignal) -> AbortSignal;
}

/// The `name` of `error` (`TypeError`, `AbortError`), or `fallback` when it has none.
pub(crate) fn error_name(error: &JsValue, fallback: &str) -> String {
    NAME.with(|name| js_sys::Reflect::get(error, name))
        .ok()
        .and_then(|name| name.as_string())
        .unwrap_or_else(|| fallback.into())
}

pub(crate) fn mark_error(record: &mut SpanRecord, error_type: String) {
    record.error = true;
    record
        .attributes
        .set(semconv::ERROR_TYPE, Value::string(error_type));
}

/// One request's span, as `patch.js` holds it. Every method is safe to call after the span ended (it does nothing).
#[wasm_bindgen]
pub struct RequestSpan {
    pub(crate) cell: Rc<SpanCell>,
}

impl RequestSpan {
    /// Opens the span of a request that is about to be sent.
    pub(crate) fn start(tracer: Rc<TracerCore>, request: RequestInfo) -> Self {
        let (method, original) = semconv::method(&request.method);
        let mut attributes = Attributes::default();
        attributes.set(semconv::HTTP_REQUEST_METHOD, Value::string(method.into()));
        if let Some(original) = original {
            attributes.set(
                semconv::HTTP_REQUEST_METHOD_ORIGINAL,
                Value::string(original),
            );
        }
        attributes.set(semconv::URL_FULL, Value::string(request.url));
        if let Some(size) = request.body_size {
            attributes.set(semconv::HTTP_REQUEST_BODY_SIZE, Value::Int(size as i64));
        }
        if let Some((host, port)) = request.server {
            attributes.set(semconv::SERVER_ADDRESS, Value::string(host));
            attributes.set(semconv::SERVER_PORT, Value::Int(i64::from(port)));
        }
        let record = SpanRecord {
            context: request.context,
            // A method the conventions don't know names the span `HTTP`.
            name: if method == "_OTHER" { "HTTP" } else { method }.into(),
            start_ms: request.start_ms,
            end_ms: request.start_ms,
            error: false,
            end_reason: EndReason::Error,
            attributes,
            events: Vec::new(),
            links: Vec::new(),
            dropped_attributes: 0,
            dropped_events: 0,
        };
        tracer.stats.started.set(tracer.stats.started.get() + 1);
        let open = OpenSpan {
            tracer,
            record,
            is_head: method == "HEAD",
            same_origin: false,
            _abort_listener: None,
        };
        RequestSpan {
            cell: Rc::new(SpanCell {
                signal: request.signal,
                open: RefCell::new(Some(Box::new(open))),
                on_untracked: RefCell::new(None),
                progress: BodyProgress::default(),
            }),
        }
    }

    /// Sets attributes `patch.js` gathered, `[key, value, …]` (captured headers, the attribute hooks' results), at
    /// most [`MAX_EXTRA_ATTRIBUTES`] per call; keys are cut like values.
    pub(crate) fn add_attributes(&self, extra: &Array) {
        if let Some(open) = self.cell.open.borrow_mut().as_mut() {
            add_extra(&mut open.record, extra, &open.tracer);
        }
    }

    /// Ends the span as `aborted` if the request's signal has already fired; true if it did.
    pub(crate) fn end_if_aborted(&self) -> bool {
        let aborted = self.cell.abort_reason().is_some();
        if aborted {
            self.cell.end(EndReason::Aborted, |_| {});
        }
        aborted
    }
}

#[wasm_bindgen]
impl RequestSpan {
    /// The response arrived. Records status and the `fetchspan.response.headers` event. Returns whether its body is
    /// to be tracked; if not (HEAD, a null-body status, an opaque or error response), the span ends now as `no-body`.
    /// `on_untracked` is called once when a tracked response's span ends. `server` is what `patch.js` read of the
    /// server's trace context and timings, when the response has any (see [`describe_server`]); `extra`, the
    /// response's captured headers and `responseAttributes`. `at` is when it arrived, as `performance.now()` (read
    /// in JS: from wasm, the call cost about 7 µs in the benchmark's profile).
    pub fn response(
        &self,
        response: &Response,
        on_untracked: js_sys::Function,
        server: Option<Array>,
        extra: Option<Array>,
        at: f64,
    ) -> bool {
        let kind = response.type_();
        let status = response.status();
        let is_head = {
            let mut open = self.cell.open.borrow_mut();
            let Some(open) = open.as_mut() else {
                return false;
            };
            let record = &mut open.record;
            record
                .events
                .push(Event::at(semconv::EVENT_HEADERS, from_performance_ms(at)));
            match kind {
                ResponseType::Opaque | ResponseType::Opaqueredirect => {}
                ResponseType::Error => mark_error(record, "network_error".into()),
                _ => {
                    record.attributes.set(
                        semconv::HTTP_RESPONSE_STATUS_CODE,
                        Value::Int(i64::from(status)),
                    );
                    if status >= 400 {
                        mark_error(record, crate::record::decimal(u64::from(status)));
                    }
                }
            }
            if let Some(server) = &server {
                describe_server(record, server);
            }
            if let Some(extra) = &extra {
                add_extra(record, extra, &open.tracer);
            }
            open.same_origin = kind == ResponseType::Basic;
            open.is_head
        };
        if body::ended_without_body(&self.cell, kind, status, is_head) {
            return false;
        }
        let listener = self.cell.listen_for_abort();
        if let Some(open) = self.cell.open.borrow_mut().as_mut() {
            open._abort_listener = listener;
        }
        self.cell.on_untracked.replace(Some(on_untracked));
        true
    }

    /// `fetch` rejected (or threw).
    pub fn rejected(&self, error: JsValue) {
        self.cell.end_failed(&error);
    }

    /// The request, sent with our `traceparent`, failed with a `TypeError`, and `patch.js` sent it again without
    /// the header (a cross-origin redirect whose preflight refused it; see `propagate` there).
    #[wasm_bindgen(js_name = retriedWithoutTraceparent)]
    pub fn retried_without_traceparent(&self) {
        self.cell.update(|record| {
            record
                .attributes
                .set(semconv::PROPAGATION_RETRIED, Value::Bool(true));
            record
                .attributes
                .set(semconv::HTTP_REQUEST_RESEND_COUNT, Value::Int(1));
        });
    }

    /// The streamed request body `patch.js` counted as the browser sent it ended after `bytes` bytes.
    #[wasm_bindgen(js_name = requestBodySent)]
    pub fn request_body_sent(&self, bytes: f64) {
        self.cell.update(|record| {
            record
                .attributes
                .set(semconv::HTTP_REQUEST_BODY_SIZE, Value::Int(bytes as i64))
        });
    }
}
