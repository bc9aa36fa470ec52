//! MIG sweeps: layouts placed on every targeted model, compute-instance splits, protagonists.

use wattsweep_shared::campaign::{ErrorKind, Fill, NeighbourProfile, SweepKind};
use wattsweep_shared::mig::{ProfileRef, builtin_table, parse_layout, place};

use crate::support::{PATH, errors, expect_in, expect_only, ok};

/// Sixteen lines targeting the H100 80GB; the appended keys of the MIG sweep start on line 17.
const HEAD: &str = "\
[campaign]
name = \"m\"

[targets]
gpu_models = [\"*H100 80GB*\"]

[workloads.burn]
image = \"burn:1\"

[workloads.idle]
image = \"busybox\"

[[sweep]]
name = \"mig\"
sharing = \"mig\"
workloads = [\"burn\"]
";

fn mig(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

fn targeting(globs: &str, rest: &str) -> String {
    mig(rest).replace("[\"*H100 80GB*\"]", globs)
}

/// The solver's own reason for refusing `layout` on `model`.
fn refusal(model: &str, layout: &str) -> String {
    let table = builtin_table(model).unwrap();
    place(&table, &parse_layout(layout).unwrap())
        .unwrap_err()
        .to_string()
}

fn kind(text: &str) -> SweepKind {
    ok(text).sweeps.remove(0).kind
}

#[test]
fn campaign_invalid_layout_on_h100_80gb() {
    let text = mig("layouts = [\"7g.80gb\", \"4g.40gb x2\"]\n");
    let reason = refusal("h100-80gb", "4g.40gb x2");
    expect_only(
        &text,
        17,
        23,
        ErrorKind::Layout,
        &format!(
            "MIG layout \"4g.40gb x2\" does not fit h100-80gb (NVIDIA H100 80GB HBM3): {reason}"
        ),
    );
}

#[test]
fn campaign_layout_grammar_error_points_at_its_column() {
    let layout = "3g.40gb x2 ? 1g.10gb";
    let column = parse_layout(layout).unwrap_err().column;
    // The string's first character is column 13 of `layouts = ["…`.
    let text = mig(&format!("layouts = [\"{layout}\"]\n"));
    expect_only(
        &text,
        17,
        12 + column,
        ErrorKind::Layout,
        "invalid MIG layout \"3g.40gb x2 ? 1g.10gb\"",
    );
    // Written with an escape, columns no longer map: the error points at the string.
    let text = mig("layouts = [\"3g.40gb x2 \\u003f 1g.10gb\"]\n");
    expect_only(&text, 17, 12, ErrorKind::Layout, "invalid MIG layout");
}

#[test]
fn campaign_layouts_are_checked_on_every_targeted_model_that_knows_their_profiles() {
    // 1g.10gb exists on the H100 80GB and the A100 80GB (7 at most on each) and on the A100 40GB (4
    // at most); the H100 NVL and the H200 name their profiles differently, so it does not apply there.
    let text = targeting("[\"*\"]", "layouts = [\"1g.10gb x8\"]\n");
    let errors = errors(&text);
    for model in ["h100-80gb", "a100-80gb", "a100-40gb"] {
        expect_in(
            &errors,
            PATH,
            17,
            12,
            ErrorKind::Layout,
            &format!("does not fit {model} ("),
        );
    }
    assert_eq!(errors.len(), 3, "{errors:#?}");
    // Valid where it applies: accepted although the H100 NVL calls its profiles 3g.47gb.
    let text = targeting("[\"*H100*\"]", "layouts = [\"3g.40gb x2\"]\n");
    assert!(matches!(kind(&text), SweepKind::MigLayouts { .. }));
}

#[test]
fn campaign_layout_known_to_no_targeted_model() {
    let text = targeting("[\"*H100*\"]", "layouts = [\"3g.04gb\"]\n");
    let errors = errors(&text);
    expect_in(
        &errors,
        PATH,
        17,
        12,
        ErrorKind::Layout,
        "does not fit h100-80gb",
    );
    expect_in(
        &errors,
        PATH,
        17,
        12,
        ErrorKind::Layout,
        "does not fit h100-94gb",
    );
    assert_eq!(errors.len(), 2);
}

#[test]
fn campaign_placement_is_deferred_when_no_builtin_model_is_targeted() {
    let text = targeting("[\"*RTX*\"]", "layouts = [\"9g.1tb x3\"]\n");
    assert!(matches!(kind(&text), SweepKind::MigLayouts { .. }));
    // The grammar is still checked.
    let text = targeting("[\"*RTX*\"]", "layouts = [\"9g.1tb x\"]\n");
    assert!(!errors(&text).is_empty());
}

#[test]
fn campaign_compute_instance_split_sweep() {
    let text = mig(
        "gpu_instance = \"7g.80gb\"\ncompute_instances = [\"1c\", \"2c\", \"3c\", \"4c\", \"7c\", \"2c x3 + 1c\"]\n",
    );
    let SweepKind::MigLayouts {
        layouts,
        fill,
        concurrency,
    } = kind(&text)
    else {
        panic!("a layout sweep");
    };
    let texts: Vec<&str> = layouts.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "7g.80gb(1c)",
            "7g.80gb(2c)",
            "7g.80gb(3c)",
            "7g.80gb(4c)",
            "7g.80gb(7c)",
            "7g.80gb(2c x3 + 1c)"
        ]
    );
    for l in &layouts {
        assert_eq!(l.spec, parse_layout(&l.text).unwrap());
    }
    assert_eq!(fill, Fill::All);
    assert_eq!(concurrency, [1]);

    // `8c` does not exist inside a 7g.80gb: the error points at the `8c` string.
    let text = mig("gpu_instance = \"7g.80gb\"\ncompute_instances = [\"1c\", \"8c\"]\n");
    let reason = refusal("h100-80gb", "7g.80gb(8c)");
    expect_only(
        &text,
        18,
        28,
        ErrorKind::Layout,
        &format!(
            "MIG layout \"7g.80gb(8c)\" does not fit h100-80gb (NVIDIA H100 80GB HBM3): {reason}"
        ),
    );
    let text = mig("gpu_instance = \"7g.80gb\"\n");
    expect_only(
        &text,
        17,
        16,
        ErrorKind::Schema,
        "`gpu_instance` needs `compute_instances`",
    );
    let text = mig("gpu_instance = \"7g.80gb x2\"\ncompute_instances = [\"1c\"]\n");
    expect_only(
        &text,
        17,
        16,
        ErrorKind::Layout,
        "`gpu_instance` takes one GPU-instance profile",
    );
}

#[test]
fn campaign_fill_and_neighbour_workload() {
    let layouts = "layouts = [\"3g.40gb x2\"]\n";
    let fill_of = |extra: &str| match kind(&mig(&format!("{layouts}{extra}"))) {
        SweepKind::MigLayouts { fill, .. } => fill,
        other => panic!("a layout sweep, got {other:?}"),
    };
    assert_eq!(fill_of(""), Fill::All);
    assert_eq!(fill_of("fill = \"first\"\n"), Fill::First);
    assert_eq!(
        fill_of("neighbours = \"idle\"\n"),
        Fill::Neighbours("idle".to_owned())
    );
    // The neighbour workload is carried with the campaign.
    let c = ok(&mig(&format!("{layouts}neighbours = \"idle\"\n")));
    assert!(c.workloads.contains_key("idle"));

    expect_only(
        &mig(&format!("{layouts}fill = \"some\"\n")),
        18,
        8,
        ErrorKind::Value,
        "unknown fill \"some\"; allowed: \"all\", \"first\"",
    );
    expect_only(
        &mig(&format!(
            "{layouts}fill = \"first\"\nneighbours = \"idle\"\n"
        )),
        19,
        14,
        ErrorKind::Conflict,
        "`neighbours` cannot be combined with `fill`",
    );
    expect_only(
        &mig(&format!("{layouts}neighbours = \"hpcg\"\n")),
        18,
        14,
        ErrorKind::Reference,
        "unknown workload \"hpcg\"",
    );
    expect_only(
        &mig(&format!(
            "{layouts}neighbours = {{ workload = \"idle\" }}\n"
        )),
        18,
        14,
        ErrorKind::Conflict,
        "the table form { profile, workload, max } goes with `protagonist`",
    );
    let SweepKind::MigLayouts { concurrency, .. } =
        kind(&mig(&format!("{layouts}concurrency = [1, 2]\n")))
    else {
        panic!("a layout sweep");
    };
    assert_eq!(concurrency, [1, 2]);
}

#[test]
fn campaign_protagonist_and_neighbours() {
    let text = mig(
        "protagonist = [\"1g.10gb\", \"9\"]\nneighbours = { profile = \"2g.20gb\", workload = \"idle\", max = 2 }\n",
    );
    assert_eq!(
        kind(&text),
        SweepKind::MigNeighbours {
            protagonists: vec![ProfileRef::Name("1g.10gb".to_owned()), ProfileRef::Id(9)],
            neighbour_profile: NeighbourProfile::Profile(ProfileRef::Name("2g.20gb".to_owned())),
            neighbour_workload: "idle".to_owned(),
            max_neighbours: Some(2),
        }
    );
    let prot = "protagonist = [\"3g.40gb\"]\n";
    expect_only(
        &mig("protagonist = [\"3g.40gb x2\"]\nneighbours = { workload = \"idle\" }\n"),
        17,
        16,
        ErrorKind::Layout,
        "`protagonist` takes one GPU-instance profile",
    );
    expect_only(
        &mig(prot),
        17,
        15,
        ErrorKind::Schema,
        "`protagonist` needs `neighbours",
    );
    expect_only(
        &mig(&format!("{prot}neighbours = \"idle\"\n")),
        18,
        14,
        ErrorKind::Conflict,
        "with `protagonist`, `neighbours` is a table",
    );
    expect_only(
        &mig(&format!(
            "{prot}neighbours = {{ workload = \"idle\", max = 0 }}\n"
        )),
        18,
        41,
        ErrorKind::Value,
        "`neighbours.max` must be at least 1, got 0",
    );
    expect_only(
        &mig(&format!(
            "{prot}neighbours = {{ workload = \"idle\", size = 1 }}\n"
        )),
        18,
        35,
        ErrorKind::Schema,
        "unknown field `size`, expected one of `profile`, `workload`, `max`",
    );
    expect_only(
        &mig(&format!(
            "{prot}neighbours = {{ workload = \"idle\" }}\nconcurrency = [2]\n"
        )),
        19,
        15,
        ErrorKind::Conflict,
        "`concurrency` is not used with `protagonist`",
    );
}

#[test]
fn campaign_mig_sweep_shapes() {
    expect_only(
        &mig(""),
        13,
        1,
        ErrorKind::Schema,
        "sharing = \"mig\" needs `layouts`, `gpu_instance` + `compute_instances`, or `protagonist` + `neighbours`",
    );
    expect_only(
        &mig("layouts = [\"7g.80gb\"]\nprotagonist = [\"1g.10gb\"]\n"),
        18,
        15,
        ErrorKind::Conflict,
        "`protagonist` cannot be combined with `layouts`",
    );
}
