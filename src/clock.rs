//! Wall-clock time in epoch milliseconds, the same in pages and workers.
//!
//! `std::time::SystemTime::now()` panics on wasm32-unknown-unknown, so time comes from
//! `performance.timeOrigin + performance.now()`: sub-millisecond and monotonic within one page, and set to the
//! wall clock when it has drifted ([`WallClock`]).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(thread_local_v2, js_namespace = performance, js_name = timeOrigin)]
    static TIME_ORIGIN: f64;
    #[wasm_bindgen(catch, js_namespace = Date, js_name = now)]
    fn date_now() -> Result<f64, JsValue>;
}

/// How far the wall clock may drift from [`now_ms`] before spans follow it.
const DRIFT_MS: f64 = 1000.0;

/// What spans are moved by when they end, to date them by the wall clock: the monotonic clock stops while the
/// system sleeps (Chromium on macOS and Linux), so a page left open overnight would date its spans hours in the
/// past. Starts at 0 (spans on `timeOrigin + performance.now()`, to the microsecond); [`WallClock::update`] takes
/// `Date.now()`'s lead over that clock once it is a second or more off, so spans don't jitter by `Date.now()`'s
/// whole milliseconds from one to the next. Durations always stay the monotonic clock's.
#[derive(Default)]
pub struct WallClock {
    offset_ms: core::cell::Cell<f64>,
}

impl WallClock {
    /// The offset now, after following the wall clock if it has drifted (a `Date.now` that throws or returns
    /// no number is ignored).
    pub fn update(&self) -> f64 {
        let offset = self.offset_ms.get();
        if let Ok(wall) = date_now() {
            let lead = wall - now_ms();
            // (Also false for NaN and the infinities.)
            if (lead - offset >= DRIFT_MS || offset - lead >= DRIFT_MS) && lead.is_finite() {
                self.offset_ms.set(round(lead) as f64);
            }
        }
        self.offset_ms.get()
    }
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
