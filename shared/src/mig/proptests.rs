//! Property tests across parser, solver and enumeration, on every built-in table.
//!
//! * `place` never overlaps slots or compute slices, never exceeds a maximum or the GPU's compute
//!   slices, only uses allowed starts, honours pins, and places exactly what was asked.
//! * `place` is complete: an unpinned layout is placed exactly when some enumerated layout has the
//!   same profiles (the enumeration is an independent derivation of what fits).
//! * Display of any placed or enumerated layout parses and places back to the identical layout.
//! * The maximal layouts are exactly the enumerated ones to which the solver cannot add anything.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use proptest::prelude::*;

use super::*;

fn table(model: &str) -> ProfileTable {
    builtin_table(model).expect("built-in table")
}

fn models() -> Vec<&'static str> {
    builtin_models().collect()
}

/// Per model, the sorted profile ids of every enumerated layout.
fn placeable() -> &'static BTreeMap<&'static str, HashSet<Vec<u32>>> {
    static SETS: OnceLock<BTreeMap<&'static str, HashSet<Vec<u32>>>> = OnceLock::new();
    SETS.get_or_init(|| {
        models()
            .into_iter()
            .map(|m| {
                let set = enumerate_layouts(&table(m), None)
                    .iter()
                    .map(|l| {
                        let mut ids: Vec<u32> = l.instances.iter().map(|g| g.profile_id).collect();
                        ids.sort_unstable();
                        ids
                    })
                    .collect();
                (m, set)
            })
            .collect()
    })
}

/// A term drawn from `t`: its profile by name, id or shorthand; sometimes pinned (at any slot,
/// allowed or not); sometimes split into compute instances (of any size, existing or not).
fn arb_term(t: &ProfileTable) -> impl Strategy<Value = GiTerm> + use<> {
    let profiles: Vec<GiProfile> = t.gpu_instance_profiles.clone();
    let ci = (
        prop::sample::select(vec![1u8, 1, 2, 2, 3, 4, 7]),
        prop::sample::select(vec![1u8, 1, 1, 2, 3]),
        prop::option::weighted(0.2, 0u8..7),
    )
        .prop_map(|(slices, count, start)| CiTerm {
            compute_slices: slices,
            count,
            start,
        });
    (
        prop::sample::select(profiles),
        0u8..3,
        prop::sample::select(vec![1u8, 1, 1, 2, 3]),
        prop::option::weighted(0.25, 0u8..8),
        prop::option::weighted(0.2, prop::collection::vec(ci, 1..4)),
    )
        .prop_map(|(p, how, count, start, compute)| GiTerm {
            profile: match how {
                0 => ProfileRef::Name(p.name.to_uppercase()),
                1 => ProfileRef::Id(p.id),
                _ if !p.media_extensions && p.placement_size == 1 => {
                    ProfileRef::Name(format!("{}g", p.compute_slices))
                }
                _ => ProfileRef::Name(p.name.clone()),
            },
            count,
            start,
            compute,
        })
}

fn arb_case() -> impl Strategy<Value = (ProfileTable, LayoutSpec)> {
    prop::sample::select(models()).prop_flat_map(|m| {
        let t = table(m);
        let terms = prop::collection::vec(arb_term(&t), 1..5);
        (Just(t), terms.prop_map(|terms| LayoutSpec { terms }))
    })
}

/// Every rule a placed layout must satisfy, checked from the table alone.
fn check_placed(
    t: &ProfileTable,
    spec: &LayoutSpec,
    l: &PlacedLayout,
) -> Result<(), TestCaseError> {
    let mut owner = vec![false; usize::from(t.memory_slices)];
    let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
    prop_assert!(
        l.instances.windows(2).all(|w| w[0].start < w[1].start),
        "ordered by start: {l}"
    );
    for gi in &l.instances {
        let p = t
            .profile_by_id(gi.profile_id)
            .expect("placed profile exists");
        prop_assert_eq!(&gi.profile, &p.name);
        prop_assert_eq!(
            (gi.size, gi.compute_slices),
            (p.placement_size, p.compute_slices)
        );
        prop_assert!(
            p.placements.contains(&gi.start),
            "{} not allowed at {}",
            p.name,
            gi.start
        );
        for s in gi.start..gi.start + gi.size {
            let slot = owner.get_mut(usize::from(s)).expect("slot inside the GPU");
            prop_assert!(!*slot, "slot {} used twice in {}", s, l);
            *slot = true;
        }
        *counts.entry(p.id).or_default() += 1;

        let mut slices = vec![false; usize::from(gi.compute_slices)];
        let mut ci_counts: BTreeMap<u32, u32> = BTreeMap::new();
        prop_assert!(!gi.compute_instances.is_empty());
        for ci in &gi.compute_instances {
            let cp = p
                .compute_instance_profiles
                .iter()
                .find(|c| c.id == ci.profile_id)
                .expect("CI profile exists in the GI");
            prop_assert_eq!(cp.compute_slices, ci.compute_slices);
            prop_assert!(
                cp.placements.contains(&ci.start),
                "CI start {} of {}",
                ci.start,
                l
            );
            for s in ci.start..ci.start + ci.compute_slices {
                let slot = slices.get_mut(usize::from(s)).expect("slice inside the GI");
                prop_assert!(!*slot, "compute slice {} used twice in {}", s, l);
                *slot = true;
            }
            *ci_counts.entry(cp.id).or_default() += 1;
        }
        for (id, n) in ci_counts {
            let max = p
                .compute_instance_profiles
                .iter()
                .find(|c| c.id == id)
                .map_or(0, |c| c.max_count);
            prop_assert!(n <= u32::from(max));
        }
    }
    for (id, n) in &counts {
        let max = t.profile_by_id(*id).map_or(0, |p| p.max_count);
        prop_assert!(*n <= u32::from(max), "profile {} × {} > {}", id, n, max);
    }
    prop_assert!(l.compute_slices() <= u32::from(t.compute_slices));

    // Exactly what was asked: profiles, pins and compute splits.
    let mut asked: BTreeMap<u32, u32> = BTreeMap::new();
    for term in &spec.terms {
        let p = t.find(&term.profile).expect("placed, so found");
        *asked.entry(p.id).or_default() += u32::from(term.count);
        if let Some(start) = term.start {
            prop_assert!(
                l.instances
                    .iter()
                    .any(|g| g.profile_id == p.id && g.start == start),
                "pin {}@{} not honoured in {}",
                p.name,
                start,
                l
            );
        }
        if term.compute.is_none() {
            prop_assert!(
                l.instances
                    .iter()
                    .filter(|g| g.profile_id == p.id)
                    .any(PlacedGi::has_whole_ci)
            );
        }
    }
    prop_assert_eq!(asked, counts);
    Ok(())
}

