//! The network sink: batching, retry with exponential backoff, and the on-disk spool around any
//! [`LineProtocolWriter`].
//!
//! One worker task owns the state, so ordering is simple to reason about:
//! - points are encoded and batched in arrival order; a batch goes when it holds `max_points`
//!   points or `max_bytes` bytes, or its oldest point waited `interval`;
//! - while the spool is empty, a batch is written directly; if the write fails in a way worth
//!   retrying, the batch goes to the spool and a retry is scheduled (`initial`, doubling to `max`);
//! - while the spool is not empty, every new batch is appended to it, and the spool is replayed
//!   oldest segment first — so the database receives points strictly in the order accepted;
//! - a batch the server refuses as invalid is set aside under `<spool>/rejected/`, counted and
//!   logged, and delivery goes on.
//!
//! `accept` waits when the worker is `queue_capacity` messages behind (back-pressure instead of
//! loss). Points that were accepted but not yet sent when the process stops are lost unless the
//! sink was closed: call [`TelemetrySink::close`] on shutdown; what cannot be delivered then stays
//! in the spool and is replayed by the next start.

use super::batch::{PendingBatch, backoff_delay};
use super::config::{BatchConfig, RetryConfig, SinkConfig, SpoolConfig};
use super::metrics::{Counters, EncodeOutcome, SinkMetrics, add, should_warn};
use super::spool::{Spool, SpoolError};
use super::transport::{LineProtocolWriter, WriteError, chain};
use super::{FlushReport, SinkError, TelemetrySink};
use crate::telemetry::point::{Dialect, Point, encode_point};
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};

/// The settings of a network sink besides its destination.
#[derive(Debug, Clone)]
pub struct NetworkSettings {
    /// Batching.
    pub batch: BatchConfig,
    /// Retry pacing and request timeout.
    pub retry: RetryConfig,
    /// The spool.
    pub spool: SpoolConfig,
    /// Messages `accept` may queue ahead of the worker.
    pub queue_capacity: usize,
}

impl From<&SinkConfig> for NetworkSettings {
    fn from(c: &SinkConfig) -> Self {
        Self {
            batch: c.batch,
            retry: c.retry,
            spool: c.spool.clone(),
            queue_capacity: c.queue_capacity,
        }
    }
}

enum Msg {
    Points(Vec<Point>),
    Flush(oneshot::Sender<FlushReport>),
    Close(oneshot::Sender<FlushReport>),
}

/// A sink writing to a database through a [`LineProtocolWriter`]; see the module documentation.
#[derive(Debug)]
pub struct NetworkSink {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
    worker: std::sync::Mutex<Option<JoinHandle<()>>>,
    target: String,
}

impl NetworkSink {
    /// Opens the spool (taking over what an earlier run left, to be replayed first) and starts the
    /// worker on the current Tokio runtime.
    pub async fn start<W: LineProtocolWriter>(
        writer: W,
        settings: NetworkSettings,
    ) -> Result<Self, SinkError> {
        let counters = Arc::new(Counters::default());
        let spool_cfg = settings.spool.clone();
        let (spool, recovered) = tokio::task::spawn_blocking(move || {
            Spool::open(&spool_cfg.dir, spool_cfg.max_bytes, spool_cfg.segment_bytes)
        })
        .await
        .map_err(|e| SpoolError::Task(e.to_string()))??;
        let dir = spool.dir().display().to_string();
        if recovered.truncated_bytes > 0 {
            tracing::warn!(
                spool = dir,
                bytes = recovered.truncated_bytes,
                "telemetry spool: cut off an incomplete line left by a crash"
            );
        }
        for d in &recovered.dropped {
            let total = add(&counters.points_dropped_spool_full, d.lines);
            tracing::warn!(
                spool = dir,
                dropped_points = d.lines,
                dropped_bytes = d.bytes,
                dropped_points_total = total,
                max_bytes = spool.max_bytes(),
                "telemetry spool from an earlier run exceeds the bound: dropped its oldest segment"
            );
        }
        if recovered.lines > 0 {
            tracing::info!(
                spool = dir,
                points = recovered.lines,
                bytes = recovered.bytes,
                target = writer.target(),
                "telemetry spool: replaying points left by an earlier run before new ones"
            );
        }
        counters.set_spool(spool.bytes(), spool.lines());
        let target = writer.target().to_owned();
        let worker = Worker {
            dialect: writer.dialect(),
            writer,
            batch_cfg: settings.batch,
            retry: settings.retry,
            pending: PendingBatch::default(),
            retry_at: (!spool.is_empty()).then(Instant::now),
            spool: SpoolCell::new(spool),
            counters: counters.clone(),
            failures: 0,
            line: String::new(),
        };
        let (tx, rx) = mpsc::channel(settings.queue_capacity.max(1));
        let handle = tokio::spawn(worker.run(rx));
        Ok(Self {
            tx,
            counters,
            worker: std::sync::Mutex::new(Some(handle)),
            target,
        })
    }

