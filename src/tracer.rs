//! The installed tracer: what `install` sets up and `uninstall` takes down, and the sink every span ends in.
//!
//! The installation lives in a thread-local, not in the JS `Tracer` handle, so a page that drops the handle stays
//! instrumented. In-flight spans hold the [`TracerCore`] and still end after `uninstall()`.

use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::body::{IdleWatch, TimingWait};
use crate::clock::WallClock;
use crate::export::{self, Exporter};
use crate::options::Options;
use crate::patch::{Patches, GLOBAL_THIS};
use crate::record::SpanRecord;
use crate::registration::Timeout;

/// How long `uninstall()` waits for the final flush unless told otherwise.
const UNINSTALL_FLUSH_MS: f64 = 1000.0;

crate::per_thread! {
    static INSTALLED: RefCell<Option<Installation>> = RefCell::new(None);
}

/// Counters behind `tracer.stats()`. Cells only: a failure mid-way can't leave them borrowed.
#[derive(Default)]
pub struct Stats {
    /// Spans opened.
    pub started: Cell<u64>,
    /// Spans ended.
    pub ended: Cell<u64>,
    /// Requests that went on uninstrumented because something of ours failed.
    pub passthrough_failures: Cell<u64>,
    /// The app's hooks that failed: `onSpanEnd` threw, an attributes hook threw or gave what isn't attributes.
    pub hook_failures: Cell<u64>,
}

impl Stats {
    /// Counts one failure of ours.
    pub fn count_failure(&self) {
        self.passthrough_failures
            .set(self.passthrough_failures.get() + 1);
    }

    /// Counts one failure of the app's hooks.
    pub fn count_hook_failure(&self) {
        self.hook_failures.set(self.hook_failures.get() + 1);
    }
}

/// What every span of one installation shares.
pub struct TracerCore {
    /// The validated options.
    pub options: Options,
    /// Counters.
    pub stats: Stats,
    /// The one idle timer of every streamed body.
    pub idle: IdleWatch,
    /// Streamed bodies' spans waiting for their resource-timing entry.
    pub timing: TimingWait,
    /// Dates finished spans by the wall clock.
    wall_clock: WallClock,
    exporter: Option<Exporter>,
}

impl TracerCore {
    /// A timer that calls `then` with this tracer after `ms`, unless dropped first or the tracer is gone (the body
    /// stage's timers: one closure type for all, so the wasm has its glue once).
    pub fn timer(self: &Rc<Self>, ms: f64, then: fn(&Rc<TracerCore>)) -> Timeout {
        let weak = Rc::downgrade(self);
        Timeout::new(ms, move || {
            if let Some(tracer) = weak.upgrade() {
                then(&tracer);
            }
        })
    }

    /// Takes a finished span: counts it, hands it to `onSpanEnd`, and queues it for export.
    pub fn finish(&self, mut record: SpanRecord) {
        self.stats.ended.set(self.stats.ended.get() + 1);
        record.shift(self.wall_clock.update());
        if let Some(hook) = &self.options.on_span_end {
            if hook.call1(&JsValue::UNDEFINED, &record.to_js()).is_err() {
                self.stats.count_hook_failure();
            }
        }
        if let Some(exporter) = &self.exporter {
            exporter.export(&record);
        }
    }
}

/// Everything one `install` created.
struct Installation {
    core: Rc<TracerCore>,
    _patches: Patches,
    /// What the exporter's unload flush calls first ([`TimingWait::settle`]).
    _settle: Option<Closure<dyn FnMut()>>,
}

