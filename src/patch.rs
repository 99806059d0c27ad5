//! Stage 1 of a request: the patched `fetch` and `Request` (the JS half is `patch.js`, which also patches
//! `Response.prototype` and routes its members to the body stage, whose JS half, the pump, is `body.js`).
//!
//! [`Patches`] owns the installation and restores every descriptor it changed when it drops. [`FetchHooks`] is
//! what the patched `fetch` calls per request, with the method, URL and signal `patch.js` read (reading only, so
//! nothing of the caller's `Request`, `init` or `Headers` is consumed or changed); it opens a [`RequestSpan`].

use crate::prelude::*;
use alloc::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use crate::ids::SpanContext;
use crate::span::{RequestInfo, RequestSpan};
use crate::tracer::TracerCore;

/// A URL containing this makes `start` panic (feature `fault-injection`, for tests only).
#[cfg(feature = "fault-injection")]
pub const PANIC_MARKER: &str = "__fetchspan_panic__";

#[wasm_bindgen(module = "/src/patch.js")]
extern "C" {
    type PatchHandle;

    #[wasm_bindgen(catch, js_name = installPatches)]
    fn install_patches(
        scope: &JsValue,
        hooks: FetchHooks,
        config: &JsValue,
    ) -> Result<PatchHandle, JsValue>;

    #[wasm_bindgen(method)]
    fn restore(this: &PatchHandle);
}

#[wasm_bindgen]
extern "C" {
    /// The global scope, page or worker. Read as `globalThis` alone: `js_sys::global()` probes four names (four
    /// imports and their lookups: 407 bytes of the gzipped package) for engines older than any fetchspan runs in.
    #[wasm_bindgen(thread_local_v2, js_name = globalThis)]
    pub static GLOBAL_THIS: JsValue;
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
        GLOBAL_THIS
            .with(|scope| install_patches(scope, hooks, &tracer.options.patch_config))
            .map(|handle| Patches { handle })
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
    /// Opens the span of a request `patch.js` has decided to trace (not ignored, sampled), with the method, absolute
    /// URL and signal it read the way `fetch` did, the `performance.now()` at which `fetch` was called, the span's
    /// ids as hex (trace id then span id: the ones any `traceparent` sent carries) and the parent span's id when
    /// the app sent its own `traceparent`, and the request body's size when `patch.js` knew it without reading
    /// anything, and `extra` attributes (`[key, value, …]`: captured headers, the `requestAttributes` hook). Returns
    /// undefined to leave the request alone. The span of a request
    /// whose signal has already aborted ends here.
    // One crossing per request: positional arguments cost less than an object read field by field.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &self,
        method: String,
        url: String,
        signal: Option<AbortSignal>,
        started_at: f64,
        ids: &str,
        parent: Option<String>,
        body_size: Option<f64>,
        extra: Option<js_sys::Array>,
    ) -> Option<RequestSpan> {
        let tracer = self.tracer.upgrade()?;
        #[cfg(feature = "fault-injection")]
        if url.contains(PANIC_MARKER) {
            panic!("fault injected by a test");
        }
        let context = SpanContext::from_hex(ids, parent.as_deref())?;
        // (Credentials in the URL are redacted by `patch.js`, before the URL is cut.)
        let url = redact_query(redact_data(url), &tracer.options.redact_query_params);
        let server = server_of(&url);
        // An already-aborted signal is answered by the native promise itself, untouched (any reaction would
        // delay it by a microtask): the span ends now.
        let span = RequestSpan::start(
            tracer,
            RequestInfo {
                context,
                method,
                url,
                server,
                signal,
                body_size: body_size.map(|size| size as u64),
                start_ms: crate::clock::from_performance_ms(started_at),
            },
        );
        if let Some(extra) = extra {
            span.add_attributes(&extra);
        }
        (!span.end_if_aborted()).then_some(span)
    }

    /// Something of ours failed; the request went on uninstrumented.
    pub fn failed(&self, _error: JsValue) {
        if let Some(tracer) = self.tracer.upgrade() {
            tracer.stats.count_failure();
        }
    }

    /// An attributes hook of the app's failed (threw, or returned what isn't attributes); the request went on.
    #[wasm_bindgen(js_name = hookFailed)]
    pub fn hook_failed(&self) {
        if let Some(tracer) = self.tracer.upgrade() {
            tracer.stats.count_hook_failure();
        }
    }
}

/// A `data:` URL's payload, which is the response body itself (`fetch(canvas.toDataURL())`, a file's bytes), and
/// its parameters (a file name) become `REDACTED`; its media type stays (`data:image/png,REDACTED`).
fn redact_data(url: String) -> String {
    let is_data = url
        .as_bytes()
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"data:"));
    if !is_data {
        return url;
    }
    let media_type_end = first_byte(&url, |byte| byte == b',' || byte == b';').unwrap_or(5);
    let mut redacted = String::with_capacity(media_type_end + 9);
    redacted.push_str(url.get(..media_type_end).unwrap_or_default());
    redacted.push_str(",REDACTED");
    redacted
}

