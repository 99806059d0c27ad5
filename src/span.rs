//! Stage 2 of a request: its span, from `fetch` being called to the end of the body.
//!
//! [`RequestSpan`] is the handle `patch.js` holds per request; it calls into it when the response arrives, when
//! the app reads the body, and when anything fails. The span's state lives behind one `Rc` ([`SpanCell`]) that the
//! body's transformer shares. The span owns its JS registrations (abort listener, idle timer): ending the span
//! drops them, so nothing outlives it.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::intern;
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, ReadableStream, Response, ResponseType};

use crate::body::{self, BodyProgress};
use crate::clock::now_ms;
use crate::ids::SpanContext;
use crate::record::{Attributes, EndReason, Event, SpanRecord, Value};
use crate::registration::{EventListener, Timeout};
use crate::semconv;
use crate::tracer::TracerCore;

/// Statuses whose responses never have a body to follow.
const NULL_BODY_STATUSES: [u16; 5] = [101, 103, 204, 205, 304];

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
    idle_timer: Option<Timeout>,
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

    /// Records the `response.first_byte` event.
    pub(crate) fn first_byte(&self) {
        if let Some(open) = self.open.borrow_mut().as_mut() {
            open.record
                .events
                .push(Event::at(semconv::EVENT_FIRST_BYTE, now_ms()));
        }
    }

    /// Replaces (or with None, stops) the streamed body's idle timer.
    pub(crate) fn set_idle_timer(&self, timer: Option<Timeout>) {
        if let Some(open) = self.open.borrow_mut().as_mut() {
            open.idle_timer = timer;
        }
    }

    /// Ends a span whose body was read as a stream, with what the body stage says of it (exact bytes and chunks,
    /// timings, stalls, SSE events).
    pub(crate) fn end_body(&self, reason: EndReason, error: Option<&JsValue>) {
        self.end(reason, |record| {
            self.progress.describe(record);
            if let Some(error) = error {
                mark_error(record, error_name(error));
            }
        });
    }

    /// Ends the span once; later calls do nothing.
    fn end(&self, reason: EndReason, finish: impl FnOnce(&mut SpanRecord)) {
        let Some(open) = self.open.borrow_mut().take() else {
            return;
        };
        let OpenSpan {
            tracer,
            mut record,
            _abort_listener,
            idle_timer,
            ..
        } = *open;
        // The span's registrations go first: nothing of it stays registered once it has ended.
        drop((_abort_listener, idle_timer));
        record.end_ms = now_ms();
        record.end_reason = reason;
        record
            .attributes
            .set(semconv::END_REASON, Value::string(reason.as_str().into()));
        finish(&mut record);
        tracer.finish(record);
        let on_untracked = self.on_untracked.take();
        if let Some(on_untracked) = on_untracked {
            // patch.js's bookkeeping; it cannot throw.
            let _ = on_untracked.call0(&JsValue::UNDEFINED);
        }
    }

    /// Ends the span after a failure: aborted when the signal fired, otherwise an error named after `error`.
    fn end_failed(&self, error: &JsValue) {
        match self.abort_reason() {
            Some(_) => self.end(EndReason::Aborted, |_| {}),
            None => self.end(EndReason::Error, |record| {
                mark_error(record, error_name(error))
            }),
        }
    }

    fn listen_for_abort(self: &Rc<Self>) -> Option<EventListener> {
        let signal = self.signal.as_ref()?;
        let weak: Weak<SpanCell> = Rc::downgrade(self);
        Some(EventListener::new(signal, intern("abort"), move |_| {
            // A body streaming through us ends from the pump, which sees the native body fail with the abort, so
            // the span carries the bytes the app received.
            if let Some(cell) = weak.upgrade().filter(|cell| !cell.progress.streaming()) {
                cell.end(EndReason::Aborted, |_| {});
            }
        }))
    }
}

/// `Content-Length`, when it is the decoded size, on a same-origin response (so `Content-Encoding` is visible):
/// not content-encoded.
fn decoded_length(response: &Response) -> Option<u64> {
    let headers = response.headers();
    if headers
        .get(intern("content-encoding"))
        .ok()
        .flatten()
        .is_some()
    {
        return None;
    }
    headers
        .get(intern("content-length"))
        .ok()
        .flatten()?
        .trim()
        .parse()
        .ok()
}

impl Drop for SpanCell {
    /// Every handle of the span is gone (the app dropped the response and its stream, and the collector took
    /// them) while the span is still open: its body was abandoned.
    fn drop(&mut self) {
        if self.progress.streaming() {
            self.end_body(EndReason::Abandoned, None);
        } else {
            self.end(EndReason::Abandoned, |_| {});
        }
    }
}

fn error_name(error: &JsValue) -> String {
    js_sys::Reflect::get(error, &intern("name").into())
        .ok()
        .and_then(|name| name.as_string())
        .unwrap_or_else(|| "Error".into())
}

fn mark_error(record: &mut SpanRecord, error_type: String) {
    record.error = true;
    record
        .attributes
        .set(semconv::ERROR_TYPE, Value::string(error_type));
}

