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
    bytes: Cell<u64>,
    chunks: Cell<u64>,
    disturbed: Cell<bool>,
}

impl BodyProgress {
    /// Decoded bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.get()
    }

    /// Chunks counted so far.
    pub fn chunks(&self) -> u64 {
        self.chunks.get()
    }

    /// Whether the app has read from, or cancelled, the stream (what `bodyUsed` reports for it).
    pub fn disturbed(&self) -> bool {
        self.disturbed.get()
    }

    /// Counts one chunk; true for the first.
    fn record_chunk(&self, bytes: u32) -> bool {
        self.bytes.set(self.bytes.get() + u64::from(bytes));
        self.chunks.set(self.chunks.get() + 1);
        self.disturbed.set(true);
        self.chunks.get() == 1
    }
}

/// The transformer object handed to `new TransformStream(...)`. JS calls `start`, `transform` and `flush` on it
/// directly; `flush` and `pipeFailed` consume it, so the end of the stream and its cleanup are one code path.
#[wasm_bindgen]
pub struct CountingTransformer {
    span: Rc<SpanCell>,
    controller: Option<TransformStreamDefaultController>,
}

impl CountingTransformer {
    pub(crate) fn new(span: Rc<SpanCell>) -> Self {
        CountingTransformer { span, controller: None }
    }
}

#[wasm_bindgen]
impl CountingTransformer {
    /// Keeps the controller, to error the app's stream with the right reason if the pipe fails.
    pub fn start(&mut self, controller: TransformStreamDefaultController) {
        self.controller = Some(controller);
    }

    /// Counts a chunk and passes the very same chunk on.
    pub fn transform(&self, chunk: JsValue, controller: &TransformStreamDefaultController) -> Result<(), JsValue> {
        if self.span.progress.record_chunk(chunk.unchecked_ref::<Uint8Array>().byte_length()) {
            self.span.first_byte();
        }
        controller.enqueue_with_chunk(&chunk)
    }

    /// The source ended and every chunk was handed on: the body completed.
    pub fn flush(self) {
        self.span.progress.disturbed.set(true);
        self.span.end_body(EndReason::Completed, None);
    }

    /// The pipe rejected: the app cancelled our readable (`writable_errored`), the request's signal aborted, or
    /// the network failed. Errors the app's stream with what it would have seen natively (the signal's reason
    /// after an abort), then ends the span.
    #[wasm_bindgen(js_name = pipeFailed)]
    pub fn pipe_failed(self, reason: JsValue, writable_errored: bool) {
        let abort_reason = self.span.abort_reason();
        if let Some(controller) = &self.controller {
            controller.error_with_reason(abort_reason.as_ref().unwrap_or(&reason));
        }
        self.span.progress.disturbed.set(true);
        match abort_reason {
            Some(_) => self.span.end_body(EndReason::Aborted, None),
            None if writable_errored => self.span.end_body(EndReason::Cancelled, None),
            None => self.span.end_body(EndReason::Error, Some(&reason)),
        }
    }
}
