//! The executor end to end on simulated GPUs with the simulated runtime: time-slicing with energy
//! read at every boundary and the figures of merit parsed, MIG layouts applied and restored, a
//! failure in the measured window and a readiness timeout cleaned up, and a cancel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod executor_support;

use std::time::Duration;

use executor_support::{burn, executor, short_timing, sim_gpus, task};
use tokio::sync::{mpsc, watch};
use wattsweep_agent::executor::{RecordedEvents, RunOptions};
use wattsweep_agent::gpu::GpuBackend;
use wattsweep_agent::runtime::sim::{ENV_EXIT_AFTER, ENV_EXIT_CODE, ENV_READY_DELAY};
use wattsweep_shared::mig::{builtin_table, parse_layout, place};
use wattsweep_shared::model::{InstanceRole, MigAssignment, ReadySpec, Sharing};
use wattsweep_shared::wire::{EventKind, FailureClass, Outcome, Phase};

fn opts(events: &RecordedEvents) -> RunOptions<'_> {
    RunOptions {
        attempt: 1,
        events,
        telemetry: None,
        cancel: None,
    }
}

fn phases_of(events: &RecordedEvents) -> Vec<Phase> {
    events
        .events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            EventKind::Phase { phase } => Some(phase),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_slicing_two_instances_on_a_simulated_h100() {
    let dir = tempfile::tempdir().unwrap();
    let gpus = sim_gpus(1);
    let exec = executor(&gpus, dir.path());
    let t = task(
        &gpus,
        0,
        Sharing::TimeSlicing { concurrency: 2 },
        burn(),
        short_timing(3),
    );
    let events = RecordedEvents::default();
    let (tx, mut rx) = mpsc::channel(64);
    let mut o = opts(&events);
    o.telemetry = Some(tx);
    let collector = tokio::spawn(async move {
        let mut points = Vec::new();
        while let Some(batch) = rx.recv().await {
            points.extend(batch);
        }
        points
    });
    let out = exec.run(&t, o).await;
    drop(exec);
    assert_eq!(out.outcome, Outcome::Succeeded, "{out:#?}");

    // Phases in run order, each one a boundary where every energy counter was read.
    let order: Vec<Phase> = out.phases.iter().map(|p| p.phase).collect();
    assert_eq!(
        order,
        [
            Phase::IdleBaseline,
            Phase::Warmup,
            Phase::Measure,
            Phase::Cooldown
        ]
    );
    assert!(out.phases.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
    assert_eq!(phases_of(&events), order);
    let kinds: Vec<EventKind> = events.events().into_iter().map(|(_, e)| e).collect();
    assert_eq!(kinds.first(), Some(&EventKind::Started));
    assert_eq!(kinds.last(), Some(&EventKind::Finished));
    // At the sampler's start, at the five phase changes, and at its stop.
    assert!(out.energy_reads >= 7, "{}", out.energy_reads);

    let summary = out.summary.as_ref().expect("a summary");
    let measure = summary.phase(Phase::Measure).unwrap();
    assert!(measure.end_ms - measure.start_ms >= 3_000);
    let g = &summary.gpus[0];
    let counter = g.energy_counter_j.expect("the simulated counter");
    // The counter integrates the simulation exactly; the 20 ms samples agree with it.
    let diff = (counter - g.energy_integral_j).abs() / counter;
    assert!(
        diff < 0.02,
        "counter {counter} J, integral {} J",
        g.energy_integral_j
    );
    let truth = gpus.truth(0).unwrap().model;
    assert!(
        g.power.mean_w > truth.gpu.idle_w + 0.5 * (truth.gpu.tdp_w - truth.gpu.idle_w),
        "{:?}",
        g.power
    );
    assert!(g.power.peak_w <= truth.gpu.tdp_w + 1.0);
    assert!(g.coverage.covered_fraction > 0.9, "{:?}", g.coverage);

    // Both instances reported their share of the GPU's throughput.
    assert_eq!(summary.figures_of_merit.len(), 2);
    for f in &summary.figures_of_merit {
        assert_eq!(f.unit, "GFLOP/s");
        assert!(f.value > 10_000.0 && f.value < 25_000.0, "{f:?}");
    }
    assert_eq!(summary.energy_per_work.len(), 1);
    assert_eq!(summary.energy_per_work[0].work_unit, "GFLOP");

    // Clean-up: no load left, instance logs written with the lines the workload's regexes read.
    assert_eq!(gpus.truth(0).unwrap().load, 0.0);
    assert_eq!(out.instances.len(), 2);
    for i in &out.instances {
        assert!(i.fom_samples >= 3, "{i:?}");
        assert_eq!(i.exit_code, None, "stopped, not ended on its own: {i:?}");
        let log = std::fs::read_to_string(&i.log_path).unwrap();
        assert!(log.starts_with("Initialized device"), "{log}");
        assert!(log.contains("Gflop/s"), "{log}");
    }

    let points = collector.await.unwrap();
    let phases: std::collections::BTreeSet<String> = points
        .iter()
        .filter(|p| p.measurement == "gpu")
        .filter_map(|p| p.tags.get("phase").cloned())
        .collect();
    for p in ["idle-baseline", "warmup", "measure", "cooldown"] {
        assert!(phases.contains(p), "{phases:?}");
    }
    // An energy-counter reading at every boundary, tagged with the phase it opens, taken within a
    // second of the boundary.
    let energy: Vec<(String, i64)> = points
        .iter()
        .filter(|p| p.fields.contains_key("energy_mj"))
        .map(|p| {
            (
                p.tags.get("phase").cloned().unwrap_or_default(),
                p.timestamp_ns,
            )
        })
        .collect();
    let boundaries = out
        .phases
        .iter()
        .map(|p| (p.phase, p.start_ms))
        .chain(std::iter::once((Phase::Unknown, out.phases[3].end_ms)));
    for (phase, at_ms) in boundaries {
        let tag = match phase {
            Phase::IdleBaseline => "idle-baseline",
            Phase::Warmup => "warmup",
            Phase::Measure => "measure",
            Phase::Cooldown => "cooldown",
            Phase::Unknown => "none",
        };
        let at_ns = at_ms as i64 * 1_000_000;
        assert!(
            energy
                .iter()
                .any(|(p, t)| p == tag && *t >= at_ns - 1_000_000 && *t <= at_ns + 1_000_000_000),
            "no energy read at the start of {tag} ({at_ms} ms): {energy:?}"
        );
    }
    assert!(points.iter().any(|p| p.measurement == "task_summary"));
    assert!(points.iter().any(|p| p.measurement == "cpu"));
    assert!(
        points
            .iter()
            .all(|p| p.tags.get("task") == Some(&t.id.to_string()))
    );
}

fn mig_sharing(layout: &str, assignments: &[(u32, u32)]) -> Sharing {
    let table = builtin_table("h100-80gb").unwrap();
    Sharing::Mig {
        layout: place(&table, &parse_layout(layout).unwrap()).unwrap(),
        assignments: assignments
            .iter()
            .map(|&(gi, ci)| MigAssignment {
                gpu_instance: gi,
                compute_instance: ci,
                workload: "burn".into(),
                role: InstanceRole::Fill,
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mig_layout_is_applied_bound_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    let gpus = sim_gpus(2);
    let exec = executor(&gpus, dir.path());
    let t = task(
        &gpus,
        1,
        mig_sharing("3g.40gb x2", &[(0, 0), (1, 0), (1, 0)]),
        burn(),
        short_timing(2),
    );
    let events = RecordedEvents::default();
    let out = exec.run(&t, opts(&events)).await;
    assert_eq!(out.outcome, Outcome::Succeeded, "{out:#?}");
    // The two instances of GPU instance 1 time-slice one MIG device; each binding names one.
    let bindings: Vec<&str> = out.instances.iter().map(|i| i.binding.as_str()).collect();
    assert!(
        bindings.iter().all(|b| b.starts_with("MIG 3g.40gb MIG-")),
        "{bindings:?}"
    );
    assert_ne!(bindings[0], bindings[1]);
    assert_eq!(bindings[1], bindings[2]);
    let foms = &out.summary.as_ref().unwrap().figures_of_merit;
    assert_eq!(foms.len(), 3);
    // Alone on 3 of 7 slices versus sharing one.
    assert!(foms[0].value > 1.8 * foms[1].value, "{foms:?}");
    // Restored: GPU 1 back in MIG mode without instances, GPU 0 untouched.
    let inv = gpus.inventory().unwrap();
    assert!(inv[1].mig_enabled);
    assert!(gpus.mig_instances(1).unwrap().is_empty());
    assert!(!inv[0].mig_enabled);
    assert_eq!(gpus.truth(1).unwrap().load, 0.0);
    assert!(
        std::fs::read_dir(dir.path().join("mig"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "no journal left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_failing_mid_measure_restores_everything() {
    let dir = tempfile::tempdir().unwrap();
    let gpus = sim_gpus(1);
    let exec = executor(&gpus, dir.path());
    let mut failing = burn();
    // Ready at once, warm-up 1 s: it ends 2 s after its start, inside the 4 s window.
    failing.env.insert(ENV_EXIT_AFTER.into(), "2.5".into());
    failing.env.insert(ENV_EXIT_CODE.into(), "3".into());
    let t = task(
        &gpus,
        0,
        mig_sharing("4g.40gb + 3g.40gb", &[(0, 0), (1, 0)]),
        failing,
        short_timing(4),
    );
    let events = RecordedEvents::default();
    let out = exec.run(&t, opts(&events)).await;
    match &out.outcome {
        Outcome::Failed { reason, class } => {
            assert_eq!(*class, FailureClass::Deterministic);
            assert!(
                reason.contains("exited with code 3 during the measured window"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(out.summary.is_none());
    assert!(out.instances.iter().any(|i| i.exit_code == Some(3)));
    assert_eq!(out.phases.last().map(|p| p.phase), Some(Phase::Measure));
    assert!(gpus.mig_instances(0).unwrap().is_empty());
    assert_eq!(gpus.truth(0).unwrap().load, 0.0);
    assert!(matches!(
        events.events().last().map(|(_, e)| e),
        Some(EventKind::Failed { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_timeout_fails_the_task_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let gpus = sim_gpus(1);
    let exec = executor(&gpus, dir.path());
    let mut slow = burn();
    slow.ready = Some(ReadySpec {
        log_regex: Some("Initialized device".into()),
        timeout_s: 1,
    });
    slow.env.insert(ENV_READY_DELAY.into(), "60".into());
    let t = task(&gpus, 0, Sharing::Exclusive, slow, short_timing(2));
    let events = RecordedEvents::default();
    let started = std::time::Instant::now();
    let out = exec.run(&t, opts(&events)).await;
    match &out.outcome {
        Outcome::Failed { reason, class } => {
            assert_eq!(*class, FailureClass::Transient);
            assert!(reason.contains("not ready within 1 s"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    // The window never started.
    assert!(out.phases.iter().all(|p| p.phase != Phase::Measure));
    assert_eq!(gpus.truth(0).unwrap().load, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_the_window_cleans_up_and_reports_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let gpus = sim_gpus(1);
    let exec = executor(&gpus, dir.path());
    let t = task(
        &gpus,
        0,
        Sharing::Mps {
            concurrency: 2,
            active_thread_percentage: 50,
        },
        burn(),
        short_timing(60),
    );
    let events = RecordedEvents::default();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let mut o = opts(&events);
    o.cancel = Some(cancel_rx);
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(4)).await;
        cancel_tx.send(true).unwrap();
        cancel_tx
    });
    let out = exec.run(&t, o).await;
    let _ = canceller.await;
    assert_eq!(out.outcome, Outcome::Cancelled, "{out:#?}");
    assert_eq!(out.instances.len(), 2);
    assert_eq!(gpus.truth(0).unwrap().load, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_that_does_not_fit_fails_deterministically_before_any_launch() {
    let dir = tempfile::tempdir().unwrap();
    let gpus = sim_gpus(1);
    gpus.set_mig_enabled(0, true).unwrap();
    // Someone else's instance occupies the slots the layout needs.
    gpus.create_gpu_instance(0, 0, 0).unwrap();
    let exec = executor(&gpus, dir.path());
    let t = task(
        &gpus,
        0,
        mig_sharing("3g.40gb x2", &[(0, 0)]),
        burn(),
        short_timing(1),
    );
    let events = RecordedEvents::default();
    let out = exec.run(&t, opts(&events)).await;
    match &out.outcome {
        Outcome::Failed { reason, class } => {
            assert_eq!(*class, FailureClass::Deterministic, "{reason}");
            assert!(reason.starts_with("set-up failed"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(out.phases.is_empty());
    assert!(out.instances.is_empty());
    // The instance that was there before is kept.
    assert_eq!(gpus.mig_instances(0).unwrap().len(), 1);
}
