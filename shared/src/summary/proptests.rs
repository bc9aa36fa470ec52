//! Property tests of the summary maths.
//!
//! * The integral of a constant power is P·T, whatever the sample times and window.
//! * The integral is additive over adjacent windows.
//! * The integral of samples of a piecewise-linear signal (its breakpoints among them) equals the
//!   signal's exact integral, computed independently from the breakpoints.
//! * Power statistics are ordered: mean ≤ peak and p50 ≤ p95 ≤ p99 ≤ peak.
//! * Coverage lies in [0, 1], counts no more samples than were kept, no gap beyond the window.
//! * Hygiene: shuffling, repeating and polluting the samples changes nothing.
//! * Counter energy is never negative.
//! * `summarize` never panics, whatever the inputs.

use proptest::prelude::*;

use super::counter::counter_energy;
use super::signal::{Ns, Polyline, clean};
use super::*;
use crate::wire::{FigureOfMerit, Phase, PhaseTiming};

/// Unix µs of the samples' time origin.
const BASE_US: u64 = 1_700_000_000_000_000;

/// Samples at distinct offsets (µs from the origin, within 20 s) with watts in 0–2 kW.
fn samples() -> impl Strategy<Value = Vec<(u64, f64)>> {
    prop::collection::btree_map(0u64..20_000_000, 0.0f64..2_000.0, 1..150)
        .prop_map(|m| m.into_iter().collect())
}

/// A window `[start, end]` (µs offsets), possibly reaching outside the samples.
fn window() -> impl Strategy<Value = (u64, u64)> {
    (0u64..22_000_000, 1u64..22_000_000).prop_map(|(s, len)| (s, s + len))
}

fn series_of(samples: &[(u64, f64)]) -> super::signal::Series {
    clean(samples.iter().map(|&(t, w)| (ns_of(t), w))).0
}

fn ns_of(offset_us: u64) -> Ns {
    Ns::from(BASE_US + offset_us) * 1_000
}

fn clipped(samples: &[(u64, f64)], (s, e): (u64, u64)) -> Polyline {
    series_of(samples)
        .clip(ns_of(s), ns_of(e))
        .unwrap_or_else(|| panic!("no polyline for {s}..{e}"))
}

/// The exact integral over `[s, e]` (seconds) of the signal through `breaks` (sorted, distinct
/// times, seconds), held constant outside them.
fn exact_integral(breaks: &[(f64, f64)], s: f64, e: f64) -> f64 {
    let at = |t: f64| -> f64 {
        let (first, last) = (breaks[0], breaks[breaks.len() - 1]);
        if t <= first.0 {
            return first.1;
        }
        if t >= last.0 {
            return last.1;
        }
        let k = breaks
            .iter()
            .position(|b| b.0 > t)
            .unwrap_or(breaks.len() - 1);
        let (a, b) = (breaks[k - 1], breaks[k]);
        a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0)
    };
    let mut knots: Vec<f64> = vec![s, e];
    knots.extend(breaks.iter().map(|b| b.0).filter(|&t| t > s && t < e));
    knots.sort_by(f64::total_cmp);
    knots
        .windows(2)
        .map(|w| (at(w[0]) + at(w[1])) / 2.0 * (w[1] - w[0]))
        .sum()
}

fn phase(phase: Phase, start_ms: u64, end_ms: u64) -> PhaseTiming {
    PhaseTiming {
        phase,
        start_ms,
        end_ms,
    }
}

/// Any f64, finite or not, with ordinary values over-represented.
fn anything() -> impl Strategy<Value = f64> {
    prop_oneof![
        -10.0f64..5_000.0,
        any::<f64>(),
        Just(0.0),
        Just(f64::NAN),
        Just(f64::MAX)
    ]
}

/// Unix µs near the origin (most of the time) or anywhere.
fn time_us() -> impl Strategy<Value = u64> {
    prop_oneof![4 => (0u64..30_000_000).prop_map(|o| BASE_US + o), 1 => any::<u64>()]
}

