//! Points written through the sinks read back, point for point, from real servers:
//! VictoriaMetrics through the InfluxDB v2 write API (the `influxdb2` crate), InfluxDB 1.6 through
//! the v1 API; and a spool left by one sink replayed by the next one after the database is back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, now_ms_in_ns, token_file};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use wattsweep_agent::telemetry::point::{FieldValue, Point, tag};
use wattsweep_agent::telemetry::sink::{
    Destination, InfluxV1Config, InfluxV2Config, SinkConfig, SpoolConfig, TelemetrySink,
    TokenSource, open_sink,
};

fn v2_config(url: &str, dir: &Path, gzip: bool) -> SinkConfig {
    let mut cfg = SinkConfig::new(
        Destination::InfluxV2(InfluxV2Config {
            url: url.into(),
            org: "wattsweep".into(),
            bucket: "telemetry".into(),
            token: Some(TokenSource::File(token_file(dir))),
            gzip,
        }),
        SpoolConfig::new(dir.join("spool")),
    );
    cfg.batch.max_points = 50;
    cfg.retry.initial = Duration::from_millis(50);
    cfg
}

/// VictoriaMetrics' view of a point: one series per field, `<measurement>_<field>`, tags as labels,
/// numbers as floats (booleans 1/0), millisecond timestamps. String fields become series of zeros
/// (their text is not kept).
fn vm_view(points: &[Point]) -> BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>> {
    let mut want: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for p in points {
        for (field, value) in &p.fields {
            let v = match value {
                FieldValue::Float(f) => *f,
                FieldValue::Int(i) => *i as f64,
                FieldValue::UInt(u) => *u as f64,
                FieldValue::Bool(b) => f64::from(u8::from(*b)),
                FieldValue::Str(_) => 0.0,
            };
            let mut labels = p.tags.clone();
            labels.insert("__name__".into(), format!("{}_{field}", p.measurement));
            want.entry(labels)
                .or_default()
                .push((p.timestamp_ns / 1_000_000, v));
        }
    }
    want
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_stores_every_point_written_through_the_v2_api() {
    let vm = Server::victoria_metrics().await;
    let dir = tempfile::tempdir().unwrap();
    for (gzip, measurement) in [(true, "rt_gzip"), (false, "rt_plain")] {
        let base = now_ms_in_ns();
        let points: Vec<Point> = (0..240_i64)
            .map(|i| {
                Point::new(measurement, base + i * 1_000_000)
                    .tag(tag::NODE, "node 1,rack=b")
                    .tag(tag::GPU_UUID, format!("GPU-{}", i % 3))
                    .tag(tag::CONFIG, "3g.40gb@0 + 3g.40gb@4")
                    .tag("odd", "x\\y é✓ \"q\"")
                    .field("power_w", 100.0 + i as f64 * 0.25)
                    .field("energy_mj", 4_000_000_000_u64 + i as u64)
                    .field("util", -i)
                    .field("throttled", i % 2 == 0)
                    .field("note", "text is not kept by VictoriaMetrics")
            })
            .collect();
        let sink = open_sink(&v2_config(&vm.url(), dir.path(), gzip))
            .await
            .unwrap();
        for chunk in points.chunks(37) {
            sink.accept(chunk.to_vec()).await.unwrap();
        }
        let m = sink.close().await.unwrap();
        assert_eq!((m.points_written, m.spool_points), (240, 0), "{m:?}");

        let want = vm_view(&points);
        let want_samples = want.values().map(Vec::len).sum();
        let mut got: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for s in vm
            .vm_export_settled(&format!("{measurement}_.*"), want_samples)
            .await
        {
            got.entry(s.labels).or_default().extend(s.samples);
        }
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "series (gzip {gzip})"
        );
        for (labels, samples) in &want {
            assert_eq!(&got[labels], samples, "{labels:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb1_stores_every_point_written_through_the_v1_api() {
    let db = "telemetry";
    let influx = Server::influxdb1(db).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SinkConfig::new(
        Destination::InfluxV1(InfluxV1Config {
            url: influx.url(),
            database: db.into(),
            retention_policy: None,
            auth: None,
            gzip: true,
        }),
        SpoolConfig::new(dir.path().join("spool")),
    );
    cfg.batch.max_points = 64;
    let base = now_ms_in_ns() + 123_457; // not a whole millisecond: InfluxDB keeps nanoseconds
    let floats = [0.1, -0.0, 1e300, -1e-300, f64::MAX, 5e-324, 123_456_789.123];
    let points: Vec<Point> = (0..300_i64)
        .map(|i| {
            Point::new("rt1", base + i * 1_000_003)
                .tag(tag::NODE, "node 1,rack=b")
                .tag(tag::GPU_UUID, format!("GPU-{}", i % 4))
                .tag("odd", "x\\y é✓ \"q\" =")
                .field("f", floats[i as usize % floats.len()])
                .field("g", 0.5 + i as f64 / 7.0)
                .field("i", i64::MIN + i)
                .field("u", (i as u64) << 40)
                .field("b", i % 3 == 0)
                .field("s", format!("say \"hi\" \\ {i} ✓"))
        })
        .collect();
    let sink = open_sink(&cfg).await.unwrap();
    sink.accept(points.clone()).await.unwrap();
    // InfluxDB 1.x cannot parse a tag value ending with a backslash: refused, counted.
    sink.accept(vec![
        Point::new("rt1", base).tag("t", "end\\").field("f", 1.0),
    ])
    .await
    .unwrap();
    let m = sink.close().await.unwrap();
    assert_eq!((m.points_written, m.points_invalid), (300, 1), "{m:?}");
    assert_eq!(m.points_rejected, 0);

    let rows = influx.influx_select(db, "rt1").await;
    assert_eq!(rows.len(), points.len());
    for (row, p) in rows.iter().zip(&points) {
        let mut want: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        want.insert("time".into(), p.timestamp_ns.into());
        for (k, v) in &p.tags {
            want.insert(k.clone(), v.clone().into());
        }
        for (k, v) in &p.fields {
            let json = match v {
                FieldValue::Float(f) => serde_json::Value::from(*f),
                FieldValue::Int(i) => (*i).into(),
                FieldValue::UInt(u) => i64::try_from(*u).unwrap().into(),
                FieldValue::Bool(b) => (*b).into(),
                FieldValue::Str(s) => s.clone().into(),
            };
            want.insert(k.clone(), json);
        }
        // Floats compared bit for bit (JSON keeps -0.0 as -0.0).
        for field in ["f", "g"] {
            let got = row.get(field).and_then(serde_json::Value::as_f64);
            let Some(FieldValue::Float(want)) = p.fields.get(field) else {
                unreachable!()
            };
            assert_eq!(
                got.map(f64::to_bits),
                Some(want.to_bits()),
                "{field} in {row:?}"
            );
        }
        assert_eq!(row, &want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_spooled_while_the_database_was_down_are_replayed_by_the_next_start() {
    common::init_logs();
    let mut vm = Server::victoria_metrics().await;
    vm.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = v2_config(&vm.url(), dir.path(), true);
    let base = now_ms_in_ns();
    let point = |i: i64| {
        Point::new("replay", base + i * 1_000_000)
            .tag(tag::NODE, "n1")
            .field("seq", i)
    };

    // First "process": the database is down; everything ends in the spool.
    let sink = open_sink(&cfg).await.unwrap();
    sink.accept((0..150).map(point).collect()).await.unwrap();
    let m = sink.close().await.unwrap();
    assert_eq!((m.points_written, m.spool_points), (0, 150), "{m:?}");
    assert!(common::spool_bytes_on_disk(&dir.path().join("spool")) > 0);

    // Second "process": the database is back; the spool goes first, then new points.
    vm.start().await;
    let sink = open_sink(&cfg).await.unwrap();
    assert_eq!(sink.metrics().spool_points, 150);
    sink.accept((150..200).map(point).collect()).await.unwrap();
    let report = sink.flush().await.unwrap();
    assert!(report.all_delivered(), "{report:?}");
    let m = sink.close().await.unwrap();
    assert_eq!(m.points_written, 200);
    assert!(m.points_replayed >= 150, "{m:?}");
    assert_eq!(common::spool_bytes_on_disk(&dir.path().join("spool")), 0);

    let series = vm.vm_export_settled("replay_seq", 200).await;
    assert_eq!(series.len(), 1, "{series:?}");
    let want: Vec<(i64, f64)> = (0..200)
        .map(|i| ((base + i * 1_000_000) / 1_000_000, i as f64))
        .collect();
    assert_eq!(series[0].samples.len(), want.len());
    assert_eq!(series[0].samples, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_drops_the_oldest_points_counts_them_and_delivers_the_rest() {
    common::init_logs();
    let mut vm = Server::victoria_metrics().await;
    vm.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = v2_config(&vm.url(), dir.path(), true);
    cfg.spool.max_bytes = 8 << 10;
    cfg.spool.segment_bytes = 2 << 10;
    let base = now_ms_in_ns();
    let sent = 600_i64;
    let sink = open_sink(&cfg).await.unwrap();
    for chunk in (0..sent).collect::<Vec<_>>().chunks(25) {
        let points = chunk
            .iter()
            .map(|&i| {
                Point::new("overflow", base + i * 1_000_000)
                    .tag(tag::NODE, "n1")
                    .field("seq", i)
            })
            .collect();
        sink.accept(points).await.unwrap();
        sink.flush().await.unwrap();
        let m = sink.metrics();
        assert!(m.spool_bytes <= 8 << 10, "{m:?}");
    }
    let m = sink.metrics();
    let dropped = m.points_dropped_spool_full as i64;
    assert!(dropped > 0, "the bound was never reached: {m:?}");
    assert_eq!(m.spool_points as i64, sent - dropped, "{m:?}");

    vm.start().await;
    assert!(sink.flush().await.unwrap().all_delivered());
    let m = sink.close().await.unwrap();
    assert_eq!(
        m.points_accepted,
        m.points_written + m.points_dropped_spool_full,
        "{m:?}"
    );
    // Exactly the oldest points are missing; the rest arrived in full.
    let series = vm
        .vm_export_settled("overflow_seq", (sent - dropped) as usize)
        .await;
    let want: Vec<(i64, f64)> = (dropped..sent)
        .map(|i| ((base + i * 1_000_000) / 1_000_000, i as f64))
        .collect();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].samples, want);
}

#[test]
#[should_panic(expected = "run deploy/test.sh")]
fn a_missing_server_binary_fails_the_test_with_what_to_do() {
    common::binary("wattsweep-no-such-server-binary");
}
