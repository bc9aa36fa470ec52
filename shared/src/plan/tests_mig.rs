//! Planner tests of MIG sweeps: placement per profile table, fills, neighbour series, skips.

use super::*;
use crate::campaign::{Fill, LayoutEntry, NeighbourProfile};
use crate::mig::{ProfileRef, builtin_table, parse_layout};
use crate::model::{InstanceRole, MigAssignment};

pub(super) fn layouts(texts: &[&str], fill: Fill, concurrency: &[u32]) -> SweepKind {
    SweepKind::MigLayouts {
        layouts: texts
            .iter()
            .map(|t| LayoutEntry {
                text: (*t).to_owned(),
                spec: parse_layout(t).unwrap(),
            })
            .collect(),
        fill,
        concurrency: concurrency.to_vec(),
    }
}

fn neighbours(protagonists: &[&str], profile: NeighbourProfile, max: Option<u32>) -> SweepKind {
    SweepKind::MigNeighbours {
        protagonists: protagonists
            .iter()
            .map(|p| ProfileRef::Name((*p).to_owned()))
            .collect(),
        neighbour_profile: profile,
        neighbour_workload: "idle".to_owned(),
        max_neighbours: max,
    }
}

pub(super) fn assignments(t: &TaskSpec) -> Vec<(u32, u32, &str, InstanceRole)> {
    let Sharing::Mig { assignments, .. } = &t.configuration.sharing else {
        panic!("not MIG: {:?}", t.configuration.sharing)
    };
    assignments
        .iter()
        .map(|a: &MigAssignment| {
            (
                a.gpu_instance,
                a.compute_instance,
                a.workload.as_str(),
                a.role,
            )
        })
        .collect()
}

pub(super) fn starts(t: &TaskSpec) -> Vec<(String, u8)> {
    let Sharing::Mig { layout, .. } = &t.configuration.sharing else {
        panic!()
    };
    layout
        .instances
        .iter()
        .map(|g| (g.profile.clone(), g.start))
        .collect()
}

const FILL: InstanceRole = InstanceRole::Fill;
const PROT: InstanceRole = InstanceRole::Protagonist;
const NEIGH: InstanceRole = InstanceRole::Neighbour;

#[test]
fn layouts_fill_every_compute_instance_times_concurrency() {
    let kind = layouts(&["3g.40gb x2", "7g.80gb(2c x3 + 1c)"], Fill::All, &[1, 2]);
    let p = run(
        &campaign(vec![sweep("mig", kind)]),
        &[node("n", &[("h100-80gb", 1)])],
    );
    let got: Vec<&str> = p
        .tasks
        .iter()
        .map(|t| t.configuration.name.as_str())
        .collect();
    assert_eq!(
        got,
        [
            "mig/burn/3g.40gbx2",
            "mig/burn/3g.40gbx2-c2",
            "mig/burn/7g.80gb(2cx3+1c)",
            "mig/burn/7g.80gb(2cx3+1c)-c2"
        ]
    );
    assert_eq!(
        starts(&p.tasks[0]),
        [("3g.40gb".to_owned(), 0), ("3g.40gb".to_owned(), 4)]
    );
    assert_eq!(
        assignments(&p.tasks[0]),
        [(0, 0, "burn", FILL), (1, 0, "burn", FILL)]
    );
    assert_eq!(
        assignments(&p.tasks[1]),
        [
            (0, 0, "burn", FILL),
            (0, 0, "burn", FILL),
            (1, 0, "burn", FILL),
            (1, 0, "burn", FILL)
        ]
    );
    let split: Vec<_> = assignments(&p.tasks[2])
        .iter()
        .map(|a| (a.0, a.1))
        .collect();
    assert_eq!(split, [(0, 0), (0, 1), (0, 2), (0, 3)]);
    assert_eq!(assignments(&p.tasks[3]).len(), 8);
}

#[test]
fn fill_first_and_fill_neighbours() {
    let fleet = [node("n", &[("h100-80gb", 1)])];
    let first = sweep("first", layouts(&["4g.40gb + 3g.40gb"], Fill::First, &[]));
    let neigh = sweep(
        "neigh",
        layouts(
            &["4g.40gb + 3g.40gb"],
            Fill::Neighbours("idle".to_owned()),
            &[],
        ),
    );
    let p = run(&campaign(vec![first, neigh]), &fleet);
    assert_eq!(p.tasks[0].configuration.name, "first/burn/4g.40gb+3g.40gb");
    assert_eq!(assignments(&p.tasks[0]), [(0, 0, "burn", PROT)]);
    assert_eq!(p.tasks[0].configuration.workloads, ["burn"]);
    assert_eq!(
        assignments(&p.tasks[1]),
        [(0, 0, "burn", PROT), (1, 0, "idle", NEIGH)]
    );
    assert_eq!(p.tasks[1].configuration.workloads, ["burn", "idle"]);
    assert_eq!(
        p.tasks[1].workloads,
        vec![workload("burn"), workload("idle")]
    );
    assert_eq!(
        starts(&p.tasks[1]),
        [("4g.40gb".to_owned(), 0), ("3g.40gb".to_owned(), 4)]
    );
}

