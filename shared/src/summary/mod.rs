//! The task-summary maths: from one task attempt's raw telemetry to the wire's [`TaskSummary`].
//!
//! The agent calls [`summarize`] (or [`summarize_report`] for the diagnostics too) once a task has
//! run, with everything it read as plain data ([`SummaryInputs`]). Everything here is a pure function
//! of those inputs, so every number the envelopes are built from can be checked by hand and by
//! property tests, and recomputed offline from stored telemetry.
//!
//! Every figure is over the measured window (the `measure` phase). Power-like series (GPU power,
//! DCMI, PSU sensors) are cleaned and treated as piecewise-linear signals cut exactly at the window's
//! boundaries (`signal`): energy is their trapezoidal integral, the mean that integral over the
//! duration, percentiles time-weighted (`quantile`), coverage measured against the nominal period
//! (`coverage`). The GPU's energy counter gives a second energy, with wraps corrected and resets
//! reported rather than returned (`counter`). Platform power follows a documented source order
//! (`platform`), CPU figures are overlap-weighted (`cpu`), and figures of merit become energy per unit
//! of work (`merit`).
//!
//! Dirty or missing telemetry is never an error: it shows in coverage and in the [`SummaryReport`].
//! Only inputs without a sensible measured window or with contradictory structure are refused
//! ([`SummaryError`]).

mod counter;
mod coverage;
mod cpu;
mod error;
mod gpu;
mod inputs;
mod merit;
mod platform;
mod quantile;
mod report;
mod signal;
mod window;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::wire::TaskSummary;

pub use counter::{Boundary, CounterEnergy, CounterOutcome};
pub use error::SummaryError;
pub use inputs::{
    CounterReading, CpuCounters, CpuInputs, DcmiSample, GpuInputs, HostCpuSample, PlatformInputs,
    PlatformReading, PlatformSensorKind, PowerSample, StatusSample, SummaryInputs, SummaryOptions,
    WorkloadCpuWindow,
};
pub use report::{
    GpuDiagnostics, NoEnergyPerWork, PlatformDiagnostics, PowerSource, SummaryReport,
    WorkloadCpuRates, WorkloadMerit,
};
pub use signal::Hygiene;

/// The task summary of `inputs`; see [`summarize_report`].
pub fn summarize(inputs: &SummaryInputs) -> Result<TaskSummary, SummaryError> {
    summarize_report(inputs).map(|r| r.summary)
}

/// The task summary of `inputs` with the diagnostics behind it.
///
/// Refuses inputs whose phases have no `measure` phase, an empty one, a phase ending before it
/// starts or a known phase twice; a zero sample period; the same GPU index twice; CPU inputs with
/// zero logical CPUs; a plausibility limit that is not a positive number.
pub fn summarize_report(inputs: &SummaryInputs) -> Result<SummaryReport, SummaryError> {
    let (phases, window) = window::measured_window(&inputs.phases)?;
    if inputs.sample_period_ms == 0 {
        return Err(SummaryError::ZeroSamplePeriod);
    }
    let max_w = inputs.options.max_plausible_gpu_w;
    if !(max_w.is_finite() && max_w > 0.0) {
        return Err(SummaryError::InvalidPlausiblePower { watts: max_w });
    }
    let mut indices: BTreeMap<u32, usize> = BTreeMap::new();
    for g in &inputs.gpus {
        *indices.entry(g.index).or_default() += 1;
    }
    if let Some((&index, &count)) = indices.iter().find(|(_, c)| **c > 1) {
        return Err(SummaryError::DuplicateGpu { index, count });
    }
    if inputs.cpu.as_ref().is_some_and(|c| c.logical_cpus == 0) {
        return Err(SummaryError::ZeroLogicalCpus);
    }

    let period = signal::Ns::from(inputs.sample_period_ms) * 1_000_000;
    let mut gpus: Vec<&GpuInputs> = inputs.gpus.iter().collect();
    gpus.sort_by_key(|g| g.index);
    let mut gpu_summaries = Vec::with_capacity(gpus.len());
    let mut gpu_diagnostics = Vec::with_capacity(gpus.len());
    // The task's GPU energy: each GPU's counter where usable, its samples otherwise; unknown when a
    // GPU has neither.
    let mut energy_j = Some(0.0);
    for g in gpus {
        let (summary, diagnostics) = gpu::summarize_gpu(g, window, period, &inputs.options);
        let sampled = (diagnostics.power_hygiene.kept > 0).then_some(summary.energy_integral_j);
        energy_j = match (energy_j, summary.energy_counter_j.or(sampled)) {
            (Some(total), Some(e)) => Some(total + e),
            _ => None,
        };
        gpu_summaries.push(summary);
        gpu_diagnostics.push(diagnostics);
    }
    if gpu_summaries.is_empty() {
        energy_j = None;
    }

    let (platform, platform_diagnostics) = match &inputs.platform {
        Some(p) => {
            let (s, d) = platform::summarize_platform(p, window);
            (Some(s), Some(d))
        }
        None => (None, None),
    };
    let (cpu, workload_cpu) = match &inputs.cpu {
        Some(c) => cpu::summarize_cpu(c, window),
        None => (None, Vec::new()),
    };
    let host_cpu_missing = inputs.cpu.is_some() && cpu.is_none();
    let (figures_of_merit, merits, energy_per_work, rejected_figures_of_merit) =
        merit::aggregate(&inputs.figures_of_merit, energy_j, window.duration_s());

    Ok(SummaryReport {
        summary: TaskSummary {
            phases,
            gpus: gpu_summaries,
            platform,
            cpu,
            figures_of_merit,
            energy_per_work,
        },
        gpus: gpu_diagnostics,
        platform: platform_diagnostics,
        workload_cpu,
        host_cpu_missing,
        merits,
        rejected_figures_of_merit,
    })
}
