//! Pure arithmetic on power samples: merging overlapping reads of the driver's sample buffer,
//! trapezoidal energy over a window, percentiles and sample-interval statistics. No I/O, so the
//! sampler's numbers can be checked exactly (unit and property tests below).

use crate::gpu::PowerSample;

/// Keep only samples strictly newer than `last_seen_us`, oldest first, one per timestamp (the
/// driver's buffer is a ring: two reads overlap, and a read may repeat a sample). Returns the new
/// last-seen timestamp (unchanged when nothing new came).
pub fn fresh_samples(last_seen_us: u64, batch: &mut Vec<PowerSample>) -> u64 {
    batch.retain(|s| s.timestamp_us > last_seen_us && s.watts.is_finite());
    batch.sort_by_key(|s| s.timestamp_us);
    batch.dedup_by_key(|s| s.timestamp_us);
    batch.last().map(|s| s.timestamp_us).unwrap_or(last_seen_us)
}

/// The typical spacing of a sorted batch (its median interval, µs), `None` with fewer than two.
pub fn typical_interval_us(batch: &[PowerSample]) -> Option<u64> {
    let mut gaps: Vec<u64> = batch
        .windows(2)
        .map(|w| w[1].timestamp_us.saturating_sub(w[0].timestamp_us))
        .collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    Some(gaps[gaps.len() / 2])
}

/// Whether the driver's ring buffer lost samples between two reads: the first new sample is more
/// than five typical intervals (and over 100 ms) after the last one seen, which happens when the
/// buffer is drained less often than it wraps. Returns the gap, µs.
pub fn buffer_gap_us(last_seen_us: u64, first_new_us: u64, typical_us: u64) -> Option<u64> {
    let gap = first_new_us.saturating_sub(last_seen_us);
    (gap > typical_us.saturating_mul(5) && gap > 100_000).then_some(gap)
}

/// Energy of a window computed from samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowEnergy {
    /// Joules over the whole window.
    pub joules: f64,
    /// Part of the window between the first and the last sample, µs (the rest is extrapolated by
    /// holding the edge sample).
    pub covered_us: u64,
}

/// Power at `t` by linear interpolation between samples (held constant before the first and after
/// the last). `samples` must be sorted by time and non-empty.
fn power_at(samples: &[PowerSample], t: u64) -> f64 {
    let i = samples.partition_point(|s| s.timestamp_us <= t);
    if i == 0 {
        return samples[0].watts;
    }
    if i == samples.len() {
        return samples[i - 1].watts;
    }
    let (a, b) = (samples[i - 1], samples[i]);
    let span = (b.timestamp_us - a.timestamp_us) as f64;
    a.watts + (b.watts - a.watts) * ((t - a.timestamp_us) as f64 / span)
}

/// Trapezoidal energy of `samples` (sorted, unique timestamps) over `[t0_us, t1_us]`: linear
/// interpolation inside, the edge sample held outside. `None` without samples or for an empty window.
pub fn trapezoid_energy(samples: &[PowerSample], t0_us: u64, t1_us: u64) -> Option<WindowEnergy> {
    if samples.is_empty() || t1_us <= t0_us {
        return None;
    }
    let mut joules = 0.0;
    let mut prev_t = t0_us;
    let mut prev_w = power_at(samples, t0_us);
    let inside = samples
        .iter()
        .filter(|s| s.timestamp_us > t0_us && s.timestamp_us < t1_us);
    for s in inside {
        joules += 0.5 * (prev_w + s.watts) * (s.timestamp_us - prev_t) as f64 / 1e6;
        prev_t = s.timestamp_us;
        prev_w = s.watts;
    }
    let end_w = power_at(samples, t1_us);
    joules += 0.5 * (prev_w + end_w) * (t1_us - prev_t) as f64 / 1e6;
    let first = samples[0].timestamp_us.max(t0_us);
    let last = samples[samples.len() - 1].timestamp_us.min(t1_us);
    Some(WindowEnergy {
        joules,
        covered_us: last.saturating_sub(first),
    })
}

/// The `p`-th percentile (0–100) of `sorted` values by linear interpolation between closest ranks
/// (numpy's default). `None` for no values or a `p` outside 0–100.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Spacing of consecutive samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalStats {
    /// Number of intervals (samples − 1).
    pub count: usize,
    /// Mean interval, ms.
    pub mean_ms: f64,
    /// Largest interval, ms.
    pub max_ms: f64,
}

