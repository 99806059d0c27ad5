//! What every browser test binary shares: the scenario runner. Scenarios live in `scenarios.js`; each Rust test
//! names the behaviour it pins and runs one scenario against the real `fetchspan::install`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "/tests/support/scenarios.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = runScenario)]
    async fn run_scenario(
        name: &str,
        install: &js_sys::Function,
        memory: &JsValue,
        heap: &js_sys::Function,
    ) -> Result<JsValue, JsValue>;
}

/// Runs scenario `name`; a scenario fails by throwing an `Error` whose message says what differed.
pub async fn run(name: &str) {
    let install = Closure::<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>::new(|options| {
        fetchspan::install(options).map(JsValue::from)
    });
    // The wasm heap's live bytes (the tests' build counts them: feature `fault-injection`).
    let heap = Closure::<dyn FnMut() -> f64>::new(|| fetchspan::live_heap_bytes() as f64);
    if let Err(error) = run_scenario(
        name,
        install.as_ref().unchecked_ref(),
        &wasm_bindgen::memory(),
        heap.as_ref().unchecked_ref(),
    )
    .await
    {
        // Firefox's and WebKit's `stack` lacks the message: report both.
        let field = |key: &str| {
            js_sys::Reflect::get(&error, &key.into())
                .ok()
                .and_then(|value| value.as_string())
                .unwrap_or_default()
        };
        let (message, stack) = (field("message"), field("stack"));
        let message = if message.is_empty() && stack.is_empty() {
            format!("{error:?}")
        } else {
            format!("{message}\n{stack}")
        };
        panic!("scenario {name} failed in {}: {message}", engine());
    }
}

/// The engine running the tests, from the user agent (Firefox, WebKit or Chromium).
pub fn engine() -> &'static str {
    let agent = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|navigator| js_sys::Reflect::get(&navigator, &"userAgent".into()))
        .ok()
        .and_then(|agent| agent.as_string())
        .unwrap_or_default();
    if agent.contains("Firefox/") {
        "Firefox"
    } else if agent.contains("Chrome/") {
        "Chromium"
    } else {
        "WebKit"
    }
}

/// One `#[wasm_bindgen_test]` per scenario: `scenarios!(test_name => "scenarioName", ...)`.
#[macro_export]
macro_rules! scenarios {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $test() {
                support::run($name).await;
            }
        )*
    };
}