fn time_ns() -> impl Strategy<Value = i64> {
    prop_oneof![4 => time_us().prop_map(|t| (t as i64).saturating_mul(1_000)), 1 => any::<i64>()]
}

fn gpu_inputs() -> impl Strategy<Value = GpuInputs> {
    (
        0u32..8,
        prop::collection::vec((time_us(), anything()), 0..60),
        prop::option::of(prop::collection::vec((time_us(), any::<u64>()), 0..6)),
        prop::collection::vec((time_us(), anything(), prop::option::of(anything())), 0..6),
    )
        .prop_map(|(index, power, counter, status)| GpuInputs {
            index,
            uuid: format!("GPU-{index}"),
            power: power
                .into_iter()
                .map(|(timestamp_us, watts)| PowerSample {
                    timestamp_us,
                    watts,
                })
                .collect(),
            energy_counter: counter.map(|c| {
                c.into_iter()
                    .map(|(timestamp_us, millijoules)| CounterReading {
                        timestamp_us,
                        millijoules,
                    })
                    .collect()
            }),
            status: status
                .into_iter()
                .map(|(timestamp_us, c, m)| StatusSample {
                    timestamp_us,
                    gpu_temp_c: Some(c),
                    memory_temp_c: m,
                })
                .collect(),
        })
}

fn platform_inputs() -> impl Strategy<Value = PlatformInputs> {
    let kind = prop_oneof![
        Just(PlatformSensorKind::Temperature),
        Just(PlatformSensorKind::Power),
        Just(PlatformSensorKind::Other)
    ];
    let key = prop_oneof![
        Just("PS1 Input Power".to_string()),
        Just("PS2 Input Power".to_string()),
        Just("Sys Power".to_string()),
        "[a-zA-Z0-9 _@#.]{0,12}"
    ];
    (
        prop::collection::vec((key.clone(), kind, anything(), time_ns()), 0..30),
        prop::collection::vec((time_ns(), anything()), 0..20),
        prop::collection::vec(key, 0..3),
    )
        .prop_map(|(readings, dcmi, keys)| PlatformInputs {
            readings: readings
                .into_iter()
                .map(|(key, kind, value, unix_ns)| PlatformReading {
                    key,
                    kind,
                    value,
                    unix_ns,
                })
                .collect(),
            dcmi: dcmi
                .into_iter()
                .map(|(unix_ns, watts)| DcmiSample { unix_ns, watts })
                .collect(),
            power_sensor_keys: keys,
        })
}

fn cpu_inputs() -> impl Strategy<Value = CpuInputs> {
    let counters = || {
        (time_ns(), anything(), any::<u64>()).prop_map(|(unix_ns, cpu_seconds, cs)| CpuCounters {
            unix_ns,
            cpu_seconds,
            context_switches: cs,
        })
    };
    (
        prop_oneof![1 => Just(0u32), 4 => 1u32..256],
        prop::collection::vec((time_ns(), time_ns(), anything(), anything()), 0..8),
        prop::collection::vec(("[a-z]{1,4}", counters(), counters()), 0..3),
    )
        .prop_map(|(logical_cpus, host, workloads)| CpuInputs {
            logical_cpus,
            host: host
                .into_iter()
                .map(|(start_ns, end_ns, u, c)| HostCpuSample {
                    start_ns,
                    end_ns,
                    utilisation_pct: u,
                    context_switches_per_s: c,
                })
                .collect(),
            workloads: workloads
                .into_iter()
                .map(|(workload, start, end)| WorkloadCpuWindow {
                    workload,
                    start,
                    end,
                })
                .collect(),
        })
}

