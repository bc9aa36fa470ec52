//! The sampler thread against a scripted backend: a GPU whose driver buffer holds a sample every
//! 20 ms of wall time and answers every read with an overlapping window.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::*;
use crate::gpu::{BackendKind, DriverInfo, ExistingGpuInstance, GpuError, PowerSample};
use wattsweep_shared::model::GpuInventory;

struct Fake {
    buffer: bool,
    calls: Mutex<Vec<&'static str>>,
}

impl Fake {
    fn new(buffer: bool) -> Arc<Self> {
        Arc::new(Fake {
            buffer,
            calls: Mutex::new(Vec::new()),
        })
    }
    fn log(&self, call: &'static str) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(call);
        }
    }
}

impl GpuBackend for Fake {
    fn kind(&self) -> BackendKind {
        BackendKind::Simulated
    }
    fn driver_info(&self) -> Result<DriverInfo, GpuError> {
        Ok(DriverInfo::default())
    }
    fn inventory(&self) -> Result<Vec<GpuInventory>, GpuError> {
        Ok(vec![])
    }
    fn power_samples(&self, gpu: u32, since_us: u64) -> Result<Vec<PowerSample>, GpuError> {
        self.log("samples");
        if !self.buffer {
            return Err(GpuError::NotSupported {
                gpu,
                what: "nvmlDeviceGetSamples".into(),
            });
        }
        // Every 20 ms boundary of the last second, newest first, overlapping the caller's window by
        // 100 ms (the sampler must drop the repeats).
        let now_us = unix_ns() / 1000;
        let mut t = now_us - now_us % 20_000;
        let mut out = Vec::new();
        while t + 1_000_000 > now_us && t + 100_000 > since_us {
            out.push(PowerSample {
                timestamp_us: t,
                watts: 100.0 + (t / 20_000 % 10) as f64,
            });
            t -= 20_000;
        }
        Ok(out)
    }
    fn instant_power_w(&self, _gpu: u32) -> Result<f64, GpuError> {
        self.log("instant");
        Ok(150.0)
    }
    fn energy_mj(&self, _gpu: u32) -> Result<u64, GpuError> {
        self.log("energy");
        Ok(unix_ns() / 10_000_000)
    }
    fn status(&self, _gpu: u32) -> Result<GpuStatus, GpuError> {
        self.log("status");
        Ok(GpuStatus {
            temperature_c: Some(40.0),
            ..GpuStatus::default()
        })
    }
    fn mig_instances(&self, _gpu: u32) -> Result<Vec<ExistingGpuInstance>, GpuError> {
        Ok(vec![])
    }
    fn create_gpu_instance(&self, gpu: u32, _: u32, _: u8) -> Result<u32, GpuError> {
        Err(GpuError::NotSupported {
            gpu,
            what: "MIG".into(),
        })
    }
    fn create_compute_instance(&self, gpu: u32, _: u32, _: u32, _: u8) -> Result<u32, GpuError> {
        Err(GpuError::NotSupported {
            gpu,
            what: "MIG".into(),
        })
    }
    fn destroy_compute_instance(&self, gpu: u32, _: u32, _: u32) -> Result<(), GpuError> {
        Err(GpuError::NotSupported {
            gpu,
            what: "MIG".into(),
        })
    }
    fn destroy_gpu_instance(&self, gpu: u32, _: u32) -> Result<(), GpuError> {
        Err(GpuError::NotSupported {
            gpu,
            what: "MIG".into(),
        })
    }
}

