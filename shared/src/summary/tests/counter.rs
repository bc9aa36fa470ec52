//! Energy from the GPU's counter: plain differences, wraps, resets, missing readings, and the
//! disagreement with the samples.

use super::*;

fn reading(s: f64, mj: u64) -> CounterReading {
    CounterReading {
        timestamp_us: us(s),
        millijoules: mj,
    }
}

/// The GPU's counter outcome and summary for readings over a 10–310 s window, 200 W samples.
fn with_counter(
    readings: Option<Vec<CounterReading>>,
) -> (crate::wire::GpuSummary, GpuDiagnostics) {
    let mut g = gpu(3, &sampled(0.0, 320.0, 0.1, |_| 200.0));
    g.energy_counter = readings;
    let r = report(&inputs(10.0, 310.0, vec![g]));
    (r.summary.gpus[0].clone(), r.gpus[0].clone())
}

#[test]
fn counter_energy_is_end_minus_start() {
    let (g, d) = with_counter(Some(vec![
        reading(0.0, 1_000_000),      // warmup start: ignored
        reading(10.002, 3_000_000),   // measure start, 2 ms late
        reading(310.001, 63_600_000), // measure end
        reading(320.0, 65_000_000),   // cooldown end: ignored
    ]));
    assert_eq!(g.energy_counter_j, Some(60_600.0));
    close(g.energy_integral_j, 60_000.0, 1e-12);
    let CounterOutcome::Valid(e) = d.counter else {
        panic!("counter not valid: {:?}", d.counter);
    };
    assert_eq!((e.from_us, e.to_us, e.wraps), (us(10.002), us(310.001), 0));
    // Over the counter's own interval the samples give 200 W × 299.999 s = 59,999.8 J.
    let pct = d
        .disagreement_pct
        .unwrap_or_else(|| panic!("no disagreement"));
    close(pct, 100.0 * (59_999.8 - 60_600.0) / 60_600.0, 1e-9);
}

#[test]
fn readings_in_any_order_give_the_same_energy() {
    let (g, _) = with_counter(Some(vec![
        reading(310.0, 70_000_000),
        reading(10.0, 10_000_000),
    ]));
    assert_eq!(g.energy_counter_j, Some(60_000.0));
}

#[test]
fn a_wrapped_counter_is_corrected_and_reported() {
    let (g, d) = with_counter(Some(vec![
        reading(10.0, u64::MAX - 10_000_000),
        reading(310.0, 49_999_999),
    ]));
    // 10,000,000 mJ to the top, one step over it, 49,999,999 after: 60,000 J.
    assert_eq!(g.energy_counter_j, Some(60_000.0));
    assert!(matches!(d.counter, CounterOutcome::Valid(e) if e.wraps == 1));
    close(d.disagreement_pct.unwrap_or(f64::NAN), 0.0, 1e-9);
}

#[test]
fn a_reset_counter_gives_no_energy_but_a_lower_bound() {
    let (g, d) = with_counter(Some(vec![
        reading(10.0, 5_000_000_000),
        reading(160.0, 5_030_000_000),
        reading(200.0, 2_000_000), // driver reloaded: counts from 0 again
        reading(310.0, 24_000_000),
    ]));
    assert_eq!(g.energy_counter_j, None);
    assert_eq!(
        d.counter,
        CounterOutcome::Reset {
            lower_bound_j: 30_000.0 + 2_000.0 + 22_000.0,
            resets: 1
        }
    );
    assert_eq!(d.disagreement_pct, None);
    // The samples still give the energy.
    close(g.energy_integral_j, 60_000.0, 1e-12);
}

#[test]
fn a_small_step_back_is_a_reset_not_a_wrap() {
    // Going back by 1 J would be a wrap of 2^64 mJ minus 1 J: far beyond any plausible power.
    let (g, d) = with_counter(Some(vec![reading(10.0, 1_000), reading(310.0, 0)]));
    assert_eq!(g.energy_counter_j, None);
    assert!(matches!(d.counter, CounterOutcome::Reset { resets: 1, .. }));
}

#[test]
fn an_implausible_rise_is_not_used() {
    // 3,000 MJ in 300 s: 10 MW.
    let (g, d) = with_counter(Some(vec![
        reading(10.0, 0),
        reading(310.0, 3_000_000_000_000),
    ]));
    assert_eq!(g.energy_counter_j, None);
    assert!(matches!(d.counter, CounterOutcome::Implausible(e) if e.joules == 3e9));
}

#[test]
fn a_boundary_without_a_reading_within_tolerance_gives_no_counter_energy() {
    let (g, d) = with_counter(Some(vec![reading(8.5, 0), reading(310.0, 60_000_000)]));
    assert_eq!(g.energy_counter_j, None);
    assert_eq!(
        d.counter,
        CounterOutcome::MissingReading {
            boundary: Boundary::Start
        }
    );
    let (_, d) = with_counter(Some(vec![reading(10.0, 0), reading(311.5, 60_000_000)]));
    assert_eq!(
        d.counter,
        CounterOutcome::MissingReading {
            boundary: Boundary::End
        }
    );
    let (_, d) = with_counter(Some(vec![reading(10.0, 0)]));
    assert_eq!(
        d.counter,
        CounterOutcome::MissingReading {
            boundary: Boundary::End
        }
    );
}

#[test]
fn a_gpu_without_a_counter_says_so() {
    let (g, d) = with_counter(None);
    assert_eq!(g.energy_counter_j, None);
    assert_eq!(d.counter, CounterOutcome::NoCounter);
    assert_eq!(d.disagreement_pct, None);
}

#[test]
fn the_tolerance_is_an_option() {
    let mut g = gpu(0, &sampled(0.0, 320.0, 0.1, |_| 200.0));
    g.energy_counter = Some(vec![reading(8.5, 0), reading(310.0, 60_300_000)]);
    let mut i = inputs(10.0, 310.0, vec![g]);
    i.options.counter_tolerance_ms = 2_000;
    let r = report(&i);
    assert_eq!(r.summary.gpus[0].energy_counter_j, Some(60_300.0));
    close(r.gpus[0].disagreement_pct.unwrap_or(f64::NAN), 0.0, 1e-9);
}