    /// The database, as named in logs.
    pub fn target(&self) -> &str {
        &self.target
    }

    async fn request(
        &self,
        make: fn(oneshot::Sender<FlushReport>) -> Msg,
    ) -> Result<FlushReport, SinkError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| SinkError::Closed)?;
        rx.await.map_err(|_| SinkError::WorkerGone)
    }
}

impl TelemetrySink for NetworkSink {
    async fn accept(&self, points: Vec<Point>) -> Result<(), SinkError> {
        let n = points.len() as u64;
        if n == 0 {
            return Ok(());
        }
        // Counted before the worker can write them, so `written` never runs ahead of `accepted`.
        add(&self.counters.points_accepted, n);
        if self.tx.send(Msg::Points(points)).await.is_err() {
            self.counters
                .points_accepted
                .fetch_sub(n, Ordering::Relaxed);
            return Err(SinkError::Closed);
        }
        Ok(())
    }

    async fn flush(&self) -> Result<FlushReport, SinkError> {
        self.request(Msg::Flush).await
    }

    async fn close(&self) -> Result<SinkMetrics, SinkError> {
        let report = self.request(Msg::Close).await;
        let handle = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            handle.await.map_err(|_| SinkError::WorkerGone)?;
        }
        match report {
            Ok(_) | Err(SinkError::Closed) => Ok(self.metrics()),
            Err(e) => Err(e),
        }
    }

    fn metrics(&self) -> SinkMetrics {
        self.counters.snapshot()
    }
}

/// The spool, moved into `spawn_blocking` for each operation, with its sizes cached.
struct SpoolCell {
    spool: Option<Spool>,
    dir: PathBuf,
    max_bytes: u64,
    bytes: u64,
    lines: u64,
}

impl SpoolCell {
    fn new(spool: Spool) -> Self {
        Self {
            dir: spool.dir().to_owned(),
            max_bytes: spool.max_bytes(),
            bytes: spool.bytes(),
            lines: spool.lines(),
            spool: Some(spool),
        }
    }

    fn is_empty(&self) -> bool {
        self.lines == 0
    }

    async fn run<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Spool) -> Result<R, SpoolError> + Send + 'static,
    ) -> Result<R, SpoolError> {
        let Some(mut spool) = self.spool.take() else {
            return Err(SpoolError::Task(
                "the spool was lost when an earlier I/O task failed".into(),
            ));
        };
        let (spool, result) = tokio::task::spawn_blocking(move || {
            let r = f(&mut spool);
            (spool, r)
        })
        .await
        .map_err(|e| SpoolError::Task(e.to_string()))?;
        self.bytes = spool.bytes();
        self.lines = spool.lines();
        self.spool = Some(spool);
        result
    }
}

struct Worker<W> {
    writer: W,
    dialect: Dialect,
    batch_cfg: BatchConfig,
    retry: RetryConfig,
    pending: PendingBatch,
    spool: SpoolCell,
    counters: Arc<Counters>,
    /// Consecutive failed attempts.
    failures: u32,
    /// When to try the spool's oldest segment next; `Some` while the spool holds anything.
    retry_at: Option<Instant>,
    /// Scratch buffer for one encoded line.
    line: String,
}

