//! Stage 1 of a request: the patched `fetch` and `Response.prototype` (the JS half is `patch.js`).
//!
//! [`Patches`] owns the installation and restores every descriptor it changed when it drops. [`FetchHooks`] is
//! what the patched `fetch` calls per request: it reads the request without consuming or changing anything of the
//! caller's, and opens a [`RequestSpan`].

use std::rc::{Rc, Weak};

use js_sys::{Function, JsString};
use wasm_bindgen::intern;
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
    /// Opens the span of `fetch(input, init)`, or returns undefined to leave the request alone (the span of a
    /// request whose signal has already aborted is ended here).
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
        // An already-aborted signal is answered by the native promise itself, untouched (any reaction would
        // delay it by a microtask): the span ends now.
        let span = RequestSpan::start(tracer, request);
        (!span.end_if_aborted()).then_some(span)
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
    let url = resolve(&raw).map_or(raw, |url| url.href());
    let server = server_of(&url);
    Some(RequestInfo {
        method,
        url,
        server,
        signal,
    })
}

/// Resolves `raw` like `fetch` does (against the document's base URL) and redacts credentials. Absolute http(s)
/// URLs skip the base lookup; a relative one never goes through a failing `new URL(raw)` (a thrown exception
/// costs more than the rest of the request's instrumentation).
fn resolve(raw: &str) -> Option<Url> {
    let absolute = ["http://", "https://"].iter().any(|scheme| {
        raw.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    });
    let url = if absolute {
        Url::new(raw).ok()?
    } else {
        Url::new_with_base(raw, &base_url()?).ok()?
    };
    if !url.username().is_empty() || !url.password().is_empty() {
        url.set_username("REDACTED");
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

/// Host and port of a normalized http(s) `href`, read in Rust rather than through five URL getters.
fn server_of(href: &str) -> Option<(String, u16)> {
    let (default_port, rest) = if let Some(rest) = href.strip_prefix("http://") {
        (80, rest)
    } else {
        (443, href.strip_prefix("https://")?)
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (host_port, default_port),
    };
    Some((
        host.trim_start_matches('[')
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
    js_sys::Reflect::get(object, &JsValue::from_str(intern(name)))
        .ok()
        .filter(|value| !value.is_undefined())
}

#[cfg(test)]
mod tests {
    use super::server_of;

    #[test]
    fn host_and_port_come_from_the_normalized_href() {
        assert_eq!(
            server_of("http://127.0.0.1:47811/bytes?n=1"),
            Some(("127.0.0.1".into(), 47811))
        );
        assert_eq!(
            server_of("https://example.com/a:b"),
            Some(("example.com".into(), 443))
        );
        assert_eq!(
            server_of("http://REDACTED:REDACTED@example.com/"),
            Some(("example.com".into(), 80))
        );
        assert_eq!(server_of("http://[::1]:8080/"), Some(("::1".into(), 8080)));
        assert_eq!(server_of("http://[::1]/"), Some(("::1".into(), 80)));
        assert_eq!(server_of("data:text/plain,x"), None);
    }
}
