//! The entry point: refused inputs, and a whole task summarised end to end.

use super::*;

fn refused(i: &SummaryInputs) -> SummaryError {
    match summarize(i) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_missing_measured_window_is_refused() {
    let mut i = inputs(10.0, 20.0, vec![]);
    i.phases.retain(|p| p.phase != Phase::Measure);
    assert_eq!(refused(&i), SummaryError::NoMeasurePhase { count: 2 });
    assert!(refused(&i).to_string().contains("no `measure` phase"));
}

#[test]
fn an_empty_or_inverted_window_is_refused() {
    let i = inputs(10.0, 10.0, vec![]);
    assert_eq!(refused(&i), SummaryError::EmptyWindow { at_ms: ms(10.0) });
    let mut i = inputs(10.0, 20.0, vec![]);
    i.phases[1].end_ms = ms(5.0);
    let e = refused(&i);
    assert_eq!(
        e,
        SummaryError::InvertedPhase {
            phase: Phase::Measure,
            start_ms: ms(10.0),
            end_ms: ms(5.0)
        }
    );
    assert!(e.to_string().contains("phase `measure` ends at"), "{e}");
}

#[test]
fn a_phase_twice_is_refused_but_unknown_phases_may_repeat() {
    let mut i = inputs(10.0, 20.0, vec![]);
    i.phases.push(i.phases[1]);
    assert_eq!(
        refused(&i),
        SummaryError::DuplicatePhase {
            phase: Phase::Measure,
            count: 2
        }
    );
    let mut i = inputs(10.0, 20.0, vec![]);
    let unknown = PhaseTiming {
        phase: Phase::Unknown,
        start_ms: ms(40.0),
        end_ms: ms(41.0),
    };
    i.phases.extend([unknown, unknown]);
    assert!(summarize(&i).is_ok());
}

#[test]
fn other_structural_faults_are_refused() {
    let mut i = inputs(10.0, 20.0, vec![gpu(1, &[]), gpu(0, &[]), gpu(1, &[])]);
    assert_eq!(
        refused(&i),
        SummaryError::DuplicateGpu { index: 1, count: 2 }
    );
    i.gpus.pop();
    i.sample_period_ms = 0;
    assert_eq!(refused(&i), SummaryError::ZeroSamplePeriod);
    i.sample_period_ms = 20;
    i.cpu = Some(CpuInputs::default());
    assert_eq!(refused(&i), SummaryError::ZeroLogicalCpus);
    i.cpu = None;
    for watts in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        i.options.max_plausible_gpu_w = watts;
        assert!(matches!(
            refused(&i),
            SummaryError::InvalidPlausiblePower { .. }
        ));
    }
}

#[test]
fn a_node_task_is_summarised_end_to_end() {
    // Two GPUs given out of order; phases out of order; a BMC with DCMI; CPU; two burn instances.
    let mut g1 = gpu(
        1,
        &sampled(0.0, 40.0, 0.02, |t| if t < 25.0 { 300.0 } else { 500.0 }),
    );
    g1.uuid = "GPU-b".into();
    g1.energy_counter = Some(vec![
        CounterReading {
            timestamp_us: us(10.0),
            millijoules: 7_000_000,
        },
        CounterReading {
            timestamp_us: us(30.0),
            millijoules: 7_000_000 + 8_000_000,
        },
    ]);
    let g0 = gpu(0, &sampled(0.0, 40.0, 0.02, |_| 100.0));
    let mut i = inputs(10.0, 30.0, vec![g1, g0]);
    i.phases.reverse();
    i.platform = Some(PlatformInputs {
        dcmi: sampled(0.0, 40.0, 1.0, |_| 2_000.0)
            .into_iter()
            .map(|(t, watts)| DcmiSample {
                unix_ns: ns(t),
                watts,
            })
            .collect(),
        ..PlatformInputs::default()
    });
    i.cpu = Some(CpuInputs {
        logical_cpus: 2,
        host: vec![HostCpuSample {
            start_ns: ns(0.0),
            end_ns: ns(40.0),
            utilisation_pct: 12.0,
            context_switches_per_s: 3_000.0,
        }],
        workloads: vec![],
    });
    i.figures_of_merit = vec![crate::wire::FigureOfMerit {
        workload: "burn".into(),
        instance: 0,
        value: 1_000.0,
        unit: "GFLOP/s".into(),
        higher_is_better: true,
    }];

    let s = summarize(&i).unwrap_or_else(|e| panic!("{e}"));
    let order: Vec<Phase> = s.phases.iter().map(|p| p.phase).collect();
    assert_eq!(order, [Phase::Warmup, Phase::Measure, Phase::Cooldown]);
    assert_eq!(s.phase(Phase::Measure).map(|p| p.end_ms), Some(ms(30.0)));

    let indices: Vec<u32> = s.gpus.iter().map(|g| g.index).collect();
    assert_eq!(indices, [0, 1]);
    close(s.gpus[0].energy_integral_j, 2_000.0, 1e-12);
    assert_eq!(s.gpus[0].energy_counter_j, None);
    // GPU 1: 300 W to 24.98 s, a 20 ms ramp, 500 W from 25 s: 4,494 + 8 + 2,500 = 7,002 J.
    close(s.gpus[1].energy_integral_j, 7_002.0, 1e-9);
    assert_eq!(s.gpus[1].energy_counter_j, Some(8_000.0));
    assert_eq!(s.gpus[1].power.peak_w, 500.0);
    assert_eq!(s.gpus[1].power.p50_w, 300.0);
    assert_eq!(s.gpus[1].power.p95_w, 500.0);
    assert_eq!(s.gpus[1].uuid, "GPU-b");
    assert_eq!(s.gpus[1].coverage.expected_samples, 1_000);
    assert_eq!(s.gpus[1].coverage.samples, 1_000);

    let p = s.platform.as_ref().unwrap_or_else(|| panic!("no platform"));
    assert_eq!(
        (p.power_source.as_str(), p.power_mean_w, p.samples),
        ("dcmi", 2_000.0, 20)
    );
    let c = s.cpu.as_ref().unwrap_or_else(|| panic!("no cpu"));
    assert_eq!(c.host.utilisation_mean_pct, 12.0);

    // (2,000 J + 8,000 J from the counter) / (1,000 GFLOP/s × 20 s).
    close(s.energy_per_work[0].joules_per_unit, 0.5, 1e-12);
}
