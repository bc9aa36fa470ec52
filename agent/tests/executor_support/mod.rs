//! Shared set-up of the executor tests: simulated GPUs, the simulated runtime, and task specs with
//! short timing.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;
use wattsweep_agent::executor::{Executor, ExecutorConfig, SimNodeControl};
use wattsweep_agent::gpu::GpuBackend;
use wattsweep_agent::gpu::sim::{RealClock, SimConfig, SimulatedGpus};
use wattsweep_agent::mig::MigConfig;
use wattsweep_agent::runtime::sim::SimRuntime;
use wattsweep_shared::model::{
    Configuration, GpuRef, MetricSpec, ReadySpec, Runtime, Sharing, SimProfile, Target, TaskSpec,
    Timing, WorkloadSpec,
};

/// `count` simulated H100s with MIG disabled.
pub fn sim_gpus(count: u32) -> Arc<SimulatedGpus> {
    let g = SimulatedGpus::new(
        SimConfig::new("exec-node", "h100-80gb", count),
        Arc::new(RealClock),
    )
    .unwrap();
    for i in 0..count {
        g.set_mig_enabled(i, false).unwrap();
    }
    Arc::new(g)
}

/// An executor over `gpus` with the simulated runtime, journals and logs under `dir`.
pub fn executor(gpus: &Arc<SimulatedGpus>, dir: &Path) -> Executor<SimRuntime> {
    let runtime = SimRuntime::new(gpus.clone()).with_period(Duration::from_millis(100));
    let mut config = ExecutorConfig::new(
        "exec-node",
        dir.join("logs"),
        MigConfig::new(dir.join("mig")),
    );
    config.drain_ms = 200;
    config.status_ms = 100;
    config.cpu_period = Duration::from_millis(250);
    config.stop_grace = Duration::from_secs(2);
    let backend: Arc<dyn GpuBackend> = gpus.clone();
    Executor::new(
        Arc::new(runtime),
        backend,
        Arc::new(SimNodeControl::new(gpus.clone(), dir.join("mps"))),
        config,
    )
}

/// The gpu-burn workload as the catalog has it.
pub fn burn() -> WorkloadSpec {
    WorkloadSpec {
        name: "burn".into(),
        image: Some("wattsweep/gpu-burn:latest".into()),
        command: vec!["gpu_burn".into(), "{run_s}".into()],
        metric: Some(MetricSpec {
            regex: r"(\d+(?:\.\d+)?) Gflop/s".into(),
            unit: "GFLOP/s".into(),
            higher_is_better: true,
        }),
        ready: Some(ReadySpec {
            log_regex: Some("Initialized device".into()),
            timeout_s: 30,
        }),
        sim: SimProfile {
            intensity: 1.0,
            fom: 50_000.0,
        },
        ..WorkloadSpec::default()
    }
}

/// Short phases: 1 s idle, 1 s warm-up, `measure_s` measured, at most 1 s cool-down.
pub fn short_timing(measure_s: u32) -> Timing {
    Timing {
        idle_baseline_s: 1,
        warmup_s: 1,
        measure_s,
        cooldown_max_s: 1,
        cooldown_temp_delta_c: 0.5,
        sample_ms: 20,
    }
}

/// A task running `sharing` with `workload` on GPU `gpu` of `gpus`.
pub fn task(
    gpus: &SimulatedGpus,
    gpu: u32,
    sharing: Sharing,
    workload: WorkloadSpec,
    timing: Timing,
) -> TaskSpec {
    let inv = gpus.inventory().unwrap();
    let g = &inv[gpu as usize];
    TaskSpec {
        id: Uuid::new_v5(&Uuid::nil(), format!("{sharing:?}{gpu}").as_bytes()),
        seq: 0,
        campaign_id: Uuid::from_u128(42),
        campaign: "executor-test".into(),
        configuration: Configuration {
            name: "test/burn/x".into(),
            sweep: "test".into(),
            sharing,
            runtime: Runtime::Process,
            workloads: vec![workload.name.clone()],
        },
        target: Target::Gpu {
            node: "exec-node".into(),
            gpu: GpuRef {
                index: gpu,
                uuid: g.uuid.clone(),
                model: "h100-80gb".into(),
            },
        },
        repetition: 0,
        timing,
        workloads: vec![workload],
    }
}
