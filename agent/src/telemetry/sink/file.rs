//! The file sink: telemetry as gzip line protocol when no database is configured.
//!
//! Files are `<dir>/telemetry-<UTC time, ns>.lp.gz` (names sort in time order), rotated after
//! `rotate_bytes` uncompressed bytes or `rotate_interval`. Data is made readable on disk at least
//! every `flush_interval` (gzip sync flush + fsync) and on [`TelemetrySink::flush`]; a file is
//! completed (gzip trailer) on rotation and on close. After a crash the last file lacks its
//! trailer: `zcat` reads everything up to the last flush and then reports the truncation.
//! The lines can be loaded into any InfluxDB-compatible store later (`influx write`, `curl`).

use super::config::FileSinkConfig;
use super::metrics::{Counters, EncodeOutcome, SinkMetrics, add};
use super::{FlushReport, SinkError, TelemetrySink};
use crate::telemetry::point::{Point, encode_point};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Writes telemetry to rotating gzip line-protocol files.
#[derive(Debug)]
pub struct FileSink {
    state: Arc<Mutex<State>>,
    counters: Arc<Counters>,
    cfg: FileSinkConfig,
}

#[derive(Debug)]
struct State {
    current: Option<OpenFile>,
    closed: bool,
}

#[derive(Debug)]
struct OpenFile {
    path: PathBuf,
    encoder: GzEncoder<File>,
    bytes: u64,
    opened: Instant,
    flushed: Instant,
}

fn file_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SinkError + 'a {
    move |source| SinkError::File {
        action,
        path: path.to_owned(),
        source,
    }
}

impl FileSink {
    /// Creates the directory; files are created as points arrive.
    pub async fn open(cfg: FileSinkConfig) -> Result<Self, SinkError> {
        let dir = cfg.dir.clone();
        tokio::task::spawn_blocking(move || {
            fs::create_dir_all(&dir).map_err(file_err("create directory", &dir))
        })
        .await
        .map_err(|_| SinkError::WorkerGone)??;
        Ok(Self {
            state: Arc::new(Mutex::new(State {
                current: None,
                closed: false,
            })),
            counters: Arc::new(Counters::default()),
            cfg,
        })
    }

    /// Runs `f` on the state in a blocking task.
    async fn with_state<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State, &FileSinkConfig) -> Result<R, SinkError> + Send + 'static,
    ) -> Result<R, SinkError> {
        let state = self.state.clone();
        let cfg = self.cfg.clone();
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means an earlier write panicked mid-way; the file state is still
            // consistent enough to go on (at worst a partial line), so take it back.
            let mut guard = state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard, &cfg)
        })
        .await
        .map_err(|_| SinkError::WorkerGone)?
    }
}

impl State {
    fn write(&mut self, cfg: &FileSinkConfig, text: &[u8]) -> Result<(), SinkError> {
        if self.closed {
            return Err(SinkError::Closed);
        }
        let len = text.len() as u64;
        let rotate = self.current.as_ref().is_some_and(|f| {
            (f.bytes > 0 && f.bytes + len > cfg.rotate_bytes)
                || f.opened.elapsed() >= cfg.rotate_interval
        });
        if rotate {
            self.finish()?;
        }
        let file = match &mut self.current {
            Some(f) => f,
            None => self.current.insert(create_file(&cfg.dir)?),
        };
        file.encoder
            .write_all(text)
            .map_err(file_err("write", &file.path))?;
        file.bytes += len;
        if file.flushed.elapsed() >= cfg.flush_interval {
            file.sync()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        if let Some(file) = self.current.take() {
            let path = file.path;
            let inner = file.encoder.finish().map_err(file_err("finish", &path))?;
            inner.sync_all().map_err(file_err("sync", &path))?;
        }
        Ok(())
    }
}

impl OpenFile {
    fn sync(&mut self) -> Result<(), SinkError> {
        self.encoder
            .flush()
            .map_err(file_err("flush", &self.path))?;
        self.encoder
            .get_ref()
            .sync_data()
            .map_err(file_err("sync", &self.path))?;
        self.flushed = Instant::now();
        Ok(())
    }
}

fn create_file(dir: &Path) -> Result<OpenFile, SinkError> {
    let mut ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    loop {
        let path = dir.join(file_name(ns));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => {
                let now = Instant::now();
                return Ok(OpenFile {
                    path,
                    encoder: GzEncoder::new(file, Compression::default()),
                    bytes: 0,
                    opened: now,
                    flushed: now,
                });
            }
            // Same nanosecond as an existing file: the next free name keeps the time order.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => ns += 1,
            Err(e) => return Err(file_err("create", &path)(e)),
        }
    }
}

