//! A database outage in the middle of a steady telemetry stream: the server is stopped for 20 s and
//! started again on the same port and data directory. Every point must be stored, with its
//! timestamp, and the spool must stay within its bound the whole time. Run against both real
//! servers (VictoriaMetrics through the v2 API, InfluxDB 1.6 through the v1 API), concurrently.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, now_ms_in_ns, spool_bytes_on_disk, token_file};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wattsweep_agent::telemetry::point::{Point, measurement, tag};
use wattsweep_agent::telemetry::sink::{
    AnySink, Destination, InfluxV1Config, InfluxV2Config, SinkConfig, SpoolConfig, TelemetrySink,
    TokenSource, open_sink,
};

const PERIOD: Duration = Duration::from_millis(10);
const OUTAGE: Duration = Duration::from_secs(20);
const SPOOL_BOUND: u64 = 1 << 20;

fn spool_config(dir: &Path) -> SpoolConfig {
    SpoolConfig {
        dir: dir.join("spool"),
        max_bytes: SPOOL_BOUND,
        segment_bytes: 16 << 10,
    }
}

fn tune(cfg: &mut SinkConfig) {
    cfg.batch.max_points = 100;
    cfg.batch.interval = Duration::from_millis(200);
    cfg.retry.initial = Duration::from_millis(100);
    cfg.retry.max = Duration::from_secs(1);
    cfg.retry.request_timeout = Duration::from_secs(5);
}

/// Sample `seq` of the stream: one GPU power reading every 10 ms of (data) time.
fn sample(base_ns: i64, seq: i64) -> Point {
    Point::new(measurement::GPU, base_ns + seq * PERIOD.as_nanos() as i64)
        .tag(tag::NODE, "node-1")
        .tag(tag::GPU_UUID, "GPU-outage")
        .field("seq", seq)
        .field("power_w", 250.0 + (seq % 100) as f64 / 4.0)
}

struct Outcome {
    sent: i64,
    spool_max_seen: u64,
}