#[test]
fn mix_deals_workloads_round_robin_over_instances() {
    let mut s = sweep("mig", layouts(&["1g.10gb x3"], Fill::All, &[]));
    s.workloads = vec!["burn".to_owned(), "hpcg".to_owned()];
    s.mix = true;
    let p = run(&campaign(vec![s]), &[node("n", &[("h100-80gb", 1)])]);
    assert_eq!(p.tasks[0].configuration.name, "mig/burn+hpcg/1g.10gbx3");
    assert_eq!(
        assignments(&p.tasks[0]),
        [
            (0, 0, "burn", FILL),
            (1, 0, "hpcg", FILL),
            (2, 0, "burn", FILL)
        ]
    );
}

#[test]
fn layouts_that_do_not_place_are_skipped_with_the_reason() {
    let kind = layouts(&["7g.80gb", "3g.40gb x3"], Fill::All, &[]);
    let fleet = [node("n", &[("h100-80gb", 1), ("a100-40gb", 1)])];
    let p = run(&campaign(vec![sweep("mig", kind)]), &fleet);
    assert_eq!(names(&p), ["mig/burn/7g.80gb @ n/gpu0"]);
    let skips: Vec<(Option<&str>, String)> = p
        .skipped
        .iter()
        .map(|s| (s.configuration.as_deref(), s.target.to_string()))
        .collect();
    assert_eq!(
        skips,
        [
            (Some("mig/burn/7g.80gb"), "n/gpu1".to_owned()),
            (Some("mig/burn/3g.40gbx3"), "n/gpu0".to_owned()),
            (Some("mig/burn/3g.40gbx3"), "n/gpu1".to_owned()),
        ]
    );
    // The placement error's own message, naming the profile and what the model offers.
    let a100 = builtin_table("a100-40gb").unwrap();
    let err = crate::mig::place(&a100, &parse_layout("7g.80gb").unwrap()).unwrap_err();
    assert_eq!(p.skipped[0].reason, err.to_string());
    assert!(
        p.skipped[1].reason.contains("3g.40gb"),
        "{}",
        p.skipped[1].reason
    );
}

#[test]
fn gpus_without_mig_are_skipped_once_per_sweep() {
    let mut fleet = node("n", &[("h100-80gb", 2)]);
    fleet.gpus[1].mig_capable = false;
    fleet.gpus.push(GpuInventory {
        index: 2,
        name: "NVIDIA Future GPU".to_owned(),
        mig_capable: true,
        ..GpuInventory::default()
    });
    let c = campaign(vec![
        sweep("mig", layouts(&["7g.80gb", "3g.40gb x2"], Fill::All, &[])),
        sweep("ts", ts(&[2])),
    ]);
    let p = run(&c, &[fleet]);
    assert_eq!(
        names(&p),
        [
            "mig/burn/7g.80gb @ n/gpu0",
            "mig/burn/3g.40gbx2 @ n/gpu0",
            "ts/burn/c2 @ n/gpu0",
            "ts/burn/c2 @ n/gpu1",
            "ts/burn/c2 @ n/gpu2"
        ]
    );
    assert_eq!(p.skipped.len(), 2);
    assert!(
        p.skipped
            .iter()
            .all(|s| s.configuration.is_none() && s.sweep == "mig")
    );
    assert!(
        p.skipped[0].reason.contains("not MIG-capable"),
        "{}",
        p.skipped[0].reason
    );
    assert!(
        p.skipped[1].reason.contains("no MIG profile table"),
        "{}",
        p.skipped[1].reason
    );
    assert!(
        p.skipped[1].reason.contains("NVIDIA Future GPU"),
        "{}",
        p.skipped[1].reason
    );
}

#[test]
fn the_drivers_profile_table_overrides_the_built_in_one() {
    let mut fleet = node("n", &[("h100-80gb", 2)]);
    let mut table = builtin_table("h100-80gb").unwrap();
    table.gpu_instance_profiles.retain(|p| p.name != "3g.40gb");
    fleet.gpus[1].profile_table = Some(table);
    let p = run(
        &campaign(vec![sweep("mig", layouts(&["3g.40gb x2"], Fill::All, &[]))]),
        &[fleet],
    );
    assert_eq!(names(&p), ["mig/burn/3g.40gbx2 @ n/gpu0"]);
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].target.to_string(), "n/gpu1");
}

