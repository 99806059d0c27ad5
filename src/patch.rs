//! Stage 1 of a request: the patched `fetch` and `Response.prototype` (the JS half is `patch.js`).
//!
//! [`Patches`] owns the installation and restores every descriptor it changed when it drops. [`FetchHooks`] is
//! what the patched `fetch` calls per request: it reads the request without consuming or changing anything of the
//! caller's, and opens a [`RequestSpan`].

use std::rc::{Rc, Weak};

use js_sys::{Function, JsString};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, Request, Url};

use crate::span::{RequestInfo, RequestSpan};
use crate::tracer::TracerCore;

/// Longest URL read from the caller's input, in UTF-16 units: a huge `data:` URL is not copied into wasm.
const MAX_URL_CHARS: u32 = 8192;

/// A URL containing this makes `start` panic (feature `fault-injection`, for tests only).
#[cfg(feature = "fault-injection")]
pub const PANIC_MARKER: &str = "__fetchspan_panic__";

#[wasm_bindgen(module = "/src/patch.js")]
extern "C" {
    type PatchHandle;

    #[wasm_bindgen(catch, js_name = installPatches)]
    fn install_patches(scope: &JsValue, hooks: FetchHooks) -> Result<PatchHandle, JsValue>;

    #[wasm_bindgen(method)]
    fn restore(this: &PatchHandle);

    #[wasm_bindgen(method, getter, js_name = nativeFetch)]
    fn native_fetch(this: &PatchHandle) -> Function;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = String)]
    fn to_js_string(value: &JsValue) -> Result<JsString, JsValue>;
}

/// The installed patches. Dropping this restores `fetch` and `Response.prototype` where they are still ours.
pub struct Patches {
    handle: PatchHandle,
}

impl Patches {
    /// Patches the global scope; fails, with nothing patched, when `fetch` can't be replaced.
    pub fn install(tracer: &Rc<TracerCore>) -> Result<Patches, JsValue> {
        let hooks = FetchHooks {
            tracer: Rc::downgrade(tracer),
        };
        install_patches(&js_sys::global(), hooks).map(|handle| Patches { handle })
    }

    /// The `fetch` that was in place before ours: what the exporter sends with, so it never traces itself.
    pub fn native_fetch(&self) -> Function {
        self.handle.native_fetch()
    }
}

impl Drop for Patches {
    fn drop(&mut self) {
        self.handle.restore();
    }
}

/// What the patched `fetch` calls into. Holds the tracer weakly: after `uninstall()` it starts nothing.
#[wasm_bindgen]
pub struct FetchHooks {
    tracer: Weak<TracerCore>,
}

#[wasm_bindgen]
impl FetchHooks {
    /// Opens the span of `fetch(input, init)`, or returns undefined to leave the request alone.
    pub fn start(&self, input: JsValue, init: JsValue) -> Option<RequestSpan> {
        let tracer = self.tracer.upgrade()?;
        let request = read_request(&input, &init)?;
        #[cfg(feature = "fault-injection")]
        if request.url.contains(PANIC_MARKER) {
            panic!("fault injected by a test");
        }
        if tracer.options.ignores(&request.url) {
            return None;
        }
        Some(RequestSpan::start(tracer, request))
    }

    /// Something of ours failed; the request went on uninstrumented.
    pub fn failed(&self, _error: JsValue) {
        if let Some(tracer) = self.tracer.upgrade() {
            tracer.stats.count_failure();
        }
    }
}

/// Reads method, URL and signal the way `fetch` will: `init` first, then the `Request`.
fn read_request(input: &JsValue, init: &JsValue) -> Option<RequestInfo> {
    let request = input.dyn_ref::<Request>();
    let method = property(init, "method")
        .and_then(|method| method.as_string())
        .or_else(|| request.map(Request::method))
        .unwrap_or_else(|| "GET".into());
    let raw = match request {
        Some(request) => request.url(),
        None => {
            let text = to_js_string(input).ok()?;
            String::from(if text.length() > MAX_URL_CHARS {
                text.slice(0, MAX_URL_CHARS)
            } else {
                text
            })
        }
    };
    let signal = property(init, "signal")
        .and_then(|signal| signal.dyn_into::<AbortSignal>().ok())
        .or_else(|| request.map(Request::signal));
    let (url, server) = match resolve(&raw) {
        Some(url) => (url.href(), server_of(&url)),
        None => (raw, None),
    };
    Some(RequestInfo {
        method,
        url,
        server,
        signal,
    })
}

/// Resolves `raw` like `fetch` does (against the document's base URL) and redacts credentials.
fn resolve(raw: &str) -> Option<Url> {
    let url = Url::new(raw)
        .ok()
        .or_else(|| Url::new_with_base(raw, &base_url()?).ok())?;
    if !url.username().is_empty() {
        url.set_username("REDACTED");
    }
    if !url.password().is_empty() {
        url.set_password("REDACTED");
    }
    Some(url)
}

fn base_url() -> Option<String> {
    let global = js_sys::global();
    property(&global, "document")
        .and_then(|document| property(&document, "baseURI"))
        .or_else(|| property(&global, "location").and_then(|location| property(&location, "href")))
        .and_then(|base| base.as_string())
}

fn server_of(url: &Url) -> Option<(String, u16)> {
    let default_port = match url.protocol().as_str() {
        "http:" => 80,
        "https:" => 443,
        _ => return None,
    };
    let port = url.port().parse().unwrap_or(default_port);
    Some((
        url.hostname()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
    ))
}

/// Reads `name` of `object` when it is an object and the property is set.
fn property(object: &JsValue, name: &str) -> Option<JsValue> {
    if !object.is_object() {
        return None;
    }
    js_sys::Reflect::get(object, &JsValue::from_str(name))
        .ok()
        .filter(|value| !value.is_undefined())
}
