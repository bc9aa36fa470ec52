//! CPU figures and figures of merit with energy per unit of work.

use super::*;
use crate::summary::merit::{WorkUnit, parse_unit};
use crate::wire::FigureOfMerit;

fn host(from: f64, to: f64, util: f64, ctxt: f64) -> HostCpuSample {
    HostCpuSample {
        start_ns: ns(from),
        end_ns: ns(to),
        utilisation_pct: util,
        context_switches_per_s: ctxt,
    }
}

fn counters(s: f64, cpu_seconds: f64, context_switches: u64) -> CpuCounters {
    CpuCounters {
        unix_ns: ns(s),
        cpu_seconds,
        context_switches,
    }
}

/// CPU summary and per-workload rates over a 10–20 s window.
fn cpu(c: CpuInputs) -> SummaryReport {
    let mut i = inputs(10.0, 20.0, vec![]);
    i.cpu = Some(c);
    report(&i)
}

#[test]
fn host_intervals_are_weighted_by_their_overlap_with_the_window() {
    let r = cpu(CpuInputs {
        logical_cpus: 8,
        host: vec![
            host(8.0, 11.0, 90.0, 1_000.0), // 1 s inside
            host(11.0, 15.0, 20.0, 500.0),  // 4 s
            host(15.0, 19.0, 40.0, 700.0),  // 4 s
            host(19.0, 22.0, 10.0, 100.0),  // 1 s inside
            host(22.0, 25.0, 100.0, 9.0),   // outside
            host(12.0, 13.0, f64::NAN, 1.0),
        ],
        workloads: vec![],
    });
    let c = r.summary.cpu.unwrap_or_else(|| panic!("no CPU summary"));
    close(
        c.host.utilisation_mean_pct,
        (90.0 + 80.0 + 160.0 + 10.0) / 10.0,
        1e-12,
    );
    assert_eq!(c.host.utilisation_peak_pct, 90.0);
    close(
        c.host.context_switches_per_s,
        (1_000.0 + 2_000.0 + 2_800.0 + 100.0) / 10.0,
        1e-12,
    );
    assert_eq!(c.workload, None);
    assert!(!r.host_cpu_missing);
}

#[test]
fn workload_rates_come_from_counters_and_add_up_over_workloads() {
    let r = cpu(CpuInputs {
        logical_cpus: 4,
        host: vec![host(10.0, 20.0, 50.0, 10.0)],
        workloads: vec![
            WorkloadCpuWindow {
                workload: "burn-0".into(),
                start: counters(10.0, 100.0, 1_000),
                end: counters(20.0, 110.0, 6_000),
            },
            WorkloadCpuWindow {
                workload: "burn-1".into(),
                start: counters(10.0, 50.0, 2_000),
                end: counters(20.0, 45.0, 1_000), // a process exited
            },
            WorkloadCpuWindow {
                workload: "burn-2".into(),
                start: counters(10.0, 0.0, 0),
                end: counters(10.0, 1.0, 10), // no time between the readings
            },
        ],
    });
    let w = &r.workload_cpu;
    assert_eq!(w[0].cpu_seconds_per_s, Some(1.0));
    assert_eq!(w[0].context_switches_per_s, Some(500.0));
    assert!(!w[0].counters_went_backwards);
    assert_eq!(w[1].cpu_seconds_per_s, Some(0.0));
    assert_eq!(w[1].context_switches_per_s, Some(0.0));
    assert!(w[1].counters_went_backwards);
    assert_eq!(w[2].cpu_seconds_per_s, None);
    let c = r.summary.cpu.unwrap_or_else(|| panic!("no CPU summary"));
    let workload = c.workload.unwrap_or_else(|| panic!("no workload figures"));
    // 1 CPU second per second over 4 logical CPUs.
    assert_eq!(workload.utilisation_mean_pct, 25.0);
    assert_eq!(workload.utilisation_peak_pct, 25.0);
    assert_eq!(workload.context_switches_per_s, 500.0);
}

#[test]
fn without_host_figures_there_is_no_cpu_summary() {
    let r = cpu(CpuInputs {
        logical_cpus: 4,
        host: vec![host(30.0, 31.0, 50.0, 10.0)],
        workloads: vec![],
    });
    assert_eq!(r.summary.cpu, None);
    assert!(r.host_cpu_missing);
}

#[test]
fn units_are_read_as_rates_or_times_per_item() {
    let rate = |work: &str, seconds: f64| {
        Some(WorkUnit::Rate {
            work: work.into(),
            seconds,
        })
    };
    let per = |work: &str, seconds: f64| {
        Some(WorkUnit::TimePerItem {
            work: work.into(),
            seconds,
        })
    };
    assert_eq!(parse_unit("GFLOP/s"), rate("GFLOP", 1.0));
    assert_eq!(parse_unit(" images / sec "), rate("images", 1.0));
    assert_eq!(parse_unit("tokens/min"), rate("tokens", 60.0));
    assert_eq!(parse_unit("TFLOPS"), rate("TFLOP", 1.0));
    assert_eq!(parse_unit("FPS"), rate("frame", 1.0));
    assert_eq!(parse_unit("s/epoch"), per("epoch", 1.0));
    assert_eq!(parse_unit("ms/iter"), per("iter", 1e-3));
    for unit in ["score", "ms", "s/ms", "GB/s/GPU", "/s", "GFLOP/"] {
        assert_eq!(parse_unit(unit), None, "{unit}");
    }
}

