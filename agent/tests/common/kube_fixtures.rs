//! Canned Kubernetes objects and request sequences for the Kubernetes runtime's tests: what the
//! API server sees and answers when the runtime starts, waits for and removes one pod.
//!
//! Resource versions follow one pattern per pod so that scripts read as a story: created at
//! `100`, running at `102`, ended at `103`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;
use wattsweep_agent::runtime::kubernetes::{KubeConfig, KubernetesRuntime};
use wattsweep_agent::runtime::{GpuBinding, LaunchSpec, Ownership};
use wattsweep_shared::model::WorkloadSpec;

use super::kube_script::{Step, event, status_success};

/// Namespace of the pods.
pub const NS: &str = "bench";
/// The Node's name.
pub const NODE: &str = "k8s-node-1";
/// The agent's node id (the owner label).
pub const OWNER: &str = "gpu-node-1";
/// The allowed image.
pub const IMAGE: &str = "wattsweep/gpu-burn:1";
/// The owner label selector.
pub const SELECTOR: &str = "dev.wattsweep.managed=true,dev.wattsweep.node=gpu-node-1";
/// A task id; its pods are `ws-0a1b2c3d-a1-i<instance>`.
pub const TASK: Uuid = Uuid::from_u128(0x0a1b2c3d_0000_4000_8000_000000000001);

/// The runtime under test.
pub fn runtime(client: kube::Client) -> KubernetesRuntime {
    KubernetesRuntime::new(
        client,
        KubeConfig::new(
            Ownership { node: OWNER.into() },
            NS,
            NODE,
            vec!["wattsweep/*".into()],
        ),
    )
    .unwrap()
}

/// Instance `instance` of the task, running `gpu_burn {run_s}` on `gpu`.
pub fn launch(instance: u32, gpu: GpuBinding) -> LaunchSpec {
    LaunchSpec {
        task_id: TASK,
        attempt: 1,
        instance,
        workload: WorkloadSpec {
            name: "burn".into(),
            image: Some(IMAGE.into()),
            command: vec!["gpu_burn".into(), "{run_s}".into()],
            ..WorkloadSpec::default()
        },
        gpu,
        mps: None,
        substitutions: BTreeMap::from([("run_s".into(), "60".into())]),
        env: BTreeMap::new(),
    }
}

/// One whole GPU (or one time-sliced replica of it).
pub fn one_gpu() -> GpuBinding {
    GpuBinding::Gpus {
        uuids: vec!["GPU-11111111".into()],
        indices: vec![0],
    }
}

/// The pod name of `instance`.
pub fn pod_name(instance: u32) -> String {
    format!("ws-0a1b2c3d-a1-i{instance}")
}

/// `/api/v1/namespaces/bench/pods`.
pub fn pods_path() -> String {
    format!("/api/v1/namespaces/{NS}/pods")
}

/// `/api/v1/namespaces/bench/pods/<name>`.
pub fn pod_path(name: &str) -> String {
    format!("{}/{name}", pods_path())
}

/// A pod as the API server returns it.
pub fn pod(name: &str, rv: &str, phase: &str, container_state: Option<Value>) -> Value {
    let mut status = json!({ "phase": phase });
    if let Some(state) = container_state {
        status["containerStatuses"] = json!([{
            "name": "workload", "image": IMAGE, "imageID": "", "ready": false,
            "restartCount": 0, "state": state,
        }]);
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "resourceVersion": rv},
        "spec": {"nodeName": NODE, "containers": [{"name": "workload", "image": IMAGE}]},
        "status": status,
    })
}

/// Waiting with `reason`.
pub fn waiting(name: &str, rv: &str, reason: &str) -> Value {
    pod(
        name,
        rv,
        "Pending",
        Some(json!({"waiting": {"reason": reason}})),
    )
}

/// Running.
pub fn running(name: &str, rv: &str) -> Value {
    pod(
        name,
        rv,
        "Running",
        Some(json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}})),
    )
}

/// Ended with `code` (phase Succeeded for 0, Failed otherwise).
pub fn exited(name: &str, rv: &str, code: i32) -> Value {
    let (phase, reason) = if code == 0 {
        ("Succeeded", "Completed")
    } else {
        ("Failed", "Error")
    };
    pod(
        name,
        rv,
        phase,
        Some(json!({"terminated": {"exitCode": code, "reason": reason}})),
    )
}

/// A watch on one pod from `rv`.
pub fn watch_pod(name: &str, rv: &str) -> Step {
    watch(&pods_path(), name, rv)
}

/// A watch on the node from `rv`.
pub fn watch_node(rv: &str) -> Step {
    watch("/api/v1/nodes", NODE, rv)
}

fn watch(path: &str, name: &str, rv: &str) -> Step {
    let field = format!("metadata.name={name}");
    Step::get(path).query(&[
        ("watch", "true"),
        ("timeoutSeconds", "290"),
        ("fieldSelector", &field),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", rv),
    ])
}

/// The pod create request of `instance`, asserting placement, owner labels, image, command and
/// the GPU `limits`; answered with the pod Pending at resource version 100.
pub fn create_pod(instance: u32, limits: Value) -> Step {
    let name = pod_name(instance);
    Step::post(&pods_path())
        .body(json!({
            "metadata": {"name": name, "labels": {
                "dev.wattsweep.managed": "true",
                "dev.wattsweep.node": OWNER,
                "dev.wattsweep.task": TASK.to_string(),
                "dev.wattsweep.attempt": "1",
                "dev.wattsweep.instance": instance.to_string(),
            }},
            "spec": {
                "nodeName": NODE,
                "restartPolicy": "Never",
                "containers": [{
                    "name": "workload",
                    "image": IMAGE,
                    "command": ["gpu_burn", "60"],
                    "resources": {"limits": limits},
                    "securityContext": {"privileged": false},
                }],
            },
        }))
        .reply(201, pod(&name, "100", "Pending", None))
}

/// Everything `start` asks: create, watch until running (102), follow the log (which holds `log`).
pub fn start_steps(instance: u32, limits: Value, log: &str) -> Vec<Step> {
    let name = pod_name(instance);
    vec![
        create_pod(instance, limits),
        watch_pod(&name, "100").events(vec![
            event("MODIFIED", waiting(&name, "101", "ContainerCreating")),
            event("MODIFIED", running(&name, "102")),
        ]),
        Step::get(&format!("{}/log", pod_path(&name)))
            .query(&[("container", "workload"), ("follow", "true")])
            .text(200, log),
    ]
}

/// `wait` on a running pod that then exits with `code`.
pub fn finish_steps(instance: u32, code: i32) -> Vec<Step> {
    let name = pod_name(instance);
    vec![watch_pod(&name, "102").events(vec![event("MODIFIED", exited(&name, "103", code))])]
}

/// A delete request with this grace, in the background.
pub fn delete_pod(name: &str, grace: u32) -> Step {
    Step::delete(&pod_path(name))
        .body(json!({"gracePeriodSeconds": grace, "propagationPolicy": "Background"}))
}

/// `remove` of an ended pod: deleted at once.
pub fn remove_steps(instance: u32) -> Vec<Step> {
    vec![delete_pod(&pod_name(instance), 10).reply(200, status_success())]
}

/// A Node with these labels and allocatable resources.
pub fn node(rv: &str, labels: Value, allocatable: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE, "resourceVersion": rv, "labels": labels},
        "status": {"allocatable": allocatable},
    })
}
