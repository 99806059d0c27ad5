//! fetchspan in a dedicated worker: the same patched `fetch`, stream counting and cancel as in a page.
#![cfg(target_arch = "wasm32")]

mod support;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

scenarios! {
    worker_spans_end_like_the_page_ones => "workerSpansEndLikeThePageOnes",
    a_fetch_that_is_not_configurable_is_instrumented_and_restored => "aFetchThatIsNotConfigurableIsInstrumentedAndRestored",
}