fn merit_inputs() -> impl Strategy<Value = Vec<FigureOfMerit>> {
    let unit = prop_oneof![
        Just("GFLOP/s".to_string()),
        Just("s/epoch".to_string()),
        Just("TFLOPS".to_string()),
        ".{0,8}"
    ];
    prop::collection::vec(("[a-c]", 0u32..3, anything(), unit, any::<bool>()), 0..6).prop_map(|v| {
        v.into_iter()
            .map(
                |(workload, instance, value, unit, higher_is_better)| FigureOfMerit {
                    workload,
                    instance,
                    value,
                    unit,
                    higher_is_better,
                },
            )
            .collect()
    })
}

fn summary_inputs() -> impl Strategy<Value = SummaryInputs> {
    let ms = prop_oneof![4 => (0u64..30_000).prop_map(|o| BASE_US / 1_000 + o), 1 => any::<u64>()];
    let kind = prop_oneof![
        3 => Just(Phase::IdleBaseline),
        3 => Just(Phase::Warmup),
        1 => Just(Phase::Measure),
        3 => Just(Phase::Cooldown),
        3 => Just(Phase::Unknown)
    ];
    (
        (ms.clone(), 0u64..30_000),
        prop::collection::vec((kind, ms.clone(), ms), 0..3),
        0u64..100,
        prop::collection::vec(gpu_inputs(), 0..3),
        prop::option::of(platform_inputs()),
        prop::option::of(cpu_inputs()),
        merit_inputs(),
        (
            any::<u64>(),
            prop_oneof![4 => 1.0f64..10_000.0, 1 => anything()],
        ),
    )
        .prop_map(
            |((m0, mlen), extra, period, gpus, platform, cpu, foms, (tol, max_w))| {
                let mut phases = vec![phase(Phase::Measure, m0, m0.saturating_add(mlen))];
                phases.extend(
                    extra
                        .into_iter()
                        .map(|(p, a, b)| phase(p, a.min(b), a.max(b))),
                );
                SummaryInputs {
                    phases,
                    sample_period_ms: period,
                    gpus,
                    platform,
                    cpu,
                    figures_of_merit: foms,
                    options: SummaryOptions {
                        counter_tolerance_ms: tol % 5_000,
                        max_plausible_gpu_w: max_w,
                    },
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn integral_of_a_constant_is_power_times_duration(
        times in prop::collection::btree_set(0u64..20_000_000, 1..150),
        watts in 0.0f64..5_000.0,
        w in window(),
    ) {
        let samples: Vec<(u64, f64)> = times.into_iter().map(|t| (t, watts)).collect();
        let line = clipped(&samples, w);
        let expected = watts * (w.1 - w.0) as f64 / 1e6;
        prop_assert!((line.integral() - expected).abs() <= expected * 1e-9 + 1e-12,
            "{} vs {}", line.integral(), expected);
        prop_assert_eq!(line.mean(), watts);
    }

    #[test]
    fn integral_is_additive_over_adjacent_windows(
        samples in samples(),
        a in 0u64..22_000_000,
        ab in 1u64..10_000_000,
        bc in 1u64..10_000_000,
    ) {
        let (b, c) = (a + ab, a + ab + bc);
        let whole = clipped(&samples, (a, c)).integral();
        let parts = clipped(&samples, (a, b)).integral() + clipped(&samples, (b, c)).integral();
        prop_assert!((whole - parts).abs() <= whole.abs() * 1e-9 + 1e-9, "{whole} vs {parts}");
    }

    #[test]
    fn samples_of_a_piecewise_linear_signal_integrate_exactly(
        breaks in prop::collection::btree_map(0u64..20_000_000, 0.0f64..2_000.0, 1..12),
        extra in prop::collection::vec((0u64..20_000_000, 0.0f64..1.0), 0..100),
        w in window(),
    ) {
        let breaks: Vec<(u64, f64)> = breaks.into_iter().collect();
        let secs = |t: u64| t as f64 / 1e6;
        let knots: Vec<(f64, f64)> = breaks.iter().map(|&(t, v)| (secs(t), v)).collect();
        // Extra samples on the straight segments between breakpoints.
        let mut samples = breaks.clone();
        for (t, _) in extra {
            let k = breaks.partition_point(|b| b.0 <= t);
            if k == 0 || k == breaks.len() {
                continue;
            }
            let (a, b) = (breaks[k - 1], breaks[k]);
            let f = (t - a.0) as f64 / (b.0 - a.0) as f64;
            samples.push((t, a.1 + (b.1 - a.1) * f));
        }
        let got = clipped(&samples, w).integral();
        let want = exact_integral(&knots, secs(w.0), secs(w.1));
        prop_assert!((got - want).abs() <= want.abs() * 1e-9 + 1e-9, "{got} vs {want}");
    }

    #[test]
    fn power_statistics_are_ordered(samples in samples(), w in window()) {
        let line = clipped(&samples, w);
        let (mean, peak) = (line.mean(), line.peak());
        let (p50, p95, p99) = (line.quantile(0.5), line.quantile(0.95), line.quantile(0.99));
        prop_assert!(mean <= peak, "mean {mean} > peak {peak}");
        prop_assert!(line.low() <= p50, "low {} > p50 {p50}", line.low());
        prop_assert!(p50 <= p95 && p95 <= p99 && p99 <= peak,
            "p50 {p50}, p95 {p95}, p99 {p99}, peak {peak}");
    }

    #[test]
    fn coverage_is_a_fraction_of_the_window(
        samples in samples(),
        w in window(),
        period_ms in 1u64..2_000,
    ) {
        let series = series_of(&samples);
        let c = super::coverage::coverage(&series, ns_of(w.0), ns_of(w.1), Ns::from(period_ms) * 1_000_000);
        prop_assert!((0.0..=1.0).contains(&c.covered_fraction), "{}", c.covered_fraction);
        prop_assert!(c.samples <= samples.len() as u64);
        prop_assert!(c.max_gap_ms <= (w.1 - w.0).div_ceil(1_000));
        prop_assert!(c.samples > 0 || c.max_gap_ms == ((w.1 - w.0) + 500) / 1_000);
    }

    #[test]
    fn hygiene_makes_dirty_reads_equal_to_clean_ones(
        samples in samples(),
        repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        junk in prop::collection::vec((0u64..20_000_000, prop_oneof![Just(f64::NAN), Just(-1.0), Just(f64::INFINITY)]), 0..10),
        seed in any::<u64>(),
        w in window(),
    ) {
        let mut dirty = samples.clone();
        dirty.extend(repeats.iter().map(|i| samples[i.index(samples.len())]));
        dirty.extend(junk);
        // A deterministic shuffle.
        let mut state = seed | 1;
        for i in (1..dirty.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            dirty.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(series_of(&dirty), series_of(&samples));
        let _ = w;
    }

    #[test]
    fn counter_energy_is_never_negative(
        readings in prop::collection::vec((0u64..400_000_000, any::<u64>()), 0..8),
        start in 0u64..400_000_000,
        len in 1u64..400_000_000,
    ) {
        let readings: Vec<CounterReading> = readings
            .into_iter()
            .map(|(t, millijoules)| CounterReading { timestamp_us: BASE_US + t, millijoules })
            .collect();
        let outcome = counter_energy(&readings, ns_of(start), ns_of(start + len), 1_000_000_000, 5_000.0);
        match outcome {
            CounterOutcome::Valid(e) | CounterOutcome::Implausible(e) => prop_assert!(e.joules >= 0.0),
            CounterOutcome::Reset { lower_bound_j, .. } => prop_assert!(lower_bound_j >= 0.0),
            CounterOutcome::NoCounter | CounterOutcome::MissingReading { .. } => {}
        }
    }

    #[test]
    fn summarize_never_panics(inputs in summary_inputs()) {
        if let Ok(s) = summarize(&inputs) {
            for g in &s.gpus {
                prop_assert!((0.0..=1.0).contains(&g.coverage.covered_fraction));
                prop_assert!(g.energy_counter_j.is_none_or(|e| e >= 0.0));
            }
        }
    }
}
