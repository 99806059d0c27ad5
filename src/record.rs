//! A finished span as plain data: what `onSpanEnd` receives (as a JS object) and what the exporter encodes.
//!
//! Owns nothing from JS. Every string it holds is bounded by the `maxAttributeLength` option (default
//! [`MAX_ATTRIBUTE_LENGTH`]), and a span holds a fixed,
//! small number of attributes and events, so a record's size is bounded.

use crate::prelude::*;
use alloc::borrow::Cow;
use core::cell::Cell;

use wasm_bindgen::JsValue;

use crate::ids::{push_hex, SpanContext};

/// Longest attribute string kept, in bytes; longer values are cut at a character boundary.
pub const MAX_ATTRIBUTE_LENGTH: usize = 2048;

crate::per_thread! {
    /// The bound in force: the installed tracer's `maxAttributeLength`. One per thread, like the installation (a
    /// span still in flight from an earlier installation is cut by the current one's bound).
    static MAX_LENGTH: Cell<usize> = Cell::new(MAX_ATTRIBUTE_LENGTH);
}

/// Sets the longest attribute string kept, in bytes (`install`'s `maxAttributeLength`).
pub fn set_max_attribute_length(bytes: usize) {
    MAX_LENGTH.with(|max| max.set(bytes));
}

/// An attribute value, typed as OTLP types it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string, at most `maxAttributeLength` bytes.
    Str(String),
    /// A 64-bit integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A finite number that is not a safe integer, as JS writes it (`Number.prototype.toString`, which JSON reads
    /// back): no float formatting in the wasm.
    Double(String),
    /// An array of one string, at most `maxAttributeLength` bytes: a captured header's value (repeated values
    /// comma-joined), which the HTTP semantic conventions type `string[]`.
    OneStr(String),
}

impl Value {
    /// A string value, cut to `maxAttributeLength` bytes at a character boundary.
    pub fn string(text: String) -> Self {
        Value::Str(cut(text))
    }

    /// A one-string array value, its string cut as [`Value::string`]'s.
    pub fn one_string(text: String) -> Self {
        Value::OneStr(cut(text))
    }
}

