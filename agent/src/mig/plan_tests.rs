#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use wattsweep_shared::mig::{builtin_table, parse_layout, place};

use super::*;

fn gi(profile_id: u32, start: u8, size: u8, cis: &[(u32, u8)]) -> GiState {
    GiState {
        key: GiKey { profile_id, start },
        size,
        compute_instances: cis
            .iter()
            .map(|&(profile_id, start)| CiKey { profile_id, start })
            .collect(),
    }
}

fn state(gis: Vec<GiState>) -> MigState {
    let mut s = MigState { instances: gis };
    s.normalise();
    s
}

fn run(mut from: MigState, steps: &[Step]) -> MigState {
    for step in steps {
        from.apply(*step).unwrap();
    }
    from
}

#[test]
fn from_empty_creates_gpu_instances_then_compute_instances() {
    let table = builtin_table("h100-80gb").unwrap();
    let layout = place(&table, &parse_layout("4g.40gb + 3g.40gb(1c x3)").unwrap()).unwrap();
    let target = MigState::from_layout(&layout);
    let steps = plan(&MigState::default(), &target);
    let kinds: Vec<&str> = steps
        .iter()
        .map(|s| match s {
            Step::CreateGi { .. } => "gi",
            Step::CreateCi { .. } => "ci",
            _ => "destroy",
        })
        .collect();
    assert_eq!(kinds, ["gi", "gi", "ci", "ci", "ci", "ci"]);
    assert_eq!(
        steps[0],
        Step::CreateGi {
            gi: GiKey {
                profile_id: 5,
                start: 0
            },
            size: 4
        }
    );
    assert_eq!(run(MigState::default(), &steps), target);
}

#[test]
fn restore_destroys_compute_instances_before_gpu_instances_and_keeps_the_baseline() {
    let baseline = state(vec![gi(19, 6, 1, &[(0, 0)])]);
    let current = state(vec![
        gi(19, 6, 1, &[(0, 0)]),
        gi(9, 0, 4, &[(0, 0), (0, 1), (0, 2)]),
    ]);
    let steps = plan(&current, &baseline);
    assert_eq!(steps.len(), 4);
    assert!(matches!(steps[3], Step::DestroyGi { .. }));
    assert!(
        steps[..3]
            .iter()
            .all(|s| matches!(s, Step::DestroyCi { .. }))
    );
    assert_eq!(run(current, &steps), baseline);
}

#[test]
fn same_state_needs_no_step_and_display_is_readable() {
    let s = state(vec![
        gi(9, 4, 4, &[(2, 0)]),
        gi(14, 0, 2, &[(0, 1), (0, 0)]),
    ]);
    assert!(plan(&s, &s).is_empty());
    assert_eq!(s.to_string(), "14@0(0@0 + 0@1) + 9@4(2@0)");
    assert_eq!(MigState::default().to_string(), "(none)");
}

#[test]
fn the_model_refuses_inconsistent_steps() {
    let mut s = state(vec![gi(0, 0, 8, &[(4, 0)])]);
    let key = GiKey {
        profile_id: 0,
        start: 0,
    };
    assert!(s.apply(Step::DestroyGi { gi: key }).is_err());
    assert!(s.apply(Step::CreateGi { gi: key, size: 8 }).is_err());
    let ci = CiKey {
        profile_id: 4,
        start: 0,
    };
    assert!(s.apply(Step::CreateCi { gi: key, ci }).is_err());
    s.apply(Step::DestroyCi { gi: key, ci }).unwrap();
    assert!(s.apply(Step::DestroyCi { gi: key, ci }).is_err());
    s.apply(Step::DestroyGi { gi: key }).unwrap();
    assert!(s.apply(Step::CreateCi { gi: key, ci }).is_err());
}

fn arb_state() -> impl Strategy<Value = MigState> {
    let ci = (0u32..5, 0u8..7).prop_map(|(profile_id, start)| CiKey { profile_id, start });
    let gi = (
        prop::sample::select(vec![0u32, 5, 9, 14, 15, 19]),
        0u8..8,
        1u8..9,
        prop::collection::btree_set(ci, 0..4),
    )
        .prop_map(|(profile_id, start, size, cis)| GiState {
            key: GiKey { profile_id, start },
            size,
            compute_instances: cis.into_iter().collect(),
        });
    prop::collection::vec(gi, 0..6).prop_map(|gis| {
        let mut seen = std::collections::BTreeSet::new();
        state(gis.into_iter().filter(|g| seen.insert(g.key)).collect())
    })
}

proptest! {
    #[test]
    fn applying_the_plan_always_ends_in_the_target(current in arb_state(), target in arb_state()) {
        let steps = plan(&current, &target);
        let mut model = current.clone();
        for step in &steps {
            prop_assert!(model.apply(*step).is_ok(), "{step} failed on {model}");
        }
        // Sizes of GPU instances kept from `current` are theirs; compare placements and CIs.
        let strip = |s: &MigState| -> Vec<(GiKey, Vec<CiKey>)> {
            s.instances.iter().map(|g| (g.key, g.compute_instances.clone())).collect()
        };
        prop_assert_eq!(strip(&model), strip(&target));
        // Destroys come first, compute instances before GPU instances; creates after.
        let rank = |s: &Step| match s {
            Step::DestroyCi { .. } => 0,
            Step::DestroyGi { .. } => 1,
            Step::CreateGi { .. } => 2,
            Step::CreateCi { .. } => 3,
        };
        prop_assert!(steps.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])));
    }

    #[test]
    fn restore_always_ends_in_the_baseline(baseline in arb_state(), added in arb_state()) {
        // Apply: baseline plus the added instances; restore: back to the baseline.
        let applied = baseline.union(&added);
        let after_apply = run(baseline.clone(), &plan(&baseline, &applied));
        prop_assert_eq!(&after_apply, &applied);
        let restore = plan(&after_apply, &baseline);
        let only_destroys = restore
            .iter()
            .all(|s| matches!(s, Step::DestroyCi { .. } | Step::DestroyGi { .. }));
        prop_assert!(only_destroys, "restore creates: {:?}", restore);
        prop_assert_eq!(run(after_apply, &restore), baseline);
    }
}
