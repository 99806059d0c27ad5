//! `install(options)`: validated up front, so a bad value rejects `install` with an error naming the field and
//! nothing is patched. Error texts follow one form: `fetchspan: option "x" must be …, got …`.
//!
//! The checking is `options.js` (the texts and the checks would weigh several times more as wasm); this module reads
//! the normalized object it returns into Rust types.

use crate::prelude::*;
use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::record::{Attributes, Value};

#[wasm_bindgen(module = "/src/options.js")]
extern "C" {
    /// Checks `install`'s argument; throws a `TypeError` naming the first bad field.
    #[wasm_bindgen(catch, js_name = parseOptions)]
    fn parse_options(value: &JsValue) -> Result<JsValue, JsValue>;

    /// The `timeoutMs` the app gave `forceFlush` or `uninstall` (`None`: the default); a `TypeError` naming it
    /// unless 0 to 2147483647 ms.
    #[wasm_bindgen(catch, js_name = checkTimeout)]
    pub(crate) fn check_timeout(timeout_ms: &JsValue) -> Result<Option<f64>, JsValue>;
}

/// Where and how spans are exported (see `export`).
pub struct ExportOptions {
    /// Resource attributes, `service.name` included.
    pub resource: Attributes,
    /// The normalized `export` settings for `exporter.js`: `{ url, headers, serviceName, resource, maxQueueSize,
    /// maxExportBatchSize, scheduledDelayMs, exportTimeoutMs, unloadFlush, fetch }` (see `options.js`).
    pub settings: JsValue,
}

/// Validated options.
pub struct Options {
    /// Called with every finished span.
    pub on_span_end: Option<Function>,
    /// A streamed body the app holds without a read pending for this long ends its span as `abandoned`.
    pub idle_timeout_ms: f64,
    /// A wait on a streamed body this long (for the network, or for the app) is recorded as a stall.
    pub stall_threshold_ms: f64,
    /// Count server-sent events in `text/event-stream` bodies.
    pub sse: bool,
    /// Query parameters whose values `url.full` redacts, in lower case.
    pub redact_query_params: Vec<String>,
    /// The normalized options object, for `patch.js` (`ignoreUrls`, `propagateTo`, `sampleRate`, `tracestate`,
    /// the export URL).
    pub patch_config: JsValue,
    /// Export settings; None without an `endpoint` (spans then only reach `onSpanEnd`).
    pub export: Option<ExportOptions>,
}

impl Options {
    /// Reads and checks `install`'s argument (undefined means all defaults). The error is the `TypeError` to throw.
    pub fn parse(value: &JsValue) -> Result<Options, JsValue> {
        let options = parse_options(value)?;
        let redact_query_params = get(&options, "redactQueryParams")
            .unchecked_into::<Array>()
            .iter()
            .filter_map(|name| name.as_string())
            .collect();
        // The longest attribute string kept, set before the resource is read: its strings are cut to it too.
        crate::record::set_max_attribute_length(number(&options, "maxAttributeLength") as usize);
        let export = get(&options, "export");
        Ok(Options {
            on_span_end: get(&options, "onSpanEnd").dyn_into::<Function>().ok(),
            idle_timeout_ms: number(&options, "idleTimeoutMs"),
            stall_threshold_ms: number(&options, "stallThresholdMs"),
            sse: get(&options, "sse").is_truthy(),
            redact_query_params,
            export: (!export.is_undefined()).then(|| ExportOptions::read(&export)),
            patch_config: options,
        })
    }
}

impl ExportOptions {
    fn read(export: &JsValue) -> ExportOptions {
        let mut resource = Attributes::default();
        let service_name = get(export, "serviceName").as_string().unwrap_or_default();
        resource.set("service.name", Value::string(service_name));
        for entry in get(export, "resource").unchecked_into::<Array>().iter() {
            let pair = entry.unchecked_into::<Array>();
            let (key, value) = (pair.get(0).as_string().unwrap_or_default(), pair.get(1));
            let value = match (value.as_string(), value.as_f64()) {
                (Some(text), _) => Value::string(text),
                (_, Some(number)) => Value::Int(number as i64),
                _ => Value::Bool(value.is_truthy()),
            };
            resource.set(key, value);
        }
        resource.set("telemetry.sdk.name", Value::string("fetchspan".into()));
        resource.set(
            "telemetry.sdk.version",
            Value::string(env!("CARGO_PKG_VERSION").into()),
        );
        resource.set("telemetry.sdk.language", Value::string("webjs".into()));
        ExportOptions {
            resource,
            settings: export.clone(),
        }
    }
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn number(object: &JsValue, key: &str) -> f64 {
    get(object, key).as_f64().unwrap_or(0.0)
}
