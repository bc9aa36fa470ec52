//! Network-sink behaviour against a scripted writer on a paused clock: batching, backoff timing,
//! spooling and in-order replay, the spool bound, refused batches, restart, timeouts.

use super::*;
use crate::telemetry::point::FieldValue;
use crate::telemetry::point::decode::decode_text;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Script {
    up: bool,
    hang: bool,
    reject_containing: Option<String>,
    delivered: Vec<String>,
    attempts: Vec<Instant>,
}

#[derive(Clone)]
struct Scripted(Arc<Mutex<Script>>);

impl Scripted {
    fn new(up: bool) -> Self {
        Self(Arc::new(Mutex::new(Script {
            up,
            ..Script::default()
        })))
    }
    fn set(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.0.lock().unwrap());
    }
    fn get<R>(&self, f: impl FnOnce(&Script) -> R) -> R {
        f(&self.0.lock().unwrap())
    }
    /// `seq` fields of every delivered line, in delivery order.
    fn delivered_seqs(&self) -> Vec<i64> {
        self.get(|s| {
            s.delivered
                .iter()
                .flat_map(|b| decode_text(b).unwrap())
                .map(|p| match p.fields.get("seq") {
                    Some(FieldValue::Int(i)) => *i,
                    other => panic!("no seq: {other:?}"),
                })
                .collect()
        })
    }
}

impl LineProtocolWriter for Scripted {
    async fn write(&self, lines: Bytes) -> Result<(), WriteError> {
        let (up, hang, reject) = self.get(|s| (s.up, s.hang, s.reject_containing.clone()));
        self.set(|s| s.attempts.push(Instant::now()));
        if hang {
            std::future::pending::<()>().await;
        }
        if !up {
            return Err(WriteError::Request {
                source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            });
        }
        let text = String::from_utf8(lines.to_vec()).unwrap();
        if reject.is_some_and(|r| text.contains(&r)) {
            return Err(WriteError::from_status(400, "unable to parse".into()));
        }
        self.set(|s| s.delivered.push(text));
        Ok(())
    }
    fn target(&self) -> &str {
        "scripted"
    }
    fn dialect(&self) -> Dialect {
        Dialect::V2
    }
}

fn settings(dir: &std::path::Path) -> NetworkSettings {
    NetworkSettings {
        batch: BatchConfig {
            max_points: 4,
            max_bytes: 1 << 20,
            interval: Duration::from_secs(1),
        },
        retry: RetryConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(800),
            request_timeout: Duration::from_secs(2),
        },
        spool: SpoolConfig {
            dir: dir.to_owned(),
            max_bytes: 1 << 20,
            segment_bytes: 256,
        },
        queue_capacity: 16,
    }
}

fn point(seq: i64) -> Point {
    Point::new("gpu", 1_700_000_000_000_000_000 + seq)
        .tag("node", "n1")
        .field("seq", seq)
}

fn points(range: std::ops::Range<i64>) -> Vec<Point> {
    range.map(point).collect()
}

