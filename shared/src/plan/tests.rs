//! Planner tests: one per sweep kind and scope, errors, order and ids. MIG sweeps are tested in
//! `tests_mig.rs`, properties in `tests_prop.rs`.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::*;
use crate::campaign::{Sweep, Targets};
use crate::model::{
    GpuInventory, GpuRef, NodeInventory, Runtime, Scope, Sharing, Timing, WorkloadSpec,
};

#[path = "tests_grid.rs"]
mod grid;
#[path = "tests_mig.rs"]
mod mig;
#[path = "tests_mig_scope.rs"]
mod mig_scope;
#[path = "tests_prop.rs"]
mod props;

pub(super) fn workload(name: &str) -> WorkloadSpec {
    WorkloadSpec {
        name: name.to_owned(),
        image: Some(format!("wattsweep/{name}:latest")),
        command: vec![name.to_owned(), "{measure_s}".to_owned()],
        ..WorkloadSpec::default()
    }
}

pub(super) fn sweep(name: &str, kind: SweepKind) -> Sweep {
    Sweep {
        name: name.to_owned(),
        scope: Scope::Gpu,
        runtime: Runtime::Docker,
        workloads: vec!["burn".to_owned()],
        mix: false,
        kind,
    }
}

pub(super) fn campaign(sweeps: Vec<Sweep>) -> Campaign {
    let workloads: BTreeMap<String, WorkloadSpec> = ["burn", "hpcg", "idle"]
        .into_iter()
        .map(|n| (n.to_owned(), workload(n)))
        .collect();
    Campaign {
        name: "test".to_owned(),
        repetitions: 1,
        order: Order::Sequential,
        seed: 7,
        targets: Targets {
            nodes: vec!["*".to_owned()],
            gpu_models: vec!["*".to_owned()],
            scope: Scope::Gpu,
        },
        timing: Timing::default(),
        power_budget_w: None,
        workloads,
        sweeps,
    }
}

pub(super) fn node(id: &str, gpus: &[(&str, u32)]) -> NodeInventory {
    hypothetical_node(id, gpus).unwrap()
}

pub(super) fn ts(concurrency: &[u32]) -> SweepKind {
    SweepKind::TimeSlicing {
        concurrency: concurrency.to_vec(),
    }
}

pub(super) fn run(c: &Campaign, fleet: &[NodeInventory]) -> Plan {
    plan(c, campaign_id_for(&c.name), fleet).unwrap()
}

pub(super) fn names(p: &Plan) -> Vec<String> {
    p.tasks
        .iter()
        .map(|t| format!("{} @ {}", t.configuration.name, t.target))
        .collect()
}

#[test]
fn time_slicing_per_gpu_in_repetition_configuration_target_order() {
    let mut c = campaign(vec![sweep("ts", ts(&[1, 4]))]);
    c.repetitions = 2;
    let fleet = [
        node("b", &[("h100-80gb", 2)]),
        node("a", &[("h100-80gb", 1)]),
    ];
    let p = run(&c, &fleet);
    let expected = [
        "ts/burn/c1 @ a/gpu0",
        "ts/burn/c1 @ b/gpu0",
        "ts/burn/c1 @ b/gpu1",
        "ts/burn/c4 @ a/gpu0",
        "ts/burn/c4 @ b/gpu0",
        "ts/burn/c4 @ b/gpu1",
    ];
    let both: Vec<String> = expected
        .iter()
        .chain(expected.iter())
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(names(&p), both);
    assert!(p.skipped.is_empty());
    for (i, t) in p.tasks.iter().enumerate() {
        assert_eq!(t.seq as usize, i);
        assert_eq!(t.repetition, u32::from(i >= 6));
        assert_eq!(t.campaign, "test");
        assert_eq!(t.campaign_id, campaign_id_for("test"));
        assert_eq!(t.timing, Timing::default());
        assert_eq!(t.workloads, vec![workload("burn")]);
        assert_eq!(t.configuration.sweep, "ts");
        assert_eq!(t.configuration.runtime, Runtime::Docker);
        assert_eq!(t.configuration.workloads, vec!["burn".to_owned()]);
        assert_eq!(
            t.id,
            task_id(
                t.campaign_id,
                &t.configuration.name,
                &t.target.to_string(),
                t.repetition
            )
        );
    }
    assert_eq!(
        p.tasks[3].configuration.sharing,
        Sharing::TimeSlicing { concurrency: 4 }
    );
    assert_eq!(
        p.tasks[0].target,
        Target::Gpu {
            node: "a".to_owned(),
            gpu: GpuRef {
                index: 0,
                uuid: String::new(),
                model: "h100-80gb".to_owned()
            }
        }
    );
}

