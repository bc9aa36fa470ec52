//! The measured summary of one task attempt (DESIGN.md §4), as plain data.
//!
//! The agent fills it from its samples and the coordinator builds envelopes from it; the maths that
//! produces and consumes these numbers lives elsewhere. Values that exist per GPU sit in per-GPU
//! structs, platform and CPU figures in their own, so a node-scope task reports every GPU it held.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Phase;

/// What one attempt measured.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskSummary {
    /// When each phase ran, in run order.
    #[serde(default)]
    pub phases: Vec<PhaseTiming>,
    /// One entry per GPU the task held, in index order.
    #[serde(default)]
    pub gpus: Vec<GpuSummary>,
    /// Platform (IPMI) figures; absent without a reachable BMC.
    #[serde(default)]
    pub platform: Option<PlatformSummary>,
    /// CPU figures; absent when CPU sampling was unavailable.
    #[serde(default)]
    pub cpu: Option<CpuSummary>,
    /// Figures of merit the workloads reported, one per workload instance that reported one.
    #[serde(default)]
    pub figures_of_merit: Vec<FigureOfMerit>,
    /// Energy per unit of work, one per workload with a figure of merit.
    #[serde(default)]
    pub energy_per_work: Vec<EnergyPerWork>,
}

impl TaskSummary {
    /// The timing of `phase`, when it ran.
    pub fn phase(&self, phase: Phase) -> Option<&PhaseTiming> {
        self.phases.iter().find(|p| p.phase == phase)
    }
}

/// When one phase ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTiming {
    /// The phase.
    pub phase: Phase,
    /// Start, unix milliseconds.
    pub start_ms: u64,
    /// End, unix milliseconds.
    pub end_ms: u64,
}

/// Measured-window figures of one GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuSummary {
    /// NVML index.
    pub index: u32,
    /// GPU UUID.
    #[serde(default)]
    pub uuid: String,
    /// Energy over the measured window from the GPU's energy counter, joules; absent where the GPU
    /// has no counter.
    #[serde(default)]
    pub energy_counter_j: Option<f64>,
    /// Energy over the measured window integrated from the power samples, joules.
    pub energy_integral_j: f64,
    /// Power statistics over the measured window.
    pub power: PowerStats,
    /// How well the samples cover the measured window.
    pub coverage: SampleCoverage,
    /// Highest GPU temperature during the measured window, °C.
    #[serde(default)]
    pub max_gpu_temp_c: Option<f64>,
    /// Highest memory temperature during the measured window, °C (not every GPU reports it).
    #[serde(default)]
    pub max_memory_temp_c: Option<f64>,
}

/// Power statistics over a window, watts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PowerStats {
    /// Time-weighted mean.
    pub mean_w: f64,
    /// Highest sample.
    pub peak_w: f64,
    /// Median sample.
    pub p50_w: f64,
    /// 95th percentile.
    pub p95_w: f64,
    /// 99th percentile.
    pub p99_w: f64,
}

/// How completely samples cover the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SampleCoverage {
    /// Samples taken in the window.
    pub samples: u64,
    /// Samples the window should hold at the configured period.
    pub expected_samples: u64,
    /// Fraction of the window within one sample period of a sample, 0–1.
    pub covered_fraction: f64,
    /// Longest gap between consecutive samples, milliseconds.
    pub max_gap_ms: u64,
}

/// Platform (IPMI) figures over the measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformSummary {
    /// Mean platform power, watts.
    pub power_mean_w: f64,
    /// Peak platform power, watts.
    pub power_peak_w: f64,
    /// Which reading the power comes from (`dcmi`, or the PSU sensors summed).
    #[serde(default)]
    pub power_source: String,
    /// Readings taken.
    #[serde(default)]
    pub samples: u64,
    /// Highest reading of every temperature sensor, sensor name → °C.
    #[serde(default)]
    pub max_temps_c: BTreeMap<String, f64>,
}

/// CPU figures over the measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuSummary {
    /// The whole host.
    pub host: CpuFigures,
    /// The workloads' processes (cgroup or process tree); absent when they could not be attributed.
    #[serde(default)]
    pub workload: Option<CpuFigures>,
}

/// CPU use of a host or a set of processes.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CpuFigures {
    /// Mean utilisation, percent of all logical CPUs.
    pub utilisation_mean_pct: f64,
    /// Peak utilisation, percent of all logical CPUs.
    pub utilisation_peak_pct: f64,
    /// Mean context switches per second.
    pub context_switches_per_s: f64,
}

/// A figure of merit a workload instance reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureOfMerit {
    /// Workload name.
    pub workload: String,
    /// Instance number inside the task (0-based; several under time-slicing, MPS or MIG).
    #[serde(default)]
    pub instance: u32,
    /// The value.
    pub value: f64,
    /// Its unit (`GFLOP/s`).
    pub unit: String,
    /// Whether larger is better.
    pub higher_is_better: bool,
}

/// Energy spent per unit of work by one workload over the measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnergyPerWork {
    /// Workload name.
    pub workload: String,
    /// Joules per unit of work.
    pub joules_per_unit: f64,
    /// The unit of work (`GFLOP`, `epoch`).
    pub work_unit: String,
}