/// `telemetry-20261122T032143.123456789Z.lp.gz` for `ns` nanoseconds after the Unix epoch.
fn file_name(ns: u128) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = ns % 1_000_000_000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "telemetry-{y:04}{m:02}{d:02}T{:02}{:02}{:02}.{nanos:09}Z.lp.gz",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl TelemetrySink for FileSink {
    async fn accept(&self, points: Vec<Point>) -> Result<(), SinkError> {
        add(&self.counters.points_accepted, points.len() as u64);
        let mut text = String::new();
        let mut lines = 0;
        for point in &points {
            match encode_point(point, self.cfg.dialect, &mut text) {
                Ok(skipped) => {
                    lines += 1;
                    self.counters
                        .record_encoding(&point.measurement, &EncodeOutcome::Written(skipped));
                }
                Err(e) => self
                    .counters
                    .record_encoding(&point.measurement, &EncodeOutcome::Rejected(&e)),
            }
        }
        if lines == 0 {
            return Ok(());
        }
        let result = self
            .with_state(move |state, cfg| state.write(cfg, text.as_bytes()))
            .await;
        match result {
            Ok(()) => {
                add(&self.counters.points_written, lines);
                Ok(())
            }
            Err(e) => {
                if !matches!(e, SinkError::Closed) {
                    let total = add(&self.counters.points_lost_io, lines);
                    tracing::error!(error = %e, lost_points = lines, lost_points_total = total,
                        "telemetry points lost: cannot write the telemetry file");
                } else {
                    self.counters
                        .points_accepted
                        .fetch_sub(points.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e)
            }
        }
    }

    async fn flush(&self) -> Result<FlushReport, SinkError> {
        self.with_state(|state, _| match &mut state.current {
            Some(file) => file.sync(),
            None => Ok(()),
        })
        .await?;
        Ok(FlushReport { spooled_points: 0 })
    }

    async fn close(&self) -> Result<SinkMetrics, SinkError> {
        self.with_state(|state, _| {
            state.closed = true;
            state.finish()
        })
        .await?;
        Ok(self.metrics())
    }

    fn metrics(&self) -> SinkMetrics {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::point::decode::decode_text;
    use std::io::Read;

    #[test]
    fn file_names_are_utc_times_that_sort() {
        assert_eq!(file_name(0), "telemetry-19700101T000000.000000000Z.lp.gz");
        assert_eq!(
            file_name(1_795_317_712_975_369_788),
            "telemetry-20261122T032152.975369788Z.lp.gz"
        );
        // Leap day, end of century.
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert!(file_name(1_000_000_000_000_000_001) > file_name(999_999_999_999_999_999));
    }

    fn read_all(dir: &Path) -> (Vec<PathBuf>, Vec<Point>) {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let mut points = Vec::new();
        for f in &files {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(File::open(f).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            points.extend(decode_text(&text).unwrap());
        }
        (files, points)
    }

    fn sample(i: i64) -> Point {
        Point::new("gpu", 1_700_000_000_000_000_000 + i)
            .tag("node", "n 1")
            .field("power_w", 100.0 + i as f64)
            .field("seq", i)
    }

    #[tokio::test]
    async fn points_read_back_in_order_across_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = FileSinkConfig::new(dir.path());
        cfg.rotate_bytes = 500;
        let sink = FileSink::open(cfg).await.unwrap();
        let sent: Vec<Point> = (0..60).map(sample).collect();
        for chunk in sent.chunks(7) {
            sink.accept(chunk.to_vec()).await.unwrap();
        }
        sink.accept(vec![Point::new("gpu", 1).field("x", f64::NAN)])
            .await
            .unwrap();
        let m = sink.close().await.unwrap();
        assert_eq!((m.points_accepted, m.points_written), (61, 60));
        assert_eq!((m.points_invalid, m.fields_skipped_non_finite), (1, 1));
        assert!(matches!(
            sink.accept(vec![sample(0)]).await,
            Err(SinkError::Closed)
        ));

        let (files, points) = read_all(dir.path());
        assert!(files.len() > 2, "{files:?}");
        for f in &files {
            let name = f.file_name().unwrap().to_str().unwrap();
            assert!(
                name.starts_with("telemetry-") && name.ends_with("Z.lp.gz"),
                "{name}"
            );
        }
        assert_eq!(points, sent);
    }

    #[tokio::test]
    async fn a_flush_makes_data_readable_before_the_file_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::open(FileSinkConfig::new(dir.path()))
            .await
            .unwrap();
        sink.accept(vec![sample(1), sample(2)]).await.unwrap();
        assert!(sink.flush().await.unwrap().all_delivered());
        let path = fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        // No gzip trailer yet: read what is there and stop at the missing end.
        let mut text = Vec::new();
        let _ = flate2::read::GzDecoder::new(File::open(path).unwrap()).read_to_end(&mut text);
        let points = decode_text(std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(points, vec![sample(1), sample(2)]);
        sink.close().await.unwrap();
    }
}
