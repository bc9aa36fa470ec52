//! The process runtime against real child processes (`sh`, `sleep`, scripts in a temp dir):
//! deadlines that kill whole groups, exit statuses, streamed logs, CPU accounting, environment,
//! stop/remove on every path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process_support;

use std::collections::BTreeMap;
use std::time::Duration;

use process_support::*;
use wattsweep_agent::runtime::logwatch::LogWatch;
use wattsweep_agent::runtime::process::{CgroupMode, ProcessHandle, ProcessRuntime};
use wattsweep_agent::runtime::{
    CpuUsage, ExitStatus, GpuBinding, MpsClient, Stream, WorkloadHandle, WorkloadRuntime,
};
use wattsweep_shared::model::{MetricSpec, ReadySpec};

const SIGTERM: u32 = 15;

#[tokio::test]
async fn deadline_kills_the_whole_group_including_a_grandchild_ignoring_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let body = r#"sh -c 'trap "" TERM; echo "grandchild $$"; exec sleep 1000' &
echo "leader $$"
wait"#;
    let s = script(dir.path(), "stubborn.sh", body);
    let (tx, mut rx) = channel();
    let mut h = rt
        .start(&spec(1, &[s.to_str().unwrap()]), tx)
        .await
        .unwrap();
    let pids = lines_starting(&mut rx, &["leader", "grandchild"]).await;
    let (leader, grandchild): (i32, i32) = (pids[0].parse().unwrap(), pids[1].parse().unwrap());
    assert_eq!(leader, h.pgid());
    assert_eq!(h.name(), format!("pid:{leader}"));
    assert!(is_running(grandchild));
    assert!(
        eventually(|| ignores_signal(grandchild, SIGTERM)).await,
        "the grandchild must ignore SIGTERM for this test to mean anything"
    );

    let status = h.wait(Duration::from_millis(200)).await.unwrap();
    assert_eq!(status, ExitStatus::DeadlineExceeded);
    assert!(!is_running(grandchild), "SIGKILL reached the grandchild");
    assert!(!is_running(leader));
    assert_eq!(running_in_group(leader), Vec::<i32>::new());
    // Repeated waits report the same outcome.
    assert_eq!(
        h.wait(Duration::from_secs(1)).await.unwrap(),
        ExitStatus::DeadlineExceeded
    );
    h.remove().await.unwrap();
    // Output ended once every holder of the pipes was gone.
    let rest = all_lines(&mut rx).await;
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn exit_codes_and_signals_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    for (i, (cmd, want)) in [
        (vec!["true"], ExitStatus::Exited(0)),
        (vec!["sh", "-c", "exit 3"], ExitStatus::Exited(3)),
        (
            vec!["sh", "-c", "kill -KILL $$"],
            ExitStatus::Killed("SIGKILL".into()),
        ),
        (
            vec!["sh", "-c", "kill -TERM $$"],
            ExitStatus::Killed("SIGTERM".into()),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (tx, _rx) = channel();
        let mut h = rt.start(&spec(10 + i as u128, &cmd), tx).await.unwrap();
        let status = h.wait(Duration::from_secs(60)).await.unwrap();
        assert_eq!(status, want, "{cmd:?}");
        assert_eq!(status.success(), want == ExitStatus::Exited(0));
        h.remove().await.unwrap();
    }
    // Every group was removed from the registry.
    assert!(rt.reconcile().await.unwrap().removed.is_empty());
    let registry = std::fs::read_to_string(rt.registry_path()).unwrap();
    assert!(registry.contains("\"groups\": []"), "{registry}");
}

