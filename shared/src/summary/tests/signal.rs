//! Energy, power statistics, coverage and hygiene of GPU power samples.

use super::*;
use crate::summary::signal::{Ns, clean};

/// The one GPU's summary and diagnostics for samples over a window `[from, to]`.
fn one(from: f64, to: f64, samples: &[(f64, f64)]) -> (crate::wire::GpuSummary, GpuDiagnostics) {
    let r = report(&inputs(from, to, vec![gpu(0, samples)]));
    (r.summary.gpus[0].clone(), r.gpus[0].clone())
}

#[test]
fn constant_power_gives_exact_energy_and_flat_statistics() {
    // 250 W every 20 ms over 0–12 s; window 1–11 s: 2,500 J.
    let (g, d) = one(1.0, 11.0, &sampled(0.0, 12.0, 0.02, |_| 250.0));
    close(g.energy_integral_j, 2_500.0, 1e-12);
    assert_eq!(g.power.mean_w, 250.0);
    assert_eq!(g.power.peak_w, 250.0);
    assert_eq!(g.power.p50_w, 250.0);
    assert_eq!(g.power.p95_w, 250.0);
    assert_eq!(g.power.p99_w, 250.0);
    assert_eq!(g.coverage.samples, 500);
    assert_eq!(g.coverage.expected_samples, 500);
    assert_eq!(g.coverage.covered_fraction, 1.0);
    assert_eq!(g.coverage.max_gap_ms, 20);
    assert_eq!(d.extrapolated_s, 0.0);
    assert_eq!(d.power_hygiene.kept, 601);
}

#[test]
fn step_function_integrates_its_one_second_ramp() {
    // 100 W at 0–5 s, 200 W at 6–10 s, one sample per second: 500 + 150 + 800 = 1,450 J.
    let samples = sampled(0.0, 10.0, 1.0, |t| if t <= 5.0 { 100.0 } else { 200.0 });
    let (g, _) = one(0.0, 10.0, &samples);
    close(g.energy_integral_j, 1_450.0, 1e-12);
    close(g.power.mean_w, 145.0, 1e-12);
    assert_eq!(g.power.peak_w, 200.0);
    // Half the time exactly at 100 W, 10 % spread over 100–200 W, 40 % at 200 W.
    assert_eq!(g.power.p50_w, 100.0);
    assert_eq!(g.power.p95_w, 200.0);
    let line = crate::summary::signal::clean(samples.iter().map(|&(t, w)| (Ns::from(ns(t)), w)))
        .0
        .clip(Ns::from(ns(0.0)), Ns::from(ns(10.0)))
        .unwrap_or_else(|| panic!("no polyline"));
    close(line.quantile(0.55), 150.0, 1e-9);
    close(line.quantile(0.52), 120.0, 1e-9);
}

#[test]
fn ramp_has_uniform_time_weighted_percentiles() {
    // 0 → 100 W linearly over 100 s, sampled every second: uniform distribution on [0, 100].
    let (g, _) = one(0.0, 100.0, &sampled(0.0, 100.0, 1.0, |t| t));
    close(g.energy_integral_j, 5_000.0, 1e-12);
    close(g.power.mean_w, 50.0, 1e-12);
    assert_eq!(g.power.peak_w, 100.0);
    close(g.power.p50_w, 50.0, 1e-9);
    close(g.power.p95_w, 95.0, 1e-9);
    close(g.power.p99_w, 99.0, 1e-9);
}

#[test]
fn window_is_clipped_exactly_with_interpolated_edges() {
    // A ramp 0 → 100 W over 0–10 s seen through 2.5–5 s: from 25 W to 50 W, 93.75 J.
    let (g, d) = one(2.5, 5.0, &[(0.0, 0.0), (10.0, 100.0)]);
    close(g.energy_integral_j, 93.75, 1e-12);
    close(g.power.mean_w, 37.5, 1e-12);
    close(g.power.peak_w, 50.0, 1e-12);
    close(g.power.p50_w, 37.5, 1e-9);
    // No sample inside the window: nothing counted, nothing within 20 ms of the window.
    assert_eq!(g.coverage.samples, 0);
    assert_eq!(g.coverage.covered_fraction, 0.0);
    assert_eq!(g.coverage.max_gap_ms, 2_500);
    assert_eq!(g.coverage.expected_samples, 125);
    assert_eq!(d.extrapolated_s, 0.0);
}

#[test]
fn edges_hold_the_nearest_sample_and_count_as_extrapolated() {
    // Samples only at 2 s (100 W) and 4 s (200 W) of a 0–6 s window: 200 + 300 + 400 = 900 J.
    let (g, d) = one(0.0, 6.0, &[(2.0, 100.0), (4.0, 200.0)]);
    close(g.energy_integral_j, 900.0, 1e-12);
    close(d.extrapolated_s, 4.0, 1e-12);
    assert_eq!(g.coverage.max_gap_ms, 2_000);
    // Within 20 ms of a sample: 40 ms around each of the two samples out of 6 s.
    close(g.coverage.covered_fraction, 0.08 / 6.0, 1e-9);
}

