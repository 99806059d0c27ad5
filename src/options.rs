//! `install(options)`: validated up front, so a bad value rejects `install` with an error naming the field and
//! nothing is patched. Error texts follow one form: `fetchspan: option "x" must be …, got …`.

use js_sys::{Function, Object, RegExp, JSON};
use wasm_bindgen::{JsCast, JsValue};

use crate::record::{Attributes, Value};

/// Every option `install` accepts.
const KNOWN: [&str; 12] = [
    "onSpanEnd",
    "idleTimeoutMs",
    "ignoreUrls",
    "endpoint",
    "headers",
    "serviceName",
    "resource",
    "maxQueueSize",
    "maxExportBatchSize",
    "scheduledDelayMs",
    "exportTimeoutMs",
    "unloadFlush",
];

/// A URL fetchspan leaves alone: a string prefix or a regular expression.
pub enum UrlPattern {
    /// Matches URLs starting with this.
    Prefix(String),
    /// Matches URLs the expression tests true on.
    Regex(RegExp),
}

/// Where and how spans are exported (see `export`).
pub struct ExportOptions {
    /// Base URL; spans are POSTed to `{endpoint}/v1/traces`.
    pub endpoint: String,
    /// Static headers for export requests.
    pub headers: Vec<(String, String)>,
    /// Resource attributes, `service.name` included.
    pub resource: Attributes,
    /// Spans kept waiting for export at most; more are dropped and counted.
    pub max_queue_size: usize,
    /// Spans per export request at most.
    pub max_export_batch_size: usize,
    /// Delay between scheduled exports.
    pub scheduled_delay_ms: f64,
    /// Deadline of one export request.
    pub export_timeout_ms: f64,
    /// Flush with `keepalive` when the page is hidden or unloaded.
    pub unload_flush: bool,
}

/// Validated options.
pub struct Options {
    /// Called with every finished span.
    pub on_span_end: Option<Function>,
    /// A body with no activity for this long ends its span as `abandoned`.
    pub idle_timeout_ms: f64,
    /// Requests not to instrument.
    pub ignore_urls: Vec<UrlPattern>,
    /// Export settings; None without an `endpoint` (spans then only reach `onSpanEnd`).
    pub export: Option<ExportOptions>,
}

impl Options {
    /// Whether `url` matches one of `ignoreUrls`.
    pub fn ignores(&self, url: &str) -> bool {
        self.ignore_urls.iter().any(|pattern| match pattern {
            UrlPattern::Prefix(prefix) => url.starts_with(prefix.as_str()),
            UrlPattern::Regex(regex) => regex.test(url),
        })
    }

    /// Reads and checks `install`'s argument (undefined means all defaults).
    pub fn parse(value: &JsValue) -> Result<Options, String> {
        let source = Source::new(value)?;
        let mut resource = Attributes::default();
        resource.set(
            "service.name",
            Value::string(
                source
                    .string("serviceName")?
                    .unwrap_or("unknown_service".into()),
            ),
        );
        for (key, value) in source.entries("resource")? {
            let value = match (value.as_string(), value.as_f64(), value.as_bool()) {
                (Some(text), _, _) => Value::string(text),
                (_, Some(number), _) if number.fract() == 0.0 && number.abs() < 9.0e15 => {
                    Value::Int(number as i64)
                }
                (_, _, Some(flag)) => Value::Bool(flag),
                _ => {
                    return Err(invalid(
                        &format!("resource.{key}"),
                        "a string, an integer or a boolean",
                        &value,
                    ))
                }
            };
            resource.set(key, value);
        }
        resource.set("telemetry.sdk.name", Value::string("fetchspan".into()));
        resource.set(
            "telemetry.sdk.version",
            Value::string(env!("CARGO_PKG_VERSION").into()),
        );
        resource.set("telemetry.sdk.language", Value::string("webjs".into()));

        let max_queue_size = source.count("maxQueueSize", 2048)?;
        let max_export_batch_size = source.count("maxExportBatchSize", 512)?;
        if max_export_batch_size > max_queue_size {
            return Err(format!(
                "fetchspan: option \"maxExportBatchSize\" must not exceed maxQueueSize ({max_queue_size}), got {max_export_batch_size}"
            ));
        }
        let export = ExportOptions {
            endpoint: String::new(),
            headers: source
                .entries("headers")?
                .into_iter()
                .map(|(name, value)| match value.as_string() {
                    Some(text) if is_token(&name) => Ok((name, text)),
                    _ if !is_token(&name) => Err(format!(
                        "fetchspan: option \"headers\" has an invalid header name \"{name}\""
                    )),
                    _ => Err(invalid(&format!("headers.{name}"), "a string", &value)),
                })
                .collect::<Result<_, _>>()?,
            resource,
            max_queue_size,
            max_export_batch_size,
            scheduled_delay_ms: source.milliseconds("scheduledDelayMs", 1000.0)?,
            export_timeout_ms: source.milliseconds("exportTimeoutMs", 10_000.0)?,
            unload_flush: source.boolean("unloadFlush", true)?,
        };
        Ok(Options {
            on_span_end: source.function("onSpanEnd")?,
            idle_timeout_ms: source.milliseconds("idleTimeoutMs", 300_000.0)?,
            ignore_urls: source.url_patterns("ignoreUrls")?,
            export: source
                .endpoint("endpoint")?
                .map(|endpoint| ExportOptions { endpoint, ..export }),
        })
    }
}

/// The options object, read one checked field at a time.
struct Source(Option<Object>);

