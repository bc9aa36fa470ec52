//! CPU figures over the measured window.
//!
//! * Host: every sampler interval is weighted by how long it overlaps the window (an interval
//!   straddling a boundary counts for its inside part only). The mean is the overlap-weighted mean
//!   of the intervals' utilisation and context-switch rates, the peak the highest utilisation of an
//!   overlapping interval. Intervals with a non-finite or negative rate, or that last no time, are
//!   skipped. Without any overlapping interval there are no host figures, and then no CPU summary.
//! * Workloads: each workload's rates come from its cumulative counters at the window's start and
//!   end, over the counters' own interval: CPU seconds per second and context switches per second.
//!   A counter that went backwards (processes exited, so a process-tree sum shrank) contributes 0 and
//!   is reported. The summary's `workload` figures are all workloads together: CPU seconds per
//!   second over the logical CPUs as a percentage, and the summed context-switch rate. Only two
//!   readings per workload exist, so their peak utilisation equals their mean.

use crate::wire::{CpuFigures, CpuSummary};

use super::inputs::{CpuInputs, WorkloadCpuWindow};
use super::report::WorkloadCpuRates;
use super::signal::{NS_PER_S, Ns};
use super::window::Window;

/// CPU figures over `window`; `None` summary when no host interval overlaps it. `logical_cpus` must
/// be at least 1 (checked by the caller).
pub(crate) fn summarize_cpu(
    inputs: &CpuInputs,
    window: Window,
) -> (Option<CpuSummary>, Vec<WorkloadCpuRates>) {
    let rates: Vec<WorkloadCpuRates> = inputs.workloads.iter().map(workload_rates).collect();
    let cpus = f64::from(inputs.logical_cpus.max(1));
    let valid: Vec<&WorkloadCpuRates> = rates
        .iter()
        .filter(|r| r.cpu_seconds_per_s.is_some())
        .collect();
    let workload = (!valid.is_empty()).then(|| {
        let cpu_s_per_s: f64 = valid.iter().filter_map(|r| r.cpu_seconds_per_s).sum();
        let utilisation = 100.0 * cpu_s_per_s / cpus;
        CpuFigures {
            utilisation_mean_pct: utilisation,
            utilisation_peak_pct: utilisation,
            context_switches_per_s: valid.iter().filter_map(|r| r.context_switches_per_s).sum(),
        }
    });
    let summary = host_figures(inputs, window).map(|host| CpuSummary { host, workload });
    (summary, rates)
}

/// Overlap-weighted host figures; `None` without an overlapping interval.
fn host_figures(inputs: &CpuInputs, window: Window) -> Option<CpuFigures> {
    let (mut weight, mut util, mut ctxt) = (0.0, 0.0, 0.0);
    let mut peak: Option<f64> = None;
    for s in &inputs.host {
        let usable = [s.utilisation_pct, s.context_switches_per_s]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0);
        let overlap = Ns::from(s.end_ns).min(window.end) - Ns::from(s.start_ns).max(window.start);
        if !usable || overlap <= 0 {
            continue;
        }
        let w = overlap as f64 / NS_PER_S;
        weight += w;
        util += w * s.utilisation_pct;
        ctxt += w * s.context_switches_per_s;
        peak = Some(peak.map_or(s.utilisation_pct, |p| p.max(s.utilisation_pct)));
    }
    let peak = peak?;
    Some(CpuFigures {
        utilisation_mean_pct: (util / weight).min(peak),
        utilisation_peak_pct: peak,
        context_switches_per_s: ctxt / weight,
    })
}

/// One workload's rates over its counters' interval.
fn workload_rates(w: &WorkloadCpuWindow) -> WorkloadCpuRates {
    let dt_s = (Ns::from(w.end.unix_ns) - Ns::from(w.start.unix_ns)) as f64 / NS_PER_S;
    let cpu = w.end.cpu_seconds - w.start.cpu_seconds;
    let cpu_backwards = cpu < 0.0;
    let ctxt_backwards = w.end.context_switches < w.start.context_switches;
    let usable = dt_s > 0.0 && cpu.is_finite();
    let ctxt = w
        .end
        .context_switches
        .saturating_sub(w.start.context_switches) as f64;
    WorkloadCpuRates {
        workload: w.workload.clone(),
        cpu_seconds_per_s: usable.then(|| cpu.max(0.0) / dt_s),
        context_switches_per_s: usable.then(|| ctxt / dt_s),
        counters_went_backwards: cpu_backwards || ctxt_backwards,
    }
}