/// `text` cut to `maxAttributeLength` bytes at a character boundary.
fn cut(mut text: String) -> String {
    let max = MAX_LENGTH.with(Cell::get);
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
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

    /// Sets `key` to `value` unless `key` is already set (then the value already there stays).
    pub fn set_if_absent(&mut self, key: impl Into<Cow<'static, str>>, value: Value) {
        let key = key.into();
        if !self.0.iter().any(|(k, _)| *k == key) {
            self.0.push((key, value));
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
}

/// A timestamped event on a span.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `fetchspan.response.headers`, `fetchspan.response.first_byte`, `fetchspan.stall`, `fetchspan.backpressure`,
    /// `fetchspan.sse.first_event`, or one of resource timing's `fetchspan.timing.*` phases.
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
    /// The body was dropped unread, or the app held it without a read pending for the idle timeout.
    Abandoned,
    /// A response without a body to follow (HEAD, 101/103/204/205/304, opaque or error responses).
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
    /// The events, in the order they were recorded (see [`Event::name`]).
    pub events: Vec<Event>,
    /// The server's own span, when the response named one in another trace (`traceresponse` or `Server-Timing`).
    pub links: Vec<Link>,
    /// Attributes left out by fetchspan's bounds (captured headers and hook attributes past 32 a side): OTLP's
    /// `droppedAttributesCount`.
    pub dropped_attributes: u32,
    /// Events left out (stalls past 8): OTLP's `droppedEventsCount`.
    pub dropped_events: u32,
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
    /// Moves every time of the span by `ms` (see [`crate::clock::WallClock`]).
    pub fn shift(&mut self, ms: f64) {
        self.start_ms += ms;
        self.end_ms += ms;
        for event in &mut self.events {
            event.time_ms += ms;
        }
    }

    /// The plain object `onSpanEnd` receives: written as JSON here and parsed by the engine in one call (one
    /// crossing and one string, where building it field by field cost a crossing and a string decode per field:
    /// about 45 µs a span, measured with the benchmark's CPU profile). Times are written as integer microseconds
    /// with an `e-3` exponent, which JSON reads as fractional milliseconds without float formatting in the wasm.
    pub fn to_js(&self) -> JsValue {
        // Our own JSON always parses.
        js_sys::JSON::parse(&self.to_json()).unwrap_or(JsValue::NULL)
    }

    /// The JSON [`SpanRecord::to_js`] parses.
    fn to_json(&self) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(r#"{"traceId":""#);
        push_hex(&mut out, &self.context.trace_id);
        out.push_str(r#"","spanId":""#);
        push_hex(&mut out, &self.context.span_id);
        if let Some(parent) = &self.context.parent_span_id {
            out.push_str(r#"","parentSpanId":""#);
            push_hex(&mut out, parent);
        }
        out.push_str(r#"","name":"#);
        push_string(&mut out, &self.name);
        out.push_str(r#","kind":"client","startTime":"#);
        push_ms(&mut out, self.start_ms);
        out.push_str(r#","endTime":"#);
        push_ms(&mut out, self.end_ms);
        out.push_str(r#","durationMs":"#);
        push_int(&mut out, micros(self.end_ms) - micros(self.start_ms));
        out.push_str("e-3");
        out.push_str(if self.error {
            r#","status":"error","endReason":""#
        } else {
            r#","status":"unset","endReason":""#
        });
        out.push_str(self.end_reason.as_str());
        out.push_str(r#"","attributes":"#);
        push_object(&mut out, &self.attributes);
        out.push_str(r#","events":["#);
        for (index, event) in self.events.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(r#"{"name":"#);
            push_string(&mut out, event.name);
            out.push_str(r#","time":"#);
            push_ms(&mut out, event.time_ms);
            out.push_str(r#","attributes":"#);
            push_object(&mut out, &event.attributes);
            out.push('}');
        }
        out.push(']');
        push_links(&mut out, &self.links);
        push_dropped(&mut out, self);
        out.push('}');
        out
    }
}

/// `text` as a JSON string: quotes, backslashes and control characters escaped, everything else as is (UTF-8).
pub fn push_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut plain = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // `get`, not indexing: both ends are next to ASCII bytes, so always char boundaries, and `get` has no
        // panic path (a slicing panic would link its message formatting).
        out.push_str(text.get(plain..index).unwrap_or_default());
        plain = index + 1;
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(text.get(plain..).unwrap_or_default());
    out.push('"');
}

/// `,"links":[{"traceId":…,"spanId":…},…]` when there are links: the same in `onSpanEnd`'s object and in OTLP JSON.
pub fn push_links(out: &mut String, links: &[Link]) {
    if links.is_empty() {
        return;
    }
    out.push_str(r#","links":["#);
    for (index, link) in links.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(r#"{"traceId":""#);
        push_hex(out, &link.trace_id);
        out.push_str(r#"","spanId":""#);
        push_hex(out, &link.span_id);
        out.push_str(r#""}"#);
    }
    out.push(']');
}

/// `,"droppedAttributesCount":n` and `,"droppedEventsCount":n` when anything was left out: the same in
/// `onSpanEnd`'s object and in OTLP JSON.
pub fn push_dropped(out: &mut String, span: &SpanRecord) {
    if span.dropped_attributes > 0 {
        out.push_str(r#","droppedAttributesCount":"#);
        push_decimal(out, u64::from(span.dropped_attributes));
    }
    if span.dropped_events > 0 {
        out.push_str(r#","droppedEventsCount":"#);
        push_decimal(out, u64::from(span.dropped_events));
    }
}

/// `ms` (milliseconds) as a JSON number at microsecond resolution: `<integer µs>e-3`.
fn push_ms(out: &mut String, ms: f64) {
    push_int(out, micros(ms));
    out.push_str("e-3");
}

fn micros(ms: f64) -> i64 {
    crate::clock::round(ms * 1000.0)
}

/// `n` in decimal, with its sign.
pub fn push_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_decimal(out, n.unsigned_abs());
}

/// Attributes as a JSON object (a key set twice can't happen: [`Attributes::set`] replaces).
fn push_object(out: &mut String, attributes: &Attributes) {
    out.push('{');
    for (index, (key, value)) in attributes.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_string(out, key);
        out.push(':');
        match value {
            Value::Str(text) => push_string(out, text),
            Value::Int(number) => push_int(out, *number),
            Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
            Value::Double(text) => out.push_str(text),
            Value::OneStr(text) => {
                out.push('[');
                push_string(out, text);
                out.push(']');
            }
        }
    }
    out.push('}');
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

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_on_span_end_object_is_valid_json_with_fractional_times() {
        let mut attributes = Attributes::default();
        attributes.set("url.full", Value::string("http://h/\"q\"\n".into()));
        attributes.set("n", Value::Int(-3));
        attributes.set("b", Value::Bool(true));
        attributes.set("h", Value::one_string("a, b".into()));
        let record = SpanRecord {
            context: SpanContext {
                trace_id: [1; 16],
                span_id: [2; 8],
                parent_span_id: Some([3; 8]),
            },
            name: "GET".into(),
            start_ms: 1_700_000_000_123.456,
            end_ms: 1_700_000_000_125.5,
            error: true,
            end_reason: EndReason::Completed,
            attributes,
            dropped_attributes: 0,
            dropped_events: 0,
            events: vec![Event::at("fetchspan.response.headers", 1_700_000_000_124.25)],
            links: vec![Link {
                trace_id: [4; 16],
                span_id: [5; 8],
            }],
        };
        let json: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(json["parentSpanId"], "0303030303030303");
        assert_eq!(json["startTime"].as_f64(), Some(1_700_000_000_123.456));
        assert_eq!(json["durationMs"].as_f64(), Some(2.044));
        assert_eq!(json["status"], "error");
        assert_eq!(json["attributes"]["url.full"], "http://h/\"q\"\n");
        assert_eq!(json["attributes"]["n"], -3);
        assert_eq!(json["attributes"]["h"], serde_json::json!(["a, b"]));
        assert_eq!(
            json["events"][0]["time"].as_f64(),
            Some(1_700_000_000_124.25)
        );
        assert_eq!(json["links"][0]["spanId"], "0505050505050505");
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