/// The values of parameters named in `names` (lower case) become `REDACTED`: signed-URL signatures, tokens, keys and
/// session ids stay out of `url.full`. A name matches as a server reads it: percent-decoded, `+` as a space, ignoring
/// ASCII case (`%74oken` is `token`), and with what follows a `[` left out as well (`access_token[]`, `auth[token]`,
/// as PHP, Rails and `qs` read them). Parameters are the query's pairs, split at `&` and `;` (which some servers
/// split at too), the fragment's, split at `&`, `;` and `?` (an OAuth implicit grant's `#access_token=…`, a hash
/// route's `#/path?token=…`), and the path's parameters after a `;` (a servlet's `/cart;jsessionid=…`).
fn redact_query(url: String, names: &[String]) -> String {
    // The path starts after `scheme://authority` (or at once, without one).
    let authority = url
        .as_bytes()
        .windows(3)
        .position(|three| three == b"://")
        .map_or(0, |at| at + 3);
    let Some(start) = url
        .get(authority..)
        .and_then(|rest| first_byte(rest, |b| b == b'/' || b == b'?' || b == b'#'))
        .map(|at| at + authority)
    else {
        return url;
    };
    let mut redacted = String::with_capacity(url.len());
    redacted.push_str(url.get(..start).unwrap_or_default());
    let mut changed = false;
    // The part a piece is in, by what started it: `/` the path, `?` the query, `#` the fragment.
    let mut part = b'/';
    let mut rest = url.get(start..).unwrap_or_default();
    while let Some(&separator) = rest.as_bytes().first() {
        // The first `?` ends the path, the first `#` starts the fragment; later ones are characters of a piece (or,
        // in the fragment, a `?` separates its pairs).
        if (separator == b'?' && part == b'/') || (separator == b'#' && part != b'#') {
            part = separator;
        }
        redacted.push(separator as char);
        rest = rest.get(1..).unwrap_or_default();
        let end = first_byte(rest, |b| match part {
            b'/' => b == b'/' || b == b';' || b == b'?' || b == b'#',
            b'?' => b == b'&' || b == b';' || b == b'#',
            _ => b == b'&' || b == b';' || b == b'?',
        })
        .unwrap_or(rest.len());
        let piece = rest.get(..end).unwrap_or_default();
        // In the path, only a parameter after a `;` (a segment `token=x` is a name of the app's).
        let name = (part != b'/' || separator == b';')
            .then(|| first_byte(piece, |b| b == b'=').and_then(|eq| piece.get(..eq)))
            .flatten();
        match name {
            Some(name) if piece.len() > name.len() + 1 && is_named(name, names) => {
                redacted.push_str(name);
                redacted.push_str("=REDACTED");
                changed = true;
            }
            _ => redacted.push_str(piece),
        }
        rest = rest.get(end..).unwrap_or_default();
    }
    if changed {
        redacted
    } else {
        url
    }
}

/// Whether the raw parameter name `raw` is one of `names` (lower case) once percent-decoded, with `+` as a space
/// and ASCII case ignored, whole or up to a `[`. A `%` not followed by two hex digits stays as it is, as
/// `URLSearchParams` reads it.
fn is_named(raw: &str, names: &[String]) -> bool {
    let raw = raw.as_bytes();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        let mut byte = raw[at];
        at += 1;
        if byte == b'+' {
            byte = b' ';
        } else if byte == b'%' {
            if let (Some(high), Some(low)) = (hex(raw.get(at)), hex(raw.get(at + 1))) {
                byte = high << 4 | low;
                at += 2;
            }
        }
        decoded.push(byte);
    }
    let base = decoded
        .iter()
        .position(|&byte| byte == b'[')
        .and_then(|bracket| decoded.get(..bracket))
        .unwrap_or(&decoded);
    names.iter().any(|name| {
        name.as_bytes().eq_ignore_ascii_case(&decoded) || name.as_bytes().eq_ignore_ascii_case(base)
    })
}

/// The value of an ASCII hex digit.
fn hex(byte: Option<&u8>) -> Option<u8> {
    char::from(*byte?).to_digit(16).map(|value| value as u8)
}

/// Where `byte` (ASCII) last occurs in `text`. The URL code here searches bytes: `find`, `split` and `rfind` with
/// `char` patterns bring UTF-8 searchers and `memchr` into the wasm (about 1.3 KB raw, twiggy).
fn last_byte(text: &str, byte: u8) -> Option<usize> {
    text.bytes().rposition(|b| b == byte)
}