fn fom(workload: &str, instance: u32, value: f64, unit: &str, higher: bool) -> FigureOfMerit {
    FigureOfMerit {
        workload: workload.into(),
        instance,
        value,
        unit: unit.into(),
        higher_is_better: higher,
    }
}

/// A 300 s window with one GPU at a constant `watts`, and these figures of merit.
fn merits(watts: f64, figures: Vec<FigureOfMerit>) -> SummaryReport {
    let mut i = inputs(0.0, 300.0, vec![gpu(0, &[(0.0, watts), (300.0, watts)])]);
    i.figures_of_merit = figures;
    report(&i)
}

#[test]
fn throughput_of_concurrent_instances_adds_up() {
    // 1 kW for 300 s = 300 kJ; 500 + 1,500 GFLOP/s for 300 s = 600,000 GFLOP: 0.5 J/GFLOP.
    let r = merits(
        1_000.0,
        vec![
            fom("burn", 0, 500.0, "GFLOP/s", true),
            fom("burn", 1, 1_500.0, "GFLOP/s", true),
        ],
    );
    let m = &r.merits[0];
    assert_eq!((m.instances, m.mean, m.sum), (2, 1_000.0, Some(2_000.0)));
    assert_eq!(m.work_per_s, Some(2_000.0));
    assert_eq!(m.energy_per_work, Ok(0.5));
    assert_eq!(r.summary.figures_of_merit.len(), 2);
    let e = &r.summary.energy_per_work;
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].workload.as_str(), e[0].work_unit.as_str()),
        ("burn", "GFLOP")
    );
    close(e[0].joules_per_unit, 0.5, 1e-12);
}

#[test]
fn time_per_epoch_becomes_joules_per_epoch() {
    // 40 s/epoch and 60 s/epoch for 300 s: 7.5 + 5 = 12.5 epochs; 150 kJ / 12.5 = 12 kJ per epoch.
    let r = merits(
        500.0,
        vec![
            fom("train", 0, 40.0, "s/epoch", false),
            fom("train", 1, 60.0, "s/epoch", false),
        ],
    );
    let m = &r.merits[0];
    assert_eq!((m.mean, m.sum), (50.0, None));
    assert_eq!(m.work_unit.as_deref(), Some("epoch"));
    close(m.work_per_s.unwrap_or(f64::NAN), 12.5 / 300.0, 1e-12);
    close(
        r.summary.energy_per_work[0].joules_per_unit,
        12_000.0,
        1e-12,
    );
    assert_eq!(r.summary.energy_per_work[0].work_unit, "epoch");
}

#[test]
fn figures_without_work_or_energy_get_no_energy_per_work() {
    let r = merits(
        300.0,
        vec![
            fom("bench", 0, 87.0, "score", true),
            fom("idle", 0, 0.0, "GFLOP/s", true),
            fom("broken", 0, f64::NAN, "GFLOP/s", true),
            fom("train", 0, 0.0, "s/epoch", false),
        ],
    );
    let reasons: Vec<(&str, Result<f64, NoEnergyPerWork>)> = r
        .merits
        .iter()
        .map(|m| (m.workload.as_str(), m.energy_per_work))
        .collect();
    assert_eq!(
        reasons,
        [
            ("bench", Err(NoEnergyPerWork::UnrecognisedUnit)),
            ("idle", Err(NoEnergyPerWork::NoWork)),
            ("train", Err(NoEnergyPerWork::NoWork)),
        ]
    );
    assert_eq!(r.rejected_figures_of_merit, 1);
    assert_eq!(r.summary.figures_of_merit.len(), 3);
    assert!(r.summary.energy_per_work.is_empty());

    let mut i = inputs(0.0, 300.0, vec![]);
    i.figures_of_merit = vec![fom("burn", 0, 100.0, "GFLOP/s", true)];
    assert_eq!(
        report(&i).merits[0].energy_per_work,
        Err(NoEnergyPerWork::NoEnergy)
    );
}

#[test]
fn counter_energy_is_preferred_for_energy_per_work() {
    let mut g = gpu(0, &[(0.0, 1_000.0), (300.0, 1_000.0)]);
    g.energy_counter = Some(vec![
        CounterReading {
            timestamp_us: us(0.0),
            millijoules: 0,
        },
        CounterReading {
            timestamp_us: us(300.0),
            millijoules: 330_000_000,
        },
    ]);
    let mut i = inputs(0.0, 300.0, vec![g, gpu(1, &[(0.0, 100.0)])]);
    i.figures_of_merit = vec![fom("burn", 0, 2_000.0, "GFLOP/s", true)];
    // (330 kJ from the counter + 30 kJ from GPU 1's samples) / 600,000 GFLOP.
    close(
        report(&i).summary.energy_per_work[0].joules_per_unit,
        0.6,
        1e-12,
    );
}
