//! What the summary maths found beyond the wire's [`TaskSummary`]: how dirty the telemetry was,
//! what the energy counter did, which sensors platform power came from, per-workload CPU rates and
//! the aggregated figures of merit. The agent logs these and writes them to telemetry; the wire
//! summary stays as the contract defines it.

use crate::wire::TaskSummary;

use super::counter::CounterOutcome;
use super::signal::Hygiene;

/// The wire summary together with the diagnostics behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryReport {
    /// The summary published with the task's result.
    pub summary: TaskSummary,
    /// One entry per GPU, in the summary's order.
    pub gpus: Vec<GpuDiagnostics>,
    /// How platform power was obtained; `None` without platform inputs.
    pub platform: Option<PlatformDiagnostics>,
    /// Per-workload CPU rates over their counters' interval.
    pub workload_cpu: Vec<WorkloadCpuRates>,
    /// Whether host CPU figures were missing although CPU inputs were given (no host interval
    /// overlapped the window), which leaves the summary without CPU figures.
    pub host_cpu_missing: bool,
    /// Figures of merit aggregated per workload and unit, with energy per unit of work.
    pub merits: Vec<WorkloadMerit>,
    /// Figures of merit dropped because their value was not finite.
    pub rejected_figures_of_merit: u64,
}

/// What one GPU's telemetry looked like.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuDiagnostics {
    /// NVML index.
    pub index: u32,
    /// Hygiene of the power samples.
    pub power_hygiene: Hygiene,
    /// Time of the window before the first and after the last power sample, where the integral
    /// holds the edge sample's value, seconds.
    pub extrapolated_s: f64,
    /// What the energy counter said.
    pub counter: CounterOutcome,
    /// `100 × (samples − counter) / counter`, both over the counter's own interval; positive when the
    /// samples read higher. `None` unless both exist and the counter energy is above zero.
    pub disagreement_pct: Option<f64>,
    /// Status readings rejected for a non-finite temperature.
    pub rejected_status: u64,
}

/// Where platform power came from.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformDiagnostics {
    /// The chosen source, as in the summary's `power_source`.
    pub source: PowerSource,
    /// Readings dropped for a non-finite value, or a negative power (DCMI and sensors together).
    pub rejected: u64,
}

/// The reading platform power comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerSource {
    /// The DCMI power reading.
    Dcmi,
    /// The sum of these power sensors (configured, or PSU inputs found by name).
    Sensors(Vec<String>),
    /// One whole-system power sensor found by name.
    SystemSensor(String),
    /// No usable power reading.
    None,
}

impl PowerSource {
    /// The label written to the summary's `power_source`: `dcmi`, `psu:KEY+KEY`, `sensor:KEY` or
    /// `none`.
    pub fn label(&self) -> String {
        match self {
            PowerSource::Dcmi => "dcmi".to_string(),
            PowerSource::Sensors(keys) => format!("psu:{}", keys.join("+")),
            PowerSource::SystemSensor(key) => format!("sensor:{key}"),
            PowerSource::None => "none".to_string(),
        }
    }
}

/// One workload's CPU use over its counters' interval.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadCpuRates {
    /// Workload name.
    pub workload: String,
    /// CPU seconds per second (2.0 = two CPUs busy); `None` when the interval lasts no time.
    pub cpu_seconds_per_s: Option<f64>,
    /// Context switches per second; `None` when the interval lasts no time.
    pub context_switches_per_s: Option<f64>,
    /// A counter went backwards (processes exited between the readings); that counter's rate is 0.
    pub counters_went_backwards: bool,
}

/// A workload's figures of merit in one unit, aggregated over its instances.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadMerit {
    /// Workload name.
    pub workload: String,
    /// The unit the instances reported.
    pub unit: String,
    /// Whether larger is better (as the first instance said).
    pub higher_is_better: bool,
    /// Instances that reported a value.
    pub instances: u32,
    /// Mean of the instances' values, in `unit`.
    pub mean: f64,
    /// Sum of the instances' values, for rates (`unit` is work per time): the throughput of
    /// instances running concurrently adds up. `None` for other units.
    pub sum: Option<f64>,
    /// Work done per second by all instances together, in `work_unit`s; `None` for an unrecognised
    /// unit.
    pub work_per_s: Option<f64>,
    /// The unit of work, when the unit is recognised.
    pub work_unit: Option<String>,
    /// Joules per unit of work, or why there is none.
    pub energy_per_work: Result<f64, NoEnergyPerWork>,
}

/// Why a workload has no energy per unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEnergyPerWork {
    /// The unit is neither work per time (`GFLOP/s`, `TFLOPS`) nor time per work item (`s/epoch`).
    UnrecognisedUnit,
    /// No work was done (zero throughput, or no instance with a usable value).
    NoWork,
    /// No GPU energy over the window: the task held no GPU, or one of its GPUs has neither counter
    /// energy nor a power sample.
    NoEnergy,
}
