//! Helpers shared by the process-runtime integration tests: launch specs, scripts written to a
//! temporary directory, and an independent look at `/proc` to check what really runs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;
use wattsweep_agent::runtime::process::{CgroupMode, ProcessConfig, ProcessRuntime};
use wattsweep_agent::runtime::{GpuBinding, LaunchSpec, LogLine, Ownership};
use wattsweep_shared::model::WorkloadSpec;

pub const NODE: &str = "test-node";

pub fn config(state_dir: &Path) -> ProcessConfig {
    let mut c = ProcessConfig::new(Ownership { node: NODE.into() }, state_dir);
    c.stop_grace = Duration::from_millis(300);
    c.kill_wait = Duration::from_secs(10);
    c.drain_timeout = Duration::from_secs(5);
    c.cgroup = CgroupMode::Auto;
    c
}

pub fn runtime(state_dir: &Path) -> ProcessRuntime {
    ProcessRuntime::new(config(state_dir)).unwrap()
}

pub fn spec(task: u128, command: &[&str]) -> LaunchSpec {
    LaunchSpec {
        task_id: Uuid::from_u128(task),
        attempt: 1,
        instance: 0,
        workload: WorkloadSpec {
            name: "test".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            ..WorkloadSpec::default()
        },
        gpu: GpuBinding::None,
        mps: None,
        substitutions: BTreeMap::new(),
        env: BTreeMap::new(),
    }
}

/// Write an executable `sh` script.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub fn channel() -> (mpsc::Sender<LogLine>, mpsc::Receiver<LogLine>) {
    mpsc::channel(1024)
}

/// Every line until the sender is dropped (bounded, so a bug fails instead of hanging).
pub async fn all_lines(rx: &mut mpsc::Receiver<LogLine>) -> Vec<LogLine> {
    let mut lines = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(l)) => lines.push(l),
            Ok(None) => return lines,
            Err(_) => panic!("log stream did not end; got {lines:?}"),
        }
    }
}

/// The next line starting with `prefix`, its rest.
pub async fn line_starting(rx: &mut mpsc::Receiver<LogLine>, prefix: &str) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(l)) => {
                if let Some(rest) = l.text.strip_prefix(prefix) {
                    return rest.trim().to_string();
                }
            }
            other => panic!("no line starting with {prefix:?}: {other:?}"),
        }
    }
}

/// The rests of the first lines starting with each of `prefixes`, in any order.
pub async fn lines_starting(rx: &mut mpsc::Receiver<LogLine>, prefixes: &[&str]) -> Vec<String> {
    let mut found: Vec<Option<String>> = vec![None; prefixes.len()];
    while found.iter().any(Option::is_none) {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(l)) => {
                for (i, p) in prefixes.iter().enumerate() {
                    if let (None, Some(rest)) = (&found[i], l.text.strip_prefix(p)) {
                        found[i] = Some(rest.trim().to_string());
                    }
                }
            }
            other => panic!("no lines starting with {prefixes:?}: {other:?}, found {found:?}"),
        }
    }
    found.into_iter().flatten().collect()
}

/// (pid, pgrp, state) of every process, read straight from /proc.
pub fn processes() -> Vec<(i32, i32, char)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        out.push((pid, f[2].parse().unwrap(), f[0].chars().next().unwrap()));
    }
    out
}

/// Running (not zombie) members of group `pgid`.
pub fn running_in_group(pgid: i32) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|(_, g, s)| *g == pgid && *s != 'Z' && *s != 'X')
        .map(|(p, _, _)| p)
        .collect()
}

/// Whether `pid` runs (exists and is not a zombie).
pub fn is_running(pid: i32) -> bool {
    processes()
        .into_iter()
        .any(|(p, _, s)| p == pid && s != 'Z' && s != 'X')
}

/// Poll (bounded) until `f` holds; false when it never did.
pub async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// Whether signal `sig` is ignored by `pid` (SigIgn mask in /proc/<pid>/status).
pub fn ignores_signal(pid: i32, sig: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
        .unwrap();
    mask & (1u64 << (sig - 1)) != 0
}