#[test]
fn mps_sweeps_concurrency_then_percentage() {
    let kind = SweepKind::Mps {
        concurrency: vec![2, 4],
        active_thread_percentage: vec![50, 100],
    };
    let p = run(
        &campaign(vec![sweep("mps", kind)]),
        &[node("n", &[("h100-80gb", 1)])],
    );
    let got: Vec<(&str, &Sharing)> = p
        .tasks
        .iter()
        .map(|t| (t.configuration.name.as_str(), &t.configuration.sharing))
        .collect();
    let mps = |c, a| Sharing::Mps {
        concurrency: c,
        active_thread_percentage: a,
    };
    assert_eq!(
        got,
        vec![
            ("mps/burn/c2-atp50", &mps(2, 50)),
            ("mps/burn/c2-atp100", &mps(2, 100)),
            ("mps/burn/c4-atp50", &mps(4, 50)),
            ("mps/burn/c4-atp100", &mps(4, 100)),
        ]
    );
}

#[test]
fn each_workload_its_own_configuration_unless_mix() {
    let mut s = sweep("solo", SweepKind::Exclusive);
    s.workloads = vec!["hpcg".to_owned(), "burn".to_owned()];
    let fleet = [node("n", &[("h100-80gb", 1)])];
    let p = run(&campaign(vec![s.clone()]), &fleet);
    assert_eq!(
        names(&p),
        [
            "solo/hpcg/exclusive @ n/gpu0",
            "solo/burn/exclusive @ n/gpu0"
        ]
    );
    assert_eq!(p.tasks[0].workloads, vec![workload("hpcg")]);
    assert_eq!(p.tasks[0].configuration.sharing, Sharing::Exclusive);

    s.mix = true;
    s.kind = ts(&[2]);
    let p = run(&campaign(vec![s]), &fleet);
    assert_eq!(names(&p), ["solo/hpcg+burn/c2 @ n/gpu0"]);
    assert_eq!(p.tasks[0].configuration.workloads, ["hpcg", "burn"]);
    assert_eq!(
        p.tasks[0].workloads,
        vec![workload("hpcg"), workload("burn")]
    );
}

