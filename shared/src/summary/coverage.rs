//! How completely the power samples cover the measured window.
//!
//! * `samples`: samples with `start <= t < end`.
//! * `expected_samples`: the window's duration over the nominal period, rounded to the nearest whole
//!   sample (a sampler that ticks every period yields exactly this many in a half-open window).
//! * `covered_fraction`: the share of the window lying within one nominal period of some sample (the
//!   wire's definition). Between two samples no more than two periods apart everything is covered;
//!   in a longer gap only the period next to each of its samples is. The time the energy integral
//!   extrapolates (before the first and after the last sample) is covered only up to one period from
//!   that sample, so an integral that leans on holding a value shows up here.
//! * `max_gap_ms`: the longest stretch of the window without a sample, window boundaries included
//!   (the whole window when no sample falls in it), rounded to the nearest millisecond.

use crate::wire::SampleCoverage;

use super::signal::{Ns, Series};

/// Nanoseconds per millisecond.
const NS_PER_MS: Ns = 1_000_000;

/// Coverage of `[start, end]` (`end > start`) by `series` at the nominal `period` (> 0), nanoseconds.
pub(crate) fn coverage(series: &Series, start: Ns, end: Ns, period: Ns) -> SampleCoverage {
    let window = (end - start).max(0);
    let period = period.max(1);
    let points = series.points();

    let mut covered: Ns = 0;
    let mut run: Option<(Ns, Ns)> = None;
    let lo = points.partition_point(|p| p.0 < start.saturating_sub(period));
    for &(t, _) in points.get(lo..).unwrap_or_default() {
        if t > end.saturating_add(period) {
            break;
        }
        let (a, b) = ((t - period).max(start), (t + period).min(end));
        if b <= a {
            continue;
        }
        run = match run {
            Some((ra, rb)) if a <= rb => Some((ra, rb.max(b))),
            Some((ra, rb)) => {
                covered += rb - ra;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((ra, rb)) = run {
        covered += rb - ra;
    }

    let mut max_gap: Ns = 0;
    let mut prev = start;
    let first = points.partition_point(|p| p.0 < start);
    for &(t, _) in points.get(first..).unwrap_or_default() {
        if t > end {
            break;
        }
        max_gap = max_gap.max(t - prev);
        prev = t;
    }
    max_gap = max_gap.max(end - prev);

    SampleCoverage {
        samples: series.count_in(start, end) as u64,
        expected_samples: to_u64((window + period / 2) / period),
        covered_fraction: if window > 0 {
            (covered as f64 / window as f64).clamp(0.0, 1.0)
        } else {
            0.0
        },
        max_gap_ms: to_u64((max_gap + NS_PER_MS / 2) / NS_PER_MS),
    }
}

/// Saturating conversion of a non-negative count.
fn to_u64(n: Ns) -> u64 {
    u64::try_from(n.max(0)).unwrap_or(u64::MAX)
}
