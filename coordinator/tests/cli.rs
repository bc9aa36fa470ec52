//! End-to-end tests of the `wattsweep` binary: real process, real files, exit codes and output as a
//! script would see them (DESIGN.md §5 is a contract).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wattsweep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wattsweep"))
        .args(args)
        .env_remove("WATTSWEEP_FORMAT")
        .output()
        .expect("run wattsweep")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn campaigns() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/campaigns"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_example_campaign_plans_with_tasks() {
    let files = campaigns();
    assert!(
        files.len() >= 9,
        "expected the seed campaigns, found {files:?}"
    );
    for f in files {
        let o = wattsweep(&["plan", f.to_str().unwrap(), "--gpu", "h100-80gb:4"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), stderr(&o));
        let out = stdout(&o);
        let last = out.lines().last().unwrap_or_default();
        let n: usize = last.split_whitespace().next().unwrap().parse().unwrap();
        assert!(n > 0, "{}: no tasks: {last}", f.display());
        // JSON output carries the same number of tasks.
        let j = wattsweep(&[
            "plan",
            f.to_str().unwrap(),
            "--gpu",
            "h100-80gb:4",
            "--format",
            "json",
        ]);
        assert_eq!(j.status.code(), Some(0), "{}", stderr(&j));
        let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
        assert_eq!(v["plan"]["tasks"].as_array().unwrap().len(), n);
    }
}

#[test]
fn plan_is_deterministic_across_runs() {
    let f = repo().join("deploy/campaigns/h100-sharing-envelope.toml");
    let a = wattsweep(&["plan", f.to_str().unwrap(), "--format", "json"]);
    let b = wattsweep(&["plan", f.to_str().unwrap(), "--format", "json"]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn campaign_error_exits_2_with_file_line_col() {
    let dir = std::env::temp_dir().join(format!("wattsweep-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("broken.toml");
    std::fs::write(
        &f,
        "[campaign]\nname = \"x\"\n\n[targets]\ngpu_models = [\"*H100*\"]\n\n\
         [workloads.burn]\ncommand = [\"b\"]\n\n[[sweep]]\nname = \"ts\"\n\
         sharing = \"time-slicing\"\nworkloads = [\"burn\"]\nconcurrency = [0]\n",
    )
    .unwrap();
    let o = wattsweep(&["plan", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    let want = format!("{}:14:", f.display());
    assert!(err.contains(&want), "expected `{want}` in: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_file_and_unknown_model_exit_2() {
    let o = wattsweep(&["plan", "/nonexistent/campaign.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/campaign.toml"));
    let o = wattsweep(&["mig", "profiles", "--gpu", "v100-16gb"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("h100-80gb"),
        "known models listed: {}",
        stderr(&o)
    );
    let o = wattsweep(&["mig", "frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn mig_check_accepts_valid_and_refuses_invalid_with_reason() {
    for (layout, placed) in [
        ("4g.40gb + 3g.40gb", "4g.40gb@0 + 3g.40gb@4"),
        ("3g.40gb x2", "3g.40gb@0 + 3g.40gb@4"),
        ("1g.10gb x7", "1g.10gb@0 + 1g.10gb@1"),
    ] {
        let o = wattsweep(&["mig", "check", "--gpu", "h100-80gb", layout]);
        assert_eq!(o.status.code(), Some(0), "{layout}: {}", stdout(&o));
        assert!(stdout(&o).contains(placed), "{layout}: {}", stdout(&o));
    }
    for (layout, reason) in [
        ("3g.40gb x3", "3g.40gb"),
        ("3g.40gb@2", "2"),
        ("5g.50gb", "5g.50gb"),
        ("4g.40gb +", "column"),
    ] {
        let o = wattsweep(&["mig", "check", "--gpu", "h100-80gb", layout]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{layout} should be refused: {}",
            stdout(&o)
        );
        let out = stdout(&o);
        assert!(out.starts_with("invalid on h100-80gb: "), "{out}");
        assert!(
            out.contains(reason),
            "{layout}: reason should mention `{reason}`: {out}"
        );
    }
}

#[test]
fn mig_layouts_maximal_lines_each_pass_check() {
    let o = wattsweep(&[
        "mig",
        "layouts",
        "--gpu",
        "h100-80gb",
        "--profiles",
        "19,14,9,5,0",
        "--maximal",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(!lines.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    for l in &lines {
        assert!(seen.insert(*l), "duplicate line {l}");
        let c = wattsweep(&["mig", "check", "--gpu", "h100-80gb", l]);
        assert_eq!(c.status.code(), Some(0), "{l}: {}", stdout(&c));
        assert!(
            stdout(&c).contains(l),
            "placement of `{l}` reproduces it: {}",
            stdout(&c)
        );
        // Only the allowed profiles appear.
        for term in l.split(" + ") {
            let name = term.split('@').next().unwrap();
            assert!(
                ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"].contains(&name),
                "{l}"
            );
        }
    }
    // The maximal set is a subset of all layouts.
    let all = wattsweep(&[
        "mig",
        "layouts",
        "--gpu",
        "h100-80gb",
        "--profiles",
        "19,14,9,5,0",
    ]);
    let all_out = stdout(&all);
    let all_lines: std::collections::BTreeSet<&str> = all_out.lines().collect();
    for l in &lines {
        assert!(
            all_lines.contains(l),
            "{l} missing from the full enumeration"
        );
    }
    assert!(all_lines.len() > lines.len());
}

#[test]
fn mig_profiles_json_is_the_table() {
    let o = wattsweep(&["mig", "profiles", "--gpu", "h100-80gb", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<u64> = v["gpu_instance_profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    for id in [0, 5, 9, 14, 15, 19, 20] {
        assert!(ids.contains(&id), "profile {id} in {ids:?}");
    }
}