/// Where the first byte that `is` accepts occurs in `text` (see [`last_byte`]).
fn first_byte(text: &str, is: impl Fn(u8) -> bool) -> Option<usize> {
    text.bytes().position(is)
}

/// Whether `byte` ends a URL's authority.
fn is_authority_end(byte: u8) -> bool {
    matches!(byte, b'/' | b'?' | b'#')
}

/// Host and port of a normalized http(s) `href`, read in Rust rather than through five URL getters.
fn server_of(href: &str) -> Option<(String, u16)> {
    let (default_port, rest) = if let Some(rest) = href.strip_prefix("http://") {
        (80, rest)
    } else {
        (443, href.strip_prefix("https://")?)
    };
    let authority = rest.get(..first_byte(rest, is_authority_end).unwrap_or(rest.len()))?;
    let host_port = last_byte(authority, b'@')
        .and_then(|at| authority.get(at + 1..))
        .unwrap_or(authority);
    let colon = last_byte(host_port, b':');
    let (host, port) = match colon.map(|at| (host_port.get(..at), host_port.get(at + 1..))) {
        Some((Some(host), Some(port))) if !port.as_bytes().contains(&b']') => {
            (host, port.parse().ok()?)
        }
        _ => (host_port, default_port),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|bracketed| bracketed.strip_suffix(']'))
        .unwrap_or(host);
    Some((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::{redact_data, redact_query, server_of};

    #[test]
    fn data_payloads_are_redacted() {
        for (url, redacted) in [
            ("data:image/png;base64,iVBORw0KGgo=", "data:image/png,REDACTED"),
            ("data:application/pdf;name=tax-return.pdf;base64,JVBERi0=", "data:application/pdf,REDACTED"),
            ("DATA:,secret,more", "DATA:,REDACTED"),
            ("data:no-comma", "data:,REDACTED"),
            ("https://h/data:,x", "https://h/data:,x"),
            ("dat", "dat"),
        ] {
            assert_eq!(redact_data(url.into()), redacted);
        }
    }

    #[test]
    fn sensitive_query_values_are_redacted() {
        let names = ["signature".to_owned(), "token".to_owned()];
        assert_eq!(
            redact_query(
                "https://h/p?Signature=abc&x=1&TOKEN=t&token#frag?token=f".into(),
                &names
            ),
            "https://h/p?Signature=REDACTED&x=1&TOKEN=REDACTED&token#frag?token=REDACTED"
        );
        // Names as a server decodes them; parameters in the fragment (an OAuth implicit grant, a hash route).
        assert_eq!(
            redact_query(
                "https://h/p?%74oken=a&t%6Fken=b&%2574oken=c&sig%6=d#token=e&x=1&Token=f#token=g".into(),
                &names
            ),
            "https://h/p?%74oken=REDACTED&t%6Fken=REDACTED&%2574oken=c&sig%6=d#token=REDACTED&x=1&Token=REDACTED"
        );
        assert_eq!(
            redact_query("https://h/#/route?x=1&token=t".into(), &names),
            "https://h/#/route?x=1&token=REDACTED"
        );
        let spaced = ["api key".to_owned()];
        assert_eq!(
            redact_query("https://h/?api+key=k&api%20key=l".into(), &spaced),
            "https://h/?api+key=REDACTED&api%20key=REDACTED"
        );
        assert_eq!(
            redact_query("https://h/p?x=1".into(), &names),
            "https://h/p?x=1"
        );
        assert_eq!(
            redact_query("https://h/p?token=1".into(), &[]),
            "https://h/p?token=1"
        );
        assert_eq!(redact_query("https://h/p".into(), &names), "https://h/p");
        // Empty pairs and values stay as they are, as `split('&')` and `split_once('=')` give them.
        assert_eq!(
            redact_query("https://h/p?&token=x&&token=&token=a=b&".into(), &names),
            "https://h/p?&token=REDACTED&&token=&token=REDACTED&"
        );
        assert_eq!(redact_query("https://h/p?".into(), &names), "https://h/p?");
        // `;` between pairs, a name with brackets, a servlet's path parameter; a path segment is left alone.
        let more = ["token".to_owned(), "auth".to_owned(), "jsessionid".to_owned()];
        assert_eq!(
            redact_query(
                "https://h/a;jsessionid=S1/cart;JSESSIONID=S2?x=1;token=t&token[]=u&auth[token]=v#k;token=w".into(),
                &more
            ),
            "https://h/a;jsessionid=REDACTED/cart;JSESSIONID=REDACTED?x=1;token=REDACTED&token[]=REDACTED&auth[token]=REDACTED#k;token=REDACTED"
        );
        assert_eq!(
            redact_query("https://h/token=t/x;y?z".into(), &more),
            "https://h/token=t/x;y?z"
        );
        assert_eq!(redact_query("about:blank".into(), &more), "about:blank");
    }

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
