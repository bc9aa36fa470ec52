//! Unit tests of the summary maths, with values computed by hand. Times are offsets in seconds from a
//! realistic unix epoch, so that every clock conversion (µs, ns, ms) is exercised.

mod counter;
mod cpu_merit;
mod platform;
mod signal;
mod summarize;

use crate::wire::{Phase, PhaseTiming};

use super::*;

/// Unix milliseconds of offset 0.
pub(super) const T0_MS: u64 = 1_700_000_000_000;

/// Unix microseconds of `s` seconds after offset 0.
pub(super) fn us(s: f64) -> u64 {
    T0_MS * 1_000 + (s * 1e6).round() as u64
}

/// Unix nanoseconds of `s` seconds after offset 0.
pub(super) fn ns(s: f64) -> i64 {
    (T0_MS * 1_000_000) as i64 + (s * 1e9).round() as i64
}

/// Unix milliseconds of `s` seconds after offset 0.
pub(super) fn ms(s: f64) -> u64 {
    T0_MS + (s * 1e3).round() as u64
}

/// Phases: warmup [0, from), measure [from, to), cooldown [to, to + 10), seconds.
pub(super) fn phases(from: f64, to: f64) -> Vec<PhaseTiming> {
    vec![
        PhaseTiming {
            phase: Phase::Warmup,
            start_ms: ms(0.0),
            end_ms: ms(from),
        },
        PhaseTiming {
            phase: Phase::Measure,
            start_ms: ms(from),
            end_ms: ms(to),
        },
        PhaseTiming {
            phase: Phase::Cooldown,
            start_ms: ms(to),
            end_ms: ms(to + 10.0),
        },
    ]
}

/// Power samples from (seconds, watts).
pub(super) fn power(samples: &[(f64, f64)]) -> Vec<PowerSample> {
    samples
        .iter()
        .map(|&(s, w)| PowerSample {
            timestamp_us: us(s),
            watts: w,
        })
        .collect()
}

/// A GPU with power samples only.
pub(super) fn gpu(index: u32, samples: &[(f64, f64)]) -> GpuInputs {
    GpuInputs {
        index,
        uuid: format!("GPU-{index}"),
        power: power(samples),
        ..GpuInputs::default()
    }
}

/// Samples of `f` every `step` seconds over `[from, to]` (both included).
pub(super) fn sampled(from: f64, to: f64, step: f64, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    let n = ((to - from) / step).round() as usize;
    (0..=n)
        .map(|i| {
            let t = from + i as f64 * step;
            (t, f(t))
        })
        .collect()
}

/// Inputs with a measured window `[from, to]` seconds, 20 ms sample period and the given GPUs.
pub(super) fn inputs(from: f64, to: f64, gpus: Vec<GpuInputs>) -> SummaryInputs {
    SummaryInputs {
        phases: phases(from, to),
        sample_period_ms: 20,
        gpus,
        platform: None,
        cpu: None,
        figures_of_merit: Vec::new(),
        options: SummaryOptions::default(),
    }
}

/// Summarises `inputs` and returns the report; fails the test on an error.
pub(super) fn report(inputs: &SummaryInputs) -> SummaryReport {
    summarize_report(inputs).unwrap_or_else(|e| panic!("summary refused: {e}"))
}

/// Asserts `actual` is within `rel` relative (or 1e-12 absolute) of `expected`.
#[track_caller]
pub(super) fn close(actual: f64, expected: f64, rel: f64) {
    let tol = (expected.abs() * rel).max(1e-12);
    assert!(
        (actual - expected).abs() <= tol,
        "got {actual}, expected {expected} (±{tol})"
    );
}
