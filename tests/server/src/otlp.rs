//! A strict OTLP/HTTP JSON receiver. Every request body is decoded with the `opentelemetry-proto` crate and then
//! re-encoded; any field of the original that does not come back identical (an unknown field, a mistyped value,
//! a base64 id) makes the request count as rejected, with the reason kept for the test to read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::Value;

/// What one collector "tenant" (one test scenario) has seen.
#[derive(Default)]
pub struct Tenant {
    /// Decoded, accepted requests, as the crate re-encodes them.
    pub accepted: Vec<Value>,
    /// Requests that failed strict decoding, with the reason.
    pub rejected: Vec<String>,
    /// Milliseconds since server start of every POST, accepted or not.
    pub attempts: Vec<u128>,
    /// Body sizes of every POST.
    pub sizes: Vec<usize>,
    /// Hanging requests whose client went away.
    pub abandoned_by_client: u64,
    /// Hanging requests still open.
    pub hanging: u64,
}

/// All tenants, by name.
pub struct Receiver {
    pub tenants: Mutex<HashMap<String, Tenant>>,
    pub started: Instant,
}

impl Receiver {
    pub fn new() -> Self {
        Receiver {
            tenants: Mutex::new(HashMap::new()),
            started: Instant::now(),
        }
    }

    /// Records a POST and decodes it strictly; Ok(span count) or Err(reason). Only a request the collector is
    /// going to accept (`accepting`) is kept as accepted.
    pub fn receive(&self, tenant: &str, body: &[u8], accepting: bool) -> Result<usize, String> {
        let outcome = decode_strictly(body);
        let mut tenants = self.tenants.lock().unwrap();
        let entry = tenants.entry(tenant.to_owned()).or_default();
        entry.attempts.push(self.started.elapsed().as_millis());
        entry.sizes.push(body.len());
        match outcome {
            Ok((value, spans)) => {
                if accepting {
                    entry.accepted.push(value);
                }
                Ok(spans)
            }
            Err(reason) => {
                entry.rejected.push(reason.clone());
                Err(reason)
            }
        }
    }

    /// The tenant's view as JSON for the test page.
    pub fn report(&self, tenant: &str) -> Value {
        let tenants = self.tenants.lock().unwrap();
        let Some(t) = tenants.get(tenant) else {
            return serde_json::json!({ "accepted": [], "rejected": [], "attempts": [], "sizes": [], "spans": 0,
                                      "abandonedByClient": 0, "hanging": 0 });
        };
        let spans: usize = t.accepted.iter().map(count_spans).sum();
        serde_json::json!({
            "accepted": t.accepted, "rejected": t.rejected, "attempts": t.attempts, "sizes": t.sizes,
            "spans": spans, "abandonedByClient": t.abandoned_by_client, "hanging": t.hanging,
        })
    }
}

fn count_spans(request: &Value) -> usize {
    request["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rs| rs["scopeSpans"].as_array().into_iter().flatten())
        .map(|ss| ss["spans"].as_array().map_or(0, Vec::len))
        .sum()
}

/// Decodes with opentelemetry-proto, then checks that every field sent survives a re-encode unchanged.
pub fn decode_strictly(body: &[u8]) -> Result<(Value, usize), String> {
    let original: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let decoded: ExportTraceServiceRequest = serde_json::from_slice(body)
        .map_err(|e| format!("not an ExportTraceServiceRequest: {e}"))?;
    let reencoded = serde_json::to_value(&decoded).map_err(|e| format!("re-encode failed: {e}"))?;
    contained(&original, &reencoded, "$")?;
    let spans = count_spans(&reencoded);
    Ok((reencoded, spans))
}

/// Every field of `sent` must be in `decoded` with the same value.
fn contained(sent: &Value, decoded: &Value, path: &str) -> Result<(), String> {
    match (sent, decoded) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let inner = format!("{path}.{key}");
                let Some(other) = b.get(key) else {
                    return Err(format!("{inner}: unknown to opentelemetry-proto"));
                };
                contained(value, other, &inner)?;
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .try_for_each(|(i, (x, y))| contained(x, y, &format!("{path}[{i}]"))),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{path}: sent {a}, decodes as {b}")),
    }
}

#[cfg(test)]
mod tests {
    use super::decode_strictly;

    const GOOD: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"t"}}]},
      "scopeSpans":[{"scope":{"name":"fetchspan","version":"0.1.0"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
      "spanId":"eee19b7ec3c1b174","name":"GET","kind":3,"startTimeUnixNano":"1544712660000000000",
      "endTimeUnixNano":"1544712661000000000","attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}}],
      "status":{"code":2}}]}]}]}"#;

    #[test]
    fn a_well_formed_request_is_accepted() {
        let (_, spans) = decode_strictly(GOOD.as_bytes()).unwrap();
        assert_eq!(spans, 1);
    }

    #[test]
    fn an_unknown_field_is_rejected() {
        let bad = GOOD.replace("\"kind\":3", "\"kind\":3,\"colour\":\"red\"");
        assert!(decode_strictly(bad.as_bytes())
            .unwrap_err()
            .contains("colour"));
    }

    #[test]
    fn a_numeric_int_value_is_rejected() {
        let bad = GOOD.replace("{\"intValue\":\"200\"}", "{\"intValue\":200}");
        assert!(decode_strictly(bad.as_bytes()).is_err());
    }

    #[test]
    fn a_base64_trace_id_is_rejected() {
        let bad = GOOD.replace(
            "5b8efff798038103d269b633813fc60c",
            "W47/95gDgQPSabYzgT/GDA==",
        );
        assert!(decode_strictly(bad.as_bytes()).is_err());
    }
}
