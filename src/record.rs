//! A finished span as plain data: what `onSpanEnd` receives (as a JS object) and what the exporter encodes.
//!
//! Owns nothing from JS. Every string it holds is bounded by [`MAX_ATTRIBUTE_LENGTH`], and a span holds a fixed,
//! small number of attributes and events, so a record's size is bounded.

use std::borrow::Cow;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

use crate::ids::{hex, SpanContext};

/// Longest attribute string kept, in bytes; longer values are cut at a character boundary.
pub const MAX_ATTRIBUTE_LENGTH: usize = 2048;

/// An attribute value, typed as OTLP types it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string, at most [`MAX_ATTRIBUTE_LENGTH`] bytes.
    Str(String),
    /// A 64-bit integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// A string value, cut to [`MAX_ATTRIBUTE_LENGTH`] bytes.
    pub fn string(mut text: String) -> Self {
        if text.len() > MAX_ATTRIBUTE_LENGTH {
            let mut end = MAX_ATTRIBUTE_LENGTH;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        Value::Str(text)
    }

    fn to_js(&self) -> JsValue {
        match self {
            Value::Str(text) => JsValue::from_str(text),
            Value::Int(number) => JsValue::from_f64(*number as f64),
            Value::Bool(flag) => JsValue::from_bool(*flag),
        }
    }
}

/// Attributes in insertion order; setting a key again replaces its value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes(Vec<(Cow<'static, str>, Value)>);

impl Attributes {
    /// Sets `key` to `value`.
    pub fn set(&mut self, key: impl Into<Cow<'static, str>>, value: Value) {
        let key = key.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Whether no attribute is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Iterates over `(key, value)` pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    fn to_js(&self) -> Object {
        let object = Object::new();
        for (key, value) in self.iter() {
            set(&object, key, &value.to_js());
        }
        object
    }
}

/// A timestamped event on a span.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `response.headers`, `response.first_byte`, `stall`, `backpressure` or `sse.first_event`.
    pub name: &'static str,
    /// Epoch milliseconds.
    pub time_ms: f64,
    /// The event's attributes (a stall's cause and duration), usually none.
    pub attributes: Attributes,
}

impl Event {
    /// An event without attributes.
    pub fn at(name: &'static str, time_ms: f64) -> Self {
        Event {
            name,
            time_ms,
            attributes: Attributes::default(),
        }
    }
}

/// Why a span ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The body was read to its end.
    Completed,
    /// The app cancelled the body.
    Cancelled,
    /// The request's `AbortSignal` fired.
    Aborted,
    /// `fetch` rejected, or the body failed mid-way.
    Error,
    /// The body was dropped unread, or nothing happened on it for the idle timeout.
    Abandoned,
    /// A response without a body to follow (HEAD, 1xx/204/205/304, opaque or error responses).
    NoBody,
    /// A service worker handed the unread response to the page with `respondWith`: the platform moves the body.
    Responded,
}

impl EndReason {
    /// The name `onSpanEnd` and the exported `fetchspan.end_reason` attribute use.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::Cancelled => "cancelled",
            EndReason::Aborted => "aborted",
            EndReason::Error => "error",
            EndReason::Abandoned => "abandoned",
            EndReason::NoBody => "no-body",
            EndReason::Responded => "responded",
        }
    }
}

/// A finished client span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// Trace and span ids.
    pub context: SpanContext,
    /// The span name: the request method, per the HTTP semantic conventions.
    pub name: String,
    /// Epoch milliseconds.
    pub start_ms: f64,
    /// Epoch milliseconds.
    pub end_ms: f64,
    /// Status ERROR (otherwise UNSET).
    pub error: bool,
    /// Why it ended.
    pub end_reason: EndReason,
    /// Semantic-convention and `fetchspan.*` attributes.
    pub attributes: Attributes,
    /// `response.headers`, `response.first_byte`.
    pub events: Vec<Event>,
    /// The server's own span, when the response named one in another trace (`traceresponse` or `Server-Timing`).
    pub links: Vec<Link>,
}

/// A span link: another trace's span this one relates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// The linked span's trace id.
    pub trace_id: [u8; 16],
    /// The linked span's id.
    pub span_id: [u8; 8],
}

impl SpanRecord {
    /// The plain object `onSpanEnd` receives.
    pub fn to_js(&self) -> JsValue {
        let span = Object::new();
        set(&span, "traceId", &hex(&self.context.trace_id).into());
        set(&span, "spanId", &hex(&self.context.span_id).into());
        if let Some(parent) = &self.context.parent_span_id {
            set(&span, "parentSpanId", &hex(parent).into());
        }
        set(&span, "name", &self.name.as_str().into());
        set(&span, "kind", &"client".into());
        set(&span, "startTime", &self.start_ms.into());
        set(&span, "endTime", &self.end_ms.into());
        set(&span, "durationMs", &(self.end_ms - self.start_ms).into());
        set(
            &span,
            "status",
            &(if self.error { "error" } else { "unset" }).into(),
        );
        set(&span, "endReason", &self.end_reason.as_str().into());
        set(&span, "attributes", &self.attributes.to_js());
        let events = Array::new();
        for event in &self.events {
            let object = Object::new();
            set(&object, "name", &event.name.into());
            set(&object, "time", &event.time_ms.into());
            set(&object, "attributes", &event.attributes.to_js());
            events.push(&object);
        }
        set(&span, "events", &events);
        if !self.links.is_empty() {
            let links = Array::new();
            for link in &self.links {
                let object = Object::new();
                set(&object, "traceId", &hex(&link.trace_id).into());
                set(&object, "spanId", &hex(&link.span_id).into());
                links.push(&object);
            }
            set(&span, "links", &links);
        }
        span.into()
    }
}

/// `n` in decimal, without `core::fmt` (whose machinery would weigh more in the wasm than the whole exporter).
pub fn decimal(n: u64) -> String {
    let mut out = String::new();
    push_decimal(&mut out, n);
    out
}

/// Appends `n` to `out` in decimal.
pub fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for digit in &digits[start..] {
        out.push(char::from(*digit));
    }
}

fn set(object: &Object, key: &str, value: &JsValue) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_strings_are_cut_at_a_char_boundary() {
        let long = "é".repeat(MAX_ATTRIBUTE_LENGTH);
        let Value::Str(cut) = Value::string(long) else {
            unreachable!()
        };
        assert!(cut.len() <= MAX_ATTRIBUTE_LENGTH && cut.len() >= MAX_ATTRIBUTE_LENGTH - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn decimal_matches_display() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            503,
            65_535,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    #[test]
    fn setting_a_key_again_replaces_it() {
        let mut attributes = Attributes::default();
        attributes.set("a", Value::Int(1));
        attributes.set("a", Value::Int(2));
        assert_eq!(attributes.iter().count(), 1);
        assert_eq!(attributes.get("a"), Some(&Value::Int(2)));
    }
}
