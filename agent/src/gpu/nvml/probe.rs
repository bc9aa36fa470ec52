//! What each NVML call costs on this machine (CPU and wall time per call), for `bench-sampler
//! --calls`: the sampler's CPU budget is spent almost entirely inside the driver, so choosing which
//! calls to make, and how often, needs these numbers from the real GPU.

use std::time::Instant;

use nix::sys::resource::{UsageWho, getrusage};
use nvml_wrapper::Device;
use nvml_wrapper::enum_wrappers::device::{Clock, Sampling, TemperatureSensor};
use nvml_wrapper::structs::device::FieldId;
use nvml_wrapper::sys_exports::field_id::{NVML_FI_DEV_MEMORY_TEMP, NVML_FI_DEV_POWER_INSTANT};

use super::NvmlBackend;
use crate::gpu::GpuError;

/// The cost of one NVML call, averaged over repetitions.
#[derive(Debug, Clone, PartialEq)]
pub struct CallCost {
    /// The call.
    pub call: &'static str,
    /// CPU time of this thread per call, µs.
    pub cpu_us: f64,
    /// Wall time per call, µs.
    pub wall_us: f64,
    /// Calls that returned an error (counted, not fatal: a call may be unsupported).
    pub errors: u32,
}

/// CPU time of the calling thread, seconds: exact from `/proc/thread-self/schedstat` where the
/// kernel has it, else `getrusage(RUSAGE_THREAD)` (tick-sampled on many kernels).
fn thread_cpu_s() -> f64 {
    if let Some(ns) = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|t| t.split_ascii_whitespace().next()?.parse::<u64>().ok())
    {
        return ns as f64 / 1e9;
    }
    getrusage(UsageWho::RUSAGE_THREAD)
        .map(|u| {
            let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            tv(u.user_time()) + tv(u.system_time())
        })
        .unwrap_or(0.0)
}

type Probe = (&'static str, fn(&Device<'_>) -> bool);

const PROBES: &[Probe] = &[
    ("nvmlDeviceGetSamples(POWER) count+fetch", |d| {
        d.samples(Sampling::Power, None).is_ok()
    }),
    ("nvmlDeviceGetSamples(POWER) since 200 ms ago", |d| {
        let since = crate::telemetry::sampler::unix_ns() / 1000 - 200_000;
        d.samples(Sampling::Power, since).is_ok()
    }),
    (
        "nvmlDeviceGetSamples(POWER) one call, since 200 ms ago",
        |d| {
            let since = crate::telemetry::sampler::unix_ns() / 1000 - 200_000;
            matches!(super::ffi::power_samples(d, since), Ok(Some(_)))
        },
    ),
    ("nvmlDeviceGetFieldValues(POWER_INSTANT)", |d| {
        d.field_values_for(&[FieldId(NVML_FI_DEV_POWER_INSTANT)])
            .is_ok()
    }),
    ("nvmlDeviceGetFieldValues(POWER_INSTANT+MEMORY_TEMP)", |d| {
        d.field_values_for(&[
            FieldId(NVML_FI_DEV_POWER_INSTANT),
            FieldId(NVML_FI_DEV_MEMORY_TEMP),
        ])
        .is_ok()
    }),
    ("nvmlDeviceGetFieldValues(MEMORY_TEMP)", |d| {
        d.field_values_for(&[FieldId(NVML_FI_DEV_MEMORY_TEMP)])
            .is_ok()
    }),
    ("nvmlDeviceGetTemperature(GPU)", |d| {
        d.temperature(TemperatureSensor::Gpu).is_ok()
    }),
    ("nvmlDeviceGetUtilizationRates", |d| {
        d.utilization_rates().is_ok()
    }),
    ("nvmlDeviceGetMemoryInfo", |d| d.memory_info().is_ok()),
    ("nvmlDeviceGetClockInfo(SM)", |d| {
        d.clock_info(Clock::SM).is_ok()
    }),
    ("nvmlDeviceGetClockInfo(MEM)", |d| {
        d.clock_info(Clock::Memory).is_ok()
    }),
    ("nvmlDeviceGetCurrentClocksEventReasons", |d| {
        d.current_throttle_reasons().is_ok()
    }),
    ("nvmlDeviceGetPowerUsage (1 s average, not used)", |d| {
        d.power_usage().is_ok()
    }),
    ("nvmlDeviceGetTotalEnergyConsumption", |d| {
        d.total_energy_consumption().is_ok()
    }),
];

impl NvmlBackend {
    /// Time every call the sampler makes (and a few it avoids), `reps` times each, on GPU `gpu`,
    /// `spacing` apart: back-to-back calls hit NVML's short-lived caches and look far cheaper than
    /// calls at the sampler's 100 ms rhythm. Only the calls themselves are timed.
    pub fn call_costs(
        &self,
        gpu: u32,
        reps: u32,
        spacing: std::time::Duration,
    ) -> Result<Vec<CallCost>, GpuError> {
        let reps = reps.max(1);
        let mut out = Vec::with_capacity(PROBES.len() + 1);
        let (c0, w0) = (thread_cpu_s(), Instant::now());
        let mut errors = 0;
        for _ in 0..reps {
            errors += u32::from(self.device(gpu).is_err());
        }
        out.push(cost("nvmlDeviceGetHandleByIndex_v2", reps, c0, w0, errors));
        let dev = self.device(gpu)?;
        for (call, f) in PROBES {
            let (mut cpu, mut wall, mut errors) = (0.0, 0.0, 0);
            for _ in 0..reps {
                std::thread::sleep(spacing);
                let (c0, w0) = (thread_cpu_s(), Instant::now());
                errors += u32::from(!f(&dev));
                wall += w0.elapsed().as_secs_f64();
                cpu += thread_cpu_s() - c0;
            }
            out.push(CallCost {
                call,
                cpu_us: cpu / f64::from(reps) * 1e6,
                wall_us: wall / f64::from(reps) * 1e6,
                errors,
            });
        }
        Ok(out)
    }
}

impl NvmlBackend {
    /// How much the driver's power sample buffer holds now: (samples, oldest-to-newest span in ms).
    pub fn power_buffer_depth(&self, gpu: u32) -> Result<(usize, f64), GpuError> {
        let dev = self.device(gpu)?;
        let samples = dev
            .samples(Sampling::Power, None)
            .map_err(|e| super::driver(gpu, "nvmlDeviceGetSamples(NVML_TOTAL_POWER_SAMPLES)", e))?;
        let span = match (
            samples.iter().map(|s| s.timestamp).min(),
            samples.iter().map(|s| s.timestamp).max(),
        ) {
            (Some(a), Some(b)) => (b - a) as f64 / 1000.0,
            _ => 0.0,
        };
        Ok((samples.len(), span))
    }
}

fn cost(call: &'static str, reps: u32, c0: f64, w0: Instant, errors: u32) -> CallCost {
    CallCost {
        call,
        cpu_us: (thread_cpu_s() - c0) / f64::from(reps) * 1e6,
        wall_us: w0.elapsed().as_secs_f64() / f64::from(reps) * 1e6,
        errors,
    }
}