#[test]
fn neighbour_series_grow_until_nothing_fits() {
    let kind = neighbours(
        &["1g.10gb", "3g.40gb", "7g.80gb"],
        NeighbourProfile::Smallest,
        None,
    );
    let p = run(
        &campaign(vec![sweep("nb", kind)]),
        &[node("n", &[("h100-80gb", 1)])],
    );
    let got: Vec<&str> = p
        .tasks
        .iter()
        .map(|t| t.configuration.name.as_str())
        .collect();
    assert_eq!(
        got,
        [
            "nb/burn/1g.10gb+n0",
            "nb/burn/1g.10gb+n1",
            "nb/burn/1g.10gb+n2",
            "nb/burn/1g.10gb+n3",
            "nb/burn/1g.10gb+n4",
            "nb/burn/1g.10gb+n5",
            "nb/burn/1g.10gb+n6",
            "nb/burn/3g.40gb+n0",
            "nb/burn/3g.40gb+n1",
            "nb/burn/3g.40gb+n2",
            "nb/burn/3g.40gb+n3",
            "nb/burn/7g.80gb+n0",
        ]
    );
    assert!(p.skipped.is_empty());
    for t in &p.tasks {
        let n: usize = t
            .configuration
            .name
            .rsplit("+n")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let a = assignments(t);
        assert_eq!(a.len(), n + 1);
        assert_eq!(a.iter().filter(|x| x.3 == PROT && x.2 == "burn").count(), 1);
        assert_eq!(
            a.iter().filter(|x| x.3 == NEIGH && x.2 == "idle").count(),
            n
        );
        assert_eq!(t.configuration.workloads, ["burn", "idle"]);
    }
    // The protagonist stays put and each step adds exactly one neighbour.
    assert_eq!(
        starts(&p.tasks[10]),
        [
            ("3g.40gb".to_owned(), 0),
            ("1g.10gb".to_owned(), 4),
            ("1g.10gb".to_owned(), 5),
            ("1g.10gb".to_owned(), 6)
        ]
    );
    for w in p.tasks[7..11].windows(2) {
        let (a, b) = (starts(&w[0]), starts(&w[1]));
        assert!(a.iter().all(|x| b.contains(x)), "{a:?} ⊄ {b:?}");
        assert_eq!(a.len() + 1, b.len());
    }
}

#[test]
fn neighbour_series_stop_at_max_and_skip_smaller_tables() {
    let mut fleet = node("n", &[("h100-80gb", 2)]);
    let mut table = builtin_table("h100-80gb").unwrap();
    for p in &mut table.gpu_instance_profiles {
        if p.name == "1g.10gb" {
            p.max_count = 3;
        }
    }
    fleet.gpus[1].profile_table = Some(table);
    let c = campaign(vec![sweep(
        "nb",
        neighbours(&["1g.10gb"], NeighbourProfile::Smallest, None),
    )]);
    let p = run(&c, std::slice::from_ref(&fleet));
    let on_gpu1: Vec<&str> = p
        .tasks
        .iter()
        .filter(|t| t.target.to_string() == "n/gpu1")
        .map(|t| t.configuration.name.as_str())
        .collect();
    assert_eq!(
        on_gpu1,
        [
            "nb/burn/1g.10gb+n0",
            "nb/burn/1g.10gb+n1",
            "nb/burn/1g.10gb+n2"
        ]
    );
    assert_eq!(p.tasks.len(), 7 + 3);
    let skipped: Vec<&str> = p
        .skipped
        .iter()
        .filter_map(|s| s.configuration.as_deref())
        .collect();
    assert_eq!(
        skipped,
        [
            "nb/burn/1g.10gb+n3",
            "nb/burn/1g.10gb+n4",
            "nb/burn/1g.10gb+n5",
            "nb/burn/1g.10gb+n6"
        ]
    );
    assert!(
        p.skipped[0].reason.contains("adding neighbour 3"),
        "{}",
        p.skipped[0].reason
    );

    let c = campaign(vec![sweep(
        "nb",
        neighbours(&["1g.10gb"], NeighbourProfile::Smallest, Some(1)),
    )]);
    let p = run(&c, &[fleet]);
    assert_eq!(
        names(&p),
        [
            "nb/burn/1g.10gb+n0 @ n/gpu0",
            "nb/burn/1g.10gb+n0 @ n/gpu1",
            "nb/burn/1g.10gb+n1 @ n/gpu0",
            "nb/burn/1g.10gb+n1 @ n/gpu1"
        ]
    );
}

#[test]
fn named_neighbour_profile() {
    let kind = neighbours(
        &["1g.10gb"],
        NeighbourProfile::Profile(ProfileRef::Name("2g.20gb".to_owned())),
        None,
    );
    let p = run(
        &campaign(vec![sweep("nb", kind)]),
        &[node("n", &[("h100-80gb", 1)])],
    );
    // 1g.10gb at 0; 2g.20gb may start at 2 and 4 only (0 is taken).
    assert_eq!(p.tasks.len(), 3);
    assert_eq!(
        starts(&p.tasks[2]),
        [
            ("1g.10gb".to_owned(), 0),
            ("2g.20gb".to_owned(), 2),
            ("2g.20gb".to_owned(), 4)
        ]
    );
}
