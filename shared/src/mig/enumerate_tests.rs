//! Unit tests of the enumeration, including hand-checked facts and an independent brute force
//! through the solver.

use std::collections::BTreeSet;

use super::*;
use crate::mig::{GiTerm, LayoutSpec, ProfileRef, builtin_table, place};

fn h100() -> ProfileTable {
    builtin_table("h100-80gb").expect("h100")
}

fn texts(layouts: &[PlacedLayout]) -> Vec<String> {
    layouts.iter().map(ToString::to_string).collect()
}

#[test]
fn h100_with_3g_4g_7g_by_hand() {
    // 3g (id 9) may start at 0 or 4, 4g (id 5) and 7g (id 0) only at 0; 4g and 3g each hold 4
    // slots, 7g all 8. Valid: 7g@0; 4g@0; 3g@0; 3g@4; 3g@0+3g@4; 4g@0+3g@4 (3+4 = 7 compute
    // slices). Maximal: 7g@0, 4g@0+3g@4, 3g@0+3g@4 (3g@0 alone still takes 3g@4, and so on).
    let t = h100();
    let ids = [9, 5, 0];
    assert_eq!(
        texts(&enumerate_layouts(&t, Some(&ids))),
        [
            "7g.80gb@0",
            "4g.40gb@0",
            "4g.40gb@0 + 3g.40gb@4",
            "3g.40gb@0",
            "3g.40gb@0 + 3g.40gb@4",
            "3g.40gb@4",
        ]
    );
    assert_eq!(
        texts(&maximal_layouts(&t, Some(&ids))),
        [
            "7g.80gb@0",
            "4g.40gb@0 + 3g.40gb@4",
            "3g.40gb@0 + 3g.40gb@4"
        ]
    );
}

#[test]
fn h100_with_1g_only() {
    // Seven 1g.10gb at starts 0..6: every non-empty subset is valid (2^7 - 1), one is maximal.
    let t = h100();
    assert_eq!(enumerate_layouts(&t, Some(&[19])).len(), 127);
    assert_eq!(
        texts(&maximal_layouts(&t, Some(&[19]))),
        ["1g.10gb@0 + 1g.10gb@1 + 1g.10gb@2 + 1g.10gb@3 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6"]
    );
    // 1g.10gb+me is limited to one instance: seven layouts, all maximal.
    assert_eq!(maximal_layouts(&t, Some(&[20])).len(), 7);
}

#[test]
fn unknown_ids_are_ignored() {
    let t = h100();
    assert!(enumerate_layouts(&t, Some(&[42])).is_empty());
    assert!(maximal_layouts(&t, Some(&[])).is_empty());
    assert_eq!(
        enumerate_layouts(&t, Some(&[0, 42])),
        enumerate_layouts(&t, Some(&[0]))
    );
}

/// Every subset of (profile, allowed start) candidates, judged by the solver on a fully pinned
/// spec: valid subsets must be exactly the enumerated layouts, and the maximal ones those to which
/// no candidate can be added.
fn brute_force(table: &ProfileTable, ids: &[u32]) -> (BTreeSet<String>, BTreeSet<String>) {
    let candidates: Vec<(String, u8)> = table
        .gpu_instance_profiles
        .iter()
        .filter(|p| ids.contains(&p.id))
        .flat_map(|p| p.placements.iter().map(|s| (p.name.clone(), *s)))
        .collect();
    assert!(candidates.len() <= 16, "brute force kept small");
    let spec = |mask: u32| LayoutSpec {
        terms: candidates
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, (name, start))| {
                let mut term = GiTerm::new(ProfileRef::Name(name.clone()), 1);
                term.start = Some(*start);
                term
            })
            .collect(),
    };
    let full = 1u32 << candidates.len();
    let valid: Vec<u32> = (1..full)
        .filter(|mask| place(table, &spec(*mask)).is_ok())
        .collect();
    let valid_set: BTreeSet<u32> = valid.iter().copied().collect();
    let text = |mask: u32| {
        place(table, &spec(mask))
            .map(|l| l.to_string())
            .unwrap_or_default()
    };
    let all = valid.iter().map(|m| text(*m)).collect();
    let maximal = valid
        .iter()
        .filter(|m| {
            let m = **m;
            (0..candidates.len()).all(|i| m & (1 << i) != 0 || !valid_set.contains(&(m | (1 << i))))
        })
        .map(|m| text(*m))
        .collect();
    (all, maximal)
}

