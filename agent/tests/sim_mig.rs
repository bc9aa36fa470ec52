//! MIG on simulated GPUs: every creation is accepted exactly when the MIG engine accepts the
//! resulting set of instances; MIG device UUIDs are deterministic; the state file carries MIG
//! instances, MIG mode, power limits and the energy counter across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use proptest::prelude::*;
use wattsweep_agent::gpu::sim::{ManualClock, SimConfig, SimError, SimulatedGpus, read_state_file};
use wattsweep_agent::gpu::{GpuBackend, GpuError};
use wattsweep_shared::mig::{
    CiTerm, GiTerm, LayoutSpec, ProfileRef, ProfileTable, builtin_table, enumerate_layouts,
    parse_layout, place,
};

fn sim(model: &str) -> SimulatedGpus {
    SimulatedGpus::new(
        SimConfig::new("node-a", model, 1),
        Arc::new(ManualClock::default()),
    )
    .unwrap()
}

/// A GPU instance to try: profile id, start, and its compute instances as (slices, start), or
/// `None` for the default full-size one.
type Candidate = (u32, u8, Option<Vec<(u8, u8)>>);

fn spec_of(layout: &[Candidate]) -> LayoutSpec {
    LayoutSpec {
        terms: layout
            .iter()
            .map(|(profile, start, cis)| GiTerm {
                profile: ProfileRef::Id(*profile),
                count: 1,
                start: Some(*start),
                compute: cis.as_ref().map(|cis| {
                    cis.iter()
                        .map(|(slices, start)| CiTerm {
                            compute_slices: *slices,
                            count: 1,
                            start: Some(*start),
                        })
                        .collect()
                }),
            })
            .collect(),
    }
}

/// Create the candidate on the simulated GPU: all GPU instances, then their compute instances.
fn create_on_sim(
    gpus: &SimulatedGpus,
    table: &ProfileTable,
    layout: &[Candidate],
) -> Result<(), GpuError> {
    let mut gi_ids = Vec::new();
    for (profile, start, _) in layout {
        gi_ids.push(gpus.create_gpu_instance(0, *profile, *start)?);
    }
    for ((profile, _, cis), gi) in layout.iter().zip(gi_ids) {
        let p = table.profile_by_id(*profile).unwrap();
        match cis {
            None => {
                gpus.create_compute_instance(0, gi, p.full_ci_profile_id().unwrap(), 0)?;
            }
            Some(cis) => {
                for (slices, start) in cis {
                    // A size the GPU instance does not offer: an id no profile has.
                    let id = p.ci_profile(*slices).map_or(99, |c| c.id);
                    gpus.create_compute_instance(0, gi, id, *start)?;
                }
            }
        }
    }
    Ok(())
}

fn candidate() -> impl Strategy<Value = Candidate> {
    let profile = prop::sample::select(vec![0u32, 5, 9, 14, 15, 19, 19, 19, 20, 3]);
    let cis = prop::option::weighted(
        0.4,
        prop::collection::vec(
            (prop::sample::select(vec![1u8, 1, 2, 3, 4, 7]), 0u8..8),
            1..5,
        ),
    );
    (profile, 0u8..8, cis)
}

/// A compute split of `sizes` at the lowest free allowed starts (sizes that fit nowhere skipped).
fn greedy_split(table: &ProfileTable, profile_id: u32, sizes: &[u8]) -> Vec<(u8, u8)> {
    let Some(gi) = table.profile_by_id(profile_id) else {
        return vec![];
    };
    let mut used = vec![false; usize::from(gi.compute_slices)];
    let mut out = Vec::new();
    for size in sizes {
        let Some(ci) = gi.ci_profile(*size) else {
            continue;
        };
        if out.iter().filter(|(s, _)| s == size).count() >= usize::from(ci.max_count) {
            continue;
        }
        let free = |start: u8| {
            let (a, b) = (usize::from(start), usize::from(start) + usize::from(*size));
            b <= used.len() && used[a..b].iter().all(|u| !u)
        };
        if let Some(start) = ci.placements.iter().copied().find(|s| free(*s)) {
            for u in &mut used[usize::from(start)..usize::from(start) + usize::from(*size)] {
                *u = true;
            }
            out.push((*size, start));
        }
    }
    out
}