#[tokio::test]
async fn readiness_and_figures_of_merit_are_read_from_streamed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let body = r#"echo "loading model" >&2
echo "Initialized device 0 with 81559 MB"
printf '10.0%%  (1200.5 Gflop/s)\r20.0%%  (1300.25 Gflop/s)\r'
echo
echo "done" >&2"#;
    let s = script(dir.path(), "burn.sh", body);
    let mut sp = spec(20, &[s.to_str().unwrap()]);
    sp.workload.metric = Some(MetricSpec {
        regex: r"(\d+(?:\.\d+)?) Gflop/s".into(),
        unit: "GFLOP/s".into(),
        higher_is_better: true,
    });
    sp.workload.ready = Some(ReadySpec {
        log_regex: Some("Initialized device".into()),
        timeout_s: 60,
    });
    let mut watch = LogWatch::new(&sp.workload).unwrap();
    let before = wattsweep_agent::runtime::process::logs::unix_ns_now();
    let (tx, mut rx) = channel();
    let mut h = rt.start(&sp, tx).await.unwrap();
    assert_eq!(
        h.wait(Duration::from_secs(60)).await.unwrap(),
        ExitStatus::Exited(0)
    );
    let lines = all_lines(&mut rx).await;
    let after = wattsweep_agent::runtime::process::logs::unix_ns_now();
    h.remove().await.unwrap();

    let mut foms = Vec::new();
    let mut ready = 0;
    for l in &lines {
        assert!((before..=after).contains(&l.at_ns), "{l:?}");
        let o = watch.observe(l);
        ready += usize::from(o.became_ready);
        foms.extend(o.fom.map(|f| f.value));
    }
    assert_eq!(ready, 1);
    assert_eq!(foms, vec![1200.5, 1300.25], "each \\r rewrite is a line");
    let stderr: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == Stream::Stderr)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(stderr, vec!["loading model", "done"]);
    let stamps: Vec<i64> = lines.iter().map(|l| l.at_ns).collect();
    assert!(watch.ready_at_ns().is_some_and(|t| stamps.contains(&t)));

    // The log is kept after removal.
    let log = std::fs::read_to_string(rt.log_path(&sp)).unwrap();
    assert!(
        log.contains(" out Initialized device 0 with 81559 MB\n"),
        "{log}"
    );
    assert!(log.contains(" err loading model\n"), "{log}");
    assert_eq!(log.lines().count(), lines.len());
}

/// A busy grandchild (reaped by the leader, so its time reaches the leader's cutime), some sleeps
/// (each wait is a voluntary context switch of the leader), then busy work in the leader itself.
const BUSY: &str = r#"sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'
sleep 0.01
sleep 0.01
i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done
echo finished"#;

async fn busy_usage(rt: &ProcessRuntime, dir: &std::path::Path, task: u128) -> CpuUsage {
    let s = script(dir, &format!("busy{task}.sh"), BUSY);
    let (tx, _rx) = channel();
    let mut h = rt
        .start(&spec(task, &[s.to_str().unwrap()]), tx)
        .await
        .unwrap();
    let early = h.cpu_usage().await.unwrap();
    assert_eq!(
        h.wait(Duration::from_secs(120)).await.unwrap(),
        ExitStatus::Exited(0)
    );
    // The exited leader is kept unreaped until remove: its figures are still readable.
    let usage = h.cpu_usage().await.unwrap();
    assert!(
        usage.cpu_s >= early.cpu_s,
        "cumulative: {early:?} then {usage:?}"
    );
    let cgroup = h.cgroup_dir().map(std::path::Path::to_path_buf);
    assert_eq!(cgroup.is_some(), rt.cgroup_root().is_some());
    h.remove().await.unwrap();
    if let Some(cg) = cgroup {
        assert!(
            !cg.exists(),
            "the instance cgroup {} was removed",
            cg.display()
        );
    }
    usage
}

#[tokio::test]
async fn cpu_use_and_context_switches_through_the_process_tree() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.cgroup = CgroupMode::Disabled;
    let rt = ProcessRuntime::new(c).unwrap();
    assert_eq!(rt.cgroup_root(), None);
    let usage = busy_usage(&rt, dir.path(), 30).await;
    assert!(usage.cpu_s > 0.0, "{usage:?}");
    let switches = usage
        .context_switches
        .expect("context switches are counted");
    assert!(switches >= 2, "{usage:?}");
}

