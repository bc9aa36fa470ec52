//! One GPU's figures over the measured window: energy from the samples and from the counter, power
//! statistics, coverage and the highest temperatures.
//!
//! With no power sample at all, energy and every power statistic are 0 and coverage is 0: the
//! summary still carries the GPU (with its counter energy and temperatures, where present), and the
//! coverage tells any consumer that its sampled figures are empty.

use crate::wire::{GpuSummary, PowerStats};

use super::counter::{CounterOutcome, counter_energy};
use super::coverage::coverage;
use super::inputs::{GpuInputs, SummaryOptions};
use super::report::GpuDiagnostics;
use super::signal::{Ns, Series, clean};
use super::window::Window;

/// Microseconds to the common nanosecond axis.
pub(crate) fn us_to_ns(us: u64) -> Ns {
    Ns::from(us) * 1_000
}

/// The power signal of `gpu` after hygiene.
pub(crate) fn power_series(gpu: &GpuInputs) -> (Series, super::signal::Hygiene) {
    clean(
        gpu.power
            .iter()
            .map(|s| (us_to_ns(s.timestamp_us), s.watts)),
    )
}

/// Summarises one GPU.
pub(crate) fn summarize_gpu(
    gpu: &GpuInputs,
    window: Window,
    period: Ns,
    options: &SummaryOptions,
) -> (GpuSummary, GpuDiagnostics) {
    let (series, power_hygiene) = power_series(gpu);
    let (start, end) = (window.start, window.end);
    let clipped = series.clip(start, end);
    let power = clipped
        .as_ref()
        .map_or_else(PowerStats::default, |p| PowerStats {
            mean_w: p.mean(),
            peak_w: p.peak(),
            p50_w: p.quantile(0.50),
            p95_w: p.quantile(0.95),
            p99_w: p.quantile(0.99),
        });
    let energy_integral_j = clipped.as_ref().map_or(0.0, |p| p.integral());

    let counter = match &gpu.energy_counter {
        None => CounterOutcome::NoCounter,
        Some(readings) => counter_energy(
            readings,
            start,
            end,
            Ns::from(options.counter_tolerance_ms) * 1_000_000,
            options.max_plausible_gpu_w,
        ),
    };
    let disagreement_pct = match counter {
        CounterOutcome::Valid(e) if e.joules > 0.0 => series
            .clip(us_to_ns(e.from_us), us_to_ns(e.to_us))
            .map(|p| 100.0 * (p.integral() - e.joules) / e.joules),
        _ => None,
    };

    let in_window = |t: u64| (start..=end).contains(&us_to_ns(t));
    let mut rejected_status = 0;
    let mut max_gpu: Option<f64> = None;
    let mut max_mem: Option<f64> = None;
    for s in gpu.status.iter().filter(|s| in_window(s.timestamp_us)) {
        for (reading, max) in [
            (s.gpu_temp_c, &mut max_gpu),
            (s.memory_temp_c, &mut max_mem),
        ] {
            match reading {
                Some(c) if c.is_finite() => *max = Some(max.map_or(c, |m| m.max(c))),
                Some(_) => rejected_status += 1,
                None => {}
            }
        }
    }

    let summary = GpuSummary {
        index: gpu.index,
        uuid: gpu.uuid.clone(),
        energy_counter_j: counter.joules(),
        energy_integral_j,
        power,
        coverage: coverage(&series, start, end, period),
        max_gpu_temp_c: max_gpu,
        max_memory_temp_c: max_mem,
    };
    let diagnostics = GpuDiagnostics {
        index: gpu.index,
        power_hygiene,
        extrapolated_s: series.extrapolated_s(start, end),
        counter,
        disagreement_pct,
        rejected_status,
    };
    (summary, diagnostics)
}
