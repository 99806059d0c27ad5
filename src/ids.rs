//! W3C trace-context ids. `patch.js` draws them (from `crypto.getRandomValues`, before the request is sent, since
//! the `traceparent` it sends must carry them) and hands them over as hex; this module reads and writes that hex.

use crate::prelude::*;

/// A 16-byte trace id and an 8-byte span id, and the parent span's id when the app sent its own `traceparent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace id.
    pub trace_id: [u8; 16],
    /// The span id.
    pub span_id: [u8; 8],
    /// The parent span's id, if any.
    pub parent_span_id: Option<[u8; 8]>,
}

impl SpanContext {
    /// Reads `ids` (the trace id then the span id, 48 hex digits) and `parent` (16 hex digits); None if `ids` isn't
    /// that. A parent that isn't 16 hex digits is left out.
    pub fn from_hex(ids: &str, parent: Option<&str>) -> Option<Self> {
        let mut bytes = [0; 24];
        read_hex(ids, &mut bytes)?;
        let mut context = SpanContext {
            trace_id: [0; 16],
            span_id: [0; 8],
            parent_span_id: None,
        };
        context.trace_id.copy_from_slice(&bytes[..16]);
        context.span_id.copy_from_slice(&bytes[16..]);
        context.parent_span_id = parent.and_then(|parent| {
            let mut id = [0; 8];
            read_hex(parent, &mut id).map(|()| id)
        });
        Some(context)
    }
}

/// The trace id and span id of a W3C `traceparent` value (version 00, ids not all zero), as `parent_span_id`-less
/// context.
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let value = value.trim_ascii();
    let bytes = value.as_bytes();
    if bytes.len() != 55 || !value.starts_with("00-") || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let mut ids = String::with_capacity(48);
    ids.push_str(value.get(3..35)?);
    ids.push_str(value.get(36..52)?);
    let context = SpanContext::from_hex(&ids, None)?;
    let zero = |id: &[u8]| id.iter().all(|b| *b == 0);
    (!zero(&context.trace_id) && !zero(&context.span_id)).then_some(context)
}

/// Fills `out` from exactly `2 * out.len()` hex digits.
fn read_hex(text: &str, out: &mut [u8]) -> Option<()> {
    let digits = text.as_bytes();
    if digits.len() != out.len() * 2 {
        return None;
    }
    let value = |digit: u8| char::from(digit).to_digit(16).map(|v| v as u8);
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = value(pair[0])? << 4 | value(pair[1])?;
    }
    Some(())
}

/// Lowercase hex, as trace context and OTLP JSON both want.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Appends `bytes` to `out` as lowercase hex.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::{hex, SpanContext};

    #[test]
    fn hex_is_lowercase_and_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn traceparents_parse_strictly() {
        let context =
            super::parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
                .unwrap();
        assert_eq!(hex(&context.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(hex(&context.span_id), "b7ad6b7169203331");
        for bad in [
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
        ] {
            assert_eq!(super::parse_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_round_trip_through_hex() {
        let ids = "0af7651916cd43dd8448eb211c80319cb7ad6b7169203331";
        let context = SpanContext::from_hex(ids, Some("00f067aa0ba902b7")).unwrap();
        assert_eq!(hex(&context.trace_id) + &hex(&context.span_id), ids);
        assert_eq!(hex(&context.parent_span_id.unwrap()), "00f067aa0ba902b7");
        assert_eq!(
            SpanContext::from_hex(ids, Some("xyz"))
                .unwrap()
                .parent_span_id,
            None
        );
        assert_eq!(SpanContext::from_hex(&ids[1..], None), None);
        assert_eq!(SpanContext::from_hex(&ids.replace('a', "g"), None), None);
    }
}