/// With cgroup v2 available and writable (this machine's hybrid `/sys/fs/cgroup/unified` as
/// root), CPU time comes from the instance's cgroup; elsewhere the process tree is used.
#[tokio::test]
async fn cpu_use_through_a_cgroup_where_available() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let usage = busy_usage(&rt, dir.path(), 31).await;
    assert!(usage.cpu_s > 0.0, "{usage:?}");
    assert!(usage.context_switches.is_some_and(|n| n >= 2), "{usage:?}");
}

#[tokio::test]
async fn gpu_mps_and_owner_env_reach_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let mut sp = spec(40, &["sh", "-c", "env"]);
    sp.attempt = 3;
    sp.instance = 2;
    sp.gpu = GpuBinding::Gpus {
        uuids: vec!["GPU-11111111-2222".into(), "GPU-33333333-4444".into()],
        indices: vec![0, 1],
    };
    sp.mps = Some(MpsClient {
        pipe_dir: "/state/mps/GPU-1/pipe".into(),
        log_dir: "/state/mps/GPU-1/log".into(),
        active_thread_percentage: 25,
    });
    sp.workload.env = BTreeMap::from([("FROM_CATALOG".to_string(), "1".to_string())]);
    sp.env = BTreeMap::from([("FROM_LAUNCH".to_string(), "2".to_string())]);
    let env = run_env(&rt, &sp).await;
    let want = [
        (
            "CUDA_VISIBLE_DEVICES",
            "GPU-11111111-2222,GPU-33333333-4444",
        ),
        (
            "NVIDIA_VISIBLE_DEVICES",
            "GPU-11111111-2222,GPU-33333333-4444",
        ),
        ("CUDA_MPS_PIPE_DIRECTORY", "/state/mps/GPU-1/pipe"),
        ("CUDA_MPS_LOG_DIRECTORY", "/state/mps/GPU-1/log"),
        ("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "25"),
        ("WATTSWEEP_MANAGED", "true"),
        ("WATTSWEEP_NODE", NODE),
        ("WATTSWEEP_ATTEMPT", "3"),
        ("WATTSWEEP_INSTANCE", "2"),
        ("FROM_CATALOG", "1"),
        ("FROM_LAUNCH", "2"),
    ];
    for (k, v) in want {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k} in {env:?}");
    }
    assert_eq!(
        env.get("WATTSWEEP_TASK"),
        Some(&uuid::Uuid::from_u128(40).to_string())
    );
    assert!(
        env.contains_key("PATH"),
        "the agent's environment is inherited"
    );

    let mut sp = spec(41, &["sh", "-c", "env"]);
    sp.gpu = GpuBinding::MigDevice {
        uuid: "MIG-aaaa-bbbb".into(),
        profile: "3g.40gb".into(),
    };
    let env = run_env(&rt, &sp).await;
    assert_eq!(env["CUDA_VISIBLE_DEVICES"], "MIG-aaaa-bbbb");
    assert_eq!(env["NVIDIA_VISIBLE_DEVICES"], "MIG-aaaa-bbbb");
    assert!(!env.contains_key("CUDA_MPS_PIPE_DIRECTORY"));
}

