//! Tests of the launch decisions: one test per sharing mode, and the refusals.

use wattsweep_shared::mig::{builtin_table, parse_layout, place};
use wattsweep_shared::model::{
    Configuration, InstanceRole, ReadySpec, Runtime, Sharing, Target, TaskSpec, Timing,
    WorkloadSpec,
};

use super::*;
use crate::mig::MigDevice;

fn gpu(index: u32) -> GpuInventory {
    GpuInventory {
        index,
        uuid: format!("GPU-{index}"),
        name: "NVIDIA H100 80GB HBM3".into(),
        model_id: Some("h100-80gb".into()),
        ..GpuInventory::default()
    }
}

fn gref(index: u32) -> GpuRef {
    GpuRef {
        index,
        uuid: format!("GPU-{index}"),
        model: "h100-80gb".into(),
    }
}

fn wl(name: &str, ready: bool) -> WorkloadSpec {
    WorkloadSpec {
        name: name.into(),
        command: vec!["run".into(), "{run_s}".into(), "{level}".into()],
        ready: ready.then(|| ReadySpec {
            log_regex: Some("ready".into()),
            timeout_s: 100,
        }),
        ..WorkloadSpec::default()
    }
}

fn task(sharing: Sharing, names: &[&str], target: Target) -> TaskSpec {
    TaskSpec {
        id: Uuid::from_u128(0x1234_5678_9abc),
        seq: 0,
        campaign_id: Uuid::nil(),
        campaign: "c".into(),
        configuration: Configuration {
            name: "cfg".into(),
            sweep: "s".into(),
            sharing,
            runtime: Runtime::Process,
            workloads: names.iter().map(|s| s.to_string()).collect(),
        },
        target,
        repetition: 0,
        timing: Timing {
            idle_baseline_s: 5,
            warmup_s: 10,
            measure_s: 60,
            cooldown_max_s: 5,
            cooldown_temp_delta_c: 2.0,
            sample_ms: 20,
        },
        workloads: vec![wl("a", true), wl("b", false)],
    }
}

fn one_gpu() -> Target {
    Target::Gpu {
        node: "n".into(),
        gpu: gref(1),
    }
}

fn node_gpus(n: u32) -> Target {
    Target::Node {
        node: "n".into(),
        gpus: (0..n).map(gref).collect(),
    }
}

fn run(
    t: &TaskSpec,
    mig: &BTreeMap<u32, AppliedLayout>,
    mps: &BTreeMap<u32, MpsDirs>,
) -> Result<Vec<LaunchSpec>, LaunchError> {
    let gpus = [gpu(0), gpu(1)];
    launch_specs(
        t,
        3,
        &LaunchContext {
            gpus: &gpus,
            mig,
            mps,
        },
    )
}

fn plain(t: &TaskSpec) -> Result<Vec<LaunchSpec>, LaunchError> {
    run(t, &BTreeMap::new(), &BTreeMap::new())
}