fn round_trip(t: &ProfileTable, l: &PlacedLayout) -> Result<(), TestCaseError> {
    let text = l.to_string();
    let spec = parse_layout(&text).map_err(|e| TestCaseError::fail(format!("`{text}`: {e}")))?;
    let again = place(t, &spec).map_err(|e| TestCaseError::fail(format!("`{text}`: {e}")))?;
    prop_assert_eq!(&again, l, "`{}` placed back differently", text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn placed_layouts_obey_every_rule((t, spec) in arb_case()) {
        if let Ok(l) = place(&t, &spec) {
            check_placed(&t, &spec, &l)?;
            round_trip(&t, &l)?;
            prop_assert_eq!(place(&t, &spec), Ok(l), "deterministic");
        }
    }

    #[test]
    fn solver_places_whatever_fits((t, spec) in arb_case()) {
        // Unpinned, unsplit: placeable exactly when the enumeration has these profiles.
        let spec = LayoutSpec {
            terms: spec
                .terms
                .into_iter()
                .map(|term| GiTerm { start: None, compute: None, ..term })
                .collect(),
        };
        let mut ids: Vec<u32> = spec
            .terms
            .iter()
            .flat_map(|term| {
                let id = t.find(&term.profile).map(|p| p.id).unwrap_or(u32::MAX);
                std::iter::repeat_n(id, usize::from(term.count))
            })
            .collect();
        ids.sort_unstable();
        let fits = placeable().get(t.model.as_str()).is_some_and(|s| s.contains(&ids));
        let placed = place(&t, &spec);
        prop_assert_eq!(placed.is_ok(), fits, "{} on {}: {:?}", spec, t.model, placed);
    }

    #[test]
    fn placed_display_round_trips((t, spec) in arb_case()) {
        if let Ok(l) = place(&t, &spec) {
            prop_assert_eq!(parse_layout(&l.to_string()), Ok(l.to_spec()));
        }
    }
}

#[test]
fn every_enumerated_layout_round_trips() {
    for m in models() {
        let t = table(m);
        let all = enumerate_layouts(&t, None);
        assert!(!all.is_empty(), "{m}");
        for l in &all {
            let spec = l.to_spec();
            check_placed(&t, &spec, l).unwrap_or_else(|e| panic!("{m}: {l}: {e}"));
            round_trip(&t, l).unwrap_or_else(|e| panic!("{m}: {e}"));
        }
    }
}

#[test]
fn maximal_is_enumerated_with_nothing_addable() {
    for m in models() {
        let t = table(m);
        for ids in [None, Some(vec![19, 14, 9, 5, 0]), Some(vec![15, 20, 9])] {
            let allowed: Vec<u32> = ids
                .clone()
                .unwrap_or_else(|| t.gpu_instance_profiles.iter().map(|p| p.id).collect());
            let expected: Vec<PlacedLayout> = enumerate_layouts(&t, ids.as_deref())
                .into_iter()
                .filter(|l| {
                    allowed.iter().all(|id| {
                        let mut spec = l.to_spec();
                        spec.terms.push(GiTerm::new(ProfileRef::Id(*id), 1));
                        place(&t, &spec).is_err()
                    })
                })
                .collect();
            assert_eq!(maximal_layouts(&t, ids.as_deref()), expected, "{m} {ids:?}");
        }
    }
}

#[test]
fn enumeration_counts_are_the_same_on_every_model() {
    // Same geometry, different memory: the number of layouts cannot depend on the model.
    let counts: Vec<(usize, usize)> = models()
        .into_iter()
        .map(|m| {
            let t = table(m);
            (
                enumerate_layouts(&t, None).len(),
                maximal_layouts(&t, None).len(),
            )
        })
        .collect();
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
    println!(
        "all profiles: {} layouts, {} maximal",
        counts[0].0, counts[0].1
    );
}
