//! The installed tracer: what `install` sets up and `uninstall` takes down, and the sink every span ends in.
//!
//! The installation lives in a thread-local, not in the JS `Tracer` handle, so a page that drops the handle stays
//! instrumented. In-flight spans hold the [`TracerCore`] and still end after `uninstall()`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

use crate::options::Options;
use crate::patch::Patches;
use crate::record::SpanRecord;
use crate::timing::ResourceTimings;

thread_local! {
    static INSTALLED: RefCell<Option<Installation>> = const { RefCell::new(None) };
}

/// Counters behind `tracer.stats()`. Cells only: a failure mid-way can't leave them borrowed.
#[derive(Default)]
pub struct Stats {
    /// Spans opened.
    pub started: Cell<u64>,
    /// Spans ended.
    pub ended: Cell<u64>,
    /// Requests that went on uninstrumented because something of ours failed, and hooks that threw.
    pub passthrough_failures: Cell<u64>,
}

impl Stats {
    /// Counts one failure of ours.
    pub fn count_failure(&self) {
        self.passthrough_failures.set(self.passthrough_failures.get() + 1);
    }
}

/// What every span of one installation shares.
pub struct TracerCore {
    /// The validated options.
    pub options: Options,
    /// Counters.
    pub stats: Stats,
    /// Resource timing, for the size of bodies read natively; released at uninstall.
    timings: RefCell<Option<ResourceTimings>>,
}

impl TracerCore {
    /// The decoded size of `url`'s body from its resource-timing entry, when one is visible.
    pub fn resource_size(&self, url: &str, start_ms: f64) -> Option<u64> {
        self.timings.borrow().as_ref()?.decoded_body_size(url, start_ms)
    }

    /// Takes a finished span: counts it and hands it to `onSpanEnd`.
    pub fn finish(&self, record: SpanRecord) {
        self.stats.ended.set(self.stats.ended.get() + 1);
        if let Some(hook) = &self.options.on_span_end {
            if hook.call1(&JsValue::UNDEFINED, &record.to_js()).is_err() {
                self.stats.count_failure();
            }
        }
    }
}

/// Everything one `install` created.
struct Installation {
    core: Rc<TracerCore>,
    _patches: Patches,
}

/// Installs fetchspan. Throws a `TypeError` naming the field for bad options, and an `Error` when fetchspan is
/// already installed or `fetch` can't be patched; in every such case nothing is patched.
#[wasm_bindgen]
pub fn install(options: JsValue) -> Result<Tracer, JsValue> {
    if INSTALLED.with_borrow(Option::is_some) {
        return Err(js_sys::Error::new(
            "fetchspan: install() was called while fetchspan is already installed; call uninstall() on the first tracer first",
        )
        .into());
    }
    let options = Options::parse(&options).map_err(|message| JsValue::from(js_sys::TypeError::new(&message)))?;
    let core = Rc::new(TracerCore {
        options,
        stats: Stats::default(),
        timings: RefCell::new(ResourceTimings::observe()),
    });
    let patches = Patches::install(&core)?;
    INSTALLED.set(Some(Installation { core: core.clone(), _patches: patches }));
    Ok(Tracer { core })
}

/// The handle `install` resolves to.
#[wasm_bindgen]
pub struct Tracer {
    core: Rc<TracerCore>,
}

#[wasm_bindgen]
impl Tracer {
    /// `{ started, ended, open, passthroughFailures }`.
    pub fn stats(&self) -> JsValue {
        let stats = &self.core.stats;
        let object = Object::new();
        for (key, value) in [
            ("started", stats.started.get()),
            ("ended", stats.ended.get()),
            ("open", stats.started.get() - stats.ended.get()),
            ("passthroughFailures", stats.passthrough_failures.get()),
        ] {
            let _ = Reflect::set(&object, &key.into(), &(value as f64).into());
        }
        object.into()
    }

    /// Restores `fetch` and `Response.prototype` (or leaves ours as a pass-through under a later wrapper) and
    /// releases every listener and timer of the installation. Spans in flight still end. Calling it again, or on a
    /// tracer that was already replaced, does nothing.
    pub fn uninstall(&self) -> Promise {
        let installation = INSTALLED.with_borrow_mut(|installed| {
            installed.take_if(|installation| Rc::ptr_eq(&installation.core, &self.core))
        });
        if let Some(installation) = installation {
            installation.core.timings.take();
        }
        Promise::resolve(&JsValue::UNDEFINED)
    }
}
