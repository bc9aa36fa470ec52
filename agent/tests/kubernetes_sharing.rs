//! Whole sharing tasks on the Kubernetes runtime against a scripted API server: the sharing setup
//! (device plugin ConfigMap and node label, or the MIG manager's label), the wait on the Node,
//! the task's pods, and putting the node back, each request asserted in order.
//!
//! Tests run on tokio's paused clock: deadlines pass without real waiting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/kube_fixtures.rs"]
mod kube_fixtures;
#[path = "common/kube_script.rs"]
mod kube_script;

use std::collections::BTreeMap;
use std::time::Duration;

use kube_fixtures::*;
use kube_script::{Step, event, serve, status_error};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use wattsweep_agent::runtime::kubernetes::KubernetesRuntime;
use wattsweep_agent::runtime::kubernetes::sharing::{
    NodeSharing, SharingConfig, SharingError, time_slicing_config,
};
use wattsweep_agent::runtime::{ExitStatus, GpuBinding, WorkloadHandle, WorkloadRuntime};

const NODE_PATH: &str = "/api/v1/nodes/k8s-node-1";
const CM_PATH: &str = "/api/v1/namespaces/gpu-operator/configmaps";
const CM: &str = "wattsweep-device-plugin-config";
const MERGE: &str = "application/merge-patch+json";

fn sharing(client: kube::Client) -> NodeSharing {
    NodeSharing::new(client, SharingConfig::new(NODE))
}

fn label_patch(labels: Value) -> Step {
    Step::patch(NODE_PATH)
        .content_type(MERGE)
        .body(json!({"metadata": {"labels": labels}}))
}

/// Start `n` instances on `gpu`, wait for all, remove all: what the executor does for one
/// configuration.
async fn run_instances(rt: &KubernetesRuntime, n: u32, gpu: GpuBinding) {
    let mut pods = Vec::new();
    for i in 0..n {
        let (tx, _rx) = mpsc::channel(16);
        pods.push(rt.start(&launch(i, gpu.clone()), tx).await.unwrap());
    }
    for pod in &mut pods {
        assert_eq!(
            pod.wait(Duration::from_secs(600)).await.unwrap(),
            ExitStatus::Exited(0)
        );
    }
    for pod in pods {
        pod.remove().await.unwrap();
    }
}

/// Requests of `n` pods started one after the other, then awaited, then removed.
fn instance_steps(n: u32, limits: Value) -> Vec<Step> {
    let starts = (0..n).flat_map(|i| start_steps(i, limits.clone(), ""));
    let ends = (0..n).flat_map(|i| finish_steps(i, 0));
    let removes = (0..n).flat_map(remove_steps);
    starts.chain(ends).chain(removes).collect()
}

