//! One running container: waiting with a deadline, CPU use, stopping and removal.
//!
//! The exit status is read once and remembered, so `wait`, `stop` and `cpu_usage` stay cheap and
//! idempotent after the container has ended; `remove` is safe on every path (also after a failed
//! or timed-out wait).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{
    KillContainerOptions, StatsOptions, StopContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::procstat::{self, SwitchTracker};
use super::{backend, remove_container, status_code};
use crate::runtime::{CpuUsage, ExitStatus, RuntimeError, WorkloadHandle};

/// How long the log follower may take to drain after the container ended.
const LOG_DRAIN: Duration = Duration::from_secs(10);
/// How long a killed container may take to be reported stopped.
const KILL_SETTLE: Duration = Duration::from_secs(30);

/// A container started by [`super::DockerRuntime`].
#[derive(Debug)]
pub struct DockerHandle {
    docker: Docker,
    id: String,
    name: String,
    log_path: PathBuf,
    log_task: Option<JoinHandle<()>>,
    exit: Option<ExitStatus>,
    cpu_s: f64,
    switches: SwitchTracker,
}

impl DockerHandle {
    pub(super) fn new(
        docker: Docker,
        id: String,
        name: String,
        log_path: PathBuf,
        log_task: JoinHandle<()>,
    ) -> Self {
        Self {
            docker,
            id,
            name,
            log_path,
            log_task: Some(log_task),
            exit: None,
            cpu_s: 0.0,
            switches: SwitchTracker::default(),
        }
    }

    /// The engine's container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The file the container's output is kept in.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Wait for the container to stop running; its exit code.
    async fn exit_code(&self) -> Result<i64, RuntimeError> {
        let options = WaitContainerOptions {
            condition: "not-running".to_string(),
        };
        let mut wait = self.docker.wait_container(&self.id, Some(options));
        match wait.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(backend(format!("waiting for container {}", self.name), &e)),
            None => Err(RuntimeError::Backend {
                runtime: super::RUNTIME,
                reason: format!(
                    "the engine ended the wait for {} without a status",
                    self.name
                ),
            }),
        }
    }

    /// The status of an exited container: OOM kills are reported as such.
    async fn exited(&self, code: i64) -> Result<ExitStatus, RuntimeError> {
        let state = self
            .docker
            .inspect_container(&self.id, None)
            .await
            .map_err(|e| backend(format!("inspecting container {}", self.name), &e))?
            .state;
        if state.and_then(|s| s.oom_killed) == Some(true) {
            return Ok(ExitStatus::Killed("OOMKilled".to_string()));
        }
        let code = i32::try_from(code).unwrap_or(if code < 0 { i32::MIN } else { i32::MAX });
        Ok(ExitStatus::Exited(code))
    }

    async fn kill(&self) -> Result<(), RuntimeError> {
        let options = KillContainerOptions {
            signal: "SIGKILL".to_string(),
        };
        match self.docker.kill_container(&self.id, Some(options)).await {
            Ok(()) => Ok(()),
            // 404: gone; 409: not running any more.
            Err(e) if matches!(status_code(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(backend(format!("killing container {}", self.name), &e)),
        }
    }

    /// Let the log follower write the last lines; a follower blocked on a full channel keeps
    /// running until [`WorkloadHandle::remove`].
    async fn drain_logs(&mut self) {
        if let Some(mut task) = self.log_task.take()
            && tokio::time::timeout(LOG_DRAIN, &mut task).await.is_err()
        {
            self.log_task = Some(task);
        }
    }

    async fn read_cpu_seconds(&mut self) -> Result<(), RuntimeError> {
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stats = self.docker.stats(&self.id, Some(options));
        match stats.next().await {
            Some(Ok(s)) => {
                let ns = s
                    .cpu_stats
                    .and_then(|c| c.cpu_usage)
                    .and_then(|u| u.total_usage)
                    .unwrap_or(0);
                // A stopped container reports zeros: keep the last reading.
                self.cpu_s = self.cpu_s.max(ns as f64 / 1e9);
                Ok(())
            }
            Some(Err(e)) if matches!(status_code(&e), Some(404 | 409)) => Ok(()),
            Some(Err(e)) => Err(backend(format!("reading stats of {}", self.name), &e)),
            None => Ok(()),
        }
    }

    async fn read_switches(&mut self) -> Result<(), RuntimeError> {
        let top = match self.docker.top_processes(&self.id, None).await {
            Ok(top) => top,
            // Not running (409) or gone (404): keep the counts seen so far.
            Err(e) if matches!(status_code(&e), Some(404 | 409)) => return Ok(()),
            Err(e) => return Err(backend(format!("listing processes of {}", self.name), &e)),
        };
        let pids = procstat::pids_from_top(
            &top.titles.unwrap_or_default(),
            &top.processes.unwrap_or_default(),
        );
        for pid in pids {
            self.switches
                .observe(procstat::read_process_switches(Path::new("/proc"), pid));
        }
        Ok(())
    }
}

impl WorkloadHandle for DockerHandle {
    fn name(&self) -> &str {
        &self.name
    }

    async fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, RuntimeError> {
        if let Some(status) = &self.exit {
            return Ok(status.clone());
        }
        let status = match tokio::time::timeout(timeout, self.exit_code()).await {
            Ok(code) => self.exited(code?).await?,
            Err(_) => {
                tracing::warn!(container = %self.name, ?timeout, "deadline passed; killing the container");
                self.kill().await?;
                match tokio::time::timeout(KILL_SETTLE, self.exit_code()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(_) => {
                        return Err(RuntimeError::Backend {
                            runtime: super::RUNTIME,
                            reason: format!(
                                "container {} still runs {KILL_SETTLE:?} after SIGKILL",
                                self.name
                            ),
                        });
                    }
                }
                ExitStatus::DeadlineExceeded
            }
        };
        self.drain_logs().await;
        self.exit = Some(status.clone());
        Ok(status)
    }

    async fn cpu_usage(&mut self) -> Result<CpuUsage, RuntimeError> {
        if self.exit.is_none() {
            self.read_cpu_seconds().await?;
            self.read_switches().await?;
        }
        Ok(CpuUsage {
            cpu_s: self.cpu_s,
            context_switches: self.switches.total(),
        })
    }

    async fn stop(&mut self, grace: Duration) -> Result<(), RuntimeError> {
        if self.exit.is_some() {
            return Ok(());
        }
        let secs = i32::try_from(grace.as_secs() + u64::from(grace.subsec_nanos() > 0))
            .unwrap_or(i32::MAX);
        let options = StopContainerOptions {
            t: Some(secs),
            signal: None,
        };
        // The engine answers a stop only after the grace period: give the request that long.
        let timeout = self.docker.timeout() + grace;
        let docker = self.docker.clone().with_timeout(timeout);
        match docker.stop_container(&self.id, Some(options)).await {
            Ok(()) => Ok(()),
            // 304: not running; 404: gone.
            Err(e) if matches!(status_code(&e), Some(304 | 404)) => Ok(()),
            Err(e) => Err(backend(format!("stopping container {}", self.name), &e)),
        }
    }

    async fn remove(mut self) -> Result<(), RuntimeError> {
        let removed = remove_container(&self.docker, &self.id).await;
        // Removal ends the log stream; a follower still blocked on the executor's channel after a
        // short drain is ended.
        if let Some(mut task) = self.log_task.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        removed
    }
}
