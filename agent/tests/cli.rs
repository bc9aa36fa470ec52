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
fn simulated_gpus_serve_inventory_and_samples_without_nvml() {
    let out = agent(&[
        "inventory",
        "--simulate",
        "2",
        "--sim-model",
        "a100-40gb",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let inv: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let gpus = inv["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 2);
    for g in gpus {
        assert_eq!(
            g["simulated"], true,
            "simulated GPUs are always marked: {g}"
        );
        assert_eq!(g["model_id"], "a100-40gb");
        let profiles = g["profile_table"]["gpu_instance_profiles"]
            .as_array()
            .unwrap();
        assert_eq!(profiles.len(), 7);
    }
    // Live samples from a simulated GPU: power lines ~20 ms apart, closed by the energy check.
    let out = agent(&[
        "sample",
        "--simulate",
        "1",
        "--seconds",
        "1.5",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let powers = stdout
        .lines()
        .filter(|l| l.contains(r#""type":"power""#))
        .count();
    assert!(
        powers >= 40,
        "expected ≥40 power samples in 1.5 s, got {powers}: {stdout}"
    );
    // An unknown model is a usage error naming the known ones.
    let out = agent(&["sample", "--simulate", "1", "--sim-model", "nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("known: a100-40gb"),
        "{}",
        text(&out.stderr)
    );
    // The environment variable works like the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_wattsweep-agent"))
        .args(["inventory", "--format", "json"])
        .env("WATTSWEEP_SIMULATE", "3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let inv: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inv["gpus"].as_array().unwrap().len(), 3);
}

#[test]
fn usage_errors_exit_2() {
    let out = agent(&["sample", "--gpu", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = agent(&["sample", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("json") && text(&out.stderr).contains("lp"));
}
