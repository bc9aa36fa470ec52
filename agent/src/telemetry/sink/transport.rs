//! The one thing the network sink needs from a database client: write a body of line protocol and
//! say whether a failure is worth retrying. Each database API (InfluxDB 2.x, 1.x) implements it;
//! tests implement it with scripted answers.

use crate::telemetry::point::Dialect;
use bytes::Bytes;
use std::future::Future;
use std::io::Write;
use std::time::Duration;

/// Writes newline-terminated line protocol to a database.
pub trait LineProtocolWriter: Send + Sync + 'static {
    /// Writes `lines` (uncompressed; the writer compresses if configured). `Ok` only once the
    /// server confirmed the write.
    fn write(&self, lines: Bytes) -> impl Future<Output = Result<(), WriteError>> + Send;

    /// The database, for logs (URL and bucket or database; never a secret).
    fn target(&self) -> &str;

    /// The line-protocol dialect the database reads.
    fn dialect(&self) -> Dialect;
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The server refused the data itself (HTTP 400, 413, 422): sending it again cannot help.
    #[error("the server refused the data (HTTP {status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's answer.
        message: String,
    },
    /// The server answered with another error status (5xx, 401/403, 404…): retried, because a
    /// restart, a fixed token or a created database will make it succeed.
    #[error("the server answered HTTP {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The server's answer.
        message: String,
    },
    /// No answer: connection refused, reset, DNS…
    #[error("request failed: {source}")]
    Request {
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The body could not be prepared (compression).
    #[error("cannot prepare the request body: {0}")]
    Body(#[source] std::io::Error),
}

impl WriteError {
    /// Whether sending the same data later may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Rejected { .. })
    }

    /// Classifies a non-success HTTP answer.
    pub fn from_status(status: u16, message: String) -> Self {
        if matches!(status, 400 | 413 | 422) {
            Self::Rejected { status, message }
        } else {
            Self::Status { status, message }
        }
    }
}

/// Gzips a request body.
pub(crate) fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    enc.write_all(data)?;
    enc.finish()
}

/// An error and its causes on one line, for logs.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn only_content_errors_are_final() {
        assert!(!WriteError::from_status(400, "bad".into()).is_retryable());
        assert!(!WriteError::from_status(413, "big".into()).is_retryable());
        for s in [401, 403, 404, 429, 500, 503] {
            assert!(
                WriteError::from_status(s, String::new()).is_retryable(),
                "{s}"
            );
        }
        assert!(WriteError::Timeout(Duration::from_secs(1)).is_retryable());
    }

    #[test]
    fn gzip_round_trips() {
        let body = b"m v=1i 1\n".repeat(100);
        let packed = gzip(&body).unwrap();
        assert!(packed.len() < body.len());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}
