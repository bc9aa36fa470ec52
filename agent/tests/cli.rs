//! The `wattsweep-agent` binary end to end. Without the NVIDIA driver (this build machine, CI),
//! `inventory` and `sample` must fail with exit code 1 and say that NVML is missing and what to do;
//! with a driver (the GPU machine) they must succeed and print what they promise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use wattsweep_agent::gpu::nvml::NvmlBackend;

fn agent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wattsweep-agent"))
        .args(args)
        .env_remove("WATTSWEEP_SIMULATE")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn nvml_present() -> bool {
    NvmlBackend::new().is_ok()
}

#[test]
fn inventory_without_nvml_fails_clearly_or_lists_gpus() {
    let out = agent(&["inventory"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if nvml_present() {
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("GPU"), "{stdout}");
        let json = agent(&["inventory", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert!(!v["gpus"].as_array().unwrap().is_empty());
    } else {
        assert_eq!(
            out.status.code(),
            Some(1),
            "stdout {stdout} stderr {stderr}"
        );
        assert!(stderr.contains("NVML is not available"), "{stderr}");
        assert!(stderr.contains("libnvidia-ml.so.1"), "{stderr}");
        assert!(stderr.contains("--simulate N"), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
}

#[test]
fn sample_without_nvml_fails_clearly_or_samples() {
    let out = agent(&["sample", "--seconds", "1"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if nvml_present() {
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("summary"), "{stderr}");
        assert!(
            stdout.lines().any(|l| l.contains("\"type\":\"power\"")),
            "{stdout}"
        );
    } else {
        assert_eq!(
            out.status.code(),
            Some(1),
            "stdout {stdout} stderr {stderr}"
        );
        assert!(
            stderr.contains("NVML is not available") && stderr.contains("--simulate N"),
            "{stderr}"
        );
    }
}

#[test]
fn simulation_is_refused_until_the_simulated_backend_is_integrated() {
    let out = agent(&["inventory", "--simulate", "2", "--sim-model", "h100-80gb"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("simulated GPUs are not built into this binary yet"));
    let out = agent(&["sample", "--simulate", "1", "--sim-model", "nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("known: a100-40gb"),
        "{}",
        text(&out.stderr)
    );
    // The environment variable works like the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_wattsweep-agent"))
        .args(["inventory"])
        .env("WATTSWEEP_SIMULATE", "3")
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("--simulate 3"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = agent(&["sample", "--gpu", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = agent(&["sample", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("json") && text(&out.stderr).contains("lp"));
}