#[tokio::test(start_paused = true)]
async fn time_slicing_three_replicas_configures_the_plugin_then_runs_three_pods() {
    let entry = "wattsweep-ts-3";
    let server = serve(
        [
            vec![
                Step::get(NODE_PATH).reply(
                    200,
                    node(
                        "500",
                        json!({"kubernetes.io/hostname": NODE}),
                        json!({"nvidia.com/gpu": "1"}),
                    ),
                ),
                Step::get(&format!("{CM_PATH}/{CM}"))
                    .reply(404, status_error(404, "NotFound", "configmaps not found")),
                Step::post(CM_PATH)
                    .body(json!({
                        "metadata": {"name": CM, "namespace": "gpu-operator"},
                        "data": {entry: time_slicing_config(3)},
                    }))
                    .reply(
                        201,
                        json!({"metadata": {"name": CM}, "data": {entry: time_slicing_config(3)}}),
                    ),
                label_patch(json!({"nvidia.com/device-plugin.config": entry})).reply(
                    200,
                    node(
                        "501",
                        json!({"nvidia.com/device-plugin.config": entry}),
                        json!({"nvidia.com/gpu": "1"}),
                    ),
                ),
                // The plugin restarts, then offers three replicas.
                watch_node("501").events(vec![
                    event(
                        "MODIFIED",
                        node("502", json!({}), json!({"nvidia.com/gpu": "0"})),
                    ),
                    event(
                        "MODIFIED",
                        node("503", json!({}), json!({"nvidia.com/gpu": "3"})),
                    ),
                ]),
            ],
            instance_steps(3, json!({"nvidia.com/gpu": "1"})),
            // Put back: the label was absent before.
            vec![
                label_patch(json!({"nvidia.com/device-plugin.config": null}))
                    .reply(200, node("510", json!({}), json!({"nvidia.com/gpu": "3"}))),
            ],
        ]
        .concat(),
    );
    let share = sharing(server.client());
    let restore = share.apply_time_slicing(1, 3).await.unwrap();
    run_instances(&runtime(server.client()), 3, one_gpu()).await;
    share.restore(restore).await.unwrap();
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn time_slicing_updates_an_existing_config_map_and_times_out_on_a_silent_plugin() {
    let entry = "wattsweep-ts-2";
    let server = serve(vec![
        Step::get(NODE_PATH).reply(
            200,
            node(
                "600",
                json!({"nvidia.com/device-plugin.config": "site-default"}),
                json!({"nvidia.com/gpu": "8"}),
            ),
        ),
        Step::get(&format!("{CM_PATH}/{CM}")).reply(
            200,
            json!({"metadata": {"name": CM}, "data": {"site-default": "version: v1\n"}}),
        ),
        Step::patch(&format!("{CM_PATH}/{CM}"))
            .content_type(MERGE)
            .body(json!({"data": {entry: time_slicing_config(2)}}))
            .reply(200, json!({"metadata": {"name": CM}})),
        label_patch(json!({"nvidia.com/device-plugin.config": entry})).reply(
            200,
            node(
                "601",
                json!({"nvidia.com/device-plugin.config": entry}),
                json!({"nvidia.com/gpu": "8"}),
            ),
        ),
        watch_node("601").hang(),
    ]);
    let err = sharing(server.client())
        .apply_time_slicing(8, 2)
        .await
        .unwrap_err();
    assert!(matches!(err, SharingError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("nvidia.com/gpu = 16"), "{err}");
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn mig_layout_waits_for_the_manager_then_runs_pods_on_mig_devices() {
    let expect = BTreeMap::from([("nvidia.com/mig-3g.40gb".to_string(), 2)]);
    let mig = |cfg: &str, state: Option<&str>| {
        let mut l = json!({"nvidia.com/mig.config": cfg});
        if let Some(s) = state {
            l["nvidia.com/mig.config.state"] = json!(s);
        }
        l
    };
    let server = serve(
        [
            vec![
                Step::get(NODE_PATH).reply(
                    200,
                    node(
                        "700",
                        mig("all-disabled", Some("success")),
                        json!({"nvidia.com/gpu": "1"}),
                    ),
                ),
                // The old state label goes in the same patch: its `success` is the old layout's.
                label_patch(json!({
                    "nvidia.com/mig.config": "all-3g.40gb",
                    "nvidia.com/mig.config.state": null,
                }))
                .reply(
                    200,
                    node(
                        "701",
                        mig("all-3g.40gb", None),
                        json!({"nvidia.com/gpu": "1"}),
                    ),
                ),
                watch_node("701").events(vec![
                    event(
                        "MODIFIED",
                        node("702", mig("all-3g.40gb", Some("pending")), json!({})),
                    ),
                    event(
                        "MODIFIED",
                        node("703", mig("all-3g.40gb", Some("rebooting")), json!({})),
                    ),
                    // Success, but the device plugin has not re-registered yet.
                    event(
                        "MODIFIED",
                        node("704", mig("all-3g.40gb", Some("success")), json!({})),
                    ),
                    event(
                        "MODIFIED",
                        node(
                            "705",
                            mig("all-3g.40gb", Some("success")),
                            json!({"nvidia.com/mig-3g.40gb": "2"}),
                        ),
                    ),
                ]),
            ],
            instance_steps(2, json!({"nvidia.com/mig-3g.40gb": "1"})),
            vec![
                label_patch(json!({
                    "nvidia.com/mig.config": "all-disabled",
                    "nvidia.com/mig.config.state": null,
                }))
                .reply(200, node("710", mig("all-disabled", None), json!({}))),
                watch_node("710").events(vec![event(
                    "MODIFIED",
                    node(
                        "711",
                        mig("all-disabled", Some("success")),
                        json!({"nvidia.com/gpu": "1"}),
                    ),
                )]),
            ],
        ]
        .concat(),
    );
    let share = sharing(server.client());
    let restore = share.apply_mig("all-3g.40gb", &expect).await.unwrap();
    let device = GpuBinding::MigDevice {
        uuid: "MIG-22222222".into(),
        profile: "3g.40gb".into(),
    };
    run_instances(&runtime(server.client()), 2, device).await;
    share.restore(restore).await.unwrap();
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn mig_manager_failure_ends_the_setup_and_nothing_starts() {
    let server = serve(vec![
        Step::get(NODE_PATH).reply(200, node("800", json!({}), json!({}))),
        label_patch(json!({
            "nvidia.com/mig.config": "all-1g.10gb",
            "nvidia.com/mig.config.state": null,
        }))
        .reply(200, node("801", json!({"nvidia.com/mig.config": "all-1g.10gb"}), json!({}))),
        watch_node("801").events(vec![event(
            "MODIFIED",
            node(
                "802",
                json!({"nvidia.com/mig.config": "all-1g.10gb", "nvidia.com/mig.config.state": "failed"}),
                json!({}),
            ),
        )]),
    ]);
    let err = sharing(server.client())
        .apply_mig("all-1g.10gb", &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(matches!(err, SharingError::MigFailed { .. }), "{err}");
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn mig_layout_already_applied_changes_nothing() {
    let labels =
        json!({"nvidia.com/mig.config": "all-3g.40gb", "nvidia.com/mig.config.state": "success"});
    let server = serve(vec![Step::get(NODE_PATH).reply(
        200,
        node("900", labels, json!({"nvidia.com/mig-3g.40gb": "2"})),
    )]);
    let share = sharing(server.client());
    let expect = BTreeMap::from([("nvidia.com/mig-3g.40gb".to_string(), 2)]);
    let restore = share.apply_mig("all-3g.40gb", &expect).await.unwrap();
    // Nothing was changed, so nothing is put back.
    share.restore(restore).await.unwrap();
    server.assert_done();
}

#[tokio::test(start_paused = true)]
async fn one_replica_is_refused_without_a_request() {
    let server = serve(vec![]);
    let err = sharing(server.client())
        .apply_time_slicing(1, 1)
        .await
        .unwrap_err();
    assert!(matches!(err, SharingError::InvalidReplicas(1)), "{err}");
    server.assert_done();
}