/// One request's span, as `patch.js` holds it. Every method is safe to call after the span ended (it does nothing).
#[wasm_bindgen]
pub struct RequestSpan {
    cell: Rc<SpanCell>,
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
        if let Some((host, port)) = request.server {
            attributes.set(semconv::SERVER_ADDRESS, Value::string(host));
            attributes.set(semconv::SERVER_PORT, Value::Int(i64::from(port)));
        }
        let record = SpanRecord {
            context: request.context,
            name: method.into(),
            start_ms: request.start_ms,
            end_ms: request.start_ms,
            error: false,
            end_reason: EndReason::Error,
            attributes,
            events: Vec::new(),
        };
        tracer.stats.started.set(tracer.stats.started.get() + 1);
        let open = OpenSpan {
            tracer,
            record,
            is_head: method == "HEAD",
            same_origin: false,
            _abort_listener: None,
            idle_timer: None,
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
    /// The response arrived. Records status and the `response.headers` event. Returns whether its body is to be
    /// tracked; if not (HEAD, a null-body status, an opaque or error response), the span ends now as `no-body`.
    /// `on_untracked` is called once when a tracked response's span ends.
    pub fn response(&self, response: &Response, on_untracked: js_sys::Function) -> bool {
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
                .push(Event::at(semconv::EVENT_HEADERS, now_ms()));
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
            open.same_origin = kind == ResponseType::Basic;
            open.is_head
        };
        let opaque = matches!(
            kind,
            ResponseType::Opaque | ResponseType::Opaqueredirect | ResponseType::Error
        );
        if is_head || opaque || NULL_BODY_STATUSES.contains(&status) {
            self.cell.end(EndReason::NoBody, |_| {});
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

    /// The app takes the body as a stream: returns `{ readable, used, detach }` (see `streamBody` in `patch.js`).
    /// From here on, a body the app holds without pulling for the idle timeout ends as `abandoned`. (An unread body
    /// needs no timer: the span ends when the app reads it, or as `abandoned` when the `Response` is collected.)
    /// `event_stream`: the response is `text/event-stream`. `on_failure` counts a failure of ours in the pump.
    #[wasm_bindgen(js_name = streamBody)]
    pub fn stream_body(
        &self,
        source: &ReadableStream,
        event_stream: bool,
        on_failure: &js_sys::Function,
    ) -> Result<JsValue, JsValue> {
        body::stream(&self.cell, source, event_stream, on_failure)
    }

    /// A whole-body method served natively resolved; `size` is its value's size (`arrayBuffer`, `bytes`, `blob`).
    /// For `text`, `json` and `formData` the size is `Content-Length` when that is the decoded size (a same-origin
    /// response, so `Content-Encoding` is visible, with no content coding), else the resource-timing entry's
    /// `decodedBodySize`, else unknown, and the span says so in `fetchspan.response.size_source`.
    #[wasm_bindgen(js_name = readNatively)]
    pub fn read_natively(&self, response: &Response, size: Option<f64>) {
        let (tracer, start_ms, url, same_origin) = match self.cell.open.borrow().as_ref() {
            Some(open) => (
                open.tracer.clone(),
                open.record.start_ms,
                open.record.attributes.get(semconv::URL_FULL).cloned(),
                open.same_origin,
            ),
            None => return,
        };
        let known = match size {
            Some(size) => Some((size as u64, "value")),
            None => same_origin
                .then(|| decoded_length(response))
                .flatten()
                .map(|length| (length, "content-length"))
                .or_else(|| {
                    let Some(Value::Str(url)) = url else {
                        return None;
                    };
                    tracer
                        .resource_size(&url, start_ms)
                        .map(|size| (size, "resource-timing"))
                }),
        };
        self.cell.end(EndReason::Completed, |record| match known {
            Some((bytes, source)) => {
                record
                    .attributes
                    .set(semconv::DECODED_SIZE, Value::Int(bytes as i64));
                record
                    .attributes
                    .set(semconv::SIZE_SOURCE, Value::string(source.into()));
            }
            None => record
                .attributes
                .set(semconv::SIZE_SOURCE, Value::string("unknown".into())),
        });
    }

    /// The request, sent with our `traceparent`, failed with a `TypeError`, and `patch.js` sent it again without
    /// the header (a cross-origin redirect whose preflight refused it; see `retryWithoutHeader` there).
    #[wasm_bindgen(js_name = retriedWithoutTraceparent)]
    pub fn retried_without_traceparent(&self) {
        if let Some(open) = self.cell.open.borrow_mut().as_mut() {
            open.record
                .attributes
                .set(semconv::PROPAGATION_RETRIED, Value::Bool(true));
        }
    }

    /// A whole-body method served natively rejected.
    #[wasm_bindgen(js_name = readFailed)]
    pub fn read_failed(&self, error: JsValue) {
        self.cell.end_failed(&error);
    }

    /// The garbage collector took the response. Unless its body runs through our stream (the app may hold just
    /// the stream, which then ends the span), the body was dropped unread: the span ends as `abandoned`.
    pub fn collected(&self) {
        if !self.cell.progress.streaming() {
            self.cell.end(EndReason::Abandoned, |_| {});
        }
    }
}
