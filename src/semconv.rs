//! Attribute names: OpenTelemetry stable HTTP semantic conventions, and fetchspan's own under `fetchspan.*`.

use crate::prelude::*;

/// `http.request.method`: the normalized method, or `_OTHER`.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.request.method_original`: the method sent, when it isn't a known one.
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// `http.request.body.size`: the request body's size in bytes, when known without reading it, or counted as a
/// streamed upload went out.
pub const HTTP_REQUEST_BODY_SIZE: &str = "http.request.body.size";
/// `http.response.body.size`: the response body's size as transferred (before content decoding), from resource
/// timing.
pub const HTTP_RESPONSE_BODY_SIZE: &str = "http.response.body.size";
/// `http.response.status_code`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `http.request.header.<name>`: a captured request header's value, typed `string[]`.
pub const HTTP_REQUEST_HEADER: &str = "http.request.header.";
/// `http.response.header.<name>`: a captured response header's value, typed `string[]`.
pub const HTTP_RESPONSE_HEADER: &str = "http.response.header.";
/// `url.full`, with any credentials redacted.
pub const URL_FULL: &str = "url.full";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`.
pub const SERVER_PORT: &str = "server.port";
/// `error.type`: the error's name, or the status code for an HTTP error status.
pub const ERROR_TYPE: &str = "error.type";
/// Body bytes the app received after content decoding, when known exactly.
pub const DECODED_SIZE: &str = "fetchspan.response.decoded_size";
/// Chunks counted through the stream (only for bodies read as a stream).
pub const CHUNKS: &str = "fetchspan.response.chunks";
/// Where `decoded_size` comes from: `stream` (counted through the TransformStream), `value` (the size of what a
/// whole-body method returned), `content-length`, `resource-timing`, or `unknown` (then `decoded_size` is absent).
pub const SIZE_SOURCE: &str = "fetchspan.response.size_source";
/// Why the span ended (also in `onSpanEnd`'s `endReason`), so the collector sees it too.
pub const END_REASON: &str = "fetchspan.end_reason";

/// The request was sent a second time without our `traceparent`, after the first, with it, failed with a
/// `TypeError` (a redirect to an origin whose preflight refuses the header).
pub const PROPAGATION_RETRIED: &str = "fetchspan.propagation.retried";
/// `http.request.resend_count`: 1 when fetchspan sent the request a second time (see [`PROPAGATION_RETRIED`]).
pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";

/// The server's trace id, from the response's `traceresponse` or `Server-Timing: traceparent` (lowercase hex).
pub const SERVER_TRACE_ID: &str = "fetchspan.server.trace_id";
/// The server's span id, from the same.
pub const SERVER_SPAN_ID: &str = "fetchspan.server.span_id";
/// Prefix of a `Server-Timing` metric's attribute: `fetchspan.server_timing.<name>.duration_us`.
pub const SERVER_TIMING_PREFIX: &str = "fetchspan.server_timing.";

/// The `fetchspan.response.headers` event: the response's headers arrived.
pub const EVENT_HEADERS: &str = "fetchspan.response.headers";
/// The `fetchspan.response.first_byte` event: the first body chunk came in for the app's stream.
pub const EVENT_FIRST_BYTE: &str = "fetchspan.response.first_byte";

/// Methods the fetch spec upper-cases whatever case they come in.
const NORMALIZED_BY_FETCH: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
/// Methods the semantic conventions know; anything else is reported as `_OTHER`.
const KNOWN: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

/// The method as the semantic conventions report it, and `http.request.method_original` when that differs: the
/// method on the request line, which fetch upper-cases for the methods it normalizes (`post` goes out as `POST`).
pub fn method(given: &str) -> (&'static str, Option<String>) {
    let known = NORMALIZED_BY_FETCH
        .iter()
        .find(|normalized| normalized.eq_ignore_ascii_case(given))
        .or_else(|| KNOWN.iter().find(|known| **known == given));
    match known {
        Some(known) => (known, None),
        // What the JS side gives for a method it could not read without converting it twice (an object): the
        // method sent is not known, so there is no original to record.
        None if given == "_OTHER" => ("_OTHER", None),
        None => ("_OTHER", Some(given.to_owned())),
    }
}

/// Milliseconds from the request's start to the first body chunk the app received.
pub const TIME_TO_FIRST_CHUNK: &str = "fetchspan.response.time_to_first_chunk_ms";
/// The longest wait between two chunks while the app had a read pending, in milliseconds.
pub const MAX_GAP: &str = "fetchspan.response.max_gap_ms";
/// Stalls (`fetchspan.stall` and `fetchspan.backpressure` events) on a streamed body.
pub const STALLS: &str = "fetchspan.response.stalls";
/// Server-sent events the app received (`text/event-stream` bodies).
pub const SSE_EVENTS: &str = "fetchspan.sse.events";
/// Event: no chunk arrived for the stall threshold while the app waited (cause `network`).
pub const EVENT_STALL: &str = "fetchspan.stall";
/// Event: chunks waited for the app for the stall threshold (cause `consumer`).
pub const EVENT_BACKPRESSURE: &str = "fetchspan.backpressure";
/// Event: the first server-sent event reached the app.
pub const EVENT_SSE_FIRST: &str = "fetchspan.sse.first_event";
/// Event attribute: what a stall waited on, `network` or `consumer`.
pub const STALL_CAUSE: &str = "fetchspan.stall.cause";
/// Event attribute: how long a stall lasted, in milliseconds.
pub const STALL_DURATION: &str = "fetchspan.stall.duration_ms";
/// Milliseconds from the request's start to the response's first byte, from resource timing.
pub const TIME_TO_FIRST_BYTE: &str = "fetchspan.response.time_to_first_byte_ms";
/// Event: the DNS lookup, from resource timing.
pub const EVENT_DNS: &str = "fetchspan.timing.dns";
/// Event: the connection (TCP and TLS), from resource timing.
pub const EVENT_CONNECT: &str = "fetchspan.timing.connect";
/// Event: the TLS handshake, from resource timing.
pub const EVENT_TLS: &str = "fetchspan.timing.tls";
/// Event: from sending the request to the first byte of the response, from resource timing.
pub const EVENT_REQUEST: &str = "fetchspan.timing.request";
/// Event: from the first to the last byte of the response, from resource timing.
pub const EVENT_RESPONSE: &str = "fetchspan.timing.response";
/// Event attribute: how long a resource-timing phase took, in microseconds.
pub const TIMING_DURATION: &str = "fetchspan.timing.duration_us";

#[cfg(test)]
mod tests {
    use super::method;

    #[test]
    fn methods_follow_fetch_normalization_then_semconv() {
        assert_eq!(method("GET"), ("GET", None));
        assert_eq!(method("post"), ("POST", None));
        assert_eq!(method("PATCH"), ("PATCH", None));
        assert_eq!(method("patch"), ("_OTHER", Some("patch".into())));
        assert_eq!(method("PURGE"), ("_OTHER", Some("PURGE".into())));
        assert_eq!(method("_OTHER"), ("_OTHER", None));
    }
}
