//! W3C trace-context ids drawn from `crypto.getRandomValues`.

use std::cell::RefCell;

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
        loop {
            let bytes = POOL.with_borrow_mut(Pool::take);
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

/// Bytes per context.
const CONTEXT_BYTES: usize = 24;
/// Contexts drawn per `getRandomValues` call (one call per request cost more than the rest of the id work).
const POOLED: usize = 32;

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; CONTEXT_BYTES * POOLED], used: POOLED }) };
}

struct Pool {
    bytes: [u8; CONTEXT_BYTES * POOLED],
    used: usize,
}

impl Pool {
    fn take(&mut self) -> [u8; CONTEXT_BYTES] {
        if self.used == POOLED {
            get_random_values(&mut self.bytes);
            self.used = 0;
        }
        let start = self.used * CONTEXT_BYTES;
        self.used += 1;
        let mut out = [0; CONTEXT_BYTES];
        out.copy_from_slice(&self.bytes[start..start + CONTEXT_BYTES]);
        // Used bytes are wiped, so no id can be drawn twice.
        self.bytes[start..start + CONTEXT_BYTES].fill(0);
        out
    }
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
    use super::hex;

    #[test]
    fn hex_is_lowercase_and_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
