//! Unit and property tests of the layout parser.

use proptest::prelude::*;

use super::*;

fn name(s: &str) -> ProfileRef {
    ProfileRef::Name(s.to_string())
}

fn term(profile: ProfileRef, count: u8, start: Option<u8>) -> GiTerm {
    GiTerm {
        profile,
        count,
        start,
        compute: None,
    }
}

fn ci(compute_slices: u8, count: u8, start: Option<u8>) -> CiTerm {
    CiTerm {
        compute_slices,
        count,
        start,
    }
}

fn terms(input: &str) -> Vec<GiTerm> {
    match parse_layout(input) {
        Ok(spec) => spec.terms,
        Err(e) => panic!("`{input}`: {e}"),
    }
}

fn err(input: &str) -> LayoutParseError {
    match parse_layout(input) {
        Ok(spec) => panic!("`{input}` parsed as {spec:?}"),
        Err(e) => e,
    }
}

#[test]
fn design_examples() {
    assert_eq!(terms("7g.80gb"), vec![term(name("7g.80gb"), 1, None)]);
    assert_eq!(terms("3g.40gb x2"), vec![term(name("3g.40gb"), 2, None)]);
    assert_eq!(
        terms("4g.40gb + 3g.40gb"),
        vec![
            term(name("4g.40gb"), 1, None),
            term(name("3g.40gb"), 1, None)
        ]
    );
    assert_eq!(terms("1g.10gb x7"), vec![term(name("1g.10gb"), 7, None)]);
    let split = terms("7g.80gb(2c x3 + 1c)");
    assert_eq!(
        split,
        vec![GiTerm {
            profile: name("7g.80gb"),
            count: 1,
            start: None,
            compute: Some(vec![ci(2, 3, None), ci(1, 1, None)]),
        }]
    );
}

#[test]
fn whitespace_and_count_spellings() {
    let seven = vec![term(name("1g.10gb"), 7, None)];
    for input in [
        "1g.10gb x7",
        "1g.10gbx7",
        "1g.10gb x 7",
        "  1g.10gb\tX7  ",
        "1g.10gb ×7",
    ] {
        assert_eq!(terms(input), seven, "{input}");
    }
    assert_eq!(terms("19x7"), vec![term(ProfileRef::Id(19), 7, None)]);
    assert_eq!(terms("9 x2"), vec![term(ProfileRef::Id(9), 2, None)]);
}

#[test]
fn plus_inside_names_and_between_terms() {
    assert_eq!(
        terms("1g.10gb+me + 1g.10gb x6"),
        vec![
            term(name("1g.10gb+me"), 1, None),
            term(name("1g.10gb"), 6, None)
        ]
    );
    assert_eq!(
        terms("1g.10gb+me+1g.10gb"),
        vec![
            term(name("1g.10gb+me"), 1, None),
            term(name("1g.10gb"), 1, None)
        ]
    );
    assert_eq!(
        terms("3g.40gb+4g.40gb"),
        vec![
            term(name("3g.40gb"), 1, None),
            term(name("4g.40gb"), 1, None)
        ]
    );
    assert_eq!(terms("1g+me"), vec![term(name("1g+me"), 1, None)]);
}

#[test]
fn starts_and_pinned_ci() {
    assert_eq!(terms("3g.40gb@4"), vec![term(name("3g.40gb"), 1, Some(4))]);
    assert_eq!(
        terms("3g.40gb x2@0"),
        vec![term(name("3g.40gb"), 2, Some(0))]
    );
    assert_eq!(
        terms("3g.40gb@0 x2"),
        vec![term(name("3g.40gb"), 2, Some(0))]
    );
    assert_eq!(
        terms("3g.40gb @ 4"),
        vec![term(name("3g.40gb"), 1, Some(4))]
    );
    let pinned = terms("7g.80gb@0(2c@0 + 2c@2 + 2c@4 + 1c@6)");
    assert_eq!(pinned[0].start, Some(0));
    assert_eq!(
        pinned[0].compute,
        Some(vec![
            ci(2, 1, Some(0)),
            ci(2, 1, Some(2)),
            ci(2, 1, Some(4)),
            ci(1, 1, Some(6))
        ])
    );
    assert_eq!(
        terms("4g.40gb( 2C x2@0 )")[0].compute,
        Some(vec![ci(2, 2, Some(0))])
    );
}

