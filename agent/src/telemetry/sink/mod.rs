//! Telemetry sinks: where [`Point`]s go, without ever being dropped silently.
//!
//! - [`NetworkSink`] around [`InfluxV2Writer`] (InfluxDB 2.x write API through the `influxdb2`
//!   crate; also VictoriaMetrics and other compatible stores) or [`InfluxV1Writer`] (InfluxDB
//!   1.x `/write`): batching, gzip bodies, retry with exponential backoff, and a bounded on-disk
//!   spool replayed in order (also after a restart).
//! - [`FileSink`]: rotating gzip line-protocol files when no database is configured.
//!
//! Every sink counts what it did in [`SinkMetrics`]; anything not written (invalid point, skipped
//! field, spool overflow, refused batch) is counted there and logged with `tracing`.
//! Start one from configuration with [`open_sink`].

mod batch;
pub mod config;
mod file;
mod influx1;
mod influx2;
mod metrics;
mod network;
mod spool;
mod transport;

pub use config::{
    BatchConfig, ConfigError, Destination, FileSinkConfig, InfluxV1Config, InfluxV2Config,
    RetryConfig, Secret, SinkConfig, SpoolConfig, TokenSource, V1Auth,
};
pub use file::FileSink;
pub use influx1::InfluxV1Writer;
pub use influx2::InfluxV2Writer;
pub use metrics::SinkMetrics;
pub use network::{NetworkSettings, NetworkSink};
pub use spool::SpoolError;
pub use transport::{LineProtocolWriter, WriteError};

use super::point::Point;
use std::future::Future;
use std::path::PathBuf;

/// A destination for telemetry points.
///
/// `accept` hands points over (it may wait for back-pressure, never drops); `flush` pushes out
/// what was accepted; `close` flushes and stops the sink. Use [`TelemetrySink::metrics`] to see
/// what happened to every point.
pub trait TelemetrySink: Send + Sync {
    /// Takes points for delivery, in order. Returns once the sink owns them, not once stored.
    fn accept(&self, points: Vec<Point>) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Sends everything accepted so far; replays the spool if the database answers.
    fn flush(&self) -> impl Future<Output = Result<FlushReport, SinkError>> + Send;

    /// Flushes and stops. Points the database could not take stay in the spool for the next start.
    /// Closing twice is harmless; `accept` after `close` fails with [`SinkError::Closed`].
    fn close(&self) -> impl Future<Output = Result<SinkMetrics, SinkError>> + Send;

    /// The sink's counters now.
    fn metrics(&self) -> SinkMetrics;
}

/// What a flush achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    /// Points still waiting in the spool (the database did not take them yet).
    pub spooled_points: u64,
}

impl FlushReport {
    /// Whether everything accepted so far has reached its destination.
    pub fn all_delivered(&self) -> bool {
        self.spooled_points == 0
    }
}

/// Why a sink operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The spool cannot be opened or written.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// A telemetry file cannot be written.
    #[error("telemetry file sink: cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The sink was closed.
    #[error("the telemetry sink is closed")]
    Closed,
    /// The sink's background task ended unexpectedly (runtime shut down).
    #[error("the telemetry sink's background task stopped unexpectedly")]
    WorkerGone,
}

/// A sink chosen at run time from [`SinkConfig`].
#[derive(Debug)]
pub enum AnySink {
    /// A database.
    Network(NetworkSink),
    /// Gzip files.
    File(FileSink),
}

/// Validates `config`, reads its secrets and starts the sink it describes.
pub async fn open_sink(config: &SinkConfig) -> Result<AnySink, SinkError> {
    config.validate()?;
    let timeout = config.retry.request_timeout;
    Ok(match &config.destination {
        Destination::InfluxV2(c) => AnySink::Network(
            NetworkSink::start(InfluxV2Writer::new(c, timeout)?, config.into()).await?,
        ),
        Destination::InfluxV1(c) => AnySink::Network(
            NetworkSink::start(InfluxV1Writer::new(c, timeout)?, config.into()).await?,
        ),
        Destination::Files(c) => AnySink::File(FileSink::open(c.clone()).await?),
    })
}

impl TelemetrySink for AnySink {
    async fn accept(&self, points: Vec<Point>) -> Result<(), SinkError> {
        match self {
            Self::Network(s) => s.accept(points).await,
            Self::File(s) => s.accept(points).await,
        }
    }

    async fn flush(&self) -> Result<FlushReport, SinkError> {
        match self {
            Self::Network(s) => s.flush().await,
            Self::File(s) => s.flush().await,
        }
    }

    async fn close(&self) -> Result<SinkMetrics, SinkError> {
        match self {
            Self::Network(s) => s.close().await,
            Self::File(s) => s.close().await,
        }
    }

    fn metrics(&self) -> SinkMetrics {
        match self {
            Self::Network(s) => s.metrics(),
            Self::File(s) => s.metrics(),
        }
    }
}
