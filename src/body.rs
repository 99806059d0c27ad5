//! Stage 3 of a request: the body. The app's stream runs through a pass-through `TransformStream` whose transformer
//! is [`CountingTransformer`]; `nativeBody.pipeTo(ts.writable)` (in `patch.js`) drives it.
//!
//! Never clones, never buffers: each chunk is enqueued as it came, its `byteLength` is the only thing read, and
//! nothing is copied into wasm memory. Backpressure passes through (default queuing: at most about one chunk held).

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::TransformStreamDefaultController;

use crate::record::EndReason;
use crate::span::SpanCell;

/// What the app has taken of a streamed body so far. Cells only, so a chunk never borrows the span.
#[derive(Default)]
pub struct BodyProgress {
    streaming: Cell<bool>,
    bytes: Cell<u64>,
    chunks: Cell<u64>,
}

impl BodyProgress {
    /// Whether the body runs through a counting stream (then that stream ends the span, even if the app keeps
    /// only the stream and lets the `Response` be collected).
    pub fn streaming(&self) -> bool {
        self.streaming.get()
    }

    /// Decoded bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.get()
    }

    /// Chunks counted so far.
    pub fn chunks(&self) -> u64 {
        self.chunks.get()
    }

    /// Counts one chunk; true for the first.
    fn record_chunk(&self, bytes: u32) -> bool {
        self.bytes.set(self.bytes.get() + u64::from(bytes));
        self.chunks.set(self.chunks.get() + 1);
        self.chunks.get() == 1
    }
}

/// The transformer object handed to `new TransformStream(...)`. JS calls `transform` and `flush` on it directly;
/// `flush` and `pipeFailed` consume it, so the end of the stream and its cleanup are one code path.
#[wasm_bindgen]
pub struct CountingTransformer {
    span: Rc<SpanCell>,
}

impl CountingTransformer {
    pub(crate) fn new(span: Rc<SpanCell>) -> Self {
        span.progress.streaming.set(true);
        CountingTransformer { span }
    }
}

#[wasm_bindgen]
impl CountingTransformer {
    /// Counts a chunk and passes the very same chunk on.
    pub fn transform(
        &self,
        chunk: JsValue,
        controller: &TransformStreamDefaultController,
    ) -> Result<(), JsValue> {
        if self
            .span
            .progress
            .record_chunk(chunk.unchecked_ref::<Uint8Array>().byte_length())
        {
            self.span.first_byte();
        }
        controller.enqueue_with_chunk(&chunk)
    }

    /// The source ended and every chunk was handed on: the body completed.
    pub fn flush(self) {
        self.span.end_body(EndReason::Completed, None);
    }

    /// The pipe rejected with `reason`: the request's signal aborted, the app cancelled our readable (`cancelled`:
    /// the source closed rather than failed), or the network failed. The app's stream already carries the
    /// source's own error; this ends the span.
    #[wasm_bindgen(js_name = pipeFailed)]
    pub fn pipe_failed(self, reason: JsValue, cancelled: bool) {
        if self.span.abort_reason().is_some() {
            self.span.end_body(EndReason::Aborted, None);
        } else if cancelled {
            self.span.end_body(EndReason::Cancelled, None);
        } else {
            self.span.end_body(EndReason::Error, Some(&reason));
        }
    }
}