/// Interval statistics of timestamps (sorted, µs); `None` with fewer than two.
pub fn intervals(timestamps_us: &[u64]) -> Option<IntervalStats> {
    if timestamps_us.len() < 2 {
        return None;
    }
    let gaps = timestamps_us.windows(2).map(|w| w[1].saturating_sub(w[0]));
    let max = gaps.clone().max().unwrap_or(0);
    let span = timestamps_us[timestamps_us.len() - 1].saturating_sub(timestamps_us[0]);
    let count = timestamps_us.len() - 1;
    Some(IntervalStats {
        count,
        mean_ms: span as f64 / count as f64 / 1000.0,
        max_ms: max as f64 / 1000.0,
    })
}

/// Summary of power values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerStats {
    /// Samples.
    pub count: usize,
    /// Arithmetic mean, W.
    pub mean_w: f64,
    /// Maximum, W.
    pub max_w: f64,
    /// 95th percentile, W.
    pub p95_w: f64,
    /// 99th percentile, W.
    pub p99_w: f64,
}

/// Mean, max and tail percentiles of power values; `None` without values.
pub fn power_stats(watts: &[f64]) -> Option<PowerStats> {
    let mut sorted: Vec<f64> = watts.iter().copied().filter(|w| w.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mean_w = sorted.iter().sum::<f64>() / sorted.len() as f64;
    Some(PowerStats {
        count: sorted.len(),
        mean_w,
        max_w: sorted[sorted.len() - 1],
        p95_w: percentile(&sorted, 95.0)?,
        p99_w: percentile(&sorted, 99.0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(t: u64, w: f64) -> PowerSample {
        PowerSample {
            timestamp_us: t,
            watts: w,
        }
    }

    #[test]
    fn fresh_drops_old_duplicates_and_sorts() {
        let mut b = vec![s(30, 3.0), s(10, 1.0), s(20, 2.0), s(30, 3.0), s(5, 0.5)];
        assert_eq!(fresh_samples(10, &mut b), 30);
        assert_eq!(b, vec![s(20, 2.0), s(30, 3.0)]);
        let mut empty = vec![s(1, 1.0)];
        assert_eq!(fresh_samples(10, &mut empty), 10);
        assert!(empty.is_empty());
    }

    #[test]
    fn gaps_and_typical_intervals() {
        let b = [s(0, 1.0), s(20_000, 1.0), s(40_000, 1.0), s(100_000, 1.0)];
        assert_eq!(typical_interval_us(&b), Some(20_000));
        assert_eq!(typical_interval_us(&b[..1]), None);
        assert_eq!(buffer_gap_us(1_000_000, 1_020_000, 20_000), None);
        assert_eq!(buffer_gap_us(1_000_000, 1_090_000, 20_000), None);
        assert_eq!(buffer_gap_us(1_000_000, 1_500_000, 20_000), Some(500_000));
        assert_eq!(buffer_gap_us(1_000_000, 900_000, 20_000), None);
    }

    #[test]
    fn trapezoid_of_a_ramp_is_exact() {
        // 0 W at 0 s rising to 100 W at 1 s: 50 J; half window [0.5 s, 1 s]: 37.5 J.
        let ramp = [s(0, 0.0), s(500_000, 50.0), s(1_000_000, 100.0)];
        let e = trapezoid_energy(&ramp, 0, 1_000_000).unwrap();
        assert!((e.joules - 50.0).abs() < 1e-9);
        assert_eq!(e.covered_us, 1_000_000);
        let e = trapezoid_energy(&ramp, 500_000, 1_000_000).unwrap();
        assert!((e.joules - 37.5).abs() < 1e-9);
        // Window starting between samples interpolates: [0.25 s, 0.75 s] = 25 J.
        let e = trapezoid_energy(&ramp, 250_000, 750_000).unwrap();
        assert!((e.joules - 25.0).abs() < 1e-9);
    }

    #[test]
    fn edges_are_held_and_coverage_reported() {
        let two = [s(1_000_000, 100.0), s(2_000_000, 100.0)];
        let e = trapezoid_energy(&two, 0, 3_000_000).unwrap();
        assert!((e.joules - 300.0).abs() < 1e-9);
        assert_eq!(e.covered_us, 1_000_000);
        assert_eq!(trapezoid_energy(&[], 0, 10), None);
        assert_eq!(trapezoid_energy(&two, 10, 10), None);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 100.0), Some(4.0));
        assert_eq!(percentile(&v, 50.0), Some(2.5));
        assert!((percentile(&v, 95.0).unwrap() - 3.85).abs() < 1e-12);
        assert_eq!(percentile(&v, 101.0), None);
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn interval_stats() {
        let st = intervals(&[0, 20_000, 40_000, 100_000]).unwrap();
        assert_eq!(st.count, 3);
        assert!((st.mean_ms - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(st.max_ms, 60.0);
        assert_eq!(intervals(&[5]), None);
    }

    #[test]
    fn power_stats_ignore_non_finite() {
        let st = power_stats(&[100.0, f64::NAN, 300.0]).unwrap();
        assert_eq!((st.count, st.mean_w, st.max_w), (2, 200.0, 300.0));
        assert_eq!(power_stats(&[f64::NAN]), None);
    }

    fn samples_strategy() -> impl Strategy<Value = Vec<PowerSample>> {
        proptest::collection::btree_map(0u64..10_000_000, 0.0f64..1000.0, 1..60)
            .prop_map(|m| m.into_iter().map(|(t, w)| s(t, w)).collect())
    }

    proptest! {
        /// Successive reads of a ring buffer that overlap the previous read (and come back in any
        /// order) merge to every sample exactly once, in order.
        #[test]
        fn overlapping_reads_merge_to_the_union(
            all in samples_strategy(),
            mut cuts in proptest::collection::vec(0usize..60, 0..8),
            overlap in 0usize..5,
        ) {
            cuts.push(all.len());
            cuts.sort_unstable();
            let mut last = 0u64;
            let mut prev_hi = 0usize;
            let mut merged: Vec<PowerSample> = Vec::new();
            for hi in cuts {
                let hi = hi.min(all.len());
                let mut batch: Vec<PowerSample> = all[prev_hi.saturating_sub(overlap)..hi].to_vec();
                batch.reverse();
                let before = last;
                last = fresh_samples(last, &mut batch);
                prop_assert!(batch.iter().all(|x| x.timestamp_us > before));
                merged.extend(batch);
                prev_hi = prev_hi.max(hi);
            }
            // A sample stamped 0 is never "newer than 0": the only one that cannot be reported.
            let expected: Vec<PowerSample> = all.iter().copied().filter(|x| x.timestamp_us > 0).collect();
            prop_assert_eq!(merged, expected);
        }

        /// Constant power P over any window gives P × duration, whatever the sample spacing.
        #[test]
        fn constant_power_integrates_exactly(ts in proptest::collection::btree_set(0u64..5_000_000, 1..40), p in 0.0f64..1000.0, t0 in 0u64..5_000_000, len in 1u64..5_000_000) {
            let samples: Vec<PowerSample> = ts.into_iter().map(|t| s(t, p)).collect();
            let e = trapezoid_energy(&samples, t0, t0 + len).unwrap();
            prop_assert!((e.joules - p * len as f64 / 1e6).abs() < 1e-6 * (1.0 + p));
            prop_assert!(e.covered_us <= len);
        }

        /// Energy is additive over adjacent windows and never negative.
        #[test]
        fn energy_is_additive(samples in samples_strategy(), a in 0u64..10_000_000, b in 0u64..10_000_000, c in 0u64..10_000_000) {
            let mut v = [a, b, c];
            v.sort_unstable();
            let [a, b, c] = v;
            prop_assume!(a < b && b < c);
            let ab = trapezoid_energy(&samples, a, b).unwrap().joules;
            let bc = trapezoid_energy(&samples, b, c).unwrap().joules;
            let ac = trapezoid_energy(&samples, a, c).unwrap().joules;
            prop_assert!(ab >= 0.0 && bc >= 0.0);
            prop_assert!((ab + bc - ac).abs() < 1e-6 * (1.0 + ac));
        }

        /// Percentiles lie within the data and grow with p.
        #[test]
        fn percentiles_are_monotone(mut v in proptest::collection::vec(-1e6f64..1e6, 1..50), p in 0.0f64..100.0, q in 0.0f64..100.0) {
            v.sort_by(f64::total_cmp);
            let (lo, hi) = (p.min(q), p.max(q));
            let a = percentile(&v, lo).unwrap();
            let b = percentile(&v, hi).unwrap();
            prop_assert!(a <= b + 1e-9);
            prop_assert!(a >= v[0] - 1e-9 && b <= v[v.len() - 1] + 1e-9);
        }
    }
}
