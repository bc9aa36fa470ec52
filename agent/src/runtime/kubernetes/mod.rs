//! The Kubernetes runtime: each workload instance is one Pod on this agent's own node, created,
//! watched, followed and deleted through the API server (`kube` with rustls, `k8s-openapi` types).
//!
//! # Why a bare Pod, not a Job
//! A Job puts a controller between the agent and the pod: the pod gets a generated name (the
//! instance is no longer [`LaunchSpec::object_name`], and every log or status read first needs a
//! lookup), a pod that is evicted or deleted can be replaced by a new one even with
//! `backoffLimit: 0` (pod failure policies aside), and its `ttlSecondsAfterFinished` cleanup races
//! the agent's own reads of the exit code. The agent already is the controller, one that runs the
//! instance once, enforces the deadline itself and removes the pod on every path, so the Pod is
//! created directly with `restartPolicy: Never`, and nothing in this runtime creates, lists or
//! deletes Jobs.
//!
//! # Why `nodeName`, not a node selector
//! The pod is bound to this node by `spec.nodeName`, bypassing the scheduler. The agent measures
//! *its* node's GPUs, so placement is not a choice to delegate; the kubelet admits the pod at once
//! or rejects it with a reason (`OutOfnvidia.com/gpu` when the device plugin does not offer the
//! resource), which ends the start with that reason instead of leaving a pod Pending until the
//! deadline. `kubernetes.io/hostname` may also differ from the Node's name; `nodeName` cannot.
//!
//! # Resources and what the device plugin decides
//! A whole GPU or a time-sliced replica is `nvidia.com/gpu: 1` (one per UUID of the binding), a
//! MIG device `nvidia.com/mig-<profile>: 1` (the device plugin's `mixed` strategy). Which physical
//! GPU or MIG device the pod gets is the device plugin's choice, not the UUID in the
//! [`GpuBinding`](crate::runtime::GpuBinding): on a node with several GPUs the count is honoured,
//! the identity is not. Sharing itself (time-slicing replicas, MIG layouts) is set up separately,
//! before instances start, by [`sharing`]. MPS is refused (it needs the daemon's pipe directory
//! from the host), as is `ipc = "host"`; ulimits cannot be expressed in a Pod and are ignored with
//! a warning. No pod is privileged, none mounts anything from the host; shared memory is an
//! `emptyDir` in memory sized by `shm_size_mb`.
//!
//! # Limitations
//! The kubelet merges stdout and stderr: every log line is reported as stdout. CPU use comes from
//! `metrics.k8s.io` as a rate and is integrated into an estimate; context switches are unknown
//! (see [`metrics`]).
//!
//! # RBAC
//! `deploy/kubernetes/agent-rbac.yaml` holds the agent's ServiceAccount and exactly the rights
//! this module uses, each rule commented: pods, `pods/log` and `metrics.k8s.io` pods in the
//! workload namespace; get/create/patch on ConfigMaps in the device plugin's namespace; and, in a
//! ClusterRole, get/list/watch/patch on Nodes (patch only ever changes the sharing labels).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, LogParams, PostParams};
use tokio::sync::mpsc;

use super::{
    LaunchSpec, LogLine, Ownership, ReconcileReport, RuntimeError, WorkloadRuntime, labels,
};

pub mod handle;
pub mod logs;
pub mod metrics;
pub mod pod;
pub mod sharing;
pub mod status;
pub mod watch;

pub use handle::KubePodHandle;
pub use pod::ImageAllowList;

use pod::{CONTAINER, is_label_value, pod_manifest};
use status::{PodProgress, progress};
use watch::{Seen, watch_until};

/// This runtime's name.
pub const RUNTIME: &str = "kubernetes";

/// Where and how this node's agent runs pods.
#[derive(Debug, Clone)]
pub struct KubeConfig {
    /// Whose pods these are (the owner labels).
    pub owner: Ownership,
    /// Namespace the pods are created in.
    pub namespace: String,
    /// Name of this node's Node object (the downward API's `spec.nodeName`).
    pub node_name: String,
    /// Image globs this node may run; empty allows nothing.
    pub allow_images: Vec<String>,
    /// Longest wait for a created pod to run (image pull included) before it is deleted.
    pub start_timeout: Duration,
    /// Grace of a deletion by `remove` and `reconcile` (SIGTERM, then SIGKILL after it).
    pub stop_grace: Duration,
    /// Longest wait in `remove` for a deleted pod to be gone.
    pub remove_timeout: Duration,
}

