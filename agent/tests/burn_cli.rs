//! The duty burn as its users meet it: the binary's exit codes and messages, and its output lines
//! read through the catalog entry the agent uses (`deploy/workloads/duty-burn.toml`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Duration;

use regex::Regex;
use wattsweep_agent::burn::{Report, Summary, ready_line};
use wattsweep_shared::campaign::{Source, parse_campaign};
use wattsweep_shared::model::WorkloadSpec;

const BIN: &str = env!("CARGO_BIN_EXE_wattsweep-duty-burn");

fn burn(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The catalog's `duty-burn` entry, through the campaign parser the coordinator uses.
fn catalog_entry() -> WorkloadSpec {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/workloads/duty-burn.toml"
    );
    let catalog = Source::new(path, std::fs::read_to_string(path).unwrap());
    let campaign = Source::new(
        "burn.toml",
        "[campaign]\nname = \"b\"\n\n[[sweep]]\nname = \"grid\"\nsharing = \"usage-grid\"\n\
         scope = \"node\"\nruntime = \"process\"\nlevels = [0, 100]\nworkloads = [\"duty-burn\"]\n",
    );
    let c = parse_campaign(&campaign, &[catalog]).unwrap_or_else(|e| panic!("{e}"));
    c.workloads["duty-burn"].clone()
}

#[test]
fn out_of_range_arguments_are_usage_errors() {
    let (code, _, err) = burn(&["--level", "101", "--seconds", "1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--level") && err.contains("0..=100"), "{err}");
    let (code, _, err) = burn(&["--level", "50", "--seconds=-3"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("positive number"), "{err}");
    let (code, _, err) = burn(&["--level", "50", "--seconds", "1", "--period-ms", "0"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn flags_also_come_from_the_environment() {
    let out = Command::new(BIN)
        .env("WATTSWEEP_BURN_LEVEL", "250")
        .env("WATTSWEEP_BURN_SECONDS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("250"));
}

/// Without a driver (CI) the binary must say so and exit 1; with one, a short run must reach
/// readiness, print figures the catalog reads and exit 0.
#[test]
fn runs_on_a_gpu_or_says_why_not() {
    let (code, out, err) = burn(&["--level", "30", "--seconds", "1.5"]);
    if err.contains("NVIDIA driver not found") {
        assert_eq!(code, Some(1), "{err}");
        assert!(out.is_empty(), "nothing on stdout before the error: {out}");
        assert!(err.starts_with("duty-burn error: "), "{err}");
        return;
    }
    if code == Some(1) {
        // A driver without a usable device: the reason must be one of the documented ones.
        assert!(
            err.contains("no CUDA device") || err.contains("could not initialise"),
            "{err}"
        );
        return;
    }
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    let spec = catalog_entry();
    let ready = Regex::new(spec.ready.unwrap().log_regex.as_deref().unwrap()).unwrap();
    let metric = Regex::new(&spec.metric.unwrap().regex).unwrap();
    assert!(out.lines().any(|l| ready.is_match(l)), "{out}");
    assert!(out.lines().any(|l| metric.is_match(l)), "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("duty-burn done busy_fraction=")
    );
}

#[test]
fn output_lines_are_what_the_catalog_entry_reads() {
    let spec = catalog_entry();
    let metric = spec.metric.as_ref().unwrap();
    assert_eq!(metric.unit, "GFLOP/s");
    assert!(metric.higher_is_better);
    let metric = Regex::new(&metric.regex).unwrap();
    let ready = Regex::new(spec.ready.as_ref().unwrap().log_regex.as_deref().unwrap()).unwrap();
    assert_eq!(
        spec.command,
        [
            "wattsweep-duty-burn",
            "--level",
            "{level}",
            "--seconds",
            "{run_s}"
        ]
    );

    let line = ready_line(50, Duration::from_millis(100), 30.0);
    assert!(ready.is_match(&line), "{line}");
    assert!(!metric.is_match(&line), "{line}");

    let report = Report {
        t_s: 1.0,
        level_pct: 50,
        busy_fraction: 0.499,
        kernels: 250,
        gflops: 61309.8,
    }
    .to_string();
    let got: f64 = metric.captures(&report).unwrap()[1].parse().unwrap();
    assert_eq!(got, 61309.8, "{report}");
    assert!(!ready.is_match(&report));

    // The whole-run line must not add a sample to the per-second ones.
    let done = Summary {
        level_pct: 50,
        seconds: 6.0,
        busy_fraction: 0.501,
        kernels: 1503,
        gflop: 184161.5,
    }
    .to_string();
    assert!(!metric.is_match(&done), "{done}");
    assert!(!metric.is_match("duty-burn t=1.0s avg_gflops=12.0"));
}
