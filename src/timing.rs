//! The decoded size of a body the browser read natively, from its resource-timing entry.
//!
//! Used only when neither the value nor `Content-Length` gives the size. Entries come from a `PerformanceObserver`
//! (the timeline buffer stops at 250 entries unless the page clears it; an observer keeps receiving them), and
//! `takeRecords()` gets the newest synchronously, so a span never waits for its entry. The last
//! [`RECENT_ENTRIES`] fetch entries are kept. An entry is optional: its sizes are zero cross-origin without
//! `Timing-Allow-Origin` (then `responseStart` is zero too, which tells a restricted entry from an empty body).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    PerformanceObserver, PerformanceObserverEntryList, PerformanceObserverInit,
    PerformanceResourceTiming,
};

use crate::clock;

/// How many recent fetch entries are kept for lookup.
pub const RECENT_ENTRIES: usize = 256;

struct Entry {
    url: String,
    start_ms: f64,
    decoded_body_size: u64,
}

type Recent = Rc<RefCell<VecDeque<Entry>>>;

/// The tracer's resource-timing observer. Dropping it disconnects the observer and frees its callback.
pub struct ResourceTimings {
    observer: PerformanceObserver,
    recent: Recent,
    _callback: Closure<dyn FnMut(PerformanceObserverEntryList)>,
}

impl ResourceTimings {
    /// Starts observing `resource` entries; None where the global has no `PerformanceObserver`.
    pub fn observe() -> Option<Self> {
        let recent: Recent = Rc::default();
        let callback = {
            let recent = recent.clone();
            Closure::<dyn FnMut(PerformanceObserverEntryList)>::new(
                move |list: PerformanceObserverEntryList| {
                    keep(&recent, list.get_entries());
                },
            )
        };
        let observer = PerformanceObserver::new(callback.as_ref().unchecked_ref()).ok()?;
        let entry_types = js_sys::Array::of1(&JsValue::from_str("resource"));
        observer.observe(&PerformanceObserverInit::new(&entry_types));
        Some(ResourceTimings {
            observer,
            recent,
            _callback: callback,
        })
    }

    /// `decodedBodySize` of the newest unrestricted entry for `url` that started no earlier than `start_ms` (epoch).
    pub fn decoded_body_size(&self, url: &str, start_ms: f64) -> Option<u64> {
        keep(&self.recent, self.observer.take_records());
        let recent = self.recent.borrow();
        recent
            .iter()
            .rev()
            .find(|entry| entry.url == url && entry.start_ms >= start_ms - 1.0)
            .map(|entry| entry.decoded_body_size)
    }
}

impl Drop for ResourceTimings {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

fn keep(recent: &Recent, entries: js_sys::Array) {
    let mut recent = recent.borrow_mut();
    for entry in entries.iter() {
        let entry = entry.unchecked_into::<PerformanceResourceTiming>();
        // Restricted (cross-origin without Timing-Allow-Origin: `responseStart` is 0), or an engine that reports no
        // sizes at all (WebKitGTK: every size 0, where a real empty body still has a non-zero `transferSize`).
        let sizes_unknown = entry.decoded_body_size() == 0.0 && entry.transfer_size() == 0.0;
        if entry.initiator_type() != "fetch" || entry.response_start() <= 0.0 || sizes_unknown {
            continue;
        }
        if recent.len() == RECENT_ENTRIES {
            recent.pop_front();
        }
        recent.push_back(Entry {
            url: entry.name(),
            start_ms: clock::from_performance_ms(entry.start_time()),
            decoded_body_size: entry.decoded_body_size() as u64,
        });
    }
}
