//! Planner properties over random fleets and campaigns: determinism, unique and stable ids, the
//! shuffled order as a permutation of the sequential one, targets that match the globs.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use wildmatch::WildMatch;

use super::*;
use crate::campaign::{Design, Fill, LayoutEntry, NeighbourProfile};
use crate::mig::{ProfileRef, parse_layout};

const MODELS: [&str; 5] = [
    "a100-40gb",
    "a100-80gb",
    "h100-80gb",
    "h100-94gb",
    "h200-141gb",
];

fn arb_node(id: usize) -> impl Strategy<Value = NodeInventory> {
    prop::collection::vec((0..MODELS.len(), 0..8u8), 1..=4).prop_map(move |gpus| {
        let spec: Vec<(&str, u32)> = gpus.iter().map(|(m, _)| (MODELS[*m], 1)).collect();
        let mut n = node(&format!("n{id}"), &spec);
        for (g, (_, capable)) in n.gpus.iter_mut().zip(&gpus) {
            g.mig_capable = *capable != 0; // mostly capable
            g.uuid = format!("GPU-{id}-{}", g.index);
        }
        n
    })
}

fn arb_fleet() -> impl Strategy<Value = Vec<NodeInventory>> {
    prop::sample::subsequence((0..6usize).collect::<Vec<_>>(), 1..=4)
        .prop_flat_map(|ids| ids.into_iter().map(arb_node).collect::<Vec<_>>())
}

fn mig_layouts() -> SweepKind {
    SweepKind::MigLayouts {
        layouts: ["3g x2", "7g", "4g + 3g", "1g x7", "2g x4"]
            .iter()
            .map(|t| LayoutEntry {
                text: (*t).to_owned(),
                spec: parse_layout(t).unwrap(),
            })
            .collect(),
        fill: Fill::Neighbours("idle".to_owned()),
        concurrency: vec![1, 2],
    }
}

fn arb_sweep(i: usize) -> impl Strategy<Value = Sweep> {
    let kinds = prop_oneof![
        Just(SweepKind::Exclusive),
        Just(ts(&[1, 2, 4])),
        Just(SweepKind::Mps {
            concurrency: vec![2],
            active_thread_percentage: vec![50, 100]
        }),
        Just(mig_layouts()),
        Just(SweepKind::MigNeighbours {
            protagonists: vec![ProfileRef::Name("1g".into()), ProfileRef::Name("3g".into())],
            neighbour_profile: NeighbourProfile::Smallest,
            neighbour_workload: "idle".into(),
            max_neighbours: None,
        }),
        Just(SweepKind::UsageGrid {
            levels: vec![0, 100],
            design: Design::Full
        }),
        Just(SweepKind::UsageGrid {
            levels: vec![0, 50, 100],
            design: Design::Fractional
        }),
    ];
    let scopes = prop_oneof![Just(Scope::Gpu), Just(Scope::Node), Just(Scope::Any)];
    (kinds, scopes, any::<bool>()).prop_map(move |(kind, scope, two)| {
        let mut s = sweep(&format!("s{i}"), kind);
        s.scope = scope;
        if two {
            s.workloads.push("hpcg".into());
        }
        s
    })
}

fn arb_campaign() -> impl Strategy<Value = Campaign> {
    let nodes = prop_oneof![
        Just(vec!["*"]),
        Just(vec!["n1"]),
        Just(vec!["n?"]),
        Just(vec!["n0", "n2*"])
    ];
    let gpus = prop_oneof![
        Just(vec!["*"]),
        Just(vec!["*H100*"]),
        Just(vec!["*a100*", "nvidia h200"])
    ];
    let sweeps = (1..=3usize).prop_flat_map(|n| (0..n).map(arb_sweep).collect::<Vec<_>>());
    (nodes, gpus, sweeps, 1..=3u32, any::<u64>(), any::<bool>()).prop_map(
        |(nodes, gpus, sweeps, repetitions, seed, shuffled)| {
            let mut c = campaign(sweeps);
            c.targets.nodes = nodes.into_iter().map(str::to_owned).collect();
            c.targets.gpu_models = gpus.into_iter().map(str::to_owned).collect();
            c.repetitions = repetitions;
            c.seed = seed;
            c.order = if shuffled {
                Order::Shuffled
            } else {
                Order::Sequential
            };
            c
        },
    )
}

