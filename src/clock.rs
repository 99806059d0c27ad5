//! Wall-clock time in epoch milliseconds, the same in pages and workers.
//!
//! `std::time::SystemTime::now()` panics on wasm32-unknown-unknown, so time comes from
//! `performance.timeOrigin + performance.now()`: sub-millisecond and monotonic within one page.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(thread_local_v2, js_namespace = performance, js_name = timeOrigin)]
    static TIME_ORIGIN: f64;
}

/// Now, in epoch milliseconds (fractional).
pub fn now_ms() -> f64 {
    TIME_ORIGIN.with(|origin| *origin) + performance_now()
}

/// Converts a `performance.now()`-style timestamp (milliseconds since the time origin) to epoch milliseconds.
pub fn from_performance_ms(ms: f64) -> f64 {
    TIME_ORIGIN.with(|origin| *origin) + ms
}
