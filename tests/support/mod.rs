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
    ) -> Result<JsValue, JsValue>;
}

/// Runs scenario `name`; a scenario fails by throwing an `Error` whose message says what differed.
pub async fn run(name: &str) {
    let install = Closure::<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>::new(|options| {
        fetchspan::install(options).map(JsValue::from)
    });
    if let Err(error) = run_scenario(
        name,
        install.as_ref().unchecked_ref(),
        &wasm_bindgen::memory(),
    )
    .await
    {
        let message = js_sys::Reflect::get(&error, &"stack".into())
            .ok()
            .and_then(|stack| stack.as_string())
            .unwrap_or_else(|| format!("{error:?}"));
        panic!("scenario {name} failed: {message}");
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
