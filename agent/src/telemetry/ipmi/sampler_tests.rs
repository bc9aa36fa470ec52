//! Unit tests of the sampler against the in-memory BMC, on tokio's paused clock (no real waiting).

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::*;
use crate::telemetry::ipmi::{DcmiPower, Entity, FakeBmc, SensorKey, SensorKind, Unit};

fn config() -> SamplerConfig {
    SamplerConfig {
        period: Duration::from_secs(1),
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(8),
        channel_capacity: 16,
    }
}

struct Node {
    bmc: FakeBmc,
    inlet: SensorKey,
    gpu0: SensorKey,
    gpu1: SensorKey,
    psu: SensorKey,
}

fn node() -> Node {
    let bmc = FakeBmc::new();
    let t = SensorKind::Temperature;
    let c = Unit::Celsius;
    let inlet = bmc.add_sensor(
        "Inlet Temp",
        t,
        c,
        Entity::from_sdr(0x37, 1),
        0x10,
        Some(23.0),
    );
    let gpu0 = bmc.add_sensor(
        "GPU Temp",
        t,
        c,
        Entity::from_sdr(0x0b, 1),
        0x20,
        Some(61.0),
    );
    let gpu1 = bmc.add_sensor(
        "GPU Temp",
        t,
        c,
        Entity::from_sdr(0x0b, 2),
        0x21,
        Some(67.0),
    );
    let psu = bmc.add_sensor(
        "PSU1 Input",
        SensorKind::Power,
        Unit::Watts,
        Entity::from_sdr(10, 1),
        0x40,
        None,
    );
    Node {
        bmc,
        inlet,
        gpu0,
        gpu1,
        psu,
    }
}

fn value(sample: &IpmiSample, key: &SensorKey) -> Option<f64> {
    sample
        .readings
        .iter()
        .find(|r| &r.key == key)
        .and_then(|r| r.value)
}

