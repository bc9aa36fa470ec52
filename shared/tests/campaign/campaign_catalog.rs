//! Workload catalogs: merged with inline workloads, duplicates across files refused, folders named
//! by the campaign resolved against its own folder.

use std::path::PathBuf;

use wattsweep_shared::campaign::{ErrorKind, Source, catalog_dirs, parse_campaign};

use crate::support::expect_in;

const CAMPAIGN: &str = "\
[campaign]
name = \"cat\"
catalog = [\"../workloads\"]

[[sweep]]
name = \"ts\"
sharing = \"time-slicing\"
workloads = [\"burn\"]
concurrency = [2]
";

const BURN: &str = "\
# GPU burn, shared by every campaign
[workloads.burn]
image = \"wattsweep/gpu-burn:latest\"
command = [\"gpu_burn\", \"{measure_s}\"]

[workloads.idle]
image = \"busybox\"
command = [\"sleep\", \"{measure_s}\"]
";

fn src(path: &str, text: &str) -> Source {
    Source::new(path, text)
}

#[test]
fn campaign_draws_workloads_from_the_catalog() {
    let c = parse_campaign(
        &src("deploy/campaigns/c.toml", CAMPAIGN),
        &[src("deploy/workloads/burn.toml", BURN)],
    )
    .unwrap();
    let burn = &c.workloads["burn"];
    assert_eq!(burn.image.as_deref(), Some("wattsweep/gpu-burn:latest"));
    // Only the workloads a sweep names are carried.
    assert_eq!(c.workloads.keys().collect::<Vec<_>>(), ["burn"]);
}

#[test]
fn campaign_inline_workload_overrides_the_catalog() {
    let text = format!("{CAMPAIGN}\n[workloads.burn]\nimage = \"mine:1\"\n");
    let c = parse_campaign(
        &src("c.toml", &text),
        &[src("deploy/workloads/burn.toml", BURN)],
    )
    .unwrap();
    assert_eq!(c.workloads["burn"].image.as_deref(), Some("mine:1"));
    assert!(c.workloads["burn"].command.is_empty());
}

#[test]
fn campaign_duplicate_catalog_workload_names_both_files() {
    let other = "[workloads.burn]\nimage = \"other:1\"\n";
    let errors = parse_campaign(
        &src("c.toml", CAMPAIGN),
        &[src("w/a.toml", BURN), src("w/b.toml", other)],
    )
    .unwrap_err()
    .into_vec();
    expect_in(
        &errors,
        "w/b.toml",
        1,
        12,
        ErrorKind::Duplicate,
        "workload \"burn\" is also defined in w/a.toml:2:12",
    );
    assert_eq!(errors.len(), 1);
}

#[test]
fn campaign_catalog_errors_point_into_the_catalog_file() {
    let bad = "[workloads.hpcg]\nimage = \"hpcg\"\nmetric = { regex = '(', unit = \"GFLOP/s\" }\n[defaults]\n";
    let errors = parse_campaign(
        &src("c.toml", CAMPAIGN),
        &[src("w/burn.toml", BURN), src("w/hpcg.toml", bad)],
    )
    .unwrap_err()
    .into_vec();
    expect_in(
        &errors,
        "w/hpcg.toml",
        3,
        20,
        ErrorKind::Value,
        "does not compile",
    );
    expect_in(
        &errors,
        "w/hpcg.toml",
        4,
        2,
        ErrorKind::Schema,
        "unknown table `defaults`, expected one of `workloads`",
    );
    assert_eq!(errors.len(), 2);
}

#[test]
fn campaign_catalog_syntax_error_is_reported_alone() {
    let errors = parse_campaign(
        &src("c.toml", "[campaign]\nname = \"x\"\n"),
        &[src("w/bad.toml", "[workloads.burn\n")],
    )
    .unwrap_err()
    .into_vec();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "w/bad.toml");
    assert_eq!(errors[0].kind, ErrorKind::Syntax);
}

#[test]
fn campaign_catalog_dirs_are_relative_to_the_campaign_file() {
    let dirs = catalog_dirs(&src("deploy/campaigns/c.toml", CAMPAIGN)).unwrap();
    assert_eq!(dirs, [PathBuf::from("deploy/campaigns/../workloads")]);
    // Absolute folders stay as they are; no `catalog` means none.
    let abs = CAMPAIGN.replace("../workloads", "/srv/workloads");
    assert_eq!(
        catalog_dirs(&src("c.toml", &abs)).unwrap(),
        [PathBuf::from("/srv/workloads")]
    );
    let none = CAMPAIGN.replace("catalog = [\"../workloads\"]\n", "");
    assert!(catalog_dirs(&src("c.toml", &none)).unwrap().is_empty());
    // Other mistakes are left to parse_campaign; a wrong `catalog` is reported here.
    let wrong = CAMPAIGN.replace("[\"../workloads\"]", "\"../workloads\"");
    let errors = catalog_dirs(&src("c.toml", &wrong)).unwrap_err().into_vec();
    expect_in(
        &errors,
        "c.toml",
        3,
        11,
        ErrorKind::Schema,
        "expected an array",
    );
}
