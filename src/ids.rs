//! W3C trace-context ids drawn from `crypto.getRandomValues`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buffer: &mut [u8]);
}

/// A 16-byte trace id and an 8-byte span id, neither all zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace id.
    pub trace_id: [u8; 16],
    /// The span id.
    pub span_id: [u8; 8],
}

impl SpanContext {
    /// A new root context with random ids.
    pub fn random() -> Self {
        let mut bytes = [0u8; 24];
        loop {
            get_random_values(&mut bytes);
            let (trace, span) = bytes.split_at(16);
            if trace.iter().any(|b| *b != 0) && span.iter().any(|b| *b != 0) {
                let mut context = SpanContext {
                    trace_id: [0; 16],
                    span_id: [0; 8],
                };
                context.trace_id.copy_from_slice(trace);
                context.span_id.copy_from_slice(span);
                return context;
            }
        }
    }
}

/// Lowercase hex, as trace context and OTLP JSON both want.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn hex_is_lowercase_and_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
