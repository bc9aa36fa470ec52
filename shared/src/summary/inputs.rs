//! What the agent hands to [`summarize`](super::summarize) at the end of a task, as plain data.
//!
//! Each source keeps the clock and unit it is read with, so the agent copies readings without
//! converting them: NVML power and status samples in microseconds (the driver's sample timestamps),
//! IPMI and CPU readings in unix nanoseconds (the agent's wall clock), phase timings in unix
//! milliseconds (the wire's [`PhaseTiming`]). All of them are wall-clock (unix) times.

use crate::wire::{FigureOfMerit, PhaseTiming};

/// Everything one task attempt measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryInputs {
    /// When each phase ran; exactly one must be [`Phase::Measure`](crate::wire::Phase::Measure), the
    /// window every figure is computed over.
    pub phases: Vec<PhaseTiming>,
    /// The nominal power sample period, milliseconds (the campaign's `sample_ms`).
    pub sample_period_ms: u64,
    /// One entry per GPU the task held, any order.
    pub gpus: Vec<GpuInputs>,
    /// Platform (IPMI) readings; `None` without a reachable BMC.
    pub platform: Option<PlatformInputs>,
    /// CPU readings; `None` when CPU sampling was unavailable.
    pub cpu: Option<CpuInputs>,
    /// Figures of merit parsed from the workloads' logs, one per instance that reported one.
    pub figures_of_merit: Vec<FigureOfMerit>,
    /// Tuning of the checks; [`SummaryOptions::default`] suits NVML GPUs.
    pub options: SummaryOptions,
}

/// Limits the checks use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryOptions {
    /// How far from a window boundary an energy-counter reading may be taken and still count as the
    /// reading at that boundary, milliseconds.
    pub counter_tolerance_ms: u64,
    /// Highest power one GPU can plausibly draw, watts. A counter that goes backwards is taken as a
    /// wrap when the wrapped increment implies at most this power, otherwise as a reset; a counter
    /// whose increment implies more is reported implausible.
    pub max_plausible_gpu_w: f64,
}

impl Default for SummaryOptions {
    /// 1 s tolerance (the agent reads the counter as it switches phase; a read costs milliseconds) and
    /// 5 kW, several times any single GPU package sold today.
    fn default() -> Self {
        Self {
            counter_tolerance_ms: 1_000,
            max_plausible_gpu_w: 5_000.0,
        }
    }
}

/// One GPU's readings over the task (samples outside the measured window are allowed and used only
/// to interpolate at its edges).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuInputs {
    /// NVML index.
    pub index: u32,
    /// GPU UUID.
    pub uuid: String,
    /// Power samples as read from the driver's buffer: overlapping reads, duplicates, any order and
    /// gaps are all fine.
    pub power: Vec<PowerSample>,
    /// Energy-counter readings taken at phase boundaries (at least at the measured window's start
    /// and end); `None` when the GPU has no energy counter.
    pub energy_counter: Option<Vec<CounterReading>>,
    /// Temperature samples.
    pub status: Vec<StatusSample>,
}

/// One entry of the driver's power sample buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerSample {
    /// Sample time, unix microseconds (NVML's sample timestamp).
    pub timestamp_us: u64,
    /// Instant power, watts.
    pub watts: f64,
}

/// One reading of a GPU's cumulative energy counter (NVML `TotalEnergyConsumption`, a 64-bit count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterReading {
    /// When it was read, unix microseconds.
    pub timestamp_us: u64,
    /// The counter, millijoules.
    pub millijoules: u64,
}

/// One status reading of a GPU; fields the GPU does not report are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StatusSample {
    /// When it was read, unix microseconds.
    pub timestamp_us: u64,
    /// GPU (die) temperature, °C.
    pub gpu_temp_c: Option<f64>,
    /// Memory (HBM) temperature, °C.
    pub memory_temp_c: Option<f64>,
}

/// What a platform sensor measures, as far as the summary cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlatformSensorKind {
    /// A temperature, °C.
    Temperature,
    /// Electrical power, watts.
    Power,
    /// Anything else (voltage, current, fan); ignored.
    Other,
}

/// One IPMI sensor reading.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformReading {
    /// The sensor's stable key (unique per sensor; it names the sensor in the summary).
    pub key: String,
    /// What it measures.
    pub kind: PlatformSensorKind,
    /// The value in °C for temperatures, W for power.
    pub value: f64,
    /// When it was read, unix nanoseconds.
    pub unix_ns: i64,
}

/// One DCMI "Get Power Reading" instantaneous value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcmiSample {
    /// When it was read, unix nanoseconds.
    pub unix_ns: i64,
    /// Whole-system input power, watts.
    pub watts: f64,
}

/// The platform's readings over the task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlatformInputs {
    /// Every sensor reading (all kinds; only temperatures and power are used).
    pub readings: Vec<PlatformReading>,
    /// The DCMI power series; empty where the BMC lacks DCMI.
    pub dcmi: Vec<DcmiSample>,
    /// Power sensors to sum for platform power when DCMI is unavailable, by key, as configured for
    /// the node; empty to let the naming rule pick them (see the `platform` module).
    pub power_sensor_keys: Vec<String>,
}

/// The host's and the workloads' CPU use over the task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CpuInputs {
    /// Logical CPUs of the host (utilisation is a percentage of all of them).
    pub logical_cpus: u32,
    /// Host rates, each over the interval since the sampler's previous reading.
    pub host: Vec<HostCpuSample>,
    /// Per-workload cumulative counters at the measured window's start and end.
    pub workloads: Vec<WorkloadCpuWindow>,
}

/// The host's CPU use over one sampling interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostCpuSample {
    /// Interval start, unix nanoseconds.
    pub start_ns: i64,
    /// Interval end, unix nanoseconds.
    pub end_ns: i64,
    /// Busy share of all logical CPUs, percent (0–100).
    pub utilisation_pct: f64,
    /// Context switches per second, whole host.
    pub context_switches_per_s: f64,
}

/// One workload's (cgroup's or process tree's) cumulative counters at the window's edges.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadCpuWindow {
    /// Workload name (an instance suffix is fine: each entry is reported on its own).
    pub workload: String,
    /// Counters read at the window's start.
    pub start: CpuCounters,
    /// Counters read at the window's end.
    pub end: CpuCounters,
}

/// Cumulative CPU counters of a set of processes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuCounters {
    /// When they were read, unix nanoseconds.
    pub unix_ns: i64,
    /// CPU time used so far (user + system), seconds.
    pub cpu_seconds: f64,
    /// Context switches so far (voluntary + involuntary).
    pub context_switches: u64,
}