impl KubeConfig {
    /// A configuration with the default timeouts: 10 min to start, 10 s grace, 2 min to go.
    pub fn new(
        owner: Ownership,
        namespace: impl Into<String>,
        node_name: impl Into<String>,
        allow_images: Vec<String>,
    ) -> Self {
        Self {
            owner,
            namespace: namespace.into(),
            node_name: node_name.into(),
            allow_images,
            start_timeout: Duration::from_secs(600),
            stop_grace: Duration::from_secs(10),
            remove_timeout: Duration::from_secs(120),
        }
    }
}

/// A [`KubeConfig`] that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum KubeConfigError {
    /// The owner's node id must be a label value (it is the `dev.wattsweep.node` label).
    #[error(
        "node id `{0}` cannot be a Kubernetes label value (at most 63 characters: letters, \
         digits, `-`, `_`, `.`, alphanumeric at both ends)"
    )]
    NodeIdNotALabelValue(String),
    /// Namespace or node name is empty.
    #[error("the Kubernetes runtime needs a non-empty {0}")]
    Empty(&'static str),
}

/// Starts workload instances as pods on this node.
#[derive(Debug, Clone)]
pub struct KubernetesRuntime {
    config: KubeConfig,
    allow: ImageAllowList,
    pods: Api<Pod>,
    metrics: Api<DynamicObject>,
}

impl KubernetesRuntime {
    /// A runtime using `client` (in-cluster or kubeconfig credentials) with `config`.
    pub fn new(client: kube::Client, config: KubeConfig) -> Result<Self, KubeConfigError> {
        if !is_label_value(&config.owner.node) || config.owner.node.is_empty() {
            return Err(KubeConfigError::NodeIdNotALabelValue(
                config.owner.node.clone(),
            ));
        }
        if config.namespace.is_empty() {
            return Err(KubeConfigError::Empty("namespace"));
        }
        if config.node_name.is_empty() {
            return Err(KubeConfigError::Empty("node name"));
        }
        Ok(Self {
            allow: ImageAllowList::new(&config.allow_images),
            pods: Api::namespaced(client.clone(), &config.namespace),
            metrics: Api::namespaced_with(
                client,
                &config.namespace,
                &metrics::pod_metrics_resource(),
            ),
            config,
        })
    }

    /// The label selector of everything this node's agent owns.
    pub fn owner_selector(&self) -> String {
        format!(
            "{}=true,{}={}",
            labels::MANAGED,
            labels::NODE,
            self.config.owner.node
        )
    }

    /// Watch a created pod until it runs (or has already ended): `Ok(pod)`; a pod that cannot
    /// run gives `Err(StartFailed)`, a slow one `Err(Backend)` after `start_timeout`.
    async fn until_running(&self, name: &str, created: &Pod) -> Result<Pod, RuntimeError> {
        let mut rv = created
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default();
        let mut last = String::from("Pending");
        let watch = watch_until(&self.pods, name, &mut rv, |seen| match seen {
            Seen::Present(pod) => match progress(pod) {
                PodProgress::Running | PodProgress::Ended(_) => Some(Ok(pod.clone())),
                PodProgress::Failed(reason) => Some(Err(reason)),
                PodProgress::Pending(why) => {
                    last = why;
                    None
                }
            },
            Seen::Deleted(_) | Seen::Missing => {
                Some(Err("the pod was deleted before it started".to_string()))
            }
        });
        match tokio::time::timeout(self.config.start_timeout, watch).await {
            Ok(Ok(Ok(pod))) => Ok(pod),
            Ok(Ok(Err(reason))) => Err(RuntimeError::StartFailed {
                name: name.to_string(),
                reason,
            }),
            Ok(Err(e)) => Err(backend(&format!("watching pod {name}"), &e)),
            Err(_elapsed) => Err(RuntimeError::Backend {
                runtime: RUNTIME,
                reason: format!(
                    "pod {name} not running {:?} after it was created (last: {last})",
                    self.config.start_timeout
                ),
            }),
        }
    }

