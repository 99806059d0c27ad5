//! OTLP/HTTP JSON encoding of finished spans: an `ExportTraceServiceRequest` in the proto3 JSON mapping, with
//! OTLP's exceptions: hex trace and span ids, 64-bit integers as decimal strings, `kind` as an integer.
//!
//! Written straight into one `String` by a purpose-built writer: no serde, no `core::fmt` (both would cost more
//! wasm than the rest of the exporter). Checked against the `opentelemetry-proto` crate in the tests below (a
//! strict decode) and, end to end, by the test server.

use crate::ids::push_hex;
use crate::prelude::*;
use crate::record::{
    push_decimal, push_dropped, push_int, push_links, push_string, Attributes, SpanRecord, Value,
};

/// The semantic conventions' version whose names fetchspan writes (a literal, for `concat!`).
macro_rules! semconv_schema {
    () => {
        "https://opentelemetry.io/schemas/1.26.0"
    };
}

/// Bytes reserved up front per span: a typical span encodes to 600–900 bytes.
const SPAN_CAPACITY: usize = 768;

/// What goes before and after the spans of a request body for `resource`: the body is
/// `prefix + spans.join(",") + suffix`.
pub fn envelope(resource: &Attributes) -> [String; 2] {
    let mut prefix = String::with_capacity(256);
    prefix.push_str(r#"{"resourceSpans":[{"resource":{"attributes":"#);
    key_values(&mut prefix, resource);
    // The resource's and the spans' names follow one version of the semantic conventions, which `schemaUrl` names
    // (for a collector's schema transforms).
    prefix.push_str(concat!(
        r#"},"scopeSpans":[{"scope":{"name":"fetchspan","version":""#,
        env!("CARGO_PKG_VERSION"),
        r#""},"schemaUrl":""#,
        semconv_schema!(),
        r#"","spans":["#
    ));
    [
        prefix,
        concat!(r#"]}],"schemaUrl":""#, semconv_schema!(), r#""}]}"#).into(),
    ]
}

/// One span, as an element of the request body's `spans`.
pub fn encode_span(span: &SpanRecord) -> String {
    let mut out = String::with_capacity(SPAN_CAPACITY);
    push_span(&mut out, span);
    out
}

fn push_span(out: &mut String, span: &SpanRecord) {
    out.push_str(r#"{"traceId":""#);
    push_hex(out, &span.context.trace_id);
    out.push_str(r#"","spanId":""#);
    push_hex(out, &span.context.span_id);
    if let Some(parent) = &span.context.parent_span_id {
        out.push_str(r#"","parentSpanId":""#);
        push_hex(out, parent);
    }
    out.push_str(r#"","name":"#);
    push_string(out, &span.name);
    // Kind 3 is `SPAN_KIND_CLIENT`.
    out.push_str(r#","kind":3,"startTimeUnixNano":""#);
    push_unix_nanos(out, span.start_ms);
    out.push_str(r#"","endTimeUnixNano":""#);
    push_unix_nanos(out, span.end_ms);
    out.push_str(r#"","attributes":"#);
    key_values(out, &span.attributes);
    out.push_str(r#","events":["#);
    for (index, event) in span.events.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(r#"{"timeUnixNano":""#);
        push_unix_nanos(out, event.time_ms);
        out.push_str(r#"","name":"#);
        push_string(out, event.name);
        if !event.attributes.is_empty() {
            out.push_str(r#","attributes":"#);
            key_values(out, &event.attributes);
        }
        out.push('}');
    }
    out.push(']');
    push_links(out, &span.links);
    push_dropped(out, span);
    if span.error {
        // Code 2 is `STATUS_CODE_ERROR` (an UNSET status is left out).
        out.push_str(r#","status":{"code":2}"#);
    }
    out.push('}');
}

/// `[{"key":…,"value":{"stringValue"|"intValue"|"boolValue":…}},…]`.
fn key_values(out: &mut String, attributes: &Attributes) {
    out.push('[');
    for (index, (key, value)) in attributes.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(r#"{"key":"#);
        push_string(out, key);
        match value {
            Value::Str(text) => {
                out.push_str(r#","value":{"stringValue":"#);
                push_string(out, text);
            }
            Value::Int(number) => {
                out.push_str(r#","value":{"intValue":""#);
                push_int(out, *number);
                out.push('"');
            }
            Value::Bool(flag) => {
                out.push_str(r#","value":{"boolValue":"#);
                out.push_str(if *flag { "true" } else { "false" });
            }
            Value::Double(text) => {
                out.push_str(r#","value":{"doubleValue":"#);
                out.push_str(text);
            }
            Value::OneStr(text) => {
                out.push_str(r#","value":{"arrayValue":{"values":[{"stringValue":"#);
                push_string(out, text);
                out.push_str("}]}");
            }
        }
        out.push_str("}}");
    }
    out.push(']');
}

/// Epoch milliseconds (fractional) as decimal nanoseconds, at microsecond resolution: an f64 of epoch
/// milliseconds holds about a quarter of a microsecond, so finer digits would be noise.
fn push_unix_nanos(out: &mut String, ms: f64) {
    // `as` truncates toward zero, as `f64::trunc` would (which needs std).
    let whole = ms.max(0.0) as u64;
    let micros = crate::clock::round((ms - whole as f64).max(0.0) * 1e3) as u64;
    push_decimal(out, whole * 1_000_000 + micros * 1_000);
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;

    use super::*;
    use crate::ids::SpanContext;

    /// The request body for `spans`, as `exporter.js` joins it.
    fn encode(resource: &Attributes, spans: &[SpanRecord]) -> String {
        let [prefix, suffix] = envelope(resource);
        let spans: Vec<String> = spans.iter().map(encode_span).collect();
        prefix + &spans.join(",") + &suffix
    }
    use crate::record::{EndReason, Event as SpanEvent, Link};

    fn record(error: bool) -> SpanRecord {
        let mut attributes = Attributes::default();
        attributes.set("http.request.method", Value::string("GET".into()));
        attributes.set("http.response.status_code", Value::Int(503));
        attributes.set("fetchspan.flag", Value::Bool(true));
        attributes.set("http.request.header.x-a", Value::one_string("1, 2".into()));
        SpanRecord {
            context: SpanContext {
                trace_id: [0xab; 16],
                span_id: [0x01; 8],
                parent_span_id: Some([0x02; 8]),
            },
            name: "GET".into(),
            start_ms: 1_700_000_000_123.456,
            end_ms: 1_700_000_000_124.5,
            error,
            end_reason: EndReason::Completed,
            attributes,
            events: vec![
                SpanEvent::at("fetchspan.response.headers", 1_700_000_000_124.0),
                SpanEvent {
                    name: "fetchspan.stall",
                    time_ms: 1_700_000_000_200.0,
                    attributes: {
                        let mut attributes = Attributes::default();
                        attributes.set("fetchspan.stall.cause", Value::string("network".into()));
                        attributes.set("fetchspan.stall.duration_ms", Value::Int(2500));
                        attributes
                    },
                },
            ],
            links: vec![Link {
                trace_id: [0xcd; 16],
                span_id: [0x03; 8],
            }],
            // Written only when not 0: the span with an error has some.
            dropped_attributes: if error { 8 } else { 0 },
            dropped_events: if error { 2 } else { 0 },
        }
    }

    /// Decodes strictly: the proto3 JSON mapping as opentelemetry-proto reads it, rejecting unknown fields.
    fn decode(json: &str) -> ExportTraceServiceRequest {
        let value: serde_json::Value =
            serde_json::from_str(json).unwrap_or_else(|error| panic!("not JSON ({error}): {json}"));
        assert_no_unknown_fields(&value);
        serde_json::from_str(json).unwrap_or_else(|error| panic!("not OTLP ({error}): {json}"))
    }

    /// opentelemetry-proto's serde ignores unknown fields; a misspelled one would otherwise pass silently.
    fn assert_no_unknown_fields(value: &serde_json::Value) {
        const FIELDS: [&str; 25] = [
            "resourceSpans",
            "schemaUrl",
            "resource",
            "attributes",
            "scopeSpans",
            "scope",
            "name",
            "version",
            "spans",
            "traceId",
            "spanId",
            "parentSpanId",
            "links",
            "kind",
            "startTimeUnixNano",
            "endTimeUnixNano",
            "events",
            "timeUnixNano",
            "status",
            "code",
            "droppedAttributesCount",
            "droppedEventsCount",
            "key",
            "value",
            "stringValue",
        ];
        const VALUE_FIELDS: [&str; 5] = ["intValue", "boolValue", "doubleValue", "arrayValue", "values"];
        match value {
            serde_json::Value::Object(object) => {
                for (key, value) in object {
                    assert!(
                        FIELDS.contains(&key.as_str()) || VALUE_FIELDS.contains(&key.as_str()),
                        "unexpected field {key}"
                    );
                    assert_no_unknown_fields(value);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(assert_no_unknown_fields),
            _ => {}
        }
    }

    #[test]
    fn encodes_a_request_that_opentelemetry_proto_decodes() {
        let mut resource = Attributes::default();
        resource.set("service.name", Value::string("shop".into()));
        let json = encode(&resource, &[record(true), record(false)]);
        let decoded = decode(&json);
        let resource_spans = &decoded.resource_spans[0];
        let resource = resource_spans.resource.as_ref().unwrap();
        assert_eq!(resource.attributes[0].key, "service.name");
        let scope = &resource_spans.scope_spans[0];
        assert_eq!(scope.scope.as_ref().unwrap().name, "fetchspan");
        assert_eq!(
            scope.scope.as_ref().unwrap().version,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(scope.schema_url, semconv_schema!());
        assert_eq!(resource_spans.schema_url, semconv_schema!());
        let span = &scope.spans[0];
        assert_eq!(span.trace_id, vec![0xab; 16]);
        assert_eq!(span.span_id, vec![0x01; 8]);
        assert_eq!(span.parent_span_id, vec![0x02; 8]);
        assert_eq!(span.links.len(), 1);
        assert_eq!(span.links[0].trace_id, vec![0xcd; 16]);
        assert_eq!(span.links[0].span_id, vec![0x03; 8]);
        assert_eq!(span.name, "GET");
        assert_eq!(span.kind, 3);
        assert_eq!(span.start_time_unix_nano, 1_700_000_000_123_456_000);
        assert_eq!(span.end_time_unix_nano, 1_700_000_000_124_500_000);
        assert_eq!(span.status.as_ref().unwrap().code, 2);
        assert!(scope.spans[1].status.is_none());
        assert_eq!(
            (span.dropped_attributes_count, span.dropped_events_count),
            (8, 2)
        );
        let unbounded = &scope.spans[1];
        assert_eq!(
            (
                unbounded.dropped_attributes_count,
                unbounded.dropped_events_count
            ),
            (0, 0)
        );
        assert_eq!(json.matches("droppedAttributesCount").count(), 1);
        assert_eq!(span.events[0].name, "fetchspan.response.headers");
        assert_eq!(span.events[0].time_unix_nano, 1_700_000_000_124_000_000);
        assert!(span.events[0].attributes.is_empty());
        assert_eq!(span.events[1].name, "fetchspan.stall");
        assert_eq!(span.events[1].attributes.len(), 2);
        assert_eq!(span.events[1].attributes[0].key, "fetchspan.stall.cause");
        let value = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.clone())
                .and_then(|value| value.value)
        };
        assert_eq!(
            value("http.request.method"),
            Some(any_value::Value::StringValue("GET".into()))
        );
        assert_eq!(
            value("http.response.status_code"),
            Some(any_value::Value::IntValue(503))
        );
        assert_eq!(
            value("fetchspan.flag"),
            Some(any_value::Value::BoolValue(true))
        );
        let Some(any_value::Value::ArrayValue(header)) = value("http.request.header.x-a") else {
            panic!("a captured header is an array value");
        };
        assert_eq!(
            header
                .values
                .iter()
                .map(|v| v.value.clone())
                .collect::<Vec<_>>(),
            [Some(any_value::Value::StringValue("1, 2".into()))]
        );
    }

    #[test]
    fn an_empty_batch_and_empty_attributes_decode() {
        let decoded = decode(&encode(&Attributes::default(), &[]));
        assert!(decoded.resource_spans[0].scope_spans[0].spans.is_empty());
        let mut bare = record(false);
        bare.attributes = Attributes::default();
        bare.events.clear();
        let decoded = decode(&encode(&Attributes::default(), &[bare]));
        let span = &decoded.resource_spans[0].scope_spans[0].spans[0];
        assert!(span.attributes.is_empty() && span.events.is_empty());
    }

    #[test]
    fn strings_are_escaped_and_round_trip() {
        let awkward = "q\"uote\\ back/slash\nnew\tline\r\u{1}\u{1f}\u{7f} é 😀 \u{2028}";
        let mut span = record(false);
        span.attributes
            .set("url.full", Value::string(awkward.into()));
        span.name = awkward.into();
        let decoded = decode(&encode(&Attributes::default(), &[span]));
        let span = &decoded.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.name, awkward);
        let url = span
            .attributes
            .iter()
            .find(|kv| kv.key == "url.full")
            .unwrap();
        assert_eq!(
            url.value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue(awkward.into()))
        );
    }

    #[test]
    fn integers_cover_the_i64_range() {
        for number in [
            0,
            1,
            -1,
            9,
            10,
            503,
            i64::MAX,
            i64::MIN,
            -9_007_199_254_740_991,
        ] {
            let mut span = record(false);
            span.attributes.set("n", Value::Int(number));
            let decoded = decode(&encode(&Attributes::default(), &[span]));
            let span = &decoded.resource_spans[0].scope_spans[0].spans[0];
            let n = span.attributes.iter().find(|kv| kv.key == "n").unwrap();
            assert_eq!(
                n.value.as_ref().unwrap().value,
                Some(any_value::Value::IntValue(number))
            );
        }
    }

    #[test]
    fn doubles_are_json_numbers() {
        // As `Number.prototype.toString` writes them.
        for (text, number) in [("1.5", 1.5), ("-0.25", -0.25), ("1e+21", 1e21), ("5e-7", 5e-7)] {
            let mut span = record(false);
            span.attributes.set("d", Value::Double(text.into()));
            let decoded = decode(&encode(&Attributes::default(), &[span]));
            let span = &decoded.resource_spans[0].scope_spans[0].spans[0];
            let d = span.attributes.iter().find(|kv| kv.key == "d").unwrap();
            assert_eq!(
                d.value.as_ref().unwrap().value,
                Some(any_value::Value::DoubleValue(number))
            );
        }
    }

    #[test]
    fn ids_are_hex_and_times_are_decimal_strings() {
        let json = encode(&Attributes::default(), &[record(false)]);
        assert!(json.contains(r#""traceId":"abababababababababababababababab""#));
        assert!(json.contains(r#""startTimeUnixNano":"1700000000123456000""#));
        assert!(json.contains(r#""intValue":"503""#));
    }

    #[test]
    fn nanoseconds_round_within_the_millisecond() {
        let nanos = |ms| {
            let mut out = String::new();
            push_unix_nanos(&mut out, ms);
            out
        };
        assert_eq!(nanos(1.9999999), "2000000");
        assert_eq!(nanos(0.0), "0");
        assert_eq!(nanos(-5.0), "0");
    }
}
