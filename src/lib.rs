//! fetchspan: browser `fetch` instrumentation that never clones a response.
//!
//! One request, top to bottom:
//! 1. [`patch`] — the patched `fetch` opens a span and hands the app the native promise; `Response.prototype`'s
//!    body accessors are patched once, gated by a `WeakMap` of tracked responses.
//! 2. [`span`] — the span records the response's headers, then waits for the body's end, a cancel, an abort, an
//!    error, or abandonment (idle timeout, or the response being garbage-collected).
//! 3. [`body`] — a body read as a stream goes through a pass-through `TransformStream` whose transformer counts
//!    bytes; whole-body methods are served natively, their size taken from the value, `Content-Length` or
//!    resource timing.
//! 4. [`export`] — the finished span goes to `onSpanEnd` ([`tracer`]) and is exported as OTLP/HTTP JSON in
//!    bounded batches, with retries, a flush with a deadline, and a keepalive flush when the page is hidden.

mod body;
mod clock;
mod export;
mod ids;
mod options;
mod patch;
mod record;
mod registration;
mod semconv;
mod span;
mod timing;
mod tracer;

pub use tracer::{install, Tracer};

/// The global allocator: talc, smaller than Rust's default dlmalloc by 2.5 KB gzipped (see `Cargo.toml`).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
