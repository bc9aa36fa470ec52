//! Sink configuration: where telemetry goes and how hard the agent tries to get it there.
//!
//! Secrets (InfluxDB token, 1.x password) are named by a [`TokenSource`] — a file or an environment
//! variable — and read only when the sink starts, so they never appear in argv or in logs.

use super::super::point::Dialect;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Everything needed to start a sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Where the points go.
    pub destination: Destination,
    /// When a batch is sent (network destinations).
    pub batch: BatchConfig,
    /// Retry pacing and request timeout (network destinations).
    pub retry: RetryConfig,
    /// The on-disk spool used while the database is unreachable (network destinations).
    pub spool: SpoolConfig,
    /// Messages `accept` may queue ahead of the sink's worker before it waits (back-pressure).
    pub queue_capacity: usize,
}

impl SinkConfig {
    /// A configuration with default batching, retry and queue settings.
    pub fn new(destination: Destination, spool: SpoolConfig) -> Self {
        Self {
            destination,
            batch: BatchConfig::default(),
            retry: RetryConfig::default(),
            spool,
            queue_capacity: 1024,
        }
    }

    /// Checks every setting; the error names the setting and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.destination {
            Destination::InfluxV2(c) => {
                check_url(&c.url)?;
                non_empty("influx v2 org", &c.org)?;
                non_empty("influx v2 bucket", &c.bucket)?;
            }
            Destination::InfluxV1(c) => {
                check_url(&c.url)?;
                non_empty("influx v1 database", &c.database)?;
            }
            Destination::Files(c) => {
                at_least("file rotate_bytes", c.rotate_bytes, 1)?;
                positive("file rotate_interval", c.rotate_interval)?;
                positive("file flush_interval", c.flush_interval)?;
                return Ok(());
            }
        }
        at_least("batch max_points", self.batch.max_points as u64, 1)?;
        at_least("batch max_bytes", self.batch.max_bytes as u64, 1)?;
        positive("batch interval", self.batch.interval)?;
        positive("retry initial", self.retry.initial)?;
        positive("retry request_timeout", self.retry.request_timeout)?;
        if self.retry.max < self.retry.initial {
            return Err(ConfigError::OutOfRange {
                setting: "retry max",
                value: format!("{:?}", self.retry.max),
                allowed: format!("at least retry initial ({:?})", self.retry.initial),
            });
        }
        at_least("spool segment_bytes", self.spool.segment_bytes, 1)?;
        at_least(
            "spool max_bytes",
            self.spool.max_bytes,
            self.spool.segment_bytes.saturating_mul(2),
        )?;
        at_least("queue_capacity", self.queue_capacity as u64, 1)
    }
}

/// Where telemetry is stored.
#[derive(Debug, Clone)]
pub enum Destination {
    /// InfluxDB 2.x write API (also VictoriaMetrics, InfluxDB 3 and other compatible stores).
    InfluxV2(InfluxV2Config),
    /// InfluxDB 1.x write API (`/write?db=…`).
    InfluxV1(InfluxV1Config),
    /// No database: gzip line-protocol files.
    Files(FileSinkConfig),
}

/// InfluxDB 2.x write API settings.
#[derive(Debug, Clone)]
pub struct InfluxV2Config {
    /// Base URL, e.g. `http://influx:8086` (its path is replaced by `/api/v2/write`).
    pub url: String,
    /// Organisation.
    pub org: String,
    /// Bucket.
    pub bucket: String,
    /// API token; `None` sends no `Authorization` header (servers without authentication).
    pub token: Option<TokenSource>,
    /// Send gzip request bodies (`Content-Encoding: gzip`).
    pub gzip: bool,
}

/// InfluxDB 1.x write API settings.
#[derive(Debug, Clone)]
pub struct InfluxV1Config {
    /// Base URL, e.g. `http://influx:8086` (`/write` is appended to its path).
    pub url: String,
    /// Database (`db=`).
    pub database: String,
    /// Retention policy (`rp=`); the database default when `None`.
    pub retention_policy: Option<String>,
    /// Basic-auth credentials, for servers with authentication on.
    pub auth: Option<V1Auth>,
    /// Send gzip request bodies (`Content-Encoding: gzip`; InfluxDB 1.x accepts them).
    pub gzip: bool,
}

/// InfluxDB 1.x credentials.
#[derive(Debug, Clone)]
pub struct V1Auth {
    /// User name.
    pub username: String,
    /// Where the password is read from.
    pub password: TokenSource,
}

/// Gzip line-protocol file settings.
#[derive(Debug, Clone)]
pub struct FileSinkConfig {
    /// Directory of the `telemetry-<UTC time>.lp.gz` files.
    pub dir: PathBuf,
    /// Start a new file after this many uncompressed bytes.
    pub rotate_bytes: u64,
    /// Start a new file after this long.
    pub rotate_interval: Duration,
    /// Make written data readable (gzip sync flush + fsync) at least this often.
    pub flush_interval: Duration,
    /// Dialect of the lines (files are read by whatever imports them later).
    pub dialect: Dialect,
}

impl FileSinkConfig {
    /// Defaults: rotate every 256 MiB or hour, flush every second, [`Dialect::V2`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            rotate_bytes: 256 << 20,
            rotate_interval: Duration::from_secs(3600),
            flush_interval: Duration::from_secs(1),
            dialect: Dialect::V2,
        }
    }
}