fn gpu_indices(specs: &[LaunchSpec]) -> Vec<u32> {
    specs
        .iter()
        .map(|s| match &s.gpu {
            GpuBinding::Gpus { indices, .. } => indices[0],
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn exclusive_is_one_instance_per_target_gpu() {
    let specs = plain(&task(Sharing::Exclusive, &["a"], node_gpus(2))).unwrap();
    assert_eq!(gpu_indices(&specs), [0, 1]);
    assert_eq!(specs[1].instance, 1);
    assert_eq!(specs[0].attempt, 3);
    assert!(
        specs
            .iter()
            .all(|s| s.workload.name == "a" && s.mps.is_none())
    );
    assert_eq!(
        specs[0].gpu,
        GpuBinding::Gpus {
            uuids: vec!["GPU-0".into()],
            indices: vec![0]
        }
    );
    // warm-up 10 + measure 60 + readiness 100 + slack.
    assert_eq!(
        specs[0].command().unwrap(),
        ["run", &(170 + RUN_SLACK_S).to_string(), "100"]
    );
}

#[test]
fn time_slicing_is_n_instances_on_each_gpu_with_the_mix_round_robin() {
    let specs = plain(&task(
        Sharing::TimeSlicing { concurrency: 3 },
        &["a", "b"],
        node_gpus(2),
    ))
    .unwrap();
    assert_eq!(gpu_indices(&specs), [0, 0, 0, 1, 1, 1]);
    let names: Vec<&str> = specs.iter().map(|s| s.workload.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "a", "a", "b", "a"]);
    let instances: Vec<u32> = specs.iter().map(|s| s.instance).collect();
    assert_eq!(instances, [0, 1, 2, 3, 4, 5]);
    // A workload ready when started gets no readiness allowance.
    assert_eq!(
        specs[1].substitutions.get("run_s").map(String::as_str),
        Some(&*(70 + RUN_SLACK_S).to_string())
    );
}

#[test]
fn mps_gives_every_client_the_daemon_and_its_share() {
    let mps = BTreeMap::from([(
        1,
        MpsDirs {
            pipe_dir: "/run/mps1".into(),
            log_dir: "/var/log/mps1".into(),
        },
    )]);
    let t = task(
        Sharing::Mps {
            concurrency: 2,
            active_thread_percentage: 50,
        },
        &["a"],
        one_gpu(),
    );
    let specs = run(&t, &BTreeMap::new(), &mps).unwrap();
    assert_eq!(gpu_indices(&specs), [1, 1]);
    for s in &specs {
        assert_eq!(
            s.mps,
            Some(MpsClient {
                pipe_dir: "/run/mps1".into(),
                log_dir: "/var/log/mps1".into(),
                active_thread_percentage: 50
            })
        );
    }
    assert_eq!(
        plain(&t).unwrap_err(),
        LaunchError::MpsNotStarted { gpu: 1 }
    );
}

#[test]
fn mps_is_refused_on_a_mig_gpu() {
    let gpus = [GpuInventory {
        mig_enabled: true,
        ..gpu(0)
    }];
    let t = task(
        Sharing::Mps {
            concurrency: 2,
            active_thread_percentage: 50,
        },
        &["a"],
        Target::Gpu {
            node: "n".into(),
            gpu: gref(0),
        },
    );
    let err = launch_specs(
        &t,
        1,
        &LaunchContext {
            gpus: &gpus,
            mig: &BTreeMap::new(),
            mps: &BTreeMap::new(),
        },
    )
    .unwrap_err();
    assert_eq!(err, LaunchError::MpsOnMig { gpu: 0 });
    assert!(err.is_deterministic());
}

fn applied(gpu: u32, layout: &str) -> AppliedLayout {
    let table = builtin_table("h100-80gb").unwrap();
    let placed = place(&table, &parse_layout(layout).unwrap()).unwrap();
    let mut devices = Vec::new();
    for (gi_index, gi) in placed.instances.iter().enumerate() {
        for ci_index in 0..gi.compute_instances.len() {
            devices.push(MigDevice {
                gi_index,
                ci_index,
                gi_id: gi_index as u32 + 1,
                ci_id: ci_index as u32,
                uuid: format!("MIG-{gpu}-{gi_index}-{ci_index}"),
            });
        }
    }
    AppliedLayout {
        gpu,
        layout: placed,
        devices,
    }
}

fn assign(gi: u32, ci: u32, workload: &str) -> MigAssignment {
    MigAssignment {
        gpu_instance: gi,
        compute_instance: ci,
        workload: workload.into(),
        role: InstanceRole::Fill,
    }
}

#[test]
fn mig_binds_each_assignment_to_its_device_and_duplicates_time_slice_it() {
    let a = applied(1, "4g.40gb + 3g.40gb(2c + 1c)");
    let sharing = Sharing::Mig {
        layout: a.layout.clone(),
        assignments: vec![assign(0, 0, "a"), assign(0, 0, "a"), assign(1, 1, "b")],
    };
    let t = task(sharing, &["a", "b"], one_gpu());
    let specs = run(&t, &BTreeMap::from([(1, a)]), &BTreeMap::new()).unwrap();
    let bound: Vec<(String, String, String)> = specs
        .iter()
        .map(|s| match &s.gpu {
            GpuBinding::MigDevice { uuid, profile } => {
                (uuid.clone(), profile.clone(), s.workload.name.clone())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        bound,
        [
            ("MIG-1-0-0".into(), "4g.40gb".into(), "a".into()),
            ("MIG-1-0-0".into(), "4g.40gb".into(), "a".into()),
            ("MIG-1-1-1".into(), "3g.40gb".into(), "b".into()),
        ]
    );
}

#[test]
fn mig_refuses_missing_layouts_and_devices() {
    let a = applied(1, "7g.80gb");
    let t = task(
        Sharing::Mig {
            layout: a.layout.clone(),
            assignments: vec![assign(0, 3, "a")],
        },
        &["a"],
        one_gpu(),
    );
    assert_eq!(
        plain(&t).unwrap_err(),
        LaunchError::MigNotApplied { gpu: 1 }
    );
    assert_eq!(
        run(&t, &BTreeMap::from([(1, a)]), &BTreeMap::new()).unwrap_err(),
        LaunchError::NoMigDevice {
            gpu: 1,
            gpu_instance: 0,
            compute_instance: 3
        }
    );
}

#[test]
fn usage_grid_loads_each_gpu_at_its_level_and_skips_zero() {
    let t = task(
        Sharing::UsageGrid {
            levels: vec![0, 50],
        },
        &["b"],
        node_gpus(2),
    );
    let specs = plain(&t).unwrap();
    assert_eq!(gpu_indices(&specs), [1]);
    assert_eq!(specs[0].instance, 0);
    assert_eq!(specs[0].command().unwrap()[2], "50");
    let idle = task(
        Sharing::UsageGrid { levels: vec![0, 0] },
        &["b"],
        node_gpus(2),
    );
    assert!(plain(&idle).unwrap().is_empty());
    let wrong = task(
        Sharing::UsageGrid { levels: vec![50] },
        &["b"],
        node_gpus(2),
    );
    assert_eq!(
        plain(&wrong).unwrap_err(),
        LaunchError::LevelsMismatch { levels: 1, gpus: 2 }
    );
    let high = task(
        Sharing::UsageGrid {
            levels: vec![0, 150],
        },
        &["b"],
        node_gpus(2),
    );
    assert_eq!(
        plain(&high).unwrap_err(),
        LaunchError::LevelOutOfRange { gpu: 1, level: 150 }
    );
}

#[test]
fn refusals_name_what_is_wrong() {
    let any = task(
        Sharing::Exclusive,
        &["a"],
        Target::Any {
            model: "h100-80gb".into(),
        },
    );
    assert!(matches!(
        plain(&any).unwrap_err(),
        LaunchError::UnresolvedTarget { .. }
    ));
    let missing = task(Sharing::Exclusive, &["zzz"], one_gpu());
    let e = plain(&missing).unwrap_err();
    assert!(
        e.to_string().contains("`zzz`") && e.to_string().contains("a, b"),
        "{e}"
    );
    let other_gpu = task(
        Sharing::Exclusive,
        &["a"],
        Target::Gpu {
            node: "n".into(),
            gpu: GpuRef {
                uuid: "GPU-else".into(),
                ..gref(0)
            },
        },
    );
    assert!(matches!(
        plain(&other_gpu).unwrap_err(),
        LaunchError::NoSuchGpu { index: 0, .. }
    ));
    let no_gpu = task(Sharing::Exclusive, &["a"], node_gpus(3));
    assert!(matches!(
        plain(&no_gpu).unwrap_err(),
        LaunchError::NoSuchGpu { index: 2, .. }
    ));
    assert_eq!(
        plain(&task(
            Sharing::TimeSlicing { concurrency: 0 },
            &["a"],
            one_gpu()
        ))
        .unwrap_err(),
        LaunchError::ZeroConcurrency {
            mode: "time-slicing"
        }
    );
    assert_eq!(
        plain(&task(Sharing::Unknown, &["a"], one_gpu())).unwrap_err(),
        LaunchError::UnknownSharing
    );
    assert_eq!(
        plain(&task(Sharing::Exclusive, &[], one_gpu())).unwrap_err(),
        LaunchError::NoWorkload
    );
}

#[test]
fn a_task_naming_no_uuid_takes_the_gpu_at_its_index() {
    let t = task(
        Sharing::Exclusive,
        &["a"],
        Target::Gpu {
            node: "n".into(),
            gpu: GpuRef {
                uuid: String::new(),
                ..gref(1)
            },
        },
    );
    assert_eq!(gpu_indices(&plain(&t).unwrap()), [1]);
    assert_eq!(short_id(t.id), "00000000");
}