impl<W: LineProtocolWriter> Worker<W> {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        loop {
            let now = Instant::now();
            let batch_due = self.pending.deadline(&self.batch_cfg);
            let retry_due = self.retry_at;
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Points(points)) => self.accept(points).await,
                    Some(Msg::Flush(reply)) => {
                        let report = self.flush().await;
                        let _ = reply.send(report);
                    }
                    Some(Msg::Close(reply)) => {
                        let report = self.flush().await;
                        let _ = reply.send(report);
                        return;
                    }
                    None => {
                        self.flush().await;
                        return;
                    }
                },
                () = sleep_until(batch_due.unwrap_or(now)), if batch_due.is_some() => {
                    self.ship().await;
                }
                () = sleep_until(retry_due.unwrap_or(now)), if retry_due.is_some() => {
                    self.drain_one().await;
                }
            }
        }
    }

    async fn accept(&mut self, points: Vec<Point>) {
        for point in &points {
            self.line.clear();
            match encode_point(point, self.dialect, &mut self.line) {
                Ok(skipped) => self
                    .counters
                    .record_encoding(&point.measurement, &EncodeOutcome::Written(skipped)),
                Err(e) => {
                    self.counters
                        .record_encoding(&point.measurement, &EncodeOutcome::Rejected(&e));
                    continue;
                }
            }
            if self
                .pending
                .would_overflow(&self.batch_cfg, self.line.len())
            {
                self.ship().await;
            }
            self.pending.push(&self.line, Instant::now());
            if self.pending.is_full(&self.batch_cfg) {
                self.ship().await;
            }
        }
    }

    /// Sends the pending batch, or spools it behind a backlog or after a failure.
    async fn ship(&mut self) {
        let Some(batch) = self.pending.take() else {
            return;
        };
        let body = Bytes::from(batch.text);
        if !self.spool.is_empty() {
            self.spool_batch(body, batch.lines).await;
            return;
        }
        match self.send(body.clone()).await {
            Ok(()) => {
                add(&self.counters.points_written, batch.lines);
                self.failures = 0;
            }
            Err(e) if e.is_retryable() => {
                self.note_failure(&e);
                self.spool_batch(body, batch.lines).await;
            }
            Err(e) => self.set_aside(body, batch.lines, &e).await,
        }
    }

    /// Tries the spool's oldest segment. Returns whether the spool made progress.
    async fn drain_one(&mut self) -> bool {
        let segment = match self.spool.run(Spool::oldest).await {
            Ok(Some(segment)) => segment,
            Ok(None) => {
                self.retry_at = None;
                return false;
            }
            Err(e) => {
                tracing::error!(error = %chain(&e), "telemetry spool: cannot read the oldest segment");
                self.failures += 1;
                self.retry_at = Some(Instant::now() + backoff_delay(&self.retry, self.failures));
                return false;
            }
        };
        let body = Bytes::from(segment.data);
        match self.send(body.clone()).await {
            Ok(()) => {
                add(&self.counters.points_written, segment.lines);
                add(&self.counters.points_replayed, segment.lines);
                if self.failures > 0 {
                    tracing::info!(
                        target = self.writer.target(),
                        spooled_points = self.spool.lines,
                        "telemetry database reachable again; replaying the spool"
                    );
                }
                self.failures = 0;
            }
            Err(e) if e.is_retryable() => {
                self.note_failure(&e);
                return false;
            }
            Err(e) => self.set_aside(body, segment.lines, &e).await,
        }
        let seq = segment.seq;
        if let Err(e) = self.spool.run(move |s| s.remove(seq)).await {
            tracing::error!(
                error = %chain(&e),
                "telemetry spool: cannot remove a delivered segment; it will be sent again after a restart"
            );
        }
        self.counters.set_spool(self.spool.bytes, self.spool.lines);
        if self.spool.is_empty() {
            self.retry_at = None;
            tracing::info!(target = self.writer.target(), "telemetry spool drained");
        } else {
            self.retry_at = Some(Instant::now());
        }
        true
    }

    /// Sends the pending batch, then replays the spool until it is empty or an attempt fails.
    async fn flush(&mut self) -> FlushReport {
        let failures_before = self.counters.write_failures.load(Ordering::Relaxed);
        self.ship().await;
        while !self.spool.is_empty()
            && self.counters.write_failures.load(Ordering::Relaxed) == failures_before
        {
            if !self.drain_one().await {
                break;
            }
        }
        FlushReport {
            spooled_points: self.spool.lines,
        }
    }

    async fn send(&self, body: Bytes) -> Result<(), WriteError> {
        match timeout(self.retry.request_timeout, self.writer.write(body)).await {
            Ok(result) => result,
            Err(_) => Err(WriteError::Timeout(self.retry.request_timeout)),
        }
    }

    fn note_failure(&mut self, error: &WriteError) {
        self.failures += 1;
        add(&self.counters.write_failures, 1);
        let delay = backoff_delay(&self.retry, self.failures);
        self.retry_at = Some(Instant::now() + delay);
        if should_warn(u64::from(self.failures), 1) {
            tracing::warn!(
                target = self.writer.target(),
                error = %chain(error),
                consecutive_failures = self.failures,
                retry_in = ?delay,
                spool = %self.spool.dir.display(),
                spooled_points = self.spool.lines,
                "telemetry database unreachable; points wait in the spool"
            );
        } else {
            tracing::debug!(error = %chain(error), retry_in = ?delay, "telemetry write failed");
        }
    }

    async fn spool_batch(&mut self, body: Bytes, lines: u64) {
        match self.spool.run(move |s| s.append(&body, lines)).await {
            Ok(outcome) => {
                for d in &outcome.dropped {
                    let total = add(&self.counters.points_dropped_spool_full, d.lines);
                    tracing::warn!(
                        spool = %self.spool.dir.display(),
                        max_bytes = self.spool.max_bytes,
                        dropped_points = d.lines,
                        dropped_bytes = d.bytes,
                        dropped_points_total = total,
                        "telemetry spool full: dropped its oldest segment to make room"
                    );
                }
                if outcome.refused {
                    let total = add(&self.counters.points_dropped_spool_full, lines);
                    tracing::warn!(
                        spool = %self.spool.dir.display(),
                        max_bytes = self.spool.max_bytes,
                        dropped_points = lines,
                        dropped_points_total = total,
                        "telemetry batch larger than the whole spool: dropped"
                    );
                } else {
                    add(&self.counters.points_spooled, lines);
                }
            }
            Err(e) => {
                let total = add(&self.counters.points_lost_io, lines);
                tracing::error!(
                    error = %chain(&e),
                    lost_points = lines,
                    lost_points_total = total,
                    "telemetry points lost: cannot write them to the spool"
                );
            }
        }
        self.counters.set_spool(self.spool.bytes, self.spool.lines);
        if !self.spool.is_empty() && self.retry_at.is_none() {
            self.retry_at = Some(Instant::now());
        }
    }

    async fn set_aside(&mut self, body: Bytes, lines: u64, error: &WriteError) {
        let reason = format!("refused by {}: {error}", self.writer.target());
        match self.spool.run(move |s| s.set_aside(&body, &reason)).await {
            Ok(path) => {
                let total = add(&self.counters.points_rejected, lines);
                tracing::error!(
                    error = %error,
                    points = lines,
                    points_rejected_total = total,
                    kept_in = %path.display(),
                    "telemetry batch refused by the database; kept for inspection"
                );
            }
            Err(e) => {
                let total = add(&self.counters.points_lost_io, lines);
                tracing::error!(
                    error = %error,
                    io_error = %chain(&e),
                    lost_points = lines,
                    lost_points_total = total,
                    "telemetry batch refused by the database and could not be kept"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