#[test]
fn node_scope_holds_all_matching_gpus_and_skips_mixed_nodes() {
    let mut s = sweep("ts", ts(&[2]));
    s.scope = Scope::Node;
    let mut c = campaign(vec![s]);
    c.targets.gpu_models = vec!["*H100*".to_owned(), "*A100*".to_owned()];
    let mut mixed = node("mixed", &[("h100-80gb", 1), ("a100-80gb", 1)]);
    mixed.gpus.reverse(); // index order is restored by the planner
    let fleet = [
        node("h", &[("h100-80gb", 3)]),
        mixed,
        node("other", &[("h200-141gb", 2)]),
    ];
    let p = run(&c, &fleet);
    assert_eq!(names(&p), ["ts/burn/c2 @ h/gpu0,1,2"]);
    let Target::Node { node, gpus } = &p.tasks[0].target else {
        panic!("{:?}", p.tasks[0].target)
    };
    assert_eq!(node, "h");
    assert_eq!(gpus.iter().map(|g| g.index).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(p.skipped.len(), 1);
    let skip = &p.skipped[0];
    assert_eq!(skip.sweep, "ts");
    assert_eq!(skip.configuration, None);
    assert_eq!(skip.target.to_string(), "mixed/gpu0,1");
    assert!(skip.reason.contains("different models"), "{}", skip.reason);
    assert!(
        skip.reason.contains("gpu0 h100-80gb, gpu1 a100-80gb"),
        "{}",
        skip.reason
    );
}

#[test]
fn any_scope_runs_once_on_the_first_sorted_model() {
    let mut s = sweep("ts", ts(&[1, 2]));
    s.scope = Scope::Any;
    let mut c = campaign(vec![s]);
    c.repetitions = 2;
    let fleet = [
        node("z", &[("h200-141gb", 1)]),
        node("y", &[("h100-80gb", 2)]),
    ];
    let p = run(&c, &fleet);
    assert_eq!(
        names(&p),
        [
            "ts/burn/c1 @ any/h100-80gb",
            "ts/burn/c2 @ any/h100-80gb",
            "ts/burn/c1 @ any/h100-80gb",
            "ts/burn/c2 @ any/h100-80gb"
        ]
    );
    assert!(p.skipped.is_empty());
}

#[test]
fn globs_match_node_ids_and_gpu_names_case_insensitively() {
    let mut c = campaign(vec![sweep("ts", ts(&[1]))]);
    c.targets.nodes = vec!["rack1-*".to_owned()];
    c.targets.gpu_models = vec!["*h100*".to_owned()];
    let fleet = [
        node("rack1-a", &[("h100-80gb", 1), ("a100-80gb", 1)]),
        node("rack2-a", &[("h100-80gb", 1)]),
        node("rack1-b", &[("h100-94gb", 1)]),
    ];
    let p = run(&c, &fleet);
    assert_eq!(
        names(&p),
        ["ts/burn/c1 @ rack1-a/gpu0", "ts/burn/c1 @ rack1-b/gpu0"]
    );

    c.targets.gpu_models = vec!["*B200*".to_owned()];
    let err = plan(&c, Uuid::nil(), &fleet).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, PlanError::NoMatchingGpus { .. }));
    assert!(msg.contains("*B200*") && msg.contains("3 node(s)"), "{msg}");
    assert!(
        msg.contains("2× NVIDIA H100 80GB HBM3, 1× NVIDIA H100 NVL"),
        "{msg}"
    );
}

#[test]
fn unknown_gpu_models_are_planned_by_nvml_name() {
    let fleet = [NodeInventory {
        node_id: "n".to_owned(),
        gpus: vec![GpuInventory {
            index: 0,
            uuid: "GPU-1".to_owned(),
            name: "NVIDIA L40S".to_owned(),
            ..GpuInventory::default()
        }],
        ..NodeInventory::default()
    }];
    let p = run(&campaign(vec![sweep("ts", ts(&[2]))]), &fleet);
    assert_eq!(p.tasks[0].target.model(), Some("NVIDIA L40S"));
    let Target::Gpu { gpu, .. } = &p.tasks[0].target else {
        panic!()
    };
    assert_eq!(gpu.uuid, "GPU-1");
}

#[test]
fn plan_does_not_depend_on_fleet_order() {
    let c = campaign(vec![
        sweep("ts", ts(&[1, 2])),
        grid::grid(&[0, 100], crate::campaign::Design::Full),
    ]);
    let mut fleet = vec![
        node("c", &[("h100-80gb", 2)]),
        node("a", &[("h100-80gb", 1)]),
        node("b", &[("h200-141gb", 2)]),
    ];
    let p1 = run(&c, &fleet);
    fleet.reverse();
    fleet[0].gpus.reverse();
    assert_eq!(p1, run(&c, &fleet));
}

