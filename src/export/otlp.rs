//! OTLP/HTTP JSON encoding of finished spans: an `ExportTraceServiceRequest` in the proto3 JSON mapping, with
//! OTLP's exceptions: hex trace and span ids, 64-bit integers as decimal strings, `kind` as an integer.
//! Checked against the `opentelemetry-proto` crate in the tests below and, end to end, by the test server.

use serde::Serialize;

use crate::ids::hex;
use crate::record::{Attributes, SpanRecord, Value};

/// `SPAN_KIND_CLIENT`.
const KIND_CLIENT: u8 = 3;
/// `STATUS_CODE_ERROR`.
const STATUS_ERROR: u8 = 2;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportTraceServiceRequest<'a> {
    resource_spans: [ResourceSpans<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceSpans<'a> {
    resource: Resource<'a>,
    scope_spans: [ScopeSpans<'a>; 1],
}

#[derive(Serialize)]
struct Resource<'a> {
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Serialize)]
struct ScopeSpans<'a> {
    scope: Scope,
    spans: Vec<Span<'a>>,
}

#[derive(Serialize)]
struct Scope {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Span<'a> {
    trace_id: String,
    span_id: String,
    name: &'a str,
    kind: u8,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    attributes: Vec<KeyValue<'a>>,
    events: Vec<Event<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    time_unix_nano: String,
    name: &'a str,
}

#[derive(Serialize)]
struct Status {
    code: u8,
}

#[derive(Serialize)]
struct KeyValue<'a> {
    key: &'a str,
    value: AnyValue<'a>,
}

#[derive(Serialize)]
enum AnyValue<'a> {
    #[serde(rename = "stringValue")]
    String(&'a str),
    #[serde(rename = "intValue")]
    Int(String),
    #[serde(rename = "boolValue")]
    Bool(bool),
}

fn key_values(attributes: &Attributes) -> Vec<KeyValue<'_>> {
    attributes
        .iter()
        .map(|(key, value)| KeyValue {
            key,
            value: match value {
                Value::Str(text) => AnyValue::String(text),
                Value::Int(number) => AnyValue::Int(number.to_string()),
                Value::Bool(flag) => AnyValue::Bool(*flag),
            },
        })
        .collect()
}

/// Epoch milliseconds (fractional) as decimal-string nanoseconds, at microsecond resolution: an f64 of epoch
/// milliseconds holds about a quarter of a microsecond, so finer digits would be noise.
fn unix_nanos(ms: f64) -> String {
    let whole = ms.trunc().max(0.0) as u64;
    let micros = ((ms - ms.trunc()).max(0.0) * 1e3).round() as u64;
    (whole * 1_000_000 + micros * 1_000).to_string()
}

/// The request body for `spans` under `resource`.
pub fn encode(resource: &Attributes, spans: &[SpanRecord]) -> String {
    let request = ExportTraceServiceRequest {
        resource_spans: [ResourceSpans {
            resource: Resource {
                attributes: key_values(resource),
            },
            scope_spans: [ScopeSpans {
                scope: Scope {
                    name: "fetchspan",
                    version: env!("CARGO_PKG_VERSION"),
                },
                spans: spans
                    .iter()
                    .map(|span| Span {
                        trace_id: hex(&span.context.trace_id),
                        span_id: hex(&span.context.span_id),
                        name: &span.name,
                        kind: KIND_CLIENT,
                        start_time_unix_nano: unix_nanos(span.start_ms),
                        end_time_unix_nano: unix_nanos(span.end_ms),
                        attributes: key_values(&span.attributes),
                        events: span
                            .events
                            .iter()
                            .map(|event| Event {
                                time_unix_nano: unix_nanos(event.time_ms),
                                name: event.name,
                            })
                            .collect(),
                        status: span.error.then_some(Status { code: STATUS_ERROR }),
                    })
                    .collect(),
            }],
        }],
    };
    serde_json::to_string(&request).expect("plain data always serializes")
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;

    use super::*;
    use crate::ids::SpanContext;
    use crate::record::{EndReason, Event as SpanEvent};

    fn record(error: bool) -> SpanRecord {
        let mut attributes = Attributes::default();
        attributes.set("http.request.method", Value::string("GET".into()));
        attributes.set("http.response.status_code", Value::Int(503));
        attributes.set("fetchspan.flag", Value::Bool(true));
        SpanRecord {
            context: SpanContext {
                trace_id: [0xab; 16],
                span_id: [0x01; 8],
            },
            name: "GET".into(),
            start_ms: 1_700_000_000_123.456,
            end_ms: 1_700_000_000_124.5,
            error,
            end_reason: EndReason::Completed,
            attributes,
            events: vec![SpanEvent {
                name: "response.headers",
                time_ms: 1_700_000_000_124.0,
            }],
        }
    }

    #[test]
    fn encodes_a_request_that_opentelemetry_proto_decodes() {
        let mut resource = Attributes::default();
        resource.set("service.name", Value::string("shop".into()));
        let json = encode(&resource, &[record(true), record(false)]);
        let decoded: ExportTraceServiceRequest = serde_json::from_str(&json).unwrap();
        let resource_spans = &decoded.resource_spans[0];
        let resource = resource_spans.resource.as_ref().unwrap();
        assert_eq!(resource.attributes[0].key, "service.name");
        let scope = &resource_spans.scope_spans[0];
        assert_eq!(scope.scope.as_ref().unwrap().name, "fetchspan");
        let span = &scope.spans[0];
        assert_eq!(span.trace_id, vec![0xab; 16]);
        assert_eq!(span.span_id, vec![0x01; 8]);
        assert_eq!(span.kind, 3);
        assert_eq!(span.start_time_unix_nano, 1_700_000_000_123_456_000);
        assert_eq!(span.end_time_unix_nano, 1_700_000_000_124_500_000);
        assert_eq!(span.status.as_ref().unwrap().code, 2);
        assert!(scope.spans[1].status.is_none());
        assert_eq!(span.events[0].name, "response.headers");
        let status = span
            .attributes
            .iter()
            .find(|kv| kv.key == "http.response.status_code")
            .unwrap();
        assert_eq!(
            status.value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(503))
        );
        let flag = span
            .attributes
            .iter()
            .find(|kv| kv.key == "fetchspan.flag")
            .unwrap();
        assert_eq!(
            flag.value.as_ref().unwrap().value,
            Some(any_value::Value::BoolValue(true))
        );
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
        assert_eq!(unix_nanos(1.9999999), "2000000");
        assert_eq!(unix_nanos(0.0), "0");
    }
}