async fn wait_for(
    status: &mut watch::Receiver<SourceStatus>,
    what: impl Fn(&SourceStatus) -> bool,
) -> SourceStatus {
    status.wait_for(|s| what(s)).await.unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn samples_carry_every_sensor_with_distinct_keys_values_and_times() {
    let n = node();
    n.bmc.set_dcmi(Some(DcmiPower {
        watts: 1234.0,
        min_watts: None,
        max_watts: None,
        avg_watts: None,
        sampling_period_s: None,
        active: Some(true),
    }));
    let (sampler, mut rx) = IpmiSampler::spawn(n.bmc.clone(), config()).unwrap();
    let first = rx.recv().await.unwrap();
    assert_eq!(first.readings.len(), 4);
    assert_ne!(n.gpu0, n.gpu1);
    assert_eq!(first.readings[1].name, "GPU Temp");
    assert_eq!(first.readings[2].name, "GPU Temp");
    assert_eq!(value(&first, &n.inlet), Some(23.0));
    assert_eq!(value(&first, &n.gpu0), Some(61.0));
    assert_eq!(value(&first, &n.gpu1), Some(67.0));
    assert_eq!(value(&first, &n.psu), None);
    assert_eq!(first.readings[3].unit, Unit::Watts);
    assert!(
        first
            .readings
            .iter()
            .all(|r| r.at > 0 && r.at == first.readings[0].at)
    );
    assert_eq!(first.dcmi.as_ref().map(|d| d.power.watts), Some(1234.0));

    n.bmc.set_value(&n.psu, Some(1850.0));
    let second = rx.recv().await.unwrap();
    assert_eq!(value(&second, &n.psu), Some(1850.0));
    assert!(second.readings[0].at >= first.readings[0].at);

    let status = sampler.status();
    assert_eq!(
        (status.state, status.sensors, status.dcmi),
        (SourceState::Up, 4, Some(true))
    );
    sampler.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_bmc_without_dcmi_gives_samples_without_it() {
    let n = node();
    let (sampler, mut rx) = IpmiSampler::spawn(n.bmc.clone(), config()).unwrap();
    assert_eq!(rx.recv().await.unwrap().dcmi, None);
    let mut status = sampler.watch_status();
    let s = wait_for(&mut status, |s| s.samples >= 1).await;
    assert_eq!(s.dcmi, Some(false));
    sampler.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_outage_marks_the_source_down_and_recovery_rediscovers() {
    let n = node();
    let (sampler, mut rx) = IpmiSampler::spawn(n.bmc.clone(), config()).unwrap();
    let mut status = sampler.watch_status();
    rx.recv().await.unwrap();

    n.bmc.set_down(true);
    let down = wait_for(&mut status, |s| s.state == SourceState::Down).await;
    assert_eq!(down.outages, 1);
    assert!(
        down.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("unavailable")
    );
    // Several retries later it is still one outage and the task still runs.
    let calls = n.bmc.list_calls();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(n.bmc.list_calls() >= calls + 3);
    let still = sampler.status();
    assert_eq!((still.state, still.outages), (SourceState::Down, 1));
    assert!(still.failed_attempts >= 4, "{still:?}");

    // A sensor appears while the BMC is down: recovery re-discovers it.
    let extra = n.bmc.add_sensor(
        "Exhaust Temp",
        SensorKind::Temperature,
        Unit::Celsius,
        Entity::from_sdr(7, 2),
        0x30,
        Some(41.0),
    );
    n.bmc.set_down(false);
    let up = wait_for(&mut status, |s| s.state == SourceState::Up).await;
    assert_eq!((up.discoveries, up.sensors, up.last_error), (2, 5, None));
    assert_eq!(up.failed_attempts, 0);
    let mut sample = rx.recv().await.unwrap();
    while sample.readings.len() < 5 {
        sample = rx.recv().await.unwrap();
    }
    assert_eq!(value(&sample, &extra), Some(41.0));
    sampler.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_up_to_the_cap() {
    let n = node();
    n.bmc.set_down(true);
    let start = tokio::time::Instant::now();
    let (sampler, _rx) = IpmiSampler::spawn(n.bmc.clone(), config()).unwrap();
    // Attempts at 0, 1, 3, 7, 15, 23 s (waits 1, 2, 4, 8, 8).
    tokio::time::sleep_until(start + Duration::from_millis(22_500)).await;
    assert_eq!(n.bmc.list_calls(), 5);
    tokio::time::sleep_until(start + Duration::from_millis(23_500)).await;
    assert_eq!(n.bmc.list_calls(), 6);
    assert_eq!(sampler.status().state, SourceState::Down);
    sampler.stop().await.unwrap();
}

#[test]
fn backoff_doubles_and_caps() {
    let max = Duration::from_secs(60);
    assert_eq!(
        next_backoff(Duration::from_secs(1), max),
        Duration::from_secs(2)
    );
    assert_eq!(next_backoff(Duration::from_secs(40), max), max);
    assert_eq!(next_backoff(Duration::MAX, max), max);
}

#[test]
fn midpoint_of_a_call() {
    let t0 = std::time::UNIX_EPOCH + Duration::from_secs(10);
    assert_eq!(
        midpoint(t0, t0 + Duration::from_millis(200)),
        10_100_000_000
    );
    assert_eq!(
        midpoint(t0, t0 - Duration::from_secs(1)),
        9_000_000_000,
        "clock stepped back"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_ends_the_task_and_marks_it_stopped() {
    let n = node();
    let (sampler, mut rx) = IpmiSampler::spawn(n.bmc.clone(), config()).unwrap();
    rx.recv().await.unwrap();
    let status = sampler.watch_status();
    sampler.stop().await.unwrap();
    assert_eq!(status.borrow().state, SourceState::Stopped);
    // The sender side is gone: the channel drains and closes.
    while rx.recv().await.is_some() {}
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_or_the_receiver_stops_the_task() {
    let n = node();
    let (sampler, mut rx) = IpmiSampler::spawn(n.bmc.clone(), config()).unwrap();
    rx.recv().await.unwrap();
    drop(sampler);
    while rx.recv().await.is_some() {}

    let (sampler, rx) = IpmiSampler::spawn(n.bmc.clone(), config()).unwrap();
    drop(rx);
    let mut status = sampler.watch_status();
    wait_for(&mut status, |s| s.state == SourceState::Stopped).await;
    sampler.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_settings_are_refused_by_name() {
    let bad = [
        SamplerConfig {
            period: Duration::ZERO,
            ..config()
        },
        SamplerConfig {
            backoff_initial: Duration::ZERO,
            ..config()
        },
        SamplerConfig {
            backoff_max: Duration::from_millis(1),
            ..config()
        },
        SamplerConfig {
            channel_capacity: 0,
            ..config()
        },
    ];
    let fields: Vec<&str> = bad
        .into_iter()
        .map(|c| match IpmiSampler::spawn(FakeBmc::new(), c) {
            Err(SamplerError::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        })
        .collect();
    assert_eq!(
        fields,
        [
            "period",
            "backoff_initial",
            "backoff_max",
            "channel_capacity"
        ]
    );
}

/// Collects formatted log lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn an_outage_warns_once_not_every_tick() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let n = node();
    let (sampler, mut rx) = IpmiSampler::spawn(n.bmc.clone(), config()).unwrap();
    rx.recv().await.unwrap();
    n.bmc.set_down(true);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(n.bmc.list_calls() >= 5, "several failed retries happened");
    n.bmc.set_down(false);
    let mut status = sampler.watch_status();
    wait_for(&mut status, |s| {
        s.state == SourceState::Up && s.discoveries == 2
    })
    .await;
    sampler.stop().await.unwrap();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let warns = text.lines().filter(|l| l.contains("WARN")).count();
    assert_eq!(warns, 1, "{text}");
    assert!(text.contains("IPMI source down"), "{text}");
    assert!(text.contains("back up"), "{text}");
}