#[test]
fn duplicates_out_of_order_and_bad_values_do_not_change_the_result() {
    let clean_samples = sampled(0.0, 10.0, 0.5, |t| 100.0 + 10.0 * t);
    let (expected, _) = one(1.0, 9.0, &clean_samples);

    // Two overlapping buffer reads, reversed, with junk mixed in.
    let mut dirty: Vec<(f64, f64)> = clean_samples.iter().rev().copied().collect();
    dirty.extend(clean_samples.iter().skip(5).take(6).copied());
    dirty.push((3.0, 999.0)); // same timestamp as a kept sample, later: dropped as a conflict
    dirty.extend([(2.25, f64::NAN), (2.75, f64::INFINITY), (3.25, -5.0)]);
    let (got, d) = one(1.0, 9.0, &dirty);
    assert_eq!(got, expected);
    let h = d.power_hygiene;
    assert_eq!(h.received, 21 + 6 + 1 + 3);
    assert_eq!(h.kept, 21);
    assert_eq!(h.non_finite, 2);
    assert_eq!(h.negative, 1);
    assert_eq!(h.duplicates, 7);
    assert_eq!(h.conflicting_duplicates, 1);
}

#[test]
fn the_first_of_two_samples_with_one_timestamp_is_kept() {
    let (series, h) = clean([(5, 1.0), (5, 2.0), (1, 3.0)]);
    assert_eq!(series.points(), &[(1, 3.0), (5, 1.0)]);
    assert_eq!(h.conflicting_duplicates, 1);
}

#[test]
fn percentiles_weight_time_not_sample_count() {
    // 100 W for 9 s sampled once a second, then a burst of 1,000 samples at 300 W in the last
    // second. Most samples read 300 W, but the power was 100 W 90 % of the time.
    let mut samples = sampled(0.0, 9.0, 1.0, |_| 100.0);
    samples.extend(sampled(9.000_001, 10.0, 0.001, |_| 300.0));
    let (g, _) = one(0.0, 10.0, &samples);
    assert_eq!(g.power.p50_w, 100.0);
    assert_eq!(g.power.p95_w, 300.0);
    assert_eq!(g.power.p99_w, 300.0);
    close(g.power.mean_w, 120.0, 1e-6);
}

#[test]
fn coverage_of_a_gap_counts_one_period_next_to_each_sample() {
    // Every 20 ms over 0–10 s, none in (4 s, 5 s): the gap's inner 960 ms are uncovered.
    let samples: Vec<(f64, f64)> = sampled(0.0, 10.0, 0.02, |_| 50.0)
        .into_iter()
        .filter(|&(t, _)| !(t > 4.0 + 1e-9 && t < 5.0 - 1e-9))
        .collect();
    let (g, _) = one(0.0, 10.0, &samples);
    assert_eq!(g.coverage.expected_samples, 500);
    assert_eq!(g.coverage.samples, 500 - 49);
    assert_eq!(g.coverage.max_gap_ms, 1_000);
    close(g.coverage.covered_fraction, 1.0 - 0.96 / 10.0, 1e-9);
    close(g.energy_integral_j, 500.0, 1e-12);
}

#[test]
fn a_sampler_starting_half_a_period_late_still_covers_the_window() {
    let (g, d) = one(0.0, 1.0, &sampled(0.01, 0.99, 0.02, |_| 10.0));
    assert_eq!(g.coverage.covered_fraction, 1.0);
    assert_eq!(g.coverage.samples, 50);
    assert_eq!(g.coverage.max_gap_ms, 20);
    close(d.extrapolated_s, 0.02, 1e-9);
}

#[test]
fn a_gpu_without_samples_reports_zeros_and_no_coverage() {
    let (g, d) = one(0.0, 300.0, &[]);
    assert_eq!(g.energy_integral_j, 0.0);
    assert_eq!(g.power, crate::wire::PowerStats::default());
    assert_eq!(g.coverage.samples, 0);
    assert_eq!(g.coverage.expected_samples, 15_000);
    assert_eq!(g.coverage.covered_fraction, 0.0);
    assert_eq!(g.coverage.max_gap_ms, 300_000);
    assert_eq!(d.extrapolated_s, 300.0);
}

#[test]
fn temperatures_are_the_highest_finite_reading_inside_the_window() {
    let status = |s: f64, gpu_c: f64, mem_c: Option<f64>| StatusSample {
        timestamp_us: us(s),
        gpu_temp_c: Some(gpu_c),
        memory_temp_c: mem_c,
    };
    let mut g = gpu(0, &[(0.0, 100.0), (20.0, 100.0)]);
    g.status = vec![
        status(0.5, 90.0, Some(95.0)), // before the window
        status(2.0, 61.0, Some(70.0)),
        status(5.0, 64.5, None),
        status(6.0, f64::NAN, Some(72.0)),
        status(10.0, 66.0, Some(80.0)), // at the end: inside
        status(10.5, 99.0, Some(99.0)), // after
    ];
    let r = report(&inputs(1.0, 10.0, vec![g]));
    assert_eq!(r.summary.gpus[0].max_gpu_temp_c, Some(66.0));
    assert_eq!(r.summary.gpus[0].max_memory_temp_c, Some(80.0));
    assert_eq!(r.gpus[0].rejected_status, 1);
}

#[test]
fn a_gpu_without_memory_temperature_reports_none() {
    let mut g = gpu(0, &[(0.0, 100.0)]);
    g.status = vec![StatusSample {
        timestamp_us: us(2.0),
        gpu_temp_c: Some(50.0),
        memory_temp_c: None,
    }];
    let r = report(&inputs(1.0, 10.0, vec![g]));
    assert_eq!(r.summary.gpus[0].max_gpu_temp_c, Some(50.0));
    assert_eq!(r.summary.gpus[0].max_memory_temp_c, None);
}
