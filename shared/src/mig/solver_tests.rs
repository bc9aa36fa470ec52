//! Unit tests of the solver: known-valid and known-invalid H100 layouts.

use super::*;
use crate::mig::{builtin_table, parse_layout};

fn h100() -> ProfileTable {
    builtin_table("h100-80gb").expect("h100 table")
}

fn placed(layout: &str) -> PlacedLayout {
    let spec = parse_layout(layout).unwrap_or_else(|e| panic!("`{layout}`: {e}"));
    place(&h100(), &spec).unwrap_or_else(|e| panic!("`{layout}`: {e}"))
}

fn shown(layout: &str) -> String {
    placed(layout).to_string()
}

fn refused(layout: &str) -> PlacementError {
    let spec = parse_layout(layout).unwrap_or_else(|e| panic!("`{layout}`: {e}"));
    match place(&h100(), &spec) {
        Ok(l) => panic!("`{layout}` placed as {l}"),
        Err(e) => e,
    }
}

#[test]
fn known_valid_h100_layouts() {
    let cases = [
        ("7g.80gb", "7g.80gb@0"),
        ("3g.40gb x2", "3g.40gb@0 + 3g.40gb@4"),
        ("4g.40gb + 3g.40gb", "4g.40gb@0 + 3g.40gb@4"),
        (
            "1g.10gb x7",
            "1g.10gb@0 + 1g.10gb@1 + 1g.10gb@2 + 1g.10gb@3 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6",
        ),
        (
            "2g.20gb x3 + 1g.10gb",
            "2g.20gb@0 + 2g.20gb@2 + 2g.20gb@4 + 1g.10gb@6",
        ),
        (
            "7g.80gb(2c x3 + 1c)",
            "7g.80gb@0(2c@0 + 2c@2 + 2c@4 + 1c@6)",
        ),
        (
            "1g.10gb+me + 1g.10gb x6",
            "1g.10gb+me@0 + 1g.10gb@1 + 1g.10gb@2 + 1g.10gb@3 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6",
        ),
        // Largest first, whatever the term order.
        ("1g.10gb + 3g.40gb", "3g.40gb@0 + 1g.10gb@4"),
        ("9 x2", "3g.40gb@0 + 3g.40gb@4"),
        ("3g x2", "3g.40gb@0 + 3g.40gb@4"),
        (
            "1g.20gb x4",
            "1g.20gb@0 + 1g.20gb@2 + 1g.20gb@4 + 1g.20gb@6",
        ),
        // Pinned terms first; the rest fill the lowest free starts.
        ("3g.40gb + 3g.40gb@0", "3g.40gb@0 + 3g.40gb@4"),
        (
            "1g.10gb x3 + 3g.40gb@0",
            "3g.40gb@0 + 1g.10gb@4 + 1g.10gb@5 + 1g.10gb@6",
        ),
        ("1g.10gb x3@2", "1g.10gb@2 + 1g.10gb@3 + 1g.10gb@4"),
        ("3g.40gb x2@0", "3g.40gb@0 + 3g.40gb@4"),
        ("7g.80gb(4c + 2c + 1c)", "7g.80gb@0(4c@0 + 2c@4 + 1c@6)"),
        ("7g.80gb(3c x2 + 1c)", "7g.80gb@0(3c@0 + 1c@3 + 3c@4)"),
        ("7g.80gb(7c)", "7g.80gb@0"),
        (
            "3g.40gb x2(1c x3)",
            "3g.40gb@0(1c@0 + 1c@1 + 1c@2) + 3g.40gb@4(1c@0 + 1c@1 + 1c@2)",
        ),
        (
            "4g.40gb(2c x2) + 3g.40gb(2c + 1c)",
            "4g.40gb@0(2c@0 + 2c@2) + 3g.40gb@4(2c@0 + 1c@2)",
        ),
    ];
    for (layout, expected) in cases {
        assert_eq!(shown(layout), expected, "{layout}");
    }
}

#[test]
fn backtracking_places_what_greedy_cannot() {
    // Term order puts 1g.20gb (2 slots) first at slot 0, after which only two 2g.20gb fit; the
    // search moves it to slot 6.
    assert_eq!(
        shown("1g.20gb + 2g.20gb x3"),
        "2g.20gb@0 + 2g.20gb@2 + 2g.20gb@4 + 1g.20gb@6"
    );
    assert_eq!(
        shown("1g.20gb x2 + 2g.20gb x2"),
        "1g.20gb@0 + 2g.20gb@2 + 2g.20gb@4 + 1g.20gb@6"
    );
}

#[test]
fn placed_fields() {
    let l = placed("4g.40gb + 1g.10gb+me");
    assert_eq!(
        l.instances[1],
        PlacedGi {
            profile_id: 20,
            profile: "1g.10gb+me".into(),
            start: 4,
            size: 1,
            compute_slices: 1,
            compute_instances: vec![PlacedCi {
                profile_id: 0,
                compute_slices: 1,
                start: 0
            }],
        }
    );
    assert_eq!(l.instances[0].compute_instances[0].profile_id, 3);
    assert_eq!(l.compute_slices(), 5);
    assert_eq!(l.compute_instance_count(), 2);
    let split = placed("7g.80gb(2c x3 + 1c)");
    assert_eq!(split.compute_instance_count(), 4);
    assert!(!split.instances[0].has_whole_ci());
}

