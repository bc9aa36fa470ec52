//! Workload runtimes: how an agent starts a task's workload instances on the GPUs it was given.
//!
//! Three implementations share one narrow contract ([`WorkloadRuntime`] / [`WorkloadHandle`]):
//! plain processes (bare metal, HPC), Docker containers and Kubernetes pods. A runtime only starts,
//! watches, stops and removes what it launched; deciding what to launch (sharing modes, phases,
//! readiness, figures of merit) belongs to the executor, which reads the log lines every runtime
//! streams. Everything a runtime starts carries the owner labels of [`Ownership`], so that after an
//! agent crash [`WorkloadRuntime::reconcile`] finds and removes exactly its own leftovers and nothing
//! else.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;
use wattsweep_shared::model::WorkloadSpec;

pub mod docker;
pub mod kubernetes;
pub mod logwatch;
pub mod mps;
pub mod process;
pub mod sim;

/// Label keys put on everything a runtime starts (container labels, pod labels, process env).
pub mod labels {
    /// Marks the object as wattsweep's.
    pub const MANAGED: &str = "dev.wattsweep.managed";
    /// Node id of the agent that started it.
    pub const NODE: &str = "dev.wattsweep.node";
    /// Task id.
    pub const TASK: &str = "dev.wattsweep.task";
    /// Attempt number.
    pub const ATTEMPT: &str = "dev.wattsweep.attempt";
    /// Instance index inside the task.
    pub const INSTANCE: &str = "dev.wattsweep.instance";
}

/// Who owns what a runtime starts: the agent's node id. Reconciliation removes only objects whose
/// labels name this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// The agent's node id.
    pub node: String,
}

/// Which GPU resources an instance may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuBinding {
    /// Whole GPUs, by UUID (`GPU-…`); for processes also the NVML indices.
    Gpus {
        /// GPU UUIDs.
        uuids: Vec<String>,
        /// Matching NVML indices (for `CUDA_VISIBLE_DEVICES` where UUIDs are not accepted).
        indices: Vec<u32>,
    },
    /// One MIG device, by its UUID (`MIG-…`), and the MIG profile (`3g.40gb`, for Kubernetes
    /// resources `nvidia.com/mig-3g.40gb`).
    MigDevice {
        /// MIG device UUID.
        uuid: String,
        /// GPU-instance profile name.
        profile: String,
    },
    /// No GPU (tests, CPU-only workloads).
    None,
}

/// An MPS client's settings: the control daemon's directories and this client's share of SMs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpsClient {
    /// `CUDA_MPS_PIPE_DIRECTORY` of the daemon serving the GPU.
    pub pipe_dir: String,
    /// `CUDA_MPS_LOG_DIRECTORY` of that daemon.
    pub log_dir: String,
    /// `CUDA_MPS_ACTIVE_THREAD_PERCENTAGE` for this client.
    pub active_thread_percentage: u32,
}

/// Everything needed to start one workload instance.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    /// Task id.
    pub task_id: Uuid,
    /// Attempt number.
    pub attempt: u32,
    /// Instance index inside the task (0-based).
    pub instance: u32,
    /// The workload.
    pub workload: WorkloadSpec,
    /// GPU resources the instance sees.
    pub gpu: GpuBinding,
    /// MPS client settings, when the GPU is shared through MPS.
    pub mps: Option<MpsClient>,
    /// Values for `{measure_s}`, `{warmup_s}`, `{run_s}`, `{level}` in the command.
    pub substitutions: BTreeMap<String, String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
}

impl LaunchSpec {
    /// The workload's command with `{name}` placeholders replaced from [`LaunchSpec::substitutions`];
    /// an unknown placeholder is an error naming it.
    pub fn command(&self) -> Result<Vec<String>, RuntimeError> {
        self.workload
            .command
            .iter()
            .map(|arg| substitute(arg, &self.substitutions))
            .collect()
    }

    /// A name unique per task, attempt and instance, safe for containers and pods:
    /// `ws-<task8>-a<attempt>-i<instance>`.
    pub fn object_name(&self) -> String {
        let task = self.task_id.simple().to_string();
        format!(
            "ws-{}-a{}-i{}",
            &task[..8.min(task.len())],
            self.attempt,
            self.instance
        )
    }

    /// The owner labels of this instance.
    pub fn labels(&self, owner: &Ownership) -> BTreeMap<String, String> {
        BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::NODE.to_string(), owner.node.clone()),
            (labels::TASK.to_string(), self.task_id.to_string()),
            (labels::ATTEMPT.to_string(), self.attempt.to_string()),
            (labels::INSTANCE.to_string(), self.instance.to_string()),
        ])
    }
}

fn substitute(arg: &str, values: &BTreeMap<String, String>) -> Result<String, RuntimeError> {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let name = &after[..close];
        match values.get(name) {
            Some(v) => out.push_str(v),
            None if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.is_empty() =>
            {
                return Err(RuntimeError::UnknownPlaceholder {
                    placeholder: name.to_string(),
                    arg: arg.to_string(),
                });
            }
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of a workload's output, with the time it was read (unix ns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Which stream.
    pub stream: Stream,
    /// The line without its newline.
    pub text: String,
    /// When it was read, unix nanoseconds.
    pub at_ns: i64,
}

/// How an instance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal (processes) or the runtime reports it killed (OOM, eviction).
    Killed(String),
    /// The deadline passed; the runtime killed it.
    DeadlineExceeded,
}

