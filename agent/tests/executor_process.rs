//! The executor with the real process runtime (shell scripts as workloads) on a simulated GPU
//! backend: readiness and figures of merit from real output, the workloads' CPU figures in the
//! summary, an early exit with its real exit code, and nothing left running afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod executor_support;

use std::sync::Arc;
use std::time::Duration;

use executor_support::{short_timing, sim_gpus, task};
use wattsweep_agent::executor::{
    Executor, ExecutorConfig, NoEvents, RunOptions, SimNodeControl, TaskOutcome,
};
use wattsweep_agent::gpu::GpuBackend;
use wattsweep_agent::mig::MigConfig;
use wattsweep_agent::runtime::process::{ProcessConfig, ProcessRuntime};
use wattsweep_agent::runtime::{Ownership, WorkloadRuntime};
use wattsweep_shared::model::{MetricSpec, ReadySpec, Sharing, TaskSpec, WorkloadSpec};
use wattsweep_shared::wire::{FailureClass, Outcome};

/// A workload that loads for 0.3 s, says it is ready, then reports `rate=<n>` every 0.2 s while
/// burning a little CPU; it ends after `{run_s}` seconds or, with `fail`, exits 5 after 0.8 s.
fn script_workload(fail: bool) -> WorkloadSpec {
    let body = if fail {
        "echo loading; sleep 0.3; echo 'model ready'; sleep 0.5; echo 'boom' >&2; exit 5"
    } else {
        "echo loading; sleep 0.3; echo 'model ready'; end=$(( $(date +%s) + $1 )); \
         while [ $(date +%s) -lt $end ]; do i=0; while [ $i -lt 200 ]; do i=$((i+1)); done; \
         echo \"rate=120.5 it/s\"; sleep 0.2; done"
    };
    WorkloadSpec {
        name: "script".into(),
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            body.into(),
            "sh".into(),
            "{run_s}".into(),
        ],
        metric: Some(MetricSpec {
            regex: r"rate=(\d+(?:\.\d+)?) it/s".into(),
            unit: "it/s".into(),
            higher_is_better: true,
        }),
        ready: Some(ReadySpec {
            log_regex: Some("^model ready$".into()),
            timeout_s: 10,
        }),
        ..WorkloadSpec::default()
    }
}

async fn run(fail: bool) -> (TaskOutcome, ProcessRuntime, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let gpus = sim_gpus(1);
    let mut pc = ProcessConfig::new(
        Ownership {
            node: "exec-node".into(),
        },
        dir.path().join("state"),
    );
    pc.stop_grace = Duration::from_millis(500);
    let runtime = ProcessRuntime::new(pc).unwrap();
    let mut config = ExecutorConfig::new(
        "exec-node",
        dir.path().join("logs"),
        MigConfig::new(dir.path().join("mig")),
    );
    config.drain_ms = 200;
    config.cpu_period = Duration::from_millis(250);
    config.stop_grace = Duration::from_secs(1);
    let backend: Arc<dyn GpuBackend> = gpus.clone();
    let exec = Executor::new(
        Arc::new(runtime.clone()),
        backend,
        Arc::new(SimNodeControl::new(gpus.clone(), dir.path().join("mps"))),
        config,
    );
    let t: TaskSpec = task(
        &gpus,
        0,
        Sharing::TimeSlicing { concurrency: 2 },
        script_workload(fail),
        short_timing(2),
    );
    let out = exec
        .run(
            &t,
            RunOptions {
                attempt: 2,
                events: &NoEvents,
                telemetry: None,
                cancel: None,
            },
        )
        .await;
    let logs: Vec<String> = out
        .instances
        .iter()
        .map(|i| std::fs::read_to_string(&i.log_path).unwrap_or_default())
        .collect();
    assert_eq!(logs.len(), 2, "{out:#?}");
    for l in &logs {
        assert!(l.starts_with("loading\nmodel ready\n"), "{l}");
    }
    (out, runtime, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_run_through_every_phase_with_their_cpu_and_figures_of_merit() {
    let (out, runtime, _dir) = run(false).await;
    assert_eq!(out.outcome, Outcome::Succeeded, "{out:#?}");
    let s = out.summary.as_ref().unwrap();
    assert_eq!(s.figures_of_merit.len(), 2);
    assert!(s.figures_of_merit.iter().all(|f| f.value == 120.5));
    assert_eq!(s.energy_per_work[0].work_unit, "it");
    let cpu = s.cpu.as_ref().expect("host CPU figures");
    let workload = cpu.workload.as_ref().expect("the workloads' CPU");
    assert!(workload.utilisation_mean_pct >= 0.0);
    // Stopped and removed: nothing of this node is left to reconcile.
    assert!(runtime.reconcile().await.unwrap().removed.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_exiting_early_fails_with_its_exit_code() {
    let (out, runtime, _dir) = run(true).await;
    match &out.outcome {
        Outcome::Failed { reason, class } => {
            assert_eq!(*class, FailureClass::Deterministic);
            assert!(reason.contains("exited with code 5"), "{reason}");
            assert!(reason.contains("before the measured window"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(out.instances.iter().any(|i| i.exit_code == Some(5)));
    assert!(out.summary.is_none());
    assert!(runtime.reconcile().await.unwrap().removed.is_empty());
}