#[test]
fn errors_name_the_column_and_the_expectation() {
    let e = err("");
    assert_eq!(e.column, 1);
    assert!(e.message.contains("empty layout"), "{e}");

    let e = err("   ");
    assert_eq!(e.column, 4);

    let e = err("3g.40gb +");
    assert_eq!(e.column, 10);
    assert!(e.message.contains("expected a profile"), "{e}");

    let e = err("3g.40gb x0");
    assert_eq!(e.column, 10);
    assert!(e.message.contains("at least 1"), "{e}");

    let e = err("3g.40gb x");
    assert_eq!(e.column, 10);
    assert!(e.message.contains("expected a count"), "{e}");

    let e = err("3g.40gb x300");
    assert_eq!(e.column, 10);
    assert!(e.message.contains("at most 255"), "{e}");

    let e = err("3g.40gb@");
    assert_eq!(e.column, 9);
    assert!(e.message.contains("start slot"), "{e}");

    let e = err("3g.40gb 4g.40gb");
    assert_eq!(e.column, 9);
    assert!(e.message.contains("expected `+`"), "{e}");

    let e = err("7g.80gb()");
    assert_eq!(e.column, 9);
    assert!(e.message.contains("empty compute-instance split"), "{e}");

    let e = err("7g.80gb(2 x3)");
    assert_eq!(e.column, 10);
    assert!(e.message.contains("expected `c`"), "{e}");

    let e = err("7g.80gb(2c x3");
    assert_eq!(e.column, 14);
    assert!(e.message.contains("`)`"), "{e}");

    let e = err("7g.80gb(0c)");
    assert_eq!(e.column, 9);

    let e = err("3g.40gb x2 x2");
    assert_eq!(e.column, 12);
    assert!(e.message.contains("twice"), "{e}");

    let e = err("3g.40gb(1c) x2");
    assert_eq!(e.column, 13);

    let e = err("99999999999");
    assert_eq!(e.column, 1);
    assert!(e.message.contains("too large"), "{e}");

    let e = err("+3g");
    assert_eq!(e.column, 1);

    // Columns count characters, not bytes.
    let e = err("1g.10gb ×");
    assert_eq!(e.column, 10);
    assert!(
        e.to_string()
            .starts_with("invalid MIG layout at column 10:"),
        "{e}"
    );
}

#[test]
fn display_is_the_canonical_text() {
    let spec = parse_layout("  3g.40gb  x2 @0 (2c+1c) +19x3+ 1g.10gb+me ").expect("parses");
    assert_eq!(
        spec.to_string(),
        "3g.40gb x2@0(2c + 1c) + 19 x3 + 1g.10gb+me"
    );
    assert_eq!(parse_layout(&spec.to_string()), Ok(spec));
}

fn arb_name() -> impl Strategy<Value = ProfileRef> {
    prop_oneof![
        prop::sample::select(vec![
            "1g.10gb",
            "1g.10gb+me",
            "1g.20gb",
            "2g.20gb",
            "3g.40gb",
            "4g.40gb",
            "7g.80gb",
            "3g",
            "1g+me",
            "MIG_x",
            "7g.141gb",
            "1g.24gb+me.all",
            "2g.48gb-me",
        ])
        .prop_map(|s| ProfileRef::Name(s.to_string())),
        any::<u32>().prop_map(ProfileRef::Id),
    ]
}

fn arb_ci() -> impl Strategy<Value = CiTerm> {
    (1u8..=255, 1u8..=255, proptest::option::of(any::<u8>())).prop_map(
        |(compute_slices, count, start)| CiTerm {
            compute_slices,
            count,
            start,
        },
    )
}

fn arb_spec() -> impl Strategy<Value = LayoutSpec> {
    let term = (
        arb_name(),
        1u8..=255,
        proptest::option::of(any::<u8>()),
        proptest::option::of(prop::collection::vec(arb_ci(), 1..4)),
    )
        .prop_map(|(profile, count, start, compute)| GiTerm {
            profile,
            count,
            start,
            compute,
        });
    prop::collection::vec(term, 1..5).prop_map(|terms| LayoutSpec { terms })
}

proptest! {
    #[test]
    fn parser_never_panics(input in ".{0,40}") {
        let _ = parse_layout(&input);
    }

    #[test]
    fn parser_never_panics_on_grammar_soup(
        input in "[0-9gbcxX@()+. me×\t]{0,30}"
    ) {
        if let Err(e) = parse_layout(&input) {
            prop_assert!(e.column >= 1 && e.column <= input.chars().count() + 1);
        }
    }

    #[test]
    fn display_parses_back(spec in arb_spec()) {
        prop_assert_eq!(parse_layout(&spec.to_string()), Ok(spec));
    }
}