    async fn start_pod(
        &self,
        spec: &LaunchSpec,
        logs: mpsc::Sender<LogLine>,
    ) -> Result<KubePodHandle, RuntimeError> {
        // Everything that can be refused is refused before the first request.
        if let Some(image) = &spec.workload.image {
            self.allow.check(image)?;
        }
        let manifest = pod_manifest(
            spec,
            &self.config.owner,
            &self.config.namespace,
            &self.config.node_name,
        )?;
        if !spec.workload.ulimits.is_empty() {
            tracing::warn!(workload = %spec.workload.name, "ulimits cannot be set on a pod; ignored");
        }
        let name = spec.object_name();
        let created = self
            .pods
            .create(&PostParams::default(), &manifest)
            .await
            .map_err(|e| create_error(&name, &e))?;
        let outcome = async {
            let pod = self.until_running(&name, &created).await?;
            let params = LogParams {
                container: Some(CONTAINER.to_string()),
                follow: true,
                ..LogParams::default()
            };
            let stream = self
                .pods
                .log_stream(&name, &params)
                .await
                .map_err(|e| backend(&format!("following the log of pod {name}"), &e))?;
            Ok::<_, RuntimeError>((pod, Box::pin(stream)))
        }
        .await;
        match outcome {
            Ok((pod, stream)) => {
                let task = tokio::spawn(logs::forward(name.clone(), stream, logs));
                Ok(KubePodHandle::new(
                    name,
                    self.pods.clone(),
                    self.metrics.clone(),
                    &pod,
                    task,
                    &self.config,
                ))
            }
            Err(e) => {
                // Best effort: the start error matters more than a failed cleanup, which
                // reconcile repeats anyway.
                if let Err(cleanup) =
                    handle::delete_pod(&self.pods, &name, handle::KILL_GRACE).await
                {
                    tracing::warn!(pod = %name, error = %cleanup, "could not delete a pod that failed to start");
                }
                Err(e)
            }
        }
    }
}

impl WorkloadRuntime for KubernetesRuntime {
    type Handle = KubePodHandle;

    fn name(&self) -> &'static str {
        RUNTIME
    }

    async fn start(
        &self,
        spec: &LaunchSpec,
        logs: mpsc::Sender<LogLine>,
    ) -> Result<KubePodHandle, RuntimeError> {
        self.start_pod(spec, logs).await
    }

    async fn reconcile(&self) -> Result<ReconcileReport, RuntimeError> {
        let params = ListParams::default().labels(&self.owner_selector());
        let list = self
            .pods
            .list(&params)
            .await
            .map_err(|e| backend("listing this node's pods", &e))?;
        let mut report = ReconcileReport::default();
        for pod in list.items {
            let Some(name) = pod.metadata.name else {
                continue;
            };
            handle::delete_pod(&self.pods, &name, self.config.stop_grace).await?;
            report.removed.push(name);
        }
        Ok(report)
    }
}

/// Whether an API error is a 404.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// A backend error saying what was being done.
pub(crate) fn backend(what: &str, e: &kube::Error) -> RuntimeError {
    RuntimeError::Backend {
        runtime: RUNTIME,
        reason: format!("{what}: {e}"),
    }
}

/// Creating a pod failed: an invalid pod (400, 422) fails the same way every time; anything else
/// (403 missing RBAC, 409 a leftover of the same name, 5xx) is the backend's.
fn create_error(name: &str, e: &kube::Error) -> RuntimeError {
    match e {
        kube::Error::Api(s) if s.code == 400 || s.code == 422 => RuntimeError::StartFailed {
            name: name.to_string(),
            reason: format!("the API server refused the pod: {}", s.message),
        },
        kube::Error::Api(s) if s.code == 409 => RuntimeError::Backend {
            runtime: RUNTIME,
            reason: format!(
                "pod {name} already exists (a leftover; reconcile removes this node's leftovers)"
            ),
        },
        other => backend(&format!("creating pod {name}"), other),
    }
}
