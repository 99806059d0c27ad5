//! What a request's resource-timing entry says, written onto its span.
//!
//! `patch.js` owns the `PerformanceObserver` (an observer keeps receiving entries when the 250-entry timeline buffer
//! is full, and fetchspan never clears that buffer) and picks the request's entry when its span ends, synchronously
//! (`takeRecords()` plus what the observer already delivered; a streamed body that ended first waits for it:
//! `TimingWait` in `body.rs`): the earliest unused `fetch` entry for the request's URL that started with it and
//! before its response came, so concurrent fetches of one URL can't swap entries, nor a stream that ends before its
//! own entry is queued take a later request's. It hands over the entry's numbers only when the entry is unrestricted
//! (a cross-origin response without `Timing-Allow-Origin` zeroes them, and then nothing is recorded, rather than
//! zeros). The entry's `serverTiming` stands in for the `Server-Timing` header when the response didn't expose it.

use js_sys::Array;
use wasm_bindgen::JsCast;

use crate::clock::from_performance_ms;
use crate::record::{Attributes, Event, SpanRecord, Value};
use crate::semconv;
use crate::span;

/// The numbers `patch.js` reads from a `PerformanceResourceTiming`, in this order (performance-timeline
/// milliseconds, sizes in bytes).
enum Field {
    DecodedBodySize,
    EncodedBodySize,
    StartTime,
    DomainLookupStart,
    DomainLookupEnd,
    ConnectStart,
    SecureConnectionStart,
    ConnectEnd,
    RequestStart,
    ResponseStart,
    ResponseEnd,
    TransferSize,
    /// `serverTiming`, packed like the `Server-Timing` header (`[traceparent or "", name, ms, …]`), when the
    /// entry has any.
    ServerTiming,
}

/// A request's resource-timing entry, as `patch.js` packed it.
pub struct ResourceTiming(Array);

impl ResourceTiming {
    /// Wraps the array `patch.js` built (see [`Field`]).
    pub fn new(numbers: Array) -> Self {
        ResourceTiming(numbers)
    }

    fn get(&self, field: Field) -> f64 {
        self.0.get(field as u32).as_f64().unwrap_or(0.0)
    }

    /// The decoded body size, unless the engine reports no sizes (WebKitGTK reports 0 for every size, where a
    /// real empty body still has a non-zero `transferSize`: its headers).
    pub fn decoded_body_size(&self) -> Option<u64> {
        let decoded = self.get(Field::DecodedBodySize);
        (decoded > 0.0 || self.get(Field::TransferSize) > 0.0).then_some(decoded as u64)
    }

    /// Writes `http.response.body.size` (the encoded size), `fetchspan.response.time_to_first_byte_ms` and one
    /// event per phase that took place (`fetchspan.timing.dns`, `.connect`, `.tls`, `.request`, `.response`, each
    /// at its start, with `fetchspan.timing.duration_us`). A reused connection has no DNS, connect or TLS phase.
    pub fn describe(&self, record: &mut SpanRecord) {
        if self.decoded_body_size().is_some() {
            record.attributes.set(
                semconv::HTTP_RESPONSE_BODY_SIZE,
                Value::Int(self.get(Field::EncodedBodySize) as i64),
            );
        }
        // The headers of a cross-origin response the server didn't expose: its Server-Timing reaches the page
        // through resource timing when `Timing-Allow-Origin` allows it.
        if let Ok(server) = self.0.get(Field::ServerTiming as u32).dyn_into::<Array>() {
            if record.attributes.iter().all(|(key, _)| {
                key != semconv::SERVER_TRACE_ID && !key.starts_with(semconv::SERVER_TIMING_PREFIX)
            }) {
                span::describe_server(record, &server);
            }
        }
        let start = self.get(Field::StartTime);
        let first_byte = self.get(Field::ResponseStart);
        if first_byte > 0.0 {
            record.attributes.set(
                semconv::TIME_TO_FIRST_BYTE,
                Value::Int(crate::clock::round(first_byte - start)),
            );
        }
        let phases = [
            (
                semconv::EVENT_DNS,
                Field::DomainLookupStart,
                Field::DomainLookupEnd,
            ),
            (
                semconv::EVENT_CONNECT,
                Field::ConnectStart,
                Field::ConnectEnd,
            ),
            (
                semconv::EVENT_TLS,
                Field::SecureConnectionStart,
                Field::ConnectEnd,
            ),
            (
                semconv::EVENT_REQUEST,
                Field::RequestStart,
                Field::ResponseStart,
            ),
            (
                semconv::EVENT_RESPONSE,
                Field::ResponseStart,
                Field::ResponseEnd,
            ),
        ];
        for (name, from, to) in phases {
            let (from, to) = (self.get(from), self.get(to));
            if from <= 0.0 || to < from || (to == from && name != semconv::EVENT_RESPONSE) {
                continue;
            }
            let mut attributes = Attributes::default();
            attributes.set(
                semconv::TIMING_DURATION,
                Value::Int(crate::clock::round((to - from) * 1000.0)),
            );
            record.events.push(Event {
                name,
                time_ms: from_performance_ms(from),
                attributes,
            });
        }
    }
}