impl Source {
    fn new(value: &JsValue) -> Result<Source, String> {
        if value.is_undefined() || value.is_null() {
            return Ok(Source(None));
        }
        let Some(object) = value.dyn_ref::<Object>().filter(|_| !value.is_function()) else {
            return Err(format!(
                "fetchspan: install(options) takes an options object, got {}",
                describe(value)
            ));
        };
        for key in Object::keys(object).iter() {
            let key = key.as_string().unwrap_or_default();
            if !KNOWN.contains(&key.as_str()) {
                return Err(format!(
                    "fetchspan: unknown option \"{key}\" (known options: {})",
                    KNOWN.join(", ")
                ));
            }
        }
        Ok(Source(Some(object.clone())))
    }

    fn get(&self, name: &str) -> Option<JsValue> {
        let object = self.0.as_ref()?;
        js_sys::Reflect::get(object, &JsValue::from_str(name))
            .ok()
            .filter(|value| !value.is_undefined())
    }

    fn function(&self, name: &str) -> Result<Option<Function>, String> {
        self.get(name)
            .map(|value| {
                value
                    .dyn_into::<Function>()
                    .map_err(|value| invalid(name, "a function", &value))
            })
            .transpose()
    }

    fn string(&self, name: &str) -> Result<Option<String>, String> {
        self.get(name)
            .map(|value| {
                value
                    .as_string()
                    .filter(|text| !text.is_empty())
                    .ok_or_else(|| invalid(name, "a non-empty string", &value))
            })
            .transpose()
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, String> {
        self.get(name).map_or(Ok(default), |value| {
            value
                .as_bool()
                .ok_or_else(|| invalid(name, "true or false", &value))
        })
    }

    fn milliseconds(&self, name: &str, default: f64) -> Result<f64, String> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => match value.as_f64() {
                Some(ms) if ms.is_finite() && ms > 0.0 && ms <= 2_147_483_647.0 => Ok(ms),
                _ => Err(invalid(
                    name,
                    "a number of milliseconds greater than 0 (at most 2147483647)",
                    &value,
                )),
            },
        }
    }

    fn count(&self, name: &str, default: usize) -> Result<usize, String> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => match value.as_f64() {
                Some(n) if n.fract() == 0.0 && (1.0..=1_000_000.0).contains(&n) => Ok(n as usize),
                _ => Err(invalid(name, "a whole number from 1 to 1000000", &value)),
            },
        }
    }

    fn url_patterns(&self, name: &str) -> Result<Vec<UrlPattern>, String> {
        let Some(value) = self.get(name) else {
            return Ok(Vec::new());
        };
        let Some(list) = value.dyn_ref::<js_sys::Array>() else {
            return Err(invalid(
                name,
                "an array of URL prefixes (strings) and RegExps",
                &value,
            ));
        };
        list.iter()
            .enumerate()
            .map(
                |(index, item)| match (item.as_string(), item.dyn_ref::<RegExp>()) {
                    (Some(prefix), _) if !prefix.is_empty() => Ok(UrlPattern::Prefix(prefix)),
                    (_, Some(regex)) => Ok(UrlPattern::Regex(regex.clone())),
                    _ => Err(invalid(
                        &format!("{name}[{index}]"),
                        "a non-empty string or a RegExp",
                        &item,
                    )),
                },
            )
            .collect()
    }

    fn endpoint(&self, name: &str) -> Result<Option<String>, String> {
        let Some(text) = self.string(name)? else {
            return Ok(None);
        };
        let expected = "an absolute http(s) URL such as \"http://localhost:4318\"";
        let url = web_sys::Url::new(&text)
            .map_err(|_| invalid(name, expected, &JsValue::from_str(&text)))?;
        if !matches!(url.protocol().as_str(), "http:" | "https:") {
            return Err(invalid(name, expected, &JsValue::from_str(&text)));
        }
        Ok(Some(text.trim_end_matches('/').to_owned()))
    }

    /// The own entries of a plain-object option.
    fn entries(&self, name: &str) -> Result<Vec<(String, JsValue)>, String> {
        let Some(value) = self.get(name) else {
            return Ok(Vec::new());
        };
        let Some(object) = value
            .dyn_ref::<Object>()
            .filter(|_| !value.is_function() && !js_sys::Array::is_array(&value))
        else {
            return Err(invalid(name, "a plain object", &value));
        };
        Ok(Object::entries(object)
            .iter()
            .map(|entry| {
                let pair = entry.unchecked_into::<js_sys::Array>();
                (pair.get(0).as_string().unwrap_or_default(), pair.get(1))
            })
            .collect())
    }
}

fn invalid(name: &str, expected: &str, got: &JsValue) -> String {
    format!(
        "fetchspan: option \"{name}\" must be {expected}, got {}",
        describe(got)
    )
}

/// A short, readable rendering of a bad value for an error message.
fn describe(value: &JsValue) -> String {
    if value.is_function() {
        return "a function".into();
    }
    match JSON::stringify(value)
        .ok()
        .and_then(|json| json.as_string())
    {
        Some(json) if json.len() <= 80 => json,
        Some(json) => format!(
            "{}…",
            &json[..json.char_indices().nth(77).map_or(json.len(), |(i, _)| i)]
        ),
        None => format!("{value:?}"),
    }
}

/// An HTTP header name: an RFC 9110 token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::is_token;

    #[test]
    fn header_names_must_be_tokens() {
        assert!(is_token("x-api-key"));
        assert!(!is_token("bad header"));
        assert!(!is_token(""));
    }
}