/// When a batch is sent: whichever limit is reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Points per batch.
    pub max_points: usize,
    /// Uncompressed bytes per batch (a single larger point still goes, alone).
    pub max_bytes: usize,
    /// Longest time a point waits in a batch.
    pub interval: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_points: 5000,
            max_bytes: 1 << 20,
            interval: Duration::from_secs(1),
        }
    }
}

/// Retry pacing: the delay doubles after each failed attempt, from `initial` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// A write that has not answered after this long counts as failed.
    pub request_timeout: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The on-disk spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Directory of the segment files (created if missing; one sink per directory).
    pub dir: PathBuf,
    /// Bound on the spool's size on disk; when full, the oldest segment is dropped (counted).
    pub max_bytes: u64,
    /// Target size of one segment file (one write request when replayed).
    pub segment_bytes: u64,
}

impl SpoolConfig {
    /// Defaults: 512 MiB bound, 1 MiB segments.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: 512 << 20,
            segment_bytes: 1 << 20,
        }
    }
}

/// Where a secret is read from. There is deliberately no "literal" variant: secrets never travel
/// on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A file holding the secret (surrounding whitespace and the final newline are ignored).
    File(PathBuf),
    /// An environment variable holding the secret.
    Env(String),
}

impl TokenSource {
    /// Reads the secret now.
    pub fn read(&self) -> Result<Secret, ConfigError> {
        let raw = match self {
            Self::File(path) => {
                std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
                    path: path.clone(),
                    source,
                })?
            }
            Self::Env(var) => std::env::var(var).map_err(|e| ConfigError::SecretEnv {
                var: var.clone(),
                reason: e.to_string(),
            })?,
        };
        let secret = raw.trim();
        if secret.is_empty() {
            return Err(ConfigError::EmptySecret {
                source_name: self.to_string(),
            });
        }
        Ok(Secret(secret.to_owned()))
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => write!(f, "file {}", p.display()),
            Self::Env(v) => write!(f, "environment variable {v}"),
        }
    }
}

/// A secret read from a [`TokenSource`]; its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse or is not http(s).
    #[error("telemetry database URL {url:?} is invalid: {reason}; expected e.g. http://host:8086")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A required name is empty.
    #[error("{setting} is empty; it must name something")]
    Empty {
        /// Which setting.
        setting: &'static str,
    },
    /// A number or duration outside what works.
    #[error("{setting} is {value}; allowed: {allowed}")]
    OutOfRange {
        /// Which setting.
        setting: &'static str,
        /// Its value.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// The secret file cannot be read.
    #[error("cannot read secret file {}: {source}", path.display())]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The secret environment variable is unset or not UTF-8.
    #[error("cannot read secret from environment variable {var}: {reason}")]
    SecretEnv {
        /// The variable.
        var: String,
        /// Why.
        reason: String,
    },
    /// The secret is empty.
    #[error("the secret from {source_name} is empty")]
    EmptySecret {
        /// Where it was read from.
        source_name: String,
    },
    /// The HTTP client cannot be built (e.g. no TLS roots).
    #[error("cannot build the HTTP client for {target}: {source}")]
    HttpClient {
        /// The database.
        target: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

pub(crate) fn check_url(url: &str) -> Result<reqwest::Url, ConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| ConfigError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::InvalidUrl {
            url: url.to_owned(),
            reason: format!("scheme {:?} is not http or https", parsed.scheme()),
        });
    }
    Ok(parsed)
}

fn non_empty(setting: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        Err(ConfigError::Empty { setting })
    } else {
        Ok(())
    }
}

fn at_least(setting: &'static str, value: u64, min: u64) -> Result<(), ConfigError> {
    if value < min {
        Err(ConfigError::OutOfRange {
            setting,
            value: value.to_string(),
            allowed: format!("at least {min}"),
        })
    } else {
        Ok(())
    }
}

fn positive(setting: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        Err(ConfigError::OutOfRange {
            setting,
            value: "0s".into(),
            allowed: "more than zero".into(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(url: &str) -> SinkConfig {
        SinkConfig::new(
            Destination::InfluxV2(InfluxV2Config {
                url: url.into(),
                org: "o".into(),
                bucket: "b".into(),
                token: None,
                gzip: true,
            }),
            SpoolConfig::new("/tmp/spool"),
        )
    }

    #[test]
    fn defaults_are_valid() {
        v2("http://127.0.0.1:8086").validate().unwrap();
    }

    #[test]
    fn bad_urls_and_limits_are_named() {
        let err = v2("influx:8086").validate().unwrap_err().to_string();
        assert!(err.contains("influx:8086") && err.contains("http"), "{err}");
        let mut c = v2("http://x");
        c.spool.max_bytes = c.spool.segment_bytes;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("spool max_bytes"), "{err}");
        let mut c = v2("http://x");
        c.retry.max = Duration::from_millis(1);
        assert!(c.validate().unwrap_err().to_string().contains("retry max"));
    }

    #[test]
    fn secrets_come_from_files_or_the_environment_and_stay_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let secret = TokenSource::File(path.clone()).read().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert!(!format!("{secret:?}").contains("s3cret"));

        std::fs::write(&path, "  \n").unwrap();
        let err = TokenSource::File(path).read().unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");

        let err = TokenSource::Env("WATTSWEEP_TEST_SURELY_UNSET_VAR".into())
            .read()
            .unwrap_err()
            .to_string();
        assert!(err.contains("WATTSWEEP_TEST_SURELY_UNSET_VAR"), "{err}");
        let err = TokenSource::File(dir.path().join("missing"))
            .read()
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