/// Receive until `enough` holds for the records so far (or a generous deadline passes: the test
/// then fails on its assertions, not on timing).
fn collect_until(rx: &Receiver<Record>, out: &mut Vec<Record>, enough: impl Fn(&[Record]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !enough(out) && Instant::now() < deadline {
        if let Ok(r) = rx.recv_timeout(Duration::from_millis(50)) {
            out.push(r);
        }
    }
}

fn count(records: &[Record], f: impl Fn(&Record) -> bool) -> usize {
    records.iter().filter(|r| f(r)).count()
}

fn is_buffer(r: &Record) -> bool {
    matches!(
        r,
        Record::Power {
            source: PowerSource::Buffer,
            ..
        }
    )
}

#[test]
fn buffer_samples_arrive_once_each_and_phases_tag_them() {
    let fake = Fake::new(true);
    let cfg = SamplerConfig {
        instant_with_buffer: true,
        ..SamplerConfig::default()
    };
    let (sampler, rx) = spawn(fake.clone(), cfg).unwrap();
    let mut records = Vec::new();
    collect_until(&rx, &mut records, |r| count(r, is_buffer) >= 10);
    sampler.set_phase(Phase::Measure).unwrap();
    collect_until(&rx, &mut records, |r| {
        count(r, |x| {
            matches!(
                x,
                Record::Power {
                    source: PowerSource::Buffer,
                    phase: Phase::Measure,
                    ..
                }
            )
        }) >= 10
            && count(r, |x| {
                matches!(
                    x,
                    Record::Status {
                        phase: Phase::Measure,
                        ..
                    }
                )
            }) >= 1
    });
    sampler.stop().unwrap();
    records.extend(rx.try_iter());

    let ts: Vec<u64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Power {
                t_ns,
                source: PowerSource::Buffer,
                ..
            } => Some(*t_ns),
            _ => None,
        })
        .collect();
    assert!(ts.len() >= 20, "{} buffer samples", ts.len());
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "buffer samples repeated or out of order"
    );
    // Phases only move forward: no `None` record after the first `Measure` one.
    let phases: Vec<Phase> = records
        .iter()
        .filter_map(|r| match r {
            Record::Power { phase, .. } | Record::Status { phase, .. } => Some(*phase),
            _ => None,
        })
        .collect();
    let first_measure = phases.iter().position(|p| *p == Phase::Measure).unwrap();
    assert!(phases[first_measure..].iter().all(|p| *p == Phase::Measure));
    // Energy at the start, at the boundary (tagged with the new phase) and at the stop.
    let energy: Vec<Phase> = records
        .iter()
        .filter_map(|r| match r {
            Record::Energy { phase, .. } => Some(*phase),
            _ => None,
        })
        .collect();
    assert_eq!(energy, vec![Phase::None, Phase::Measure, Phase::Measure]);
    assert!(
        count(&records, |r| matches!(
            r,
            Record::Power {
                source: PowerSource::Instant,
                ..
            }
        )) >= 1
    );
    assert_eq!(count(&records, |r| matches!(r, Record::Notice { .. })), 0);
    // Energy is read only at those three moments, never on the sampling schedule.
    let calls = fake.calls.lock().unwrap();
    assert_eq!(calls.iter().filter(|c| **c == "energy").count(), 3);
}

#[test]
fn without_a_buffer_instant_power_takes_over_with_one_notice() {
    let fake = Fake::new(false);
    let cfg = SamplerConfig {
        status_ms: 0,
        ..SamplerConfig::default()
    };
    let (sampler, rx) = spawn(fake, cfg).unwrap();
    let mut records = Vec::new();
    collect_until(&rx, &mut records, |r| {
        count(r, |x| {
            matches!(
                x,
                Record::Power {
                    source: PowerSource::Instant,
                    ..
                }
            )
        }) >= 20
    });
    sampler.stop().unwrap();
    records.extend(rx.try_iter());
    assert_eq!(count(&records, |r| matches!(r, Record::Notice { .. })), 1);
    let notice = records.iter().find_map(|r| match r {
        Record::Notice { message, .. } => Some(message.clone()),
        _ => None,
    });
    assert!(notice.unwrap().contains("instant power every 20 ms"));
    assert_eq!(count(&records, is_buffer), 0);
    assert_eq!(count(&records, |r| matches!(r, Record::Status { .. })), 0);
}

#[test]
fn explicit_energy_reads_and_a_dropped_receiver_end_cleanly() {
    let fake = Fake::new(true);
    let (sampler, rx) = spawn(fake, SamplerConfig::default()).unwrap();
    sampler.read_energy().unwrap();
    let mut records = Vec::new();
    collect_until(&rx, &mut records, |r| {
        count(r, |x| matches!(x, Record::Energy { .. })) >= 2
    });
    assert_eq!(count(&records, |r| matches!(r, Record::Energy { .. })), 2);
    drop(rx);
    sampler.stop().unwrap();
}

#[test]
fn bad_configurations_are_refused() {
    let fake = Fake::new(true);
    let none = SamplerConfig {
        gpus: vec![],
        ..SamplerConfig::default()
    };
    assert!(matches!(
        spawn(fake.clone(), none),
        Err(SamplerError::Config(_))
    ));
    let zero = SamplerConfig {
        drain_ms: 0,
        ..SamplerConfig::default()
    };
    assert!(matches!(spawn(fake, zero), Err(SamplerError::Config(_))));
}

#[test]
fn phase_names_are_the_telemetry_tags() {
    let names: Vec<&str> = [
        Phase::None,
        Phase::IdleBaseline,
        Phase::Warmup,
        Phase::Measure,
        Phase::Cooldown,
    ]
    .iter()
    .map(|p| p.as_str())
    .collect();
    assert_eq!(
        names,
        ["none", "idle-baseline", "warmup", "measure", "cooldown"]
    );
}