#[test]
fn enumeration_matches_solver_brute_force() {
    for (model, ids) in [
        ("h100-80gb", vec![19, 14, 9, 5, 0]),
        ("a100-40gb", vec![20, 15, 9, 0]),
        ("h200-141gb", vec![15, 14, 9, 5, 0]),
    ] {
        let t = builtin_table(model).expect("table");
        let (all, maximal) = brute_force(&t, &ids);
        let enumerated: BTreeSet<String> = texts(&enumerate_layouts(&t, Some(&ids)))
            .into_iter()
            .collect();
        let enumerated_max: BTreeSet<String> = texts(&maximal_layouts(&t, Some(&ids)))
            .into_iter()
            .collect();
        assert_eq!(enumerated, all, "{model} {ids:?}");
        assert_eq!(enumerated_max, maximal, "{model} {ids:?}");
    }
}

#[test]
fn sorted_and_distinct() {
    let t = h100();
    let all = enumerate_layouts(&t, None);
    let keys: Vec<Vec<(u8, u32)>> = all
        .iter()
        .map(|l| {
            l.instances
                .iter()
                .map(|g| (g.start, g.profile_id))
                .collect()
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted);
    for l in &all {
        assert!(
            l.instances.windows(2).all(|w| w[0].start < w[1].start),
            "{l}"
        );
    }
}

/// The listing `wattsweep mig layouts --gpu h100-80gb --profiles 19,14,9,5,0 --maximal` prints.
///
/// By hand: slot 7 is only usable by 7g, so apart from `7g.80gb@0` a maximal layout fills slots
/// 0-3 in one of 6 ways (4g; 3g; 2g+2g; 2g+1g+1g; 1g+1g+2g; 4×1g) and slots 4-6 in one of 3 ways
/// (3g@4, which also takes slot 7; 2g@4+1g@6; 3×1g). No combination breaks a maximum (2g ≤ 3,
/// 3g ≤ 2) or the 7 compute slices, so there are 6 × 3 + 1 = 19.
#[test]
fn h100_maximal_layouts_of_19_14_9_5_0() {
    let t = h100();
    let maximal = maximal_layouts(&t, Some(&[19, 14, 9, 5, 0]));
    for (i, l) in maximal.iter().enumerate() {
        println!("{:>3}  {l}", i + 1);
    }
    println!("{} maximal layouts", maximal.len());
    assert_eq!(
        texts(&maximal),
        [
            "7g.80gb@0",
            "4g.40gb@0 + 3g.40gb@4",
            "4g.40gb@0 + 2g.20gb@4 + 1g.10gb@6",
            "4g.40gb@0 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6",
            "3g.40gb@0 + 3g.40gb@4",
            "3g.40gb@0 + 2g.20gb@4 + 1g.10gb@6",
            "3g.40gb@0 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6",
            "2g.20gb@0 + 2g.20gb@2 + 3g.40gb@4",
            "2g.20gb@0 + 2g.20gb@2 + 2g.20gb@4 + 1g.10gb@6",
            "2g.20gb@0 + 2g.20gb@2 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6",
            "2g.20gb@0 + 1g.10gb@2 + 1g.10gb@3 + 3g.40gb@4",
            "2g.20gb@0 + 1g.10gb@2 + 1g.10gb@3 + 2g.20gb@4 + 1g.10gb@6",
            "2g.20gb@0 + 1g.10gb@2 + 1g.10gb@3 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6",
            "1g.10gb@0 + 1g.10gb@1 + 2g.20gb@2 + 3g.40gb@4",
            "1g.10gb@0 + 1g.10gb@1 + 2g.20gb@2 + 2g.20gb@4 + 1g.10gb@6",
            "1g.10gb@0 + 1g.10gb@1 + 2g.20gb@2 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6",
            "1g.10gb@0 + 1g.10gb@1 + 1g.10gb@2 + 1g.10gb@3 + 3g.40gb@4",
            "1g.10gb@0 + 1g.10gb@1 + 1g.10gb@2 + 1g.10gb@3 + 2g.20gb@4 + 1g.10gb@6",
            "1g.10gb@0 + 1g.10gb@1 + 1g.10gb@2 + 1g.10gb@3 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6",
        ]
    );
    // Independently of `maximal_layouts`' own fit test: the solver finds no room for one more
    // instance of any of the profiles.
    for l in &maximal {
        for id in [19, 14, 9, 5, 0] {
            let mut spec = l.to_spec();
            spec.terms.push(GiTerm::new(ProfileRef::Id(id), 1));
            assert!(place(&t, &spec).is_err(), "{l} + profile {id} fits");
        }
    }
}