/// Streams samples at a steady rate, stops `server` after 3 s for [`OUTAGE`], restarts it, streams
/// 3 s more, then flushes and closes. Watches the spool (as reported and as on disk) all along.
async fn stream_through_an_outage(
    server: &mut Server,
    sink: AnySink,
    spool_dir: PathBuf,
    base_ns: i64,
) -> Outcome {
    let sink = Arc::new(sink);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let producer = tokio::spawn({
        let (sink, stop, sent) = (sink.clone(), stop.clone(), sent.clone());
        async move {
            let mut tick = tokio::time::interval(PERIOD);
            let mut seq = 0;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                sink.accept(vec![sample(base_ns, seq)]).await.unwrap();
                seq += 1;
                sent.store(seq as u64, Ordering::Relaxed);
            }
            seq
        }
    });
    let watcher = tokio::spawn({
        let (sink, stop, spool_dir) = (sink.clone(), stop.clone(), spool_dir.clone());
        async move {
            let mut max_seen = 0;
            while !stop.load(Ordering::Relaxed) {
                let reported = sink.metrics().spool_bytes;
                let on_disk = spool_bytes_on_disk(&spool_dir);
                assert!(
                    reported <= SPOOL_BOUND && on_disk <= SPOOL_BOUND,
                    "spool above its bound: reported {reported}, on disk {on_disk}, bound {SPOOL_BOUND}"
                );
                max_seen = max_seen.max(reported).max(on_disk);
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            max_seen
        }
    });

    tokio::time::sleep(Duration::from_secs(3)).await;
    server.stop().await;
    let at_stop = sent.load(Ordering::Relaxed);
    tokio::time::sleep(OUTAGE).await;
    let during = sink.metrics();
    assert!(
        during.write_failures > 0 && during.spool_points > 0,
        "the outage did not reach the sink: {during:?}"
    );
    let at_restart = sent.load(Ordering::Relaxed);
    server.start().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = producer.await.unwrap();
    let spool_max_seen = watcher.await.unwrap();
    assert!(
        at_restart > at_stop && sent as u64 > at_restart,
        "the stream must go on through the outage: {at_stop} sent at the stop, {at_restart} at \
         the restart, {sent} in all"
    );

    let report = sink.flush().await.unwrap();
    assert!(
        report.all_delivered(),
        "still spooled after the server came back: {report:?}"
    );
    let m = sink.close().await.unwrap();
    assert_eq!(m.points_accepted, sent as u64, "{m:?}");
    assert_eq!(m.points_written, sent as u64, "{m:?}");
    assert_eq!(
        m.points_dropped() + m.points_rejected + m.points_invalid,
        0,
        "{m:?}"
    );
    assert!(
        m.points_replayed > 0 && m.spool_bytes_high_water <= SPOOL_BOUND,
        "{m:?}"
    );
    assert_eq!(spool_bytes_on_disk(&spool_dir), 0);
    Outcome {
        sent,
        spool_max_seen,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_outage_loses_nothing() {
    common::init_logs();
    let mut vm = Server::victoria_metrics().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SinkConfig::new(
        Destination::InfluxV2(InfluxV2Config {
            url: vm.url(),
            org: "wattsweep".into(),
            bucket: "telemetry".into(),
            token: Some(TokenSource::File(token_file(dir.path()))),
            gzip: true,
        }),
        spool_config(dir.path()),
    );
    tune(&mut cfg);
    let sink = open_sink(&cfg).await.unwrap();
    let base = now_ms_in_ns();
    let started = Instant::now();
    let out = stream_through_an_outage(&mut vm, sink, cfg.spool.dir.clone(), base).await;
    assert!(out.spool_max_seen > 0, "the spool was never used");

    let series = vm.vm_export_settled("gpu_seq", out.sent as usize).await;
    assert_eq!(series.len(), 1, "one series expected");
    let got = &series[0].samples;
    assert_eq!(got.len(), out.sent as usize, "points stored");
    for (i, (ts_ms, v)) in got.iter().enumerate() {
        let want = sample(base, i as i64);
        assert_eq!(
            (*ts_ms, *v),
            (want.timestamp_ns / 1_000_000, i as f64),
            "sample {i}"
        );
    }
    eprintln!(
        "VictoriaMetrics outage: {} points, spool peak {} bytes, {:?}",
        out.sent,
        out.spool_max_seen,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb1_outage_loses_nothing() {
    common::init_logs();
    let db = "telemetry";
    let mut influx = Server::influxdb1(db).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SinkConfig::new(
        Destination::InfluxV1(InfluxV1Config {
            url: influx.url(),
            database: db.into(),
            retention_policy: None,
            auth: None,
            gzip: true,
        }),
        spool_config(dir.path()),
    );
    tune(&mut cfg);
    let sink = open_sink(&cfg).await.unwrap();
    let base = now_ms_in_ns() + 7; // nanosecond timestamps are kept exactly
    let started = Instant::now();
    let out = stream_through_an_outage(&mut influx, sink, cfg.spool.dir.clone(), base).await;
    assert!(out.spool_max_seen > 0, "the spool was never used");

    let rows = influx.influx_select(db, measurement::GPU).await;
    assert_eq!(rows.len(), out.sent as usize, "points stored");
    for (i, row) in rows.iter().enumerate() {
        let want = sample(base, i as i64);
        assert_eq!(
            row["time"].as_i64(),
            Some(want.timestamp_ns),
            "row {i}: {row:?}"
        );
        assert_eq!(row["seq"].as_i64(), Some(i as i64), "row {i}: {row:?}");
    }
    eprintln!(
        "InfluxDB 1.6 outage: {} points, spool peak {} bytes, {:?}",
        out.sent,
        out.spool_max_seen,
        started.elapsed()
    );
}