#[test]
fn known_invalid_h100_layouts() {
    assert_eq!(
        refused("3g.40gb x3"),
        PlacementError::MaxExceeded {
            profile: "3g.40gb".into(),
            requested: 3,
            max: 2
        }
    );
    assert_eq!(
        refused("4g.40gb + 4g.40gb"),
        PlacementError::MaxExceeded {
            profile: "4g.40gb".into(),
            requested: 2,
            max: 1
        }
    );
    assert_eq!(
        refused("3g.40gb@2"),
        PlacementError::StartNotAllowed {
            term: 1,
            profile: "3g.40gb".into(),
            start: 2,
            allowed: vec![0, 4]
        }
    );
    assert_eq!(
        refused("3g.40gb@0 + 2g.20gb@2"),
        PlacementError::PinnedCollision {
            first: "3g.40gb@0 (term 1)".into(),
            second: "2g.20gb@2 (term 2)".into(),
            slots: vec![2, 3]
        }
    );
    assert_eq!(
        refused("1g.10gb+me x2"),
        PlacementError::MaxExceeded {
            profile: "1g.10gb+me".into(),
            requested: 2,
            max: 1
        }
    );
    assert_eq!(
        refused("7g.80gb + 1g.10gb"),
        PlacementError::ComputeSlicesExceeded {
            requested: 8,
            available: 7
        }
    );
    assert!(matches!(
        refused("5g.50gb"),
        PlacementError::UnknownProfile { ref profile, ref model, .. }
            if profile == "5g.50gb" && model == "h100-80gb"
    ));
    assert_eq!(
        refused("7g.80gb(4c x2)"),
        PlacementError::CiMaxExceeded {
            gpu_instance: "7g.80gb (term 1)".into(),
            compute_slices: 4,
            requested: 2,
            max: 1
        }
    );
}

#[test]
fn more_refusals() {
    assert!(matches!(
        refused("1g.10gb x8"),
        PlacementError::MaxExceeded {
            requested: 8,
            max: 7,
            ..
        }
    ));
    // Counts add up over terms.
    assert!(matches!(
        refused("3g.40gb + 3g.40gb@4 + 9"),
        PlacementError::MaxExceeded { requested: 3, .. }
    ));
    assert!(matches!(
        refused("42"),
        PlacementError::UnknownProfile { .. }
    ));
    assert_eq!(
        refused("4g.40gb + 3g.40gb@0"),
        PlacementError::NoRoom {
            instance: "4g.40gb (term 1)".into(),
            size: 4,
            needed_starts: vec![0],
            occupied: vec![SlotUse {
                instance: "3g.40gb@0 (term 2)".into(),
                first: 0,
                last: 3
            }],
        }
    );
    assert!(matches!(
        refused("1g.20gb@6 + 3g.40gb x2"),
        PlacementError::NoRoom { ref instance, .. } if instance == "3g.40gb (term 2, instance 2 of 2)"
    ));
    assert!(matches!(
        refused("3g.40gb x2@4"),
        PlacementError::NoRoom { ref needed_starts, .. } if needed_starts.is_empty()
    ));
    assert_eq!(
        refused("7g.80gb(5c)"),
        PlacementError::CiUnknownProfile {
            gpu_instance: "7g.80gb (term 1)".into(),
            compute_slices: 5,
            available: vec![1, 2, 3, 4, 7]
        }
    );
    assert!(matches!(
        refused("7g.80gb(4c + 4c)"),
        PlacementError::CiMaxExceeded {
            requested: 2,
            max: 1,
            ..
        }
    ));
    assert_eq!(
        refused("7g.80gb(3c x2 + 2c)"),
        PlacementError::CiSlicesExceeded {
            gpu_instance: "7g.80gb (term 1)".into(),
            requested: 8,
            available: 7
        }
    );
    assert_eq!(
        refused("7g.80gb(2c@1)"),
        PlacementError::CiStartNotAllowed {
            gpu_instance: "7g.80gb (term 1)".into(),
            compute_slices: 2,
            start: 1,
            allowed: vec![0, 2, 4]
        }
    );
    assert_eq!(
        refused("7g.80gb(2c@0 + 1c@1)"),
        PlacementError::CiPinnedCollision {
            gpu_instance: "7g.80gb (term 1)".into(),
            first: "2c@0".into(),
            second: "1c@1".into(),
            slices: vec![1]
        }
    );
    assert!(matches!(
        refused("7g.80gb(2c x3 + 1c@1)"),
        PlacementError::CiNoRoom { size: 2, .. }
    ));
    assert!(matches!(
        refused("1g.10gb(2c)"),
        PlacementError::CiUnknownProfile { ref available, .. } if available == &vec![1]
    ));
}

