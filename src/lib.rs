//! fetchspan: browser `fetch` instrumentation that never clones a response.
//!
//! One request, top to bottom, one module per stage:
//! 1. `patch` (`src/patch.rs`, `patch.js`) — the patched `fetch` opens a span, adds trace context, and hands the
//!    app a promise derived from the native one.
//! 2. `span` — the span records the response's headers and the request's failure, and ends once.
//! 3. `body` (`src/body.rs`, `src/body.js`) — reached through `Response.prototype`'s body accessors (patched once
//!    by `patch.js`, gated by a `WeakMap` of tracked responses), decides how the body ends: read as a stream
//!    through a pass-through `TransformStream` whose transformer counts bytes; read whole, natively, its size taken
//!    from the value, `Content-Length` or resource timing; cancelled, aborted, failed, or abandoned (idle timeout,
//!    or the response being garbage-collected).
//! 4. `export` (`src/export/`) — the finished span goes to `onSpanEnd` (`tracer`) and is exported as OTLP/HTTP
//!    JSON in bounded batches, with retries, a flush with a deadline, and a keepalive flush when the page is hidden.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

/// What std's prelude gives, for the `no_std` build: every module starts with `use crate::prelude::*;`.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
}

/// Declares per-thread state: `std::thread_local!` where std is linked (the native tests run on many threads), and
/// without std (the shipped wasm, which has one thread) a plain static. Either way it is read with `.with(|value| …)`.
macro_rules! per_thread {
    ($(#[$attr:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(feature = "std")]
        std::thread_local! { $(#[$attr])* static $name: $ty = const { $init }; }
        #[cfg(not(feature = "std"))]
        $(#[$attr])* static $name: crate::OneThread<$ty> = crate::OneThread($init);
    };
}
pub(crate) use per_thread;

/// A static for the wasm's one thread (see [`per_thread`]).
#[cfg(not(feature = "std"))]
pub(crate) struct OneThread<T>(pub(crate) T);

// SAFETY: only built without std, for wasm32 without the atomics target feature, where there is one thread.
#[cfg(not(feature = "std"))]
unsafe impl<T> Sync for OneThread<T> {}

#[cfg(not(feature = "std"))]
impl<T> OneThread<T> {
    /// Calls `f` with the value, as `LocalKey::with` does.
    pub(crate) fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }
}

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
#[cfg(all(target_arch = "wasm32", not(feature = "fault-injection")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// In the tests' build, the same allocator counting the bytes it has handed out and not got back: the wasm memory's
/// size is a high-water mark that a leak hides under until the free space runs out; this is not.
#[cfg(all(target_arch = "wasm32", feature = "fault-injection"))]
#[global_allocator]
static ALLOCATOR: test_heap::Counting = test_heap::Counting(talc::wasm::new_wasm_dynamic_allocator());

#[cfg(feature = "fault-injection")]
pub use test_heap::live_heap_bytes;

/// The tests' counting allocator (feature `fault-injection`).
#[cfg(feature = "fault-injection")]
mod test_heap {
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    static LIVE: AtomicUsize = AtomicUsize::new(0);

    /// Bytes allocated in the wasm heap and not freed yet (0 outside wasm).
    #[doc(hidden)]
    pub fn live_heap_bytes() -> usize {
        LIVE.load(Relaxed)
    }

    /// talc, counting the bytes it has live.
    #[cfg(target_arch = "wasm32")]
    pub struct Counting(pub talc::wasm::WasmDynamicTalc);

    #[cfg(target_arch = "wasm32")]
    // SAFETY: every call is passed on to the wrapped allocator unchanged; only the count is added.
    unsafe impl core::alloc::GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
            let pointer = self.0.alloc(layout);
            if !pointer.is_null() {
                LIVE.fetch_add(layout.size(), Relaxed);
            }
            pointer
        }

        unsafe fn dealloc(&self, pointer: *mut u8, layout: core::alloc::Layout) {
            LIVE.fetch_sub(layout.size(), Relaxed);
            self.0.dealloc(pointer, layout);
        }

        unsafe fn realloc(&self, pointer: *mut u8, layout: core::alloc::Layout, size: usize) -> *mut u8 {
            let moved = self.0.realloc(pointer, layout, size);
            if !moved.is_null() {
                LIVE.fetch_add(size, Relaxed);
                LIVE.fetch_sub(layout.size(), Relaxed);
            }
            moved
        }
    }
}

/// Without std (the shipped build), a panic traps at once: nothing is formatted, so neither std's panic machinery nor
/// `core::fmt` is in the wasm. `patch.js` catches the trap as it catches any failure of ours.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
