//! When and how long to retry an export: 429, 502, 503, 504 and network errors are retried with exponential
//! backoff and jitter, honouring `Retry-After`; anything else is final. Attempts and waits are capped.

/// Attempts per batch, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
/// First backoff, doubled per attempt.
const BASE_BACKOFF_MS: f64 = 1000.0;
/// Longest wait between attempts, `Retry-After` included.
pub const MAX_WAIT_MS: f64 = 30_000.0;

/// What an export attempt's outcome means.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Accepted.
    Done,
    /// Try again after this many milliseconds.
    RetryAfter(f64),
    /// Refused for good (e.g. 400): count and drop.
    Refused,
}

/// The verdict for HTTP `status` (None: a network error or timeout) on attempt `attempt` (1-based).
/// `retry_after_ms` is the server's `Retry-After`, if any; `jitter` is uniform in [0, 1).
pub fn verdict(
    status: Option<u16>,
    retry_after_ms: Option<f64>,
    attempt: u32,
    jitter: f64,
) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Done,
        Some(429 | 502 | 503 | 504) | None if attempt < MAX_ATTEMPTS => {
            let backoff = BASE_BACKOFF_MS * 2f64.powi(attempt as i32 - 1) * (0.5 + jitter / 2.0);
            Verdict::RetryAfter(retry_after_ms.unwrap_or(backoff).min(MAX_WAIT_MS))
        }
        _ => Verdict::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_done_and_client_errors_are_final() {
        assert_eq!(verdict(Some(200), None, 1, 0.0), Verdict::Done);
        assert_eq!(verdict(Some(400), None, 1, 0.0), Verdict::Refused);
        assert_eq!(verdict(Some(413), None, 1, 0.0), Verdict::Refused);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        assert_eq!(
            verdict(Some(503), Some(1000.0), 1, 0.9),
            Verdict::RetryAfter(1000.0)
        );
        assert_eq!(
            verdict(Some(429), Some(3_600_000.0), 1, 0.0),
            Verdict::RetryAfter(MAX_WAIT_MS)
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_attempts_are_capped() {
        assert_eq!(verdict(None, None, 1, 0.0), Verdict::RetryAfter(500.0));
        assert_eq!(verdict(None, None, 3, 0.5), Verdict::RetryAfter(3000.0));
        assert_eq!(
            verdict(Some(502), None, MAX_ATTEMPTS, 0.0),
            Verdict::Refused
        );
    }
}
