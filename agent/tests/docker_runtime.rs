//! The Docker runtime against the machine's real engine: concurrent containers with figures of
//! merit, log files, CPU seconds and context switches; deadlines; exit codes; refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod docker_support;

use std::time::Duration;

use docker_support::{
    Cleanup, IMAGE_GLOB, engine, launch, names_of_node, test_image, unique_node, unique_task,
    workload,
};
use tokio::sync::mpsc;
use wattsweep_agent::runtime::docker::{DockerConfig, DockerRuntime};
use wattsweep_agent::runtime::logwatch::LogWatch;
use wattsweep_agent::runtime::{
    ExitStatus, LogLine, Ownership, RuntimeError, Stream, WorkloadHandle, WorkloadRuntime,
};

/// Generous bound so a broken runtime fails the test instead of hanging it.
const LONG: Duration = Duration::from_secs(120);

async fn runtime(node: &str, log_dir: &std::path::Path) -> DockerRuntime {
    let config = DockerConfig::new(
        Ownership { node: node.into() },
        vec![
            IMAGE_GLOB.to_string(),
            "wattsweep-test/absent:*".to_string(),
        ],
        log_dir,
    );
    let rt = DockerRuntime::new(config)
        .await
        .unwrap_or_else(|e| panic!("Docker must be running for the Docker runtime tests: {e}"));
    assert_eq!(rt.name(), "docker");
    rt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_containers_report_fom_logs_cpu_and_switches_then_vanish() {
    let docker = engine().await;
    let image = test_image(&docker).await;
    let node = unique_node("concurrent");
    let _cleanup = Cleanup::nodes(&[&node]);
    let logs = tempfile::tempdir().unwrap();
    let rt = runtime(&node, logs.path()).await;
    // The engine's API version, capped at bollard's (1.41 for Docker 20.10).
    let server = docker.version().await.unwrap().api_version.unwrap();
    let parse = |v: &str| {
        let (major, minor) = v.split_once('.').unwrap();
        (
            major.parse::<usize>().unwrap(),
            minor.parse::<usize>().unwrap(),
        )
    };
    let bollard_max = bollard::API_DEFAULT_VERSION;
    let expected = parse(&server).min((bollard_max.major_version, bollard_max.minor_version));
    assert_eq!(parse(&rt.api_version()), expected, "server speaks {server}");

    let task = unique_task();
    let mut running = Vec::new();
    for i in 0..4u32 {
        let fom = format!("{}.5", 100 + i);
        let spec = launch(task, i, workload(Some(&image), &["work", "5", &fom]));
        let (tx, rx) = mpsc::channel::<LogLine>(256);
        let handle = rt.start(&spec, tx).await.unwrap();
        assert_eq!(handle.name(), spec.object_name());
        let seen: Vec<LogLine> = Vec::new();
        running.push((
            handle,
            rx,
            LogWatch::new(&spec.workload).unwrap(),
            fom,
            seen,
        ));
    }
    let mut expected_names: Vec<String> =
        running.iter().map(|(h, ..)| h.name().to_string()).collect();
    expected_names.sort();
    assert_eq!(names_of_node(&docker, &node).await, expected_names);

    for (handle, rx, watch, fom, seen) in &mut running {
        // Read until the first figure of merit: by then the container has burnt its CPU and
        // switched context (each round sleeps in a child), and it holds until stopped.
        let mut foms = Vec::new();
        while foms.is_empty() {
            let line = tokio::time::timeout(LONG, rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no figure of merit from {}", handle.name()))
                .unwrap_or_else(|| {
                    panic!("log of {} ended before a figure of merit", handle.name())
                });
            let obs = watch.observe(&line);
            foms.extend(obs.fom.map(|f| f.value));
            seen.push(line);
        }
        assert!(watch.ready_at_ns().is_some(), "`ready` seen before the fom");
        assert_eq!(foms, vec![fom.parse::<f64>().unwrap()]);

        let cpu = handle.cpu_usage().await.unwrap();
        assert!(cpu.cpu_s > 0.0, "{}: {cpu:?}", handle.name());
        let switches = cpu.context_switches.expect("context switches are counted");
        assert!(switches > 0, "{}: {cpu:?}", handle.name());
        eprintln!(
            "{}: cpu {:.3} s, {switches} context switches",
            handle.name(),
            cpu.cpu_s
        );
    }

    for (handle, rx, watch, fom, seen) in &mut running {
        handle.stop(Duration::from_secs(20)).await.unwrap();
        let status = handle.wait(LONG).await.unwrap();
        assert_eq!(status, ExitStatus::Exited(0), "{}", handle.name());
        // After wait the log is complete and the channel closed. (The engine keeps the order
        // within a stream, not between stdout and stderr.)
        while let Some(line) = tokio::time::timeout(LONG, rx.recv()).await.unwrap() {
            seen.push(line);
        }
        let foms: Vec<f64> = seen
            .iter()
            .filter_map(|l| watch.observe(l).fom.map(|f| f.value))
            .collect();
        let fom_value = fom.parse::<f64>().unwrap();
        assert_eq!(foms, vec![fom_value, fom_value], "both fom lines");
        let stdout: Vec<&str> = seen
            .iter()
            .filter(|l| l.stream == Stream::Stdout)
            .map(|l| l.text.as_str())
            .collect();
        let fom_line = format!("fom={fom} items/s");
        assert_eq!(stdout, ["ready", &fom_line, &fom_line, "stopping"]);
        let stderr: Vec<&str> = seen
            .iter()
            .filter(|l| l.stream == Stream::Stderr)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(stderr, ["burned 5 rounds"], "stderr is demultiplexed");

        let file = std::fs::read_to_string(handle.log_path()).unwrap();
        assert_eq!(
            handle.log_path(),
            logs.path().join(format!("{}.log", handle.name()))
        );
        for want in [
            "ready",
            &format!("fom={fom} items/s"),
            "burned 5 rounds",
            "stopping",
        ] {
            assert!(file.lines().any(|l| l == want), "{want:?} in {file:?}");
        }

        // Once exited, the last readings stay.
        let after = handle.cpu_usage().await.unwrap();
        assert!(after.cpu_s > 0.0 && after.context_switches.unwrap_or(0) > 0);
        // Idempotent.
        handle.stop(Duration::from_secs(1)).await.unwrap();
        assert_eq!(handle.wait(LONG).await.unwrap(), ExitStatus::Exited(0));
    }
    for (handle, ..) in running {
        handle.remove().await.unwrap();
    }
    assert!(
        names_of_node(&docker, &node).await.is_empty(),
        "no container with our labels left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_exceeded_kills_the_container_and_reports_it() {
    let docker = engine().await;
    let image = test_image(&docker).await;
    let node = unique_node("deadline");
    let _cleanup = Cleanup::nodes(&[&node]);
    let logs = tempfile::tempdir().unwrap();
    let rt = runtime(&node, logs.path()).await;

    let spec = launch(unique_task(), 0, workload(Some(&image), &["sleep", "600"]));
    let (tx, mut rx) = mpsc::channel(64);
    let mut handle = rt.start(&spec, tx).await.unwrap();
    let first = tokio::time::timeout(LONG, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.text, "ready");

    let status = handle.wait(Duration::from_secs(2)).await.unwrap();
    assert_eq!(status, ExitStatus::DeadlineExceeded);
    let state = docker
        .inspect_container(handle.id(), None)
        .await
        .unwrap()
        .state
        .unwrap();
    assert_eq!(state.running, Some(false), "killed: {state:?}");
    assert_eq!(
        handle.wait(LONG).await.unwrap(),
        ExitStatus::DeadlineExceeded,
        "the status is remembered"
    );
    handle.remove().await.unwrap();
    assert!(names_of_node(&docker, &node).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_escalates_to_a_kill_after_the_grace_period() {
    let docker = engine().await;
    let image = test_image(&docker).await;
    let node = unique_node("stop");
    let _cleanup = Cleanup::nodes(&[&node]);
    let logs = tempfile::tempdir().unwrap();
    let rt = runtime(&node, logs.path()).await;

    // `sleep` as PID 1 ignores SIGTERM: only the engine's SIGKILL after the grace ends it.
    let spec = launch(unique_task(), 0, workload(Some(&image), &["sleep", "600"]));
    let (tx, mut rx) = mpsc::channel(64);
    let mut handle = rt.start(&spec, tx).await.unwrap();
    assert_eq!(
        tokio::time::timeout(LONG, rx.recv())
            .await
            .unwrap()
            .unwrap()
            .text,
        "ready"
    );
    handle.stop(Duration::from_secs(1)).await.unwrap();
    assert_eq!(handle.wait(LONG).await.unwrap(), ExitStatus::Exited(137));
    handle.remove().await.unwrap();
    assert!(names_of_node(&docker, &node).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_are_reported_and_remove_is_idempotent() {
    let docker = engine().await;
    let image = test_image(&docker).await;
    let node = unique_node("exitcode");
    let _cleanup = Cleanup::nodes(&[&node]);
    let logs = tempfile::tempdir().unwrap();
    let rt = runtime(&node, logs.path()).await;

    let spec = launch(unique_task(), 0, workload(Some(&image), &["exit", "3"]));
    let (tx, mut rx) = mpsc::channel(64);
    let mut handle = rt.start(&spec, tx).await.unwrap();
    assert_eq!(handle.wait(LONG).await.unwrap(), ExitStatus::Exited(3));
    let line = rx.recv().await.unwrap();
    assert_eq!(line.text, "exiting with 3");
    assert!(
        rx.recv().await.is_none(),
        "the sender is dropped at the end of the output"
    );
    let id = handle.id().to_string();
    handle.remove().await.unwrap();
    // A second removal of the same container (e.g. by reconcile) is fine.
    let again = DockerRuntime::new(rt.config().clone()).await.unwrap();
    assert!(again.reconcile().await.unwrap().removed.is_empty());
    assert!(
        docker.inspect_container(&id, None).await.is_err(),
        "removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disallowed_image_is_refused_before_any_container_exists() {
    let docker = engine().await;
    let node = unique_node("disallowed");
    let _cleanup = Cleanup::nodes(&[&node]);
    let logs = tempfile::tempdir().unwrap();
    let rt = runtime(&node, logs.path()).await;

    let spec = launch(
        unique_task(),
        0,
        workload(Some("evil/miner:latest"), &["exit", "0"]),
    );
    let (tx, _rx) = mpsc::channel(8);
    let err = rt.start(&spec, tx).await.unwrap_err();
    assert!(matches!(err, RuntimeError::ImageNotAllowed { .. }), "{err}");
    assert!(err.is_deterministic());
    let msg = err.to_string();
    assert!(
        msg.contains("evil/miner:latest") && msg.contains(IMAGE_GLOB),
        "{msg}"
    );
    assert!(names_of_node(&docker, &node).await.is_empty());
    assert!(
        docker
            .inspect_container(&spec.object_name(), None)
            .await
            .is_err(),
        "no container named {}",
        spec.object_name()
    );
    assert!(
        std::fs::read_dir(logs.path()).unwrap().next().is_none(),
        "no log file either"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_or_no_image_fails_deterministically() {
    let docker = engine().await;
    let node = unique_node("missing");
    let _cleanup = Cleanup::nodes(&[&node]);
    let logs = tempfile::tempdir().unwrap();
    let rt = runtime(&node, logs.path()).await;

    let spec = launch(
        unique_task(),
        0,
        workload(Some("wattsweep-test/absent:never-built"), &["exit", "0"]),
    );
    let (tx, _rx) = mpsc::channel(8);
    let err = rt.start(&spec, tx).await.unwrap_err();
    assert!(matches!(err, RuntimeError::StartFailed { .. }), "{err}");
    assert!(err.is_deterministic());
    let msg = err.to_string();
    assert!(
        msg.contains("wattsweep-test/absent:never-built") && msg.contains("not present"),
        "{msg}"
    );

    let spec = launch(unique_task(), 0, workload(None, &["exit", "0"]));
    let (tx, _rx) = mpsc::channel(8);
    let err = rt.start(&spec, tx).await.unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::Unsupported {
                runtime: "docker",
                ..
            }
        ),
        "{err}"
    );
    assert!(names_of_node(&docker, &node).await.is_empty());
}
