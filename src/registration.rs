//! RAII handles for the JS registrations a span or the tracer makes, in the style of gloo-events: the value owns
//! the `Closure`, and `Drop` unregisters it. Nothing is ever forgotten.
//!
//! Dropping one of these from inside its own callback is safe: wasm-bindgen defers freeing a closure that is
//! running until it returns.

use js_sys::{Function, JsString};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

#[wasm_bindgen]
extern "C" {
    // Take the event type as a JS string (the callers keep theirs), so adding and removing a listener decode no
    // string: without wasm-bindgen's `enable-interning` (3 KB of gzipped wasm), a `&str` is decoded each call.
    type Listenable;
    #[wasm_bindgen(method, catch, js_name = addEventListener)]
    fn add_listener(
        this: &Listenable,
        event_type: &JsString,
        listener: &Function,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = removeEventListener)]
    fn remove_listener(
        this: &Listenable,
        event_type: &JsString,
        listener: &Function,
    ) -> Result<(), JsValue>;
}

#[wasm_bindgen(module = "/src/patch.js")]
extern "C" {
    // The engine's own timers, even where zone.js (Angular) patched the global ones (see `setTimer` there).
    #[wasm_bindgen(js_name = setTimer)]
    fn set_timeout(callback: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimer)]
    fn clear_timeout(id: &JsValue);
}

/// An event listener that is removed when this value drops.
pub struct EventListener {
    target: EventTarget,
    event_type: JsString,
    callback: Closure<dyn FnMut(Event)>,
}

impl EventListener {
    /// Adds `callback` as a listener for `event_type` on `target`.
    pub fn new(
        target: &EventTarget,
        event_type: JsString,
        callback: impl FnMut(Event) + 'static,
    ) -> Self {
        let callback = Closure::<dyn FnMut(Event)>::new(callback);
        // Adding a listener only fails for a target that isn't one; the listener then simply never fires.
        let _ = target
            .unchecked_ref::<Listenable>()
            .add_listener(&event_type, callback.as_ref().unchecked_ref());
        EventListener {
            target: target.clone(),
            event_type,
            callback,
        }
    }
}

impl Drop for EventListener {
    fn drop(&mut self) {
        let _ = self
            .target
            .unchecked_ref::<Listenable>()
            .remove_listener(&self.event_type, self.callback.as_ref().unchecked_ref());
    }
}

/// A `setTimeout` that is cleared when this value drops.
pub struct Timeout {
    id: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Calls `callback` once after `ms` milliseconds, unless dropped first.
    pub fn new(ms: f64, callback: impl FnOnce() + 'static) -> Self {
        let mut callback = Some(callback);
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(callback) = callback.take() {
                callback();
            }
        });
        let id = set_timeout(callback.as_ref().unchecked_ref(), ms);
        Timeout {
            id,
            _callback: callback,
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}