/// Mostly valid layouts: a valid GPU-instance layout of the engine's enumeration, greedy compute
/// splits, and sometimes one instance or one compute instance moved.
fn near_valid() -> impl Strategy<Value = Vec<Candidate>> {
    let table = builtin_table("h100-80gb").unwrap();
    let layouts = enumerate_layouts(&table, None);
    let sizes = prop::option::weighted(
        0.4,
        prop::collection::vec(prop::sample::select(vec![1u8, 1, 2, 3, 4, 7]), 1..5),
    );
    (
        prop::sample::select(layouts),
        prop::collection::vec(sizes, 7),
        prop::option::weighted(
            0.3,
            (0usize..7, prop::sample::select(vec![1u8, 2]), any::<bool>()),
        ),
    )
        .prop_map(move |(layout, sizes, shift)| {
            layout
                .instances
                .iter()
                .zip(sizes)
                .enumerate()
                .map(|(i, (gi, sizes))| {
                    let mut start = gi.start;
                    let mut cis = sizes.map(|s| greedy_split(&table, gi.profile_id, &s));
                    if let Some((j, by, move_gi)) = shift {
                        if j == i && move_gi {
                            start = (start + by) % 8;
                        } else if j == i
                            && let Some(ci) = cis.as_mut().and_then(|c| c.last_mut())
                        {
                            ci.1 = (ci.1 + by) % 7;
                        }
                    }
                    if cis.as_ref().is_some_and(Vec::is_empty) {
                        cis = None;
                    }
                    (gi.profile_id, start, cis)
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn sim_accepts_exactly_what_the_engine_accepts(
        model in prop::sample::select(vec!["a100-40gb", "h100-80gb", "h100-94gb", "h200-141gb"]),
        layout in prop_oneof![prop::collection::vec(candidate(), 1..6), near_valid()],
    ) {
        let table = builtin_table(model).unwrap();
        let engine = place(&table, &spec_of(&layout));
        let gpus = sim(model);
        let simulated = create_on_sim(&gpus, &table, &layout);
        prop_assert_eq!(
            engine.is_ok(),
            simulated.is_ok(),
            "engine {:?}, sim {:?}",
            engine,
            simulated
        );
        if let Err(e) = simulated {
            prop_assert!(matches!(e, GpuError::MigRefused { .. }), "{e}");
        }
        if let Ok(placed) = engine {
            let inv = gpus.inventory().unwrap();
            prop_assert_eq!(inv[0].current_layout.as_ref(), Some(&placed));
        }
    }
}

#[test]
fn refusals_carry_the_engines_reason() {
    let table = builtin_table("h100-80gb").unwrap();
    let gpus = sim("h100-80gb");
    gpus.create_gpu_instance(0, 9, 0).unwrap();
    let err = gpus.create_gpu_instance(0, 5, 0).unwrap_err();
    let engine = place(&table, &parse_layout("9@0 + 5@0").unwrap()).unwrap_err();
    match err {
        GpuError::MigRefused {
            gpu,
            operation,
            reason,
        } => {
            assert_eq!(gpu, 0);
            assert_eq!(operation, "create GPU instance 5@0");
            assert_eq!(reason, engine.to_string());
        }
        other => panic!("{other}"),
    }
    let err = gpus.create_gpu_instance(0, 9, 1).unwrap_err().to_string();
    assert!(err.contains("allowed start slots are {0,4}"), "{err}");
}

#[test]
fn destroy_rules_and_deterministic_uuids() {
    let gpus = sim("a100-80gb");
    let gi = gpus.create_gpu_instance(0, 9, 4).unwrap();
    let ci = gpus.create_compute_instance(0, gi, 2, 0).unwrap();
    let uuid = gpus.mig_instances(0).unwrap()[0].compute_instances[0]
        .uuid
        .clone();
    assert!(uuid.starts_with("MIG-"));

    let err = gpus.destroy_gpu_instance(0, gi).unwrap_err().to_string();
    assert!(err.contains("still has 1 compute instance"), "{err}");
    gpus.set_load(0, Some((gi, ci)), "job-7", 1.0).unwrap();
    let err = gpus
        .destroy_compute_instance(0, gi, ci)
        .unwrap_err()
        .to_string();
    assert!(err.contains("in use") && err.contains("job-7"), "{err}");
    gpus.clear_load(0, Some((gi, ci)), "job-7").unwrap();
    gpus.destroy_compute_instance(0, gi, ci).unwrap();
    assert!(gpus.destroy_compute_instance(0, gi, ci).is_err());
    gpus.destroy_gpu_instance(0, gi).unwrap();
    assert!(gpus.mig_instances(0).unwrap().is_empty());
    assert!(gpus.destroy_gpu_instance(0, gi).is_err());

    // The same placement gets the same MIG UUID again, on a fresh simulation too.
    let gi = gpus.create_gpu_instance(0, 9, 4).unwrap();
    gpus.create_compute_instance(0, gi, 2, 0).unwrap();
    assert_eq!(
        gpus.mig_instances(0).unwrap()[0].compute_instances[0].uuid,
        uuid
    );
    let other = sim("a100-80gb");
    let gi = other.create_gpu_instance(0, 9, 4).unwrap();
    other.create_compute_instance(0, gi, 2, 0).unwrap();
    assert_eq!(
        other.mig_instances(0).unwrap()[0].compute_instances[0].uuid,
        uuid
    );
}

#[test]
fn mig_disabled_refuses_instances_and_mode_changes_need_an_empty_gpu() {
    let gpus = sim("h100-80gb");
    let gi = gpus.create_gpu_instance(0, 0, 0).unwrap();
    assert!(matches!(
        gpus.set_mig_enabled(0, false),
        Err(SimError::WrongMode { .. })
    ));
    gpus.destroy_gpu_instance(0, gi).unwrap();
    gpus.set_mig_enabled(0, false).unwrap();
    let err = gpus.create_gpu_instance(0, 0, 0).unwrap_err().to_string();
    assert!(err.contains("MIG mode is disabled"), "{err}");
    assert_eq!(gpus.inventory().unwrap()[0].current_layout, None);
}

#[test]
fn state_file_round_trip_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim-state.json");
    let clock = Arc::new(ManualClock::default());
    let config = SimConfig::new("node-a", "h100-80gb", 2).with_state_file(&path);
    let (instances, energy, inventory) = {
        let gpus = SimulatedGpus::new(config.clone(), clock.clone()).unwrap();
        assert!(
            read_state_file(&path).unwrap().is_some(),
            "written at start"
        );
        let gi = gpus.create_gpu_instance(1, 14, 2).unwrap();
        gpus.create_compute_instance(1, gi, 0, 1).unwrap();
        gpus.set_mig_enabled(0, false).unwrap();
        gpus.set_power_limit(0, 500.0).unwrap();
        gpus.set_load(0, None, "burn", 1.0).unwrap();
        clock.advance_us(60_000_000);
        let energy = gpus.energy_mj(0).unwrap();
        assert!(energy > 20_000_000, "{energy}");
        (
            gpus.mig_instances(1).unwrap(),
            energy,
            gpus.inventory().unwrap(),
        )
    };
    let saved = read_state_file(&path).unwrap().unwrap();
    assert_eq!(saved.gpus[1].instances.len(), 1);
    assert_eq!(saved.gpus[0].energy_mj, energy, "saved when read");

    let gpus = SimulatedGpus::new(config.clone(), clock.clone()).unwrap();
    assert_eq!(gpus.mig_instances(1).unwrap(), instances);
    assert_eq!(gpus.inventory().unwrap(), inventory);
    assert_eq!(gpus.energy_mj(0).unwrap(), energy, "counter continues");
    clock.advance_us(1_000_000);
    assert!(gpus.energy_mj(0).unwrap() > energy);
    drop(gpus);

    let other_node = SimConfig::new("node-b", "h100-80gb", 2).with_state_file(&path);
    let err = SimulatedGpus::new(other_node, clock.clone()).unwrap_err();
    assert!(matches!(err, SimError::StateMismatch { .. }), "{err}");
    let other_models = SimConfig::new("node-a", "a100-40gb", 2).with_state_file(&path);
    let err = SimulatedGpus::new(other_models, clock)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a100-40gb") && err.contains("h100-80gb"),
        "{err}"
    );
}

#[test]
fn concurrent_changes_on_several_gpus_keep_the_state_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.json");
    let gpus = SimulatedGpus::new(
        SimConfig::new("node-a", "a100-40gb", 4).with_state_file(&path),
        Arc::new(ManualClock::default()),
    )
    .unwrap();
    std::thread::scope(|s| {
        for g in 0..4u32 {
            let gpus = &gpus;
            s.spawn(move || {
                for start in 0..7u8 {
                    let gi = gpus.create_gpu_instance(g, 19, start).unwrap();
                    gpus.create_compute_instance(g, gi, 0, 0).unwrap();
                }
            });
        }
    });
    let saved = read_state_file(&path).unwrap().unwrap();
    for g in &saved.gpus {
        assert_eq!(g.instances.len(), 7, "GPU {}", g.index);
        assert!(g.instances.iter().all(|gi| gi.compute_instances.len() == 1));
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "sim.json")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