#[test]
fn refuses_duplicates_and_unknown_workloads() {
    let fleet = [node("n", &[("h100-80gb", 1)])];
    let err = plan(
        &campaign(vec![sweep("ts", ts(&[2, 2]))]),
        Uuid::nil(),
        &fleet,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PlanError::DuplicateConfiguration {
            sweep: "ts".to_owned(),
            name: "ts/burn/c2".to_owned()
        }
    );

    let mut s = sweep("ts", ts(&[2]));
    s.workloads = vec!["nope".to_owned()];
    let err = plan(&campaign(vec![s]), Uuid::nil(), &fleet).unwrap_err();
    assert!(
        err.to_string().contains("`nope`") && err.to_string().contains("burn, hpcg, idle"),
        "{err}"
    );

    let twice = [
        node("n", &[("h100-80gb", 1)]),
        node("n", &[("h100-80gb", 1)]),
    ];
    let err = plan(&campaign(vec![sweep("ts", ts(&[2]))]), Uuid::nil(), &twice).unwrap_err();
    assert_eq!(
        err,
        PlanError::DuplicateNode {
            node: "n".to_owned()
        }
    );

    let mut same_index = node("n", &[("h100-80gb", 2)]);
    same_index.gpus[1].index = 0;
    let err = plan(
        &campaign(vec![sweep("ts", ts(&[2]))]),
        Uuid::nil(),
        &[same_index],
    )
    .unwrap_err();
    assert_eq!(
        err,
        PlanError::DuplicateGpu {
            node: "n".to_owned(),
            index: 0
        }
    );
}

#[test]
fn hypothetical_nodes() {
    let n = hypothetical_node("plan", &[("h100-80gb", 2), ("A100-40GB", 1)]).unwrap();
    assert_eq!(n.node_id, "plan");
    let got: Vec<(u32, &str, Option<&str>, bool, &str)> = n
        .gpus
        .iter()
        .map(|g| {
            (
                g.index,
                g.name.as_str(),
                g.model_id.as_deref(),
                g.mig_capable,
                g.uuid.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, "NVIDIA H100 80GB HBM3", Some("h100-80gb"), true, ""),
            (1, "NVIDIA H100 80GB HBM3", Some("h100-80gb"), true, ""),
            (2, "NVIDIA A100-SXM4-40GB", Some("a100-40gb"), true, ""),
        ]
    );
    let err = hypothetical_node("plan", &[("b200", 1)]).unwrap_err();
    assert!(
        err.to_string().contains("`b200`") && err.to_string().contains("h100-80gb"),
        "{err}"
    );
}

#[test]
fn shuffled_permutes_configurations_within_each_repetition() {
    let mut c = campaign(vec![sweep("ts", ts(&[1, 2, 3, 4, 5, 6, 7, 8]))]);
    c.repetitions = 3;
    let fleet = [node("n", &[("h100-80gb", 2)])];
    let seq = run(&c, &fleet);
    c.order = Order::Shuffled;
    let shuf = run(&c, &fleet);
    assert_ne!(names(&seq), names(&shuf));
    for rep in 0..3u32 {
        let block: Vec<&TaskSpec> = shuf.tasks[rep as usize * 16..(rep as usize + 1) * 16]
            .iter()
            .collect();
        assert!(block.iter().all(|t| t.repetition == rep));
        // Targets of one configuration stay together, in fleet order.
        for pair in block.chunks(2) {
            assert_eq!(pair[0].configuration.name, pair[1].configuration.name);
            assert_eq!(pair[0].target.to_string(), "n/gpu0");
        }
    }
    let order: Vec<usize> = order::shuffled(8, 7, 1);
    let got: Vec<&str> = shuf.tasks[16..32]
        .iter()
        .step_by(2)
        .map(|t| t.configuration.name.as_str())
        .collect();
    let want: Vec<String> = order
        .iter()
        .map(|i| format!("ts/burn/c{}", i + 1))
        .collect();
    assert_eq!(got, want);
}

/// Task ids are a contract between plans made at different times: pinned values.
#[test]
fn pinned_task_ids() {
    let mut c = campaign(vec![sweep("ts", ts(&[4]))]);
    c.name = "h100-sharing-envelope".to_owned();
    c.repetitions = 2;
    let p = run(&c, &[node("node-1", &[("h100-80gb", 4)])]);
    let t = &p.tasks[3];
    assert_eq!(
        (
            t.configuration.name.as_str(),
            t.target.to_string(),
            t.repetition
        ),
        ("ts/burn/c4", "node-1/gpu3".to_owned(), 0)
    );
    assert_eq!(t.id.to_string(), "ec72e901-16a7-520b-a2a4-ace066a11304");
    assert_eq!(
        p.tasks[7].id.to_string(),
        "61b0fcfd-712e-5673-b08f-aecab22e0994"
    );
}