async fn run_env(
    rt: &wattsweep_agent::runtime::process::ProcessRuntime,
    sp: &wattsweep_agent::runtime::LaunchSpec,
) -> BTreeMap<String, String> {
    let (tx, mut rx) = channel();
    let mut h = rt.start(sp, tx).await.unwrap();
    assert!(h.wait(Duration::from_secs(60)).await.unwrap().success());
    let lines = all_lines(&mut rx).await;
    h.remove().await.unwrap();
    lines
        .iter()
        .filter_map(|l| l.text.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn stop_and_remove_end_the_group_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let started = |task: u128| {
        let rt = rt.clone();
        async move {
            let (tx, mut rx) = channel();
            let sp = spec(task, &["sh", "-c", "sleep 1000 & echo child $!; wait"]);
            let h: ProcessHandle = rt.start(&sp, tx).await.unwrap();
            let child: i32 = line_starting(&mut rx, "child").await.parse().unwrap();
            (h, child, rx)
        }
    };

    // stop, stop again, wait, remove.
    let (mut h, child, _rx) = started(50).await;
    let pgid = h.pgid();
    h.stop(Duration::from_secs(5)).await.unwrap();
    assert!(!is_running(child));
    assert_eq!(running_in_group(pgid), Vec::<i32>::new());
    h.stop(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        h.wait(Duration::from_secs(10)).await.unwrap(),
        ExitStatus::Killed("SIGTERM".into())
    );
    h.remove().await.unwrap();

    // remove while everything still runs.
    let (h, child, _rx) = started(51).await;
    let pgid = h.pgid();
    let cgroup = h.cgroup_dir().map(std::path::Path::to_path_buf);
    h.remove().await.unwrap();
    assert!(!is_running(child));
    assert!(
        cgroup.is_none_or(|cg| !cg.exists()),
        "the cgroup went with the group"
    );
    assert_eq!(running_in_group(pgid), Vec::<i32>::new());
    assert!(
        !processes().iter().any(|(p, _, _)| *p == pgid),
        "the leader was reaped, no zombie left"
    );

    // the leader exits on its own but leaves a background child: remove still kills it.
    let (tx, mut rx) = channel();
    let mut h = rt
        .start(&spec(52, &["sh", "-c", "sleep 1000 & echo child $!"]), tx)
        .await
        .unwrap();
    let child: i32 = line_starting(&mut rx, "child").await.parse().unwrap();
    assert_eq!(
        h.wait(Duration::from_secs(60)).await.unwrap(),
        ExitStatus::Exited(0)
    );
    assert!(is_running(child));
    h.remove().await.unwrap();
    assert!(!is_running(child));

    // dropping a handle without remove kills the group too (in the background).
    let (h, child, _rx) = started(53).await;
    let pgid = h.pgid();
    let cgroup = h.cgroup_dir().map(std::path::Path::to_path_buf);
    drop(h);
    assert!(eventually(|| running_in_group(pgid).is_empty() && !is_running(child)).await);
    if let Some(cg) = cgroup {
        assert!(
            eventually(|| !cg.exists()).await,
            "{} removed",
            cg.display()
        );
    }

    // Nothing is left in the registry.
    assert!(
        eventually(|| {
            std::fs::read_to_string(rt.registry_path())
                .unwrap()
                .contains("\"groups\": []")
        })
        .await
    );
}

#[tokio::test]
async fn reconcile_leaves_this_runtimes_live_groups_alone() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (tx, _rx) = channel();
    let h = rt.start(&spec(60, &["sleep", "1000"]), tx).await.unwrap();
    assert!(rt.reconcile().await.unwrap().removed.is_empty());
    assert!(is_running(h.pgid()));
    h.remove().await.unwrap();
}

#[tokio::test]
async fn start_failures_are_deterministic_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let cases = [
        (spec(70, &["/no/such/program"]), "/no/such/program"),
        (spec(71, &[]), "no command"),
        (spec(72, &["sleep", "{measure_s}"]), "{measure_s}"),
        (
            {
                let mut s = spec(73, &["true"]);
                s.gpu = GpuBinding::MigDevice {
                    uuid: "MIG-x".into(),
                    profile: "1g.10gb".into(),
                };
                s.mps = Some(MpsClient {
                    pipe_dir: "/p".into(),
                    log_dir: "/l".into(),
                    active_thread_percentage: 50,
                });
                s
            },
            "MPS on a MIG device",
        ),
    ];
    for (sp, needle) in cases {
        let (tx, _rx) = channel();
        let err = rt.start(&sp, tx).await.unwrap_err();
        assert!(err.is_deterministic(), "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let not_exec = dir.path().join("plain.txt");
    std::fs::write(&not_exec, "x").unwrap();
    let (tx, _rx) = channel();
    let err = rt
        .start(&spec(74, &[not_exec.to_str().unwrap()]), tx)
        .await
        .unwrap_err();
    assert!(
        err.is_deterministic() && err.to_string().contains("not executable"),
        "{err}"
    );
}