/// Whether `target` is made only of GPUs the campaign's globs match.
fn matches_globs(c: &Campaign, fleet: &[NodeInventory], target: &Target) -> bool {
    let node_ok = |n: &str| c.targets.nodes.iter().any(|g| WildMatch::new(g).matches(n));
    let gpu_ok = |name: &str| {
        c.targets
            .gpu_models
            .iter()
            .any(|g| WildMatch::new_case_insensitive(g).matches(name))
    };
    let gpu = |node: &str, index: u32| {
        fleet
            .iter()
            .find(|n| n.node_id == node)
            .and_then(|n| n.gpus.iter().find(|g| g.index == index))
    };
    match target {
        Target::Gpu { node, gpu: r } => {
            node_ok(node) && gpu(node, r.index).is_some_and(|g| gpu_ok(&g.name) && g.uuid == r.uuid)
        }
        Target::Node { node, gpus } => {
            node_ok(node)
                && !gpus.is_empty()
                && gpus.windows(2).all(|w| w[0].index < w[1].index)
                && gpus
                    .iter()
                    .all(|r| gpu(node, r.index).is_some_and(|g| gpu_ok(&g.name)))
        }
        Target::Any { model } => fleet.iter().filter(|n| node_ok(&n.node_id)).any(|n| {
            n.gpus
                .iter()
                .any(|g| gpu_ok(&g.name) && g.model_key() == model)
        }),
        Target::Unknown => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn planning_is_deterministic_and_ids_unique(c in arb_campaign(), fleet in arb_fleet()) {
        let id = campaign_id_for(&c.name);
        let first = plan(&c, id, &fleet);
        let mut reversed = fleet.clone();
        reversed.reverse();
        prop_assert_eq!(&first, &plan(&c, id, &fleet));
        prop_assert_eq!(&first, &plan(&c, id, &reversed));
        let Ok(p) = first else {
            prop_assert!(matches!(first, Err(PlanError::NoMatchingGpus { .. })), "{:?}", first);
            return Ok(());
        };
        let ids: HashSet<Uuid> = p.tasks.iter().map(|t| t.id).collect();
        prop_assert_eq!(ids.len(), p.tasks.len());
        for (i, t) in p.tasks.iter().enumerate() {
            prop_assert_eq!(t.seq as usize, i);
            prop_assert_eq!(
                t.id,
                task_id(id, &t.configuration.name, &t.target.to_string(), t.repetition)
            );
            prop_assert!(matches_globs(&c, &fleet, &t.target), "{}", t.target);
            prop_assert_eq!(
                &t.workloads.iter().map(|w| w.name.clone()).collect::<Vec<_>>(),
                &t.configuration.workloads
            );
        }
        for s in &p.skipped {
            prop_assert!(matches_globs(&c, &fleet, &s.target), "{}", s.target);
            prop_assert!(!s.reason.is_empty());
        }
    }

    #[test]
    fn shuffled_is_a_permutation_of_sequential(c in arb_campaign(), fleet in arb_fleet()) {
        let id = campaign_id_for(&c.name);
        let mut seq = c.clone();
        seq.order = Order::Sequential;
        let mut shuf = c;
        shuf.order = Order::Shuffled;
        let (Ok(a), Ok(b)) = (plan(&seq, id, &fleet), plan(&shuf, id, &fleet)) else {
            return Ok(());
        };
        prop_assert_eq!(&a.skipped, &b.skipped);
        prop_assert_eq!(a.tasks.len(), b.tasks.len());
        let mut by_id: BTreeMap<Uuid, TaskSpec> = a.tasks.into_iter().map(|t| (t.id, t)).collect();
        let mut last_rep = 0;
        for mut t in b.tasks {
            // Repetitions stay blocks, in order.
            prop_assert!(t.repetition >= last_rep);
            last_rep = t.repetition;
            let Some(mut same) = by_id.remove(&t.id) else {
                prop_assert!(false, "shuffled task {} not in the sequential plan", t.id);
                return Ok(());
            };
            same.seq = 0;
            t.seq = 0;
            prop_assert_eq!(same, t);
        }
        prop_assert!(by_id.is_empty());
    }
}