/// Installs fetchspan. Throws a `TypeError` naming the field for bad options, a `TypeError` when `fetch` or a
/// `Response.prototype` member can't be patched, and an `Error` when fetchspan (this copy or another) is already
/// installed; in every such case nothing is patched.
#[wasm_bindgen]
pub fn install(options: JsValue) -> Result<Tracer, JsValue> {
    if INSTALLED.with(|installed| installed.borrow().is_some()) {
        return Err(js_sys::Error::new(
            "fetchspan: install() was called while fetchspan is already installed; call uninstall() on the first tracer first",
        )
        .into());
    }
    let mut options = Options::parse(&options)?;
    // Exports go through the fetch in place before ours, so they are never traced.
    let unpatched_fetch = GLOBAL_THIS.with(|scope| Reflect::get(scope, &"fetch".into()))?;
    let exporter = match (
        options.export.take(),
        unpatched_fetch.dyn_into::<Function>(),
    ) {
        (Some(export), Ok(fetch)) => Some(Exporter::create(&export, &fetch)),
        _ => None,
    };
    let core = Rc::new(TracerCore {
        options,
        stats: Stats::default(),
        idle: IdleWatch::default(),
        timing: TimingWait::default(),
        wall_clock: WallClock::default(),
        exporter,
    });
    let patches = Patches::install(&core)?;
    // The page-lifecycle listeners go on only once nothing can fail any more. Spans waiting for their
    // resource-timing entry go to the exporter first.
    let settle = core.exporter.as_ref().map(|exporter| {
        let weak = Rc::downgrade(&core);
        let settle = Closure::<dyn FnMut()>::new(move || {
            if let Some(core) = weak.upgrade() {
                TimingWait::settle(&core);
            }
        });
        exporter.listen_for_unload(settle.as_ref().unchecked_ref());
        settle
    });
    INSTALLED.with(|installed| {
        installed.replace(Some(Installation {
            core: core.clone(),
            _patches: patches,
            _settle: settle,
        }))
    });
    Ok(Tracer { core })
}

/// The handle `install` resolves to.
#[wasm_bindgen]
pub struct Tracer {
    core: Rc<TracerCore>,
}

#[wasm_bindgen]
impl Tracer {
    /// `{ started, ended, open, passthroughFailures, hookFailures, exported, dropped, rejected, exportFailures,
    /// retries, queued, exportInFlight, keepaliveInFlight }`.
    pub fn stats(&self) -> Object {
        let stats = &self.core.stats;
        export::tracer_stats(
            stats.started.get() as f64,
            stats.ended.get() as f64,
            stats.passthrough_failures.get() as f64,
            stats.hook_failures.get() as f64,
            self.core.exporter.as_ref(),
        )
    }

    /// Exports the spans queued before the call; resolves to `{ exported, dropped, timedOut }` by `timeoutMs`
    /// (default: `exportTimeoutMs`) at the latest. The deadline aborts nothing: an export in flight goes on.
    #[wasm_bindgen(js_name = forceFlush)]
    pub fn force_flush(&self, timeout_ms: JsValue) -> Promise {
        let timeout_ms = match crate::options::check_timeout(&timeout_ms) {
            Ok(timeout_ms) => timeout_ms,
            Err(error) => return Promise::reject(&error),
        };
        TimingWait::settle(&self.core);
        export::force_flush(self.core.exporter.as_ref(), timeout_ms)
    }

    /// Restores `fetch` and `Response.prototype` (or leaves ours as a pass-through under a later wrapper), flushes
    /// by `timeoutMs` (default 1000), and releases every listener, timer and observer of the installation (a
    /// keepalive export the page's unload sent may outlive it). Spans in flight still end (and reach `onSpanEnd`).
    /// Calling it again, or on a tracer already replaced, does nothing.
    pub fn uninstall(&self, timeout_ms: JsValue) -> Promise {
        let timeout_ms = match crate::options::check_timeout(&timeout_ms) {
            Ok(timeout_ms) => timeout_ms,
            Err(error) => return Promise::reject(&error),
        };
        let ours = |installation: &mut Installation| Rc::ptr_eq(&installation.core, &self.core);
        if !INSTALLED.with(|installed| installed.borrow_mut().as_mut().is_some_and(ours)) {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        // Spans waiting for their resource-timing entry go first, while the observer still delivers and fetchspan
        // is still installed, since they run `onSpanEnd` (which may even uninstall: then nothing is left to do).
        TimingWait::settle(&self.core);
        let Some(installation) = INSTALLED.with(|installed| installed.borrow_mut().take_if(ours)) else {
            return Promise::resolve(&JsValue::UNDEFINED);
        };
        let Installation {
            core,
            _patches,
            _settle,
        } = installation;
        drop(_patches);
        core.idle.release_if_unused();
        export::shutdown(
            core.exporter.as_ref(),
            timeout_ms.unwrap_or(UNINSTALL_FLUSH_MS),
        )
    }
}
