//! End to end: an agent starts workloads through the process runtime and is SIGKILLed; a fresh
//! runtime on the same state directory reconciles, and the orphaned groups are gone while an
//! unrelated process survives.
//!
//! The "agent" is this test binary re-running itself as a child with [`HELPER_ENV`] set: the same
//! test function then plays the helper, starts the workloads, reports their pids on stdout and
//! waits to be killed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process_support;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use process_support::*;
use wattsweep_agent::runtime::WorkloadRuntime;

const HELPER_ENV: &str = "WS_TEST_CRASH_HELPER_STATE_DIR";
const TEST_NAME: &str = "crashed_agent_leftovers_are_reconciled";

/// Helper role: start two workloads and wait to be killed.
/// - A: the leader stays alive with a background `sleep` child;
/// - B: the leader exits at once, leaving its background `sleep` orphaned in the group.
async fn helper(state_dir: &str) {
    let rt = runtime(std::path::Path::new(state_dir));
    let (tx_a, mut rx_a) = channel();
    let a = rt
        .start(
            &spec(0xA, &["sh", "-c", "sleep 1000 & echo child $!; wait"]),
            tx_a,
        )
        .await
        .unwrap();
    let a_child = line_starting(&mut rx_a, "child").await;
    let (tx_b, mut rx_b) = channel();
    let b = rt
        .start(
            &spec(0xB, &["sh", "-c", "sleep 1000 & echo child $!"]),
            tx_b,
        )
        .await
        .unwrap();
    let b_child = line_starting(&mut rx_b, "child").await;
    println!("HELPER A {} {a_child}", a.pgid());
    println!("HELPER B {} {b_child}", b.pgid());
    println!("HELPER READY");
    // The parent SIGKILLs this process; never get here in a passing run.
    tokio::time::sleep(Duration::from_secs(120)).await;
    panic!("the crash test never killed its helper");
}

#[tokio::test]
async fn crashed_agent_leftovers_are_reconciled() {
    if let Ok(dir) = std::env::var(HELPER_ENV) {
        helper(&dir).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    // An unrelated process in a group of its own: reconciliation must not touch it.
    let bystander = Command::new("sleep")
        .arg("1000")
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut bystander = KillOnDrop(bystander);
    let bystander_pid = i32::try_from(bystander.0.id()).unwrap();

    let agent = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut agent = KillOnDrop(agent);
    let stdout = agent.0.stdout.take().unwrap();
    let report = tokio::task::spawn_blocking(move || {
        let mut groups = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            // libtest may print `test NAME ... ` on the same line first.
            let Some(at) = line.find("HELPER") else {
                continue;
            };
            let fields: Vec<&str> = line[at..].split_whitespace().collect();
            match fields.as_slice() {
                ["HELPER", "READY"] => return groups,
                ["HELPER", _, pgid, child] => {
                    groups.push((pgid.parse::<i32>().unwrap(), child.parse::<i32>().unwrap()))
                }
                _ => {}
            }
        }
        panic!("the helper ended before it was ready");
    });
    let groups = tokio::time::timeout(Duration::from_secs(60), report)
        .await
        .expect("the helper reports within a minute")
        .unwrap();
    assert_eq!(groups.len(), 2);
    for (pgid, child) in &groups {
        assert!(
            is_running(*child),
            "workload child {child} runs before the crash"
        );
        assert!(running_in_group(*pgid).contains(child));
    }

    // The crash.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(agent.0.id()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    agent.0.wait().unwrap();
    for (_, child) in &groups {
        assert!(is_running(*child), "orphans survive the agent: {child}");
    }

    // A fresh agent on the same state directory.
    let rt = runtime(dir.path());
    let mut removed = rt.reconcile().await.unwrap().removed;
    removed.sort();
    let mut want: Vec<String> = groups.iter().map(|(g, _)| format!("pid:{g}")).collect();
    want.sort();
    assert_eq!(removed, want);
    for (pgid, child) in &groups {
        assert!(!is_running(*child), "orphan {child} was killed");
        assert_eq!(running_in_group(*pgid), Vec::<i32>::new());
    }
    assert!(is_running(bystander_pid), "the unrelated process survives");
    assert!(
        rt.reconcile().await.unwrap().removed.is_empty(),
        "records are gone after reconciliation"
    );

    bystander.0.kill().unwrap();
    bystander.0.wait().unwrap();
}

/// Kills and reaps a child process when the test ends, passing or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A recorded group whose leader is gone for good (reaped) but whose background child still
/// runs: reconciliation kills the child because it carries the record's owner variables, and
/// leaves alone a look-alike group whose child carries another task's.
#[tokio::test]
async fn orphans_of_a_reaped_leader_are_killed_only_with_the_owner_env() {
    use wattsweep_agent::runtime::process::procfs::ProcFs;
    use wattsweep_agent::runtime::process::registry::{GroupRecord, Registry};

    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let task = uuid::Uuid::from_u128(0x0C);
    // Start `sh` (the leader) that leaves a `sleep` behind, read the leader's start time, reap it.
    let orphan_group = |task_env: String| {
        let mut leader = Command::new("sh")
            .args(["-c", "sleep 1000 & echo $!"])
            .process_group(0)
            .env("WATTSWEEP_NODE", NODE)
            .env("WATTSWEEP_TASK", task_env)
            .env("WATTSWEEP_ATTEMPT", "1")
            .env("WATTSWEEP_INSTANCE", "0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pgid = i32::try_from(leader.id()).unwrap();
        let start_time = ProcFs::default().start_time(pgid).unwrap();
        let mut line = String::new();
        BufReader::new(leader.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let child: i32 = line.trim().parse().unwrap();
        assert!(leader.wait().unwrap().success());
        let guard = KillPidOnDrop(child, ProcFs::default().start_time(child).unwrap());
        (pgid, start_time, guard, child)
    };
    let (ours, ours_start, _g1, ours_child) = orphan_group(task.to_string());
    let (theirs, theirs_start, _g2, theirs_child) =
        orphan_group(uuid::Uuid::from_u128(0x0D).to_string());
    assert!(is_running(ours_child) && is_running(theirs_child));

    let registry = Registry::new(rt.registry_path().to_path_buf());
    for (pgid, start_time) in [(ours, ours_start), (theirs, theirs_start)] {
        registry
            .add(GroupRecord {
                name: format!("pid:{pgid}"),
                object_name: "ws-0000000c-a1-i0".into(),
                pgid,
                leader_pid: pgid,
                start_time,
                node: NODE.into(),
                task,
                attempt: 1,
                instance: 0,
                cgroup: None,
                log: dir.path().join("x.log"),
            })
            .unwrap();
    }
    let removed = rt.reconcile().await.unwrap().removed;
    assert_eq!(removed, vec![format!("pid:{ours}")]);
    assert!(!is_running(ours_child), "our orphan was killed");
    assert!(is_running(theirs_child), "another task's process survives");
}

/// Kills a process that is not our child when the test ends, if it is still the same process.
struct KillPidOnDrop(i32, u64);

impl Drop for KillPidOnDrop {
    fn drop(&mut self) {
        let procfs = wattsweep_agent::runtime::process::procfs::ProcFs::default();
        if procfs.start_time(self.0) == Some(self.1) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}
