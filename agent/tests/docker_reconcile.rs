//! An agent killed mid-task leaves containers behind; a fresh runtime with the same node id removes
//! exactly those and leaves a container without our labels and one of another node alone.
//!
//! The "agent" is this test binary re-run as a child process (selected by an environment variable):
//! it starts two containers through the runtime, says so on stdout, and is SIGKILLed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod docker_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptions;
use docker_support::{
    Cleanup, IMAGE_GLOB, engine, launch, names_of_node, test_image, unique_node, unique_task,
    workload,
};
use tokio::sync::mpsc;
use wattsweep_agent::runtime::docker::{DockerConfig, DockerRuntime};
use wattsweep_agent::runtime::{Ownership, WorkloadHandle, WorkloadRuntime, labels};

const TEST_NAME: &str = "a_fresh_runtime_reconciles_what_a_killed_agent_left_and_nothing_else";
const HELPER_NODE: &str = "WATTSWEEP_DOCKER_HELPER_NODE";
const HELPER_IMAGE: &str = "WATTSWEEP_DOCKER_HELPER_IMAGE";
const HELPER_LOGS: &str = "WATTSWEEP_DOCKER_HELPER_LOGS";
const STARTED: &str = "HELPER-STARTED";

fn config(node: &str, log_dir: &std::path::Path) -> DockerConfig {
    DockerConfig::new(
        Ownership { node: node.into() },
        vec![IMAGE_GLOB.to_string()],
        log_dir,
    )
}

/// The child's part: the agent that starts two containers and then waits to be killed.
async fn helper(node: String) {
    let image = std::env::var(HELPER_IMAGE).unwrap();
    let logs = std::env::var(HELPER_LOGS).unwrap();
    let rt = DockerRuntime::new(config(&node, std::path::Path::new(&logs)))
        .await
        .unwrap();
    let task = unique_task();
    let mut handles = Vec::new();
    let mut receivers = Vec::new();
    for i in 0..2 {
        let (tx, rx) = mpsc::channel(256);
        let spec = launch(task, i, workload(Some(&image), &["work", "1", "1.0"]));
        handles.push(rt.start(&spec, tx).await.unwrap());
        receivers.push(rx);
    }
    let names: Vec<&str> = handles.iter().map(|h| h.name()).collect();
    // The harness may have printed `test ... ` on this line already: the marker may not start it.
    println!("{STARTED} {}", names.join(" "));
    tokio::time::sleep(Duration::from_secs(600)).await;
    panic!("helper was not killed");
}

/// A running container made directly through the engine, outside the runtime.
async fn foreign_container(
    docker: &bollard::Docker,
    image: &str,
    name: &str,
    labels: HashMap<String, String>,
) {
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["sleep".into(), "600".into()]),
        labels: Some(labels),
        ..ContainerCreateBody::default()
    };
    let options = CreateContainerOptions {
        name: Some(name.to_string()),
        ..CreateContainerOptions::default()
    };
    docker.create_container(Some(options), body).await.unwrap();
    docker.start_container(name, None).await.unwrap();
}

async fn is_running(docker: &bollard::Docker, name: &str) -> bool {
    docker
        .inspect_container(name, None)
        .await
        .unwrap_or_else(|e| panic!("container {name} must still exist: {e}"))
        .state
        .and_then(|s| s.running)
        == Some(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_runtime_reconciles_what_a_killed_agent_left_and_nothing_else() {
    if let Ok(node) = std::env::var(HELPER_NODE) {
        return helper(node).await;
    }
    let docker = engine().await;
    let image = test_image(&docker).await;
    let node = unique_node("reconcile");
    let other_node = format!("{node}-other");
    let unlabelled = format!("{node}-unlabelled");
    let other = format!("{node}-othernode");
    let mut cleanup = Cleanup::nodes(&[&node, &other_node]);
    cleanup.names.push(unlabelled.clone());
    let logs = tempfile::tempdir().unwrap();

    foreign_container(&docker, &image, &unlabelled, HashMap::new()).await;
    foreign_container(
        &docker,
        &image,
        &other,
        HashMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::NODE.to_string(), other_node.clone()),
        ]),
    )
    .await;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(HELPER_NODE, &node)
        .env(HELPER_IMAGE, &image)
        .env(HELPER_LOGS, logs.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.split_once(STARTED).map(|(_, n)| n.trim().to_string()))
    });
    let started = tokio::time::timeout(Duration::from_secs(180), started).await;
    // SIGKILL: the agent gets no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut left: Vec<String> = started
        .expect("the helper agent started its containers in time")
        .unwrap()
        .expect("the helper agent reported its containers")
        .split(' ')
        .map(str::to_string)
        .collect();
    left.sort();
    assert_eq!(left.len(), 2);
    assert_eq!(
        names_of_node(&docker, &node).await,
        left,
        "the killed agent's containers are still there"
    );

    let fresh = DockerRuntime::new(config(&node, logs.path()))
        .await
        .unwrap();
    let mut report = fresh.reconcile().await.unwrap();
    report.removed.sort();
    assert_eq!(report.removed, left);
    assert!(names_of_node(&docker, &node).await.is_empty());
    assert!(
        is_running(&docker, &unlabelled).await,
        "unlabelled survives"
    );
    assert!(is_running(&docker, &other).await, "another node's survives");
    assert!(
        fresh.reconcile().await.unwrap().removed.is_empty(),
        "reconcile is idempotent"
    );

    drop(cleanup);
    assert!(docker.inspect_container(&unlabelled, None).await.is_err());
    assert!(docker.inspect_container(&other, None).await.is_err());
}
