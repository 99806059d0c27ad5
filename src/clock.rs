//! Wall-clock time in epoch milliseconds, the same in pages and workers.
//!
//! `std::time::SystemTime::now()` panics on wasm32-unknown-unknown, so time comes from
//! `performance.timeOrigin + performance.now()`: sub-millisecond and monotonic within one page, and set to the
//! wall clock when a span ends ([`wall_offset_ms`]).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(thread_local_v2, js_namespace = performance, js_name = timeOrigin)]
    static TIME_ORIGIN: f64;
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;
}

/// How far the wall clock (`Date.now()`) is ahead of [`now_ms`], in whole milliseconds. The monotonic clock
/// stops while the system sleeps (Chromium on macOS and Linux), so a page left open across a night would date its
/// spans hours in the past: a span is moved by this when it ends (its durations stay the monotonic clock's), as
/// OpenTelemetry JS's anchored clock does. Within a millisecond or so of zero otherwise.
pub fn wall_offset_ms() -> f64 {
    round(date_now() - now_ms()) as f64
}

/// Now, in epoch milliseconds (fractional).
pub fn now_ms() -> f64 {
    TIME_ORIGIN.with(|origin| *origin) + performance_now()
}

/// Converts a `performance.now()`-style timestamp (milliseconds since the time origin) to epoch milliseconds.
pub fn from_performance_ms(ms: f64) -> f64 {
    TIME_ORIGIN.with(|origin| *origin) + ms
}

/// `x` rounded to the nearest whole number, halves away from zero, as `f64::round(x) as i64` gives it (saturating
/// outside `i64`). Written out because `f64::round` needs std, which the shipped wasm leaves out (issue 7: size);
/// the `as` cast truncates toward zero.
pub fn round(x: f64) -> i64 {
    let whole = x as i64;
    let rest = x - whole as f64;
    if rest >= 0.5 {
        whole.saturating_add(1)
    } else if rest <= -0.5 {
        whole.saturating_sub(1)
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_is_f64_round() {
        for x in [
            0.0,
            0.4,
            0.5,
            0.6,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.4,
            1e15 + 0.5,
            123.456,
            -7.5,
            1e20,
            -1e20,
            f64::NAN,
        ] {
            assert_eq!(super::round(x), x.round() as i64, "{x}");
        }
    }
}
