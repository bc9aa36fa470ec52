//! The Kubernetes runtime against a scripted API server: every request it makes, in order, for
//! starting, waiting for, stopping, removing and reconciling pods.
//!
//! Tests run on tokio's paused clock: deadlines pass without real waiting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/kube_fixtures.rs"]
mod kube_fixtures;
#[path = "common/kube_script.rs"]
mod kube_script;

use std::time::Duration;

use kube_fixtures::*;
use kube_script::{Step, event, serve, status_error, status_success};
use serde_json::json;
use tokio::sync::mpsc;
use wattsweep_agent::runtime::{
    ExitStatus, GpuBinding, RuntimeError, WorkloadHandle, WorkloadRuntime,
};

fn gpu_limit() -> serde_json::Value {
    json!({"nvidia.com/gpu": "1"})
}

async fn drain(mut rx: mpsc::Receiver<wattsweep_agent::runtime::LogLine>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(l) = rx.recv().await {
        lines.push(l.text);
    }
    lines
}

#[tokio::test(start_paused = true)]
async fn exclusive_task_runs_one_pod_with_one_gpu() {
    let server = serve(
        [
            start_steps(0, gpu_limit(), "Initialized device 0\n(52341.5 Gflop/s)\n"),
            finish_steps(0, 0),
            remove_steps(0),
        ]
        .concat(),
    );
    let rt = runtime(server.client());
    let (tx, rx) = mpsc::channel(16);
    let mut pod = rt.start(&launch(0, one_gpu()), tx).await.unwrap();
    assert_eq!(pod.name(), "ws-0a1b2c3d-a1-i0");
    assert_eq!(
        pod.wait(Duration::from_secs(600)).await.unwrap(),
        ExitStatus::Exited(0)
    );
    pod.remove().await.unwrap();
    assert_eq!(
        drain(rx).await,
        vec!["Initialized device 0", "(52341.5 Gflop/s)"]
    );
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn failed_pod_ends_as_failed_and_is_deleted() {
    let name = pod_name(0);
    let server = serve(
        [
            start_steps(0, gpu_limit(), ""),
            finish_steps(0, 1),
            vec![
                // Still terminating: the pod comes back, so remove waits for it to go.
                delete_pod(&name, 10).reply(200, exited(&name, "104", 1)),
                watch_pod(&name, "104").events(vec![event("DELETED", exited(&name, "105", 1))]),
            ],
        ]
        .concat(),
    );
    let rt = runtime(server.client());
    let (tx, _rx) = mpsc::channel(16);
    let mut pod = rt.start(&launch(0, one_gpu()), tx).await.unwrap();
    let status = pod.wait(Duration::from_secs(600)).await.unwrap();
    assert_eq!(status, ExitStatus::Exited(1));
    assert!(!status.success());
    pod.remove().await.unwrap();
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn evicted_pod_reports_its_reason() {
    let name = pod_name(0);
    let evicted = json!({
        "metadata": {"name": name, "resourceVersion": "103"},
        "status": {"phase": "Failed", "reason": "Evicted",
                   "message": "The node was low on resource: memory."},
    });
    let server = serve(
        [
            start_steps(0, gpu_limit(), ""),
            vec![watch_pod(&name, "102").events(vec![event("MODIFIED", evicted)])],
            remove_steps(0),
        ]
        .concat(),
    );
    let rt = runtime(server.client());
    let (tx, _rx) = mpsc::channel(16);
    let mut pod = rt.start(&launch(0, one_gpu()), tx).await.unwrap();
    assert_eq!(
        pod.wait(Duration::from_secs(600)).await.unwrap(),
        ExitStatus::Killed("Evicted: The node was low on resource: memory.".into())
    );
    pod.remove().await.unwrap();
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn missed_deadline_deletes_the_pod() {
    let name = pod_name(0);
    let server = serve(
        [
            start_steps(0, gpu_limit(), ""),
            vec![
                // The pod keeps running: the watch never says anything.
                watch_pod(&name, "102").hang(),
                delete_pod(&name, 1).reply(200, status_success()),
                // remove afterwards: already gone.
                delete_pod(&name, 10).reply(404, status_error(404, "NotFound", "pods not found")),
            ],
        ]
        .concat(),
    );
    let rt = runtime(server.client());
    let (tx, _rx) = mpsc::channel(16);
    let mut pod = rt.start(&launch(0, one_gpu()), tx).await.unwrap();
    let before = tokio::time::Instant::now();
    assert_eq!(
        pod.wait(Duration::from_secs(90)).await.unwrap(),
        ExitStatus::DeadlineExceeded
    );
    assert!(before.elapsed() >= Duration::from_secs(90));
    // Asking again does not ask the server again.
    assert_eq!(
        pod.wait(Duration::from_secs(90)).await.unwrap(),
        ExitStatus::DeadlineExceeded
    );
    pod.remove().await.unwrap();
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn hopeless_image_pull_fails_the_start_and_deletes_the_pod() {
    let name = pod_name(0);
    let server = serve(vec![
        create_pod(0, gpu_limit()),
        watch_pod(&name, "100").events(vec![
            event("MODIFIED", waiting(&name, "101", "ErrImagePull")),
            event("MODIFIED", waiting(&name, "102", "ImagePullBackOff")),
        ]),
        delete_pod(&name, 1).reply(200, status_success()),
    ]);
    let rt = runtime(server.client());
    let (tx, _rx) = mpsc::channel(16);
    let err = rt.start(&launch(0, one_gpu()), tx).await.unwrap_err();
    assert!(matches!(err, RuntimeError::StartFailed { .. }), "{err}");
    assert!(err.is_deterministic());
    assert!(err.to_string().contains("ImagePullBackOff"), "{err}");
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn kubelet_rejection_fails_the_start_with_its_reason() {
    let name = pod_name(0);
    let rejected = json!({
        "metadata": {"name": name, "resourceVersion": "101"},
        "status": {"phase": "Failed", "reason": "UnexpectedAdmissionError",
                   "message": "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu"},
    });
    let server = serve(vec![
        create_pod(0, gpu_limit()),
        watch_pod(&name, "100").events(vec![event("MODIFIED", rejected)]),
        delete_pod(&name, 1).reply(200, status_success()),
    ]);
    let rt = runtime(server.client());
    let (tx, _rx) = mpsc::channel(16);
    let err = rt.start(&launch(0, one_gpu()), tx).await.unwrap_err();
    assert!(
        err.to_string().contains("UnexpectedAdmissionError"),
        "{err}"
    );
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn wait_reopens_closed_watches_and_recovers_from_gone_versions() {
    let name = pod_name(0);
    let server = serve(
        [
            start_steps(0, gpu_limit(), ""),
            vec![
                // The server closes the watch with nothing to say: reopened from the same version.
                watch_pod(&name, "102").events(vec![]),
                // Version too old: one GET, then watching from what it returned.
                watch_pod(&name, "102").events(vec![json!({"type": "ERROR", "object":
                    status_error(410, "Expired", "too old resource version: 102 (150)")})]),
                Step::get(&pod_path(&name)).reply(200, running(&name, "150")),
                watch_pod(&name, "150").events(vec![
                    json!({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                        "metadata": {"resourceVersion": "160"}}}),
                ]),
                watch_pod(&name, "160").events(vec![event("MODIFIED", exited(&name, "161", 0))]),
            ],
            remove_steps(0),
        ]
        .concat(),
    );
    let rt = runtime(server.client());
    let (tx, _rx) = mpsc::channel(16);
    let mut pod = rt.start(&launch(0, one_gpu()), tx).await.unwrap();
    assert_eq!(
        pod.wait(Duration::from_secs(600)).await.unwrap(),
        ExitStatus::Exited(0)
    );
    pod.remove().await.unwrap();
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn stop_deletes_with_the_grace_and_wait_then_reports_the_kill() {
    let name = pod_name(0);
    let server = serve(
        [
            start_steps(0, gpu_limit(), ""),
            vec![
                delete_pod(&name, 5).reply(200, running(&name, "103")),
                watch_pod(&name, "102").events(vec![event(
                    "DELETED",
                    json!({"metadata": {"name": name, "resourceVersion": "104"},
                           "status": {"phase": "Failed", "containerStatuses": [{
                               "name": "workload", "image": IMAGE, "imageID": "", "ready": false,
                               "restartCount": 0,
                               "state": {"terminated": {"exitCode": 143, "signal": 15}}}]}}),
                )]),
            ],
            remove_steps(0),
        ]
        .concat(),
    );
    let rt = runtime(server.client());
    let (tx, _rx) = mpsc::channel(16);
    let mut pod = rt.start(&launch(0, one_gpu()), tx).await.unwrap();
    pod.stop(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        pod.wait(Duration::from_secs(60)).await.unwrap(),
        ExitStatus::Killed("signal 15".into())
    );
    // Ended: stopping again asks nothing.
    pod.stop(Duration::from_secs(5)).await.unwrap();
    pod.remove().await.unwrap();
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn cpu_use_is_integrated_from_the_metrics_api() {
    let name = pod_name(0);
    let metrics = format!("/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods/{name}");
    let server = serve(
        [
            start_steps(0, gpu_limit(), ""),
            vec![
                Step::get(&metrics).reply(200, json!({
                    "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
                    "metadata": {"name": name}, "window": "15s",
                    "containers": [{"name": "workload", "usage": {"cpu": "1500m", "memory": "1Gi"}}],
                })),
                Step::get(&metrics).reply(404, status_error(404, "NotFound", "podmetrics not found")),
                Step::get(&metrics).reply(403, status_error(403, "Forbidden", "no")),
            ],
            remove_steps(0),
        ]
        .concat(),
    );
    let rt = runtime(server.client());
    let (tx, _rx) = mpsc::channel(16);
    let mut pod = rt.start(&launch(0, one_gpu()), tx).await.unwrap();
    tokio::time::advance(Duration::from_secs(10)).await;
    let u = pod.cpu_usage().await.unwrap();
    assert!((u.cpu_s - 15.0).abs() < 1e-6, "{u:?}");
    assert_eq!(u.context_switches, None);
    // Not scraped now: the estimate stays.
    assert!((pod.cpu_usage().await.unwrap().cpu_s - 15.0).abs() < 1e-6);
    // Forbidden: no more metrics requests after this one.
    assert!((pod.cpu_usage().await.unwrap().cpu_s - 15.0).abs() < 1e-6);
    assert!((pod.cpu_usage().await.unwrap().cpu_s - 15.0).abs() < 1e-6);
    pod.remove().await.unwrap();
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn reconcile_deletes_exactly_what_the_owner_list_returned() {
    let server = serve(vec![
        Step::get(&pods_path())
            .query(&[("labelSelector", SELECTOR)])
            .reply(200, json!({
                "apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "900"},
                "items": [running("ws-aaaaaaaa-a1-i0", "10"), exited("ws-bbbbbbbb-a2-i3", "11", 0)],
            })),
        delete_pod("ws-aaaaaaaa-a1-i0", 10).reply(200, running("ws-aaaaaaaa-a1-i0", "12")),
        delete_pod("ws-bbbbbbbb-a2-i3", 10).reply(404, status_error(404, "NotFound", "gone")),
    ]);
    let rt = runtime(server.client());
    let report = rt.reconcile().await.unwrap();
    assert_eq!(
        report.removed,
        vec!["ws-aaaaaaaa-a1-i0", "ws-bbbbbbbb-a2-i3"]
    );
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn disallowed_image_makes_no_request() {
    let server = serve(vec![]);
    let rt = runtime(server.client());
    let mut spec = launch(0, one_gpu());
    spec.workload.image = Some("docker.io/someone/miner:latest".into());
    let (tx, _rx) = mpsc::channel(16);
    let err = rt.start(&spec, tx).await.unwrap_err();
    assert!(matches!(err, RuntimeError::ImageNotAllowed { .. }), "{err}");
    assert!(err.is_deterministic());
    // Neither does a workload this runtime cannot express.
    let mut spec = launch(0, GpuBinding::None);
    spec.workload.ipc = Some("host".into());
    let (tx, _rx) = mpsc::channel(16);
    assert!(rt.start(&spec, tx).await.unwrap_err().is_deterministic());
    assert_eq!(server.served(), 0);
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn invalid_pod_is_a_deterministic_start_failure() {
    let server = serve(vec![create_pod(0, gpu_limit()).reply(
        422,
        status_error(
            422,
            "Invalid",
            "Pod \"ws-0a1b2c3d-a1-i0\" is invalid: spec.containers[0].image: Required value",
        ),
    )]);
    let rt = runtime(server.client());
    let (tx, _rx) = mpsc::channel(16);
    let err = rt.start(&launch(0, one_gpu()), tx).await.unwrap_err();
    assert!(matches!(err, RuntimeError::StartFailed { .. }), "{err}");
    assert!(err.to_string().contains("is invalid"), "{err}");
    server.assert_done();
}
