//! `wattsweep-agent execute` as a real process on the campaigns of `deploy/campaigns/`, on one
//! simulated GPU with short timing: exit codes, the per-task table, `results.json` and the gzip
//! line-protocol telemetry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A deploy campaign with short timing and the catalog named by absolute path, in `dir`.
fn short_campaign(dir: &Path, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("deploy/campaigns").join(name)).unwrap();
    let catalog = repo().join("deploy/workloads");
    let mut out = String::new();
    let mut in_timing = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_timing = line.trim() == "[timing]";
            out.push_str(line);
            out.push('\n');
            if in_timing {
                out.push_str(
                    "idle_baseline_s = 1\nwarmup_s = 1\nmeasure_s = 2\ncooldown_max_s = 1\n\
                     cooldown_temp_delta_c = 2.0\nsample_ms = 20\n",
                );
            }
            continue;
        }
        if in_timing {
            continue;
        }
        if line.starts_with("catalog") {
            out.push_str(&format!(
                "catalog = [{:?}]\n",
                catalog.display().to_string()
            ));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

fn execute(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wattsweep-agent"));
    cmd.arg("execute").args(args).env("WATTSWEEP_LOG", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn execute_runs_a_deploy_campaign_on_a_simulated_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = short_campaign(dir.path(), "exp-timeslices.toml");
    let out = dir.path().join("out");
    let o = execute(
        &[
            campaign.to_str().unwrap(),
            "--simulate",
            "1",
            "--sim-model",
            "h100-80gb",
            "--repetitions",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        // Every flag also reads the environment.
        &[("WATTSWEEP_CONFIGURATION", "burn-contention/burn/c2")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for expected in [
        "burn-contention/burn/c2",
        "measure 2.0 s",
        "counter",
        "integral",
        "p99",
        "GFLOP/s",
        "J/GFLOP",
        "succeeded",
    ] {
        assert!(stdout.contains(expected), "{expected}: {}", text(&o));
    }

    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let entries = results.as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        e["task"]["configuration"]["name"],
        "burn-contention/burn/c2"
    );
    assert_eq!(e["outcome"]["type"], "succeeded");
    let gpu = &e["summary"]["gpus"][0];
    assert!(gpu["energy_counter_j"].as_f64().unwrap() > 0.0);
    assert_eq!(
        e["summary"]["figures_of_merit"].as_array().unwrap().len(),
        2
    );
    assert_eq!(e["run"]["instances"].as_array().unwrap().len(), 2);
    assert!(e["run"].get("summary").is_none());

    let files: Vec<PathBuf> = std::fs::read_dir(out.join("telemetry"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".lp.gz"))
        .collect();
    assert!(!files.is_empty());
    let mut lines = String::new();
    for f in files {
        flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap())
            .read_to_string(&mut lines)
            .unwrap();
    }
    assert!(
        lines
            .lines()
            .any(|l| l.starts_with("gpu,") && l.contains("phase=measure"))
    );
    assert!(lines.lines().any(|l| l.starts_with("task_summary,")));
}

#[test]
fn execute_exit_codes_say_what_went_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = short_campaign(dir.path(), "exp-timeslices.toml");
    let out = dir.path().join("out");
    let base = [
        campaign.to_str().unwrap(),
        "--simulate",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];

    // Nothing matches: the thing asked for cannot run.
    let mut args = base.to_vec();
    args.extend(["--configuration", "nothing/*"]);
    let o = execute(&args, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("matches --configuration"));

    // A campaign error is an input error, with file:line:col.
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[campaign]\nname = \"x\"\nrepetitions = \"three\"\n",
    )
    .unwrap();
    let o = execute(&[broken.to_str().unwrap(), "--simulate", "1"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("broken.toml:3:"),
        "{}",
        text(&o)
    );

    // Simulated GPUs run the simulated runtime only.
    let mut args = base.to_vec();
    args.extend(["--runtime-override", "docker"]);
    let o = execute(&args, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn a_failing_task_makes_execute_exit_1_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    std::fs::write(
        catalog.join("crash.toml"),
        "[workloads.crash]\ncommand = [\"crash\", \"{run_s}\"]\n\
         metric = { regex = 'rate=(\\d+)', unit = \"it/s\" }\n\
         env = { WATTSWEEP_SIM_EXIT_AFTER_S = \"0.5\", WATTSWEEP_SIM_EXIT_CODE = \"7\" }\n\
         sim = { intensity = 0.5, fom = 10.0 }\n",
    )
    .unwrap();
    let campaign = dir.path().join("crash.toml");
    std::fs::write(
        &campaign,
        "[campaign]\nname = \"crash\"\nrepetitions = 1\n\n[targets]\nnodes = [\"*\"]\n\
         gpu_models = [\"*\"]\nscope = \"gpu\"\n\n[timing]\nidle_baseline_s = 0\nwarmup_s = 1\n\
         measure_s = 2\ncooldown_max_s = 0\nsample_ms = 20\n\n[[sweep]]\nname = \"solo\"\n\
         sharing = \"exclusive\"\nruntime = \"process\"\nworkloads = [\"crash\"]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = execute(
        &[
            campaign.to_str().unwrap(),
            "--catalog",
            catalog.to_str().unwrap(),
            "--simulate",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("failed (deterministic)"), "{}", text(&o));
    assert!(stdout.contains("exited with code 7"), "{}", text(&o));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results[0]["outcome"]["type"], "failed");
    assert_eq!(results[0]["outcome"]["class"], "deterministic");
    assert!(results[0]["summary"].is_null());
}