#[test]
fn programmatic_specs_are_checked_too() {
    let t = h100();
    assert_eq!(
        place(&t, &LayoutSpec { terms: vec![] }),
        Err(PlacementError::EmptyLayout)
    );
    let zero = LayoutSpec {
        terms: vec![GiTerm::new(ProfileRef::Id(9), 0)],
    };
    assert_eq!(
        place(&t, &zero),
        Err(PlacementError::ZeroCount {
            term: 1,
            profile: "9".into()
        })
    );
    let mut empty_split = GiTerm::new(ProfileRef::Id(0), 1);
    empty_split.compute = Some(vec![]);
    assert!(matches!(
        place(
            &t,
            &LayoutSpec {
                terms: vec![empty_split]
            }
        ),
        Err(PlacementError::CiEmptySplit { .. })
    ));
    let mut zero_ci = GiTerm::new(ProfileRef::Id(0), 1);
    zero_ci.compute = Some(vec![CiTerm::new(2, 0)]);
    assert!(matches!(
        place(
            &t,
            &LayoutSpec {
                terms: vec![zero_ci]
            }
        ),
        Err(PlacementError::CiZeroCount {
            compute_slices: 2,
            ..
        })
    ));
}

#[test]
fn messages_say_what_and_where() {
    assert_eq!(
        refused("3g.40gb@0 + 2g.20gb@2").to_string(),
        "3g.40gb@0 (term 1) and 2g.20gb@2 (term 2) both need slot(s) {2,3}"
    );
    assert_eq!(
        refused("3g.40gb@2").to_string(),
        "3g.40gb (term 1) cannot start at slot 2; its allowed start slots are {0,4}"
    );
    assert_eq!(
        refused("4g.40gb + 3g.40gb@0").to_string(),
        "no room for 4g.40gb (term 1): it needs 4 free slot(s) starting at one of {0}, but slots \
         are taken: 0-3 by 3g.40gb@0 (term 2)"
    );
    assert_eq!(
        refused("3g.40gb x3").to_string(),
        "3 instances of 3g.40gb requested, but at most 2 can exist on one GPU"
    );
    let unknown = refused("5g.50gb").to_string();
    assert!(
        unknown.starts_with("profile `5g.50gb` does not exist on h100-80gb; known profiles: 7g.80gb (id 0), 4g.40gb (id 5)"),
        "{unknown}"
    );
}

#[test]
fn other_models_use_their_names() {
    let a100 = builtin_table("a100-40gb").expect("a100");
    let spec = parse_layout("3g x2").expect("parse");
    assert_eq!(
        place(&a100, &spec).expect("place").to_string(),
        "3g.20gb@0 + 3g.20gb@4"
    );
    let h200 = builtin_table("h200-141gb").expect("h200");
    let spec = parse_layout("1g.18gb+me + 2g.35gb x3").expect("parse");
    assert_eq!(
        place(&h200, &spec).expect("place").to_string(),
        "2g.35gb@0 + 2g.35gb@2 + 2g.35gb@4 + 1g.18gb+me@6"
    );
    // An H100 name is unknown on an A100 40GB.
    let spec = parse_layout("3g.40gb").expect("parse");
    assert!(matches!(
        place(&a100, &spec),
        Err(PlacementError::UnknownProfile { .. })
    ));
}

#[test]
fn display_round_trips_through_parse_and_place() {
    let t = h100();
    for layout in [
        "7g.80gb(2c x3 + 1c)",
        "4g.40gb(2c x2) + 3g.40gb(2c + 1c)",
        "1g.10gb+me + 1g.10gb x6",
        "1g.20gb + 2g.20gb x3",
    ] {
        let first = placed(layout);
        let again = place(&t, &parse_layout(&first.to_string()).expect("parse")).expect("place");
        assert_eq!(again, first, "{layout}");
    }
}

#[test]
fn neighbours_are_added_around_a_fixed_protagonist() {
    let t = h100();
    let smallest = ProfileRef::Id(t.smallest().expect("smallest").id);
    let mut layout = placed("3g.40gb@4");
    let mut steps = vec![layout.to_string()];
    while let Ok(next) = layout.with_instance(&t, &smallest) {
        layout = next;
        steps.push(layout.to_string());
    }
    assert_eq!(
        steps,
        [
            "3g.40gb@4",
            "1g.10gb@0 + 3g.40gb@4",
            "1g.10gb@0 + 1g.10gb@1 + 3g.40gb@4",
            "1g.10gb@0 + 1g.10gb@1 + 1g.10gb@2 + 3g.40gb@4",
            "1g.10gb@0 + 1g.10gb@1 + 1g.10gb@2 + 1g.10gb@3 + 3g.40gb@4",
        ]
    );
    // Slots 0-3 and 4-7 are full and 4 + 3 compute slices are used.
    assert_eq!(
        layout.with_instance(&t, &smallest),
        Err(PlacementError::ComputeSlicesExceeded {
            requested: 8,
            available: 7
        })
    );
}
