//! The IPMI sampler end to end against a real BMC simulator (ipmi_sim): readings flow every period, a
//! value changed in the emulator shows up in later samples, killing the BMC leaves the sampler running
//! with the source down, and restarting it brings the source back up with readings flowing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/ipmi.rs"]
mod ipmi_sim;

use std::time::Duration;

use ipmi_sim::SimBmc;
use tokio::sync::{mpsc, watch};
use wattsweep_agent::telemetry::ipmi::{
    IpmiSample, IpmiSampler, IpmitoolClient, SamplerConfig, SourceState, SourceStatus,
};

/// Guards against hangs only; no assertion depends on how fast things happen.
const DEADLINE: Duration = Duration::from_secs(60);

const GPU1_KEY: &str = "gpu_temp@11.2#20:0:0:21";
const INLET_KEY: &str = "inlet_temp@55.1#20:0:0:10";

fn config() -> SamplerConfig {
    SamplerConfig {
        period: Duration::from_millis(200),
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        channel_capacity: 16,
    }
}

fn value(sample: &IpmiSample, key: &str) -> Option<f64> {
    sample
        .readings
        .iter()
        .find(|r| r.key.as_str() == key)
        .and_then(|r| r.value)
}

async fn next_sample_where(
    rx: &mut mpsc::Receiver<IpmiSample>,
    what: &str,
    pred: impl Fn(&IpmiSample) -> bool,
) -> IpmiSample {
    let wait = async {
        loop {
            let sample = rx.recv().await.expect("sampler ended");
            if pred(&sample) {
                return sample;
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("no sample with {what} within {DEADLINE:?}"))
}

async fn status_where(
    status: &mut watch::Receiver<SourceStatus>,
    what: &str,
    pred: impl Fn(&SourceStatus) -> bool,
) -> SourceStatus {
    let last = status.borrow().clone();
    match tokio::time::timeout(DEADLINE, status.wait_for(|s| pred(s))).await {
        Ok(Ok(s)) => s.clone(),
        _ => panic!("source never reached {what} within {DEADLINE:?}; last status {last:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_flow_and_follow_a_value_changed_in_the_emulator() {
    let mut sim = SimBmc::start();
    let client = IpmitoolClient::new(sim.lanplus_config()).unwrap();
    let (sampler, mut rx) = IpmiSampler::spawn(client, config()).unwrap();

    let first = next_sample_where(&mut rx, "readings", |_| true).await;
    assert_eq!(first.readings.len(), 9);
    assert_eq!(value(&first, GPU1_KEY), Some(67.0));
    assert_eq!(value(&first, INLET_KEY), Some(23.0));
    assert_eq!(first.dcmi, None, "ipmi_sim has no DCMI");
    let at = first.readings[0].at;
    assert!(first.readings.iter().all(|r| r.at == at));
    let now_ns = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap();
    assert!(at > 0 && at <= now_ns, "absolute unix-ns timestamp");

    sim.set_raw(0x21, 80);
    let changed = next_sample_where(&mut rx, "GPU Temp #2 at 80 C", |s| {
        value(s, GPU1_KEY) == Some(80.0)
    })
    .await;
    assert_eq!(value(&changed, INLET_KEY), Some(23.0));
    assert!(changed.readings[0].at > at);

    let status = sampler.status();
    assert_eq!(status.state, SourceState::Up);
    assert_eq!(
        (status.sensors, status.dcmi, status.outages),
        (9, Some(false), 0)
    );
    sampler.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_bmc_marks_the_source_down_and_a_restart_brings_it_back() {
    let mut sim = SimBmc::start();
    let client = IpmitoolClient::new(sim.lanplus_config()).unwrap();
    let (sampler, mut rx) = IpmiSampler::spawn(client, config()).unwrap();
    let mut status = sampler.watch_status();
    next_sample_where(&mut rx, "readings", |s| value(s, INLET_KEY) == Some(23.0)).await;
    // A changed value, to tell samples of the restarted BMC (initial values again) apart.
    sim.set_raw(0x21, 90);
    next_sample_where(&mut rx, "GPU Temp #2 at 90 C", |s| {
        value(s, GPU1_KEY) == Some(90.0)
    })
    .await;

    sim.kill();
    let down = status_where(&mut status, "down", |s| s.state == SourceState::Down).await;
    assert_eq!(down.outages, 1);
    assert!(down.last_error.is_some());
    // Still running through several retries, still one outage.
    let retried = status_where(&mut status, "three failed retries", |s| {
        s.failed_attempts >= 3
    })
    .await;
    assert_eq!(
        (retried.state, retried.since),
        (SourceState::Down, down.since)
    );
    assert_eq!(retried.outages, 1);
    assert_ne!(sampler.status().state, SourceState::Stopped);

    sim.restart();
    let up = status_where(&mut status, "up again", |s| {
        s.state == SourceState::Up && s.discoveries == 2
    })
    .await;
    assert_eq!((up.sensors, up.outages, up.last_error), (9, 1, None));
    // Readings flow again, from the restarted emulator (GPU Temp #2 back at its initial 67 C).
    let after = next_sample_where(&mut rx, "a sample from the restarted BMC", |s| {
        value(s, GPU1_KEY) == Some(67.0)
    })
    .await;
    assert_eq!(value(&after, INLET_KEY), Some(23.0));

    sampler.stop().await.unwrap();
    assert_eq!(status.borrow().state, SourceState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_while_the_bmc_is_down_is_clean() {
    let mut sim = SimBmc::start();
    let client = IpmitoolClient::new(sim.lanplus_config()).unwrap();
    let (sampler, mut rx) = IpmiSampler::spawn(client, config()).unwrap();
    let mut status = sampler.watch_status();
    next_sample_where(&mut rx, "readings", |_| true).await;
    sim.kill();
    status_where(&mut status, "down", |s| s.state == SourceState::Down).await;
    // An ipmitool run may be in flight: stop kills it and returns.
    tokio::time::timeout(DEADLINE, sampler.stop())
        .await
        .expect("stop returned")
        .unwrap();
    assert_eq!(status.borrow().state, SourceState::Stopped);
}
