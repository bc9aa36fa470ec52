//! One started pod: waiting for it with a deadline, its CPU use, stopping and removing it.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, DynamicObject};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::runtime::{CpuUsage, ExitStatus, RuntimeError, WorkloadHandle};

use super::metrics::{self, CpuEstimate, MetricsRead};
use super::status::{PodProgress, ended_by_deletion, progress};
use super::watch::{Seen, watch_until};
use super::{backend, is_not_found};

/// Grace given to a pod killed for missing its deadline: the kubelet sends SIGTERM, then SIGKILL
/// after this. Never zero: a zero grace deletes the object at once while its containers may still
/// run (a "force delete"), and the GPU would stay busy behind our back.
pub const KILL_GRACE: Duration = Duration::from_secs(1);

/// Longest wait in `remove` for the log follower to deliver the last lines of a deleted pod.
const LOG_DRAIN: Duration = Duration::from_secs(5);

/// A started pod.
#[derive(Debug)]
pub struct KubePodHandle {
    pub(super) name: String,
    pub(super) pods: Api<Pod>,
    pub(super) metrics: Option<Api<DynamicObject>>,
    /// Resource version of the latest state seen; watches resume from it.
    pub(super) rv: String,
    /// How it ended, once known.
    pub(super) ended: Option<ExitStatus>,
    pub(super) log_task: Option<JoinHandle<()>>,
    pub(super) cpu: CpuEstimate,
    pub(super) remove_grace: Duration,
    pub(super) remove_timeout: Duration,
}

impl KubePodHandle {
    pub(super) fn new(
        name: String,
        pods: Api<Pod>,
        metrics: Api<DynamicObject>,
        pod: &Pod,
        log_task: JoinHandle<()>,
        config: &super::KubeConfig,
    ) -> Self {
        Self {
            name,
            pods,
            metrics: Some(metrics),
            rv: pod.metadata.resource_version.clone().unwrap_or_default(),
            ended: match progress(pod) {
                PodProgress::Ended(s) => Some(s),
                _ => None,
            },
            log_task: Some(log_task),
            cpu: CpuEstimate::new(Instant::now()),
            remove_grace: config.stop_grace,
            remove_timeout: config.remove_timeout,
        }
    }

    /// Delete the pod with `grace`; `None` when it is gone already (404 or deleted at once), the
    /// pod while it terminates.
    async fn delete(&self, grace: Duration) -> Result<Option<Pod>, RuntimeError> {
        delete_pod(&self.pods, &self.name, grace).await
    }

    async fn until_ended(&mut self) -> Result<ExitStatus, RuntimeError> {
        let name = self.name.clone();
        watch_until(&self.pods, &name, &mut self.rv, |seen| match seen {
            Seen::Present(pod) => match progress(pod) {
                PodProgress::Ended(s) => Some(s),
                PodProgress::Failed(reason) => {
                    tracing::warn!(pod = %name, %reason, "pod failed");
                    Some(ExitStatus::Killed(reason))
                }
                PodProgress::Pending(_) | PodProgress::Running => None,
            },
            Seen::Deleted(pod) => Some(ended_by_deletion(pod)),
            Seen::Missing => Some(ExitStatus::Killed(
                "pod disappeared before its container ended".to_string(),
            )),
        })
        .await
        .map_err(|e| backend(&format!("watching pod {}", self.name), &e))
    }
}

/// Delete pod `name` with `grace` (background propagation); `Ok(None)` when it is gone, the
/// terminating pod otherwise.
pub(super) async fn delete_pod(
    pods: &Api<Pod>,
    name: &str,
    grace: Duration,
) -> Result<Option<Pod>, RuntimeError> {
    let params = DeleteParams {
        grace_period_seconds: Some(u32::try_from(grace.as_secs().max(1)).unwrap_or(u32::MAX)),
        ..DeleteParams::background()
    };
    match pods.delete(name, &params).await {
        Ok(either) => Ok(either.left()),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(backend(&format!("deleting pod {name}"), &e)),
    }
}

impl WorkloadHandle for KubePodHandle {
    fn name(&self) -> &str {
        &self.name
    }

    async fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, RuntimeError> {
        if let Some(s) = &self.ended {
            return Ok(s.clone());
        }
        let status = match tokio::time::timeout(timeout, self.until_ended()).await {
            Ok(result) => result?,
            Err(_elapsed) => {
                tracing::warn!(pod = %self.name, ?timeout, "pod missed its deadline; deleting it");
                self.delete(KILL_GRACE).await?;
                ExitStatus::DeadlineExceeded
            }
        };
        self.ended = Some(status.clone());
        Ok(status)
    }

    async fn cpu_usage(&mut self) -> Result<CpuUsage, RuntimeError> {
        if self.ended.is_some() {
            return Ok(self.cpu.usage());
        }
        let Some(api) = &self.metrics else {
            return Ok(self.cpu.usage());
        };
        match metrics::read(api, &self.name).await {
            Ok(MetricsRead::Cores(cores)) => self.cpu.add_rate(cores, Instant::now()),
            Ok(MetricsRead::NotNow) => {}
            Ok(MetricsRead::Absent) => {
                tracing::info!(pod = %self.name, "no access to metrics.k8s.io: CPU use stays unknown");
                self.metrics = None;
            }
            Err(e) => {
                return Err(backend(
                    &format!("reading metrics of pod {}", self.name),
                    &e,
                ));
            }
        }
        Ok(self.cpu.usage())
    }

    async fn stop(&mut self, grace: Duration) -> Result<(), RuntimeError> {
        if self.ended.is_some() {
            return Ok(());
        }
        self.delete(grace).await.map(drop)
    }

    async fn remove(mut self) -> Result<(), RuntimeError> {
        if let Some(terminating) = self.delete(self.remove_grace).await? {
            if let Some(rv) = terminating.metadata.resource_version {
                self.rv = rv;
            }
            let name = self.name.clone();
            let wait = watch_until(&self.pods, &name, &mut self.rv, |seen| match seen {
                Seen::Present(_) => None,
                Seen::Deleted(_) | Seen::Missing => Some(()),
            });
            match tokio::time::timeout(self.remove_timeout, wait).await {
                Ok(result) => result.map_err(|e| backend(&format!("watching pod {name}"), &e))?,
                Err(_elapsed) => {
                    return Err(RuntimeError::Backend {
                        runtime: super::RUNTIME,
                        reason: format!(
                            "pod {name} still terminating {:?} after it was deleted",
                            self.remove_timeout
                        ),
                    });
                }
            }
        }
        if let Some(mut task) = self.log_task.take() {
            // The pod is gone, so its log ends: let the last lines through, but never hang on a
            // stream the server keeps open.
            if tokio::time::timeout(LOG_DRAIN, &mut task).await.is_err() {
                task.abort();
            }
        }
        Ok(())
    }
}