/// Every accepted point is accounted for.
fn assert_balanced(m: &SinkMetrics) {
    assert_eq!(
        m.points_accepted,
        m.points_written
            + m.spool_points
            + m.points_rejected
            + m.points_invalid
            + m.points_dropped(),
        "{m:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn batches_go_when_full_or_when_the_interval_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let w = Scripted::new(true);
    let sink = NetworkSink::start(w.clone(), settings(dir.path()))
        .await
        .unwrap();
    sink.accept(points(0..10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(990)).await;
    assert_eq!(
        w.get(|s| s.delivered.len()),
        2,
        "two full batches of 4 go at once"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        w.get(|s| s.delivered.len()),
        3,
        "the rest goes after the interval"
    );
    assert_eq!(w.delivered_seqs(), (0..10).collect::<Vec<_>>());
    let m = sink.close().await.unwrap();
    assert_eq!(
        (m.points_accepted, m.points_written, m.points_spooled),
        (10, 10, 0)
    );
    assert_balanced(&m);
}

#[tokio::test(start_paused = true)]
async fn an_outage_is_spooled_retried_with_backoff_and_replayed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let w = Scripted::new(true);
    let sink = NetworkSink::start(w.clone(), settings(dir.path()))
        .await
        .unwrap();
    sink.accept(points(0..4)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    w.set(|s| s.up = false);
    let t0 = Instant::now();
    sink.accept(points(4..8)).await.unwrap(); // fails, spooled
    for k in 0..6 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sink.accept(points(8 + 4 * k..12 + 4 * k)).await.unwrap(); // behind the backlog
    }
    tokio::time::sleep(Duration::from_millis(1)).await; // let the worker take the last batch
    let m = sink.metrics();
    assert_eq!(m.points_written, 4);
    assert_eq!(m.spool_points, 28);
    assert!(m.spool_bytes > 0 && m.write_failures >= 3, "{m:?}");
    // Attempts after the first failure follow the backoff: +100, +200, +400, +800 (cap), +800 ms.
    let gaps: Vec<u128> = w.get(|s| {
        s.attempts[1..]
            .windows(2)
            .map(|p| (p[1] - p[0]).as_millis())
            .collect()
    });
    assert!(
        gaps.starts_with(&[100, 200, 400, 800]),
        "gaps {gaps:?} since {t0:?}"
    );

    w.set(|s| s.up = true);
    tokio::time::sleep(Duration::from_millis(900)).await;
    sink.accept(points(32..34)).await.unwrap();
    let report = sink.flush().await.unwrap();
    assert!(report.all_delivered());
    assert_eq!(w.delivered_seqs(), (0..34).collect::<Vec<_>>());
    let m = sink.close().await.unwrap();
    assert_eq!(
        (m.points_written, m.points_replayed, m.spool_bytes),
        (34, 28, 0)
    );
    assert_eq!(m.points_dropped(), 0);
    assert_balanced(&m);
}

#[tokio::test(start_paused = true)]
async fn a_full_spool_drops_the_oldest_points_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let w = Scripted::new(false);
    let mut s = settings(dir.path());
    let batch_bytes = {
        let mut t = String::new();
        crate::telemetry::point::encode_points(&points(100..104), Dialect::V2, &mut t);
        t.len() as u64
    };
    s.spool.segment_bytes = batch_bytes;
    s.spool.max_bytes = batch_bytes * 3;
    let sink = NetworkSink::start(w.clone(), s).await.unwrap();
    for k in 0..10 {
        sink.accept(points(100 + 4 * k..104 + 4 * k)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let m = sink.metrics();
        assert!(m.spool_bytes <= batch_bytes * 3, "{m:?}");
    }
    let m = sink.metrics();
    assert_eq!(m.points_dropped_spool_full, 28);
    assert!(m.spool_bytes_high_water <= batch_bytes * 3);
    w.set(|s| s.up = true);
    assert!(sink.flush().await.unwrap().all_delivered());
    // The newest points survived, in order.
    assert_eq!(w.delivered_seqs(), (128..140).collect::<Vec<_>>());
    let m = sink.close().await.unwrap();
    assert_balanced(&m);
}

#[tokio::test(start_paused = true)]
async fn a_refused_batch_is_set_aside_and_delivery_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let w = Scripted::new(true);
    w.set(|s| s.reject_containing = Some("seq=5i".into()));
    let sink = NetworkSink::start(w.clone(), settings(dir.path()))
        .await
        .unwrap();
    sink.accept(points(0..12)).await.unwrap();
    sink.flush().await.unwrap();
    assert_eq!(w.delivered_seqs(), vec![0, 1, 2, 3, 8, 9, 10, 11]);
    let m = sink.close().await.unwrap();
    assert_eq!(m.points_rejected, 4);
    assert_balanced(&m);
    let kept: Vec<_> = std::fs::read_dir(dir.path().join("rejected"))
        .unwrap()
        .collect();
    assert_eq!(kept.len(), 1);
    let text = std::fs::read_to_string(kept[0].as_ref().unwrap().path()).unwrap();
    assert!(text.starts_with("# refused by scripted: the server refused the data (HTTP 400)"));
    assert_eq!(decode_text(&text).unwrap(), points(4..8));
}

#[tokio::test(start_paused = true)]
async fn the_spool_survives_a_restart_and_is_replayed_before_new_points() {
    let dir = tempfile::tempdir().unwrap();
    let down = Scripted::new(false);
    let sink = NetworkSink::start(down.clone(), settings(dir.path()))
        .await
        .unwrap();
    sink.accept(points(0..10)).await.unwrap();
    let m = sink.close().await.unwrap();
    assert_eq!(m.spool_points, 10);
    assert_balanced(&m);

    let up = Scripted::new(true);
    let sink = NetworkSink::start(up.clone(), settings(dir.path()))
        .await
        .unwrap();
    assert_eq!(sink.metrics().spool_points, 10);
    sink.accept(points(10..14)).await.unwrap();
    assert!(sink.flush().await.unwrap().all_delivered());
    assert_eq!(up.delivered_seqs(), (0..14).collect::<Vec<_>>());
    let m = sink.close().await.unwrap();
    assert_eq!(m.points_written, 14);
    // The new points may also go through the spool (they must wait behind the backlog).
    assert!(m.points_replayed >= 10, "{m:?}");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_times_out_and_the_points_are_spooled() {
    let dir = tempfile::tempdir().unwrap();
    let w = Scripted::new(true);
    w.set(|s| s.hang = true);
    let sink = NetworkSink::start(w.clone(), settings(dir.path()))
        .await
        .unwrap();
    sink.accept(points(0..3)).await.unwrap();
    let t0 = Instant::now();
    let report = sink.flush().await.unwrap();
    assert_eq!(report.spooled_points, 3);
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(2),
        "one attempt, cut at the timeout"
    );
    assert_eq!(sink.metrics().write_failures, 1);
    w.set(|s| s.hang = false);
    assert!(sink.flush().await.unwrap().all_delivered());
    assert_eq!(w.delivered_seqs(), (0..3).collect::<Vec<_>>());
    sink.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn invalid_points_and_skipped_fields_are_counted_and_close_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let w = Scripted::new(true);
    let sink = NetworkSink::start(w.clone(), settings(dir.path()))
        .await
        .unwrap();
    sink.accept(vec![
        point(0).field("bad", f64::NAN),
        Point::new("gpu", 1).field("only", f64::INFINITY),
        Point::new("gpu\n", 1).field("seq", 1_i64),
    ])
    .await
    .unwrap();
    let m = sink.close().await.unwrap();
    assert_eq!((m.points_written, m.points_invalid), (1, 2));
    assert_eq!(m.fields_skipped_non_finite, 2);
    assert_balanced(&m);
    assert!(matches!(
        sink.accept(points(0..1)).await,
        Err(SinkError::Closed)
    ));
    assert!(sink.close().await.is_ok());
}