impl ExitStatus {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Exited(0))
    }
}

/// CPU use of one instance so far (cumulative).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuUsage {
    /// CPU time, seconds (user + system).
    pub cpu_s: f64,
    /// Context switches (voluntary + involuntary) where the runtime can count them.
    pub context_switches: Option<u64>,
}

/// What reconciliation found and removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconcileReport {
    /// Names of objects (containers, pods, process groups) of this node that were removed.
    pub removed: Vec<String>,
}

/// Errors of a runtime. Each says whether retrying could help.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The command names a placeholder that has no value.
    #[error("unknown placeholder `{{{placeholder}}}` in argument `{arg}`")]
    UnknownPlaceholder {
        /// The placeholder name.
        placeholder: String,
        /// The argument.
        arg: String,
    },
    /// The workload spec cannot run on this runtime (no image for docker, no command for process).
    #[error("workload `{workload}` cannot run on the {runtime} runtime: {reason}")]
    Unsupported {
        /// Workload name.
        workload: String,
        /// Runtime name.
        runtime: &'static str,
        /// Why.
        reason: String,
    },
    /// The image is not allowed by the agent's allow-list.
    #[error("image `{image}` is not allowed on this node (allowed: {allowed})")]
    ImageNotAllowed {
        /// The image.
        image: String,
        /// The allow-list globs.
        allowed: String,
    },
    /// Starting failed deterministically (image missing, bad command, invalid device).
    #[error("cannot start {name}: {reason}")]
    StartFailed {
        /// Instance name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The runtime's backend (Docker engine, API server) failed or is unreachable.
    #[error("{runtime} backend error: {reason}")]
    Backend {
        /// Runtime name.
        runtime: &'static str,
        /// Why.
        reason: String,
    },
    /// Local I/O failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl RuntimeError {
    /// Whether the same launch fails again however often it is retried (a deterministic failure
    /// terminates the task instead of retrying it).
    pub fn is_deterministic(&self) -> bool {
        matches!(
            self,
            RuntimeError::UnknownPlaceholder { .. }
                | RuntimeError::Unsupported { .. }
                | RuntimeError::ImageNotAllowed { .. }
                | RuntimeError::StartFailed { .. }
        )
    }
}

/// A runtime that can start workload instances.
pub trait WorkloadRuntime: Send + Sync {
    /// The handle of one started instance.
    type Handle: WorkloadHandle;

    /// The runtime's name (`process`, `docker`, `kubernetes`).
    fn name(&self) -> &'static str;

    /// Start one instance. Its log lines are sent to `logs` as they appear (the executor watches
    /// them for readiness and figures of merit); the sender is dropped when the instance's output
    /// ends.
    fn start(
        &self,
        spec: &LaunchSpec,
        logs: mpsc::Sender<LogLine>,
    ) -> impl Future<Output = Result<Self::Handle, RuntimeError>> + Send;

    /// Find everything this node's agent started earlier (it may have crashed) and remove it;
    /// leave everything else alone.
    fn reconcile(&self) -> impl Future<Output = Result<ReconcileReport, RuntimeError>> + Send;
}

/// One started instance.
pub trait WorkloadHandle: Send {
    /// The instance's name (container name, pod name, `pid:<n>`).
    fn name(&self) -> &str;

    /// Wait until it exits or `timeout` passes; on timeout, kill it and return
    /// [`ExitStatus::DeadlineExceeded`].
    fn wait(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ExitStatus, RuntimeError>> + Send;

    /// CPU use so far.
    fn cpu_usage(&mut self) -> impl Future<Output = Result<CpuUsage, RuntimeError>> + Send;

    /// Stop it now (gracefully, then by force after `grace`); a no-op when it has exited.
    fn stop(&mut self, grace: Duration) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Remove every trace of it (container, pod, process group); called on every path.
    fn remove(self) -> impl Future<Output = Result<(), RuntimeError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cmd: &[&str]) -> LaunchSpec {
        LaunchSpec {
            task_id: Uuid::nil(),
            attempt: 1,
            instance: 0,
            workload: WorkloadSpec {
                name: "w".into(),
                command: cmd.iter().map(|s| s.to_string()).collect(),
                ..WorkloadSpec::default()
            },
            gpu: GpuBinding::None,
            mps: None,
            substitutions: BTreeMap::from([("run_s".to_string(), "90".to_string())]),
            env: BTreeMap::new(),
        }
    }

    #[test]
    fn substitutes_known_placeholders_and_keeps_other_braces() {
        let s = spec(&["burn", "{run_s}", "--json={\"a\": 1}", "x{run_s}y"]);
        assert_eq!(
            s.command().unwrap(),
            vec!["burn", "90", "--json={\"a\": 1}", "x90y"]
        );
    }

    #[test]
    fn unknown_placeholder_is_a_deterministic_error() {
        let err = spec(&["burn", "{level}"]).command().unwrap_err();
        assert!(err.is_deterministic());
        assert!(err.to_string().contains("{level}"), "{err}");
    }

    #[test]
    fn object_names_are_unique_per_attempt_and_instance() {
        let mut s = spec(&["x"]);
        let a = s.object_name();
        s.instance = 1;
        assert_ne!(a, s.object_name());
        assert_eq!(a, "ws-00000000-a1-i0");
    }
}
