//! The clone leak, measured where it shows: the renderer's RSS read from /proc by the test server, and how far the
//! server runs ahead of the reader. Carries its positive control: a clone-based wrapper must break the same bounds.
#![cfg(target_arch = "wasm32")]

mod support;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

scenarios! {
    endless_stream_keeps_memory_flat_and_the_clone_control_does_not => "endlessStreamKeepsMemoryFlatAndTheCloneControlDoesNot",
}
