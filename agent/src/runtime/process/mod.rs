//! The process runtime: workloads as plain child processes, for bare-metal and HPC nodes without
//! a container engine.
//!
//! Each instance is the leader of its own process group, so a deadline, `stop` or `remove` ends
//! the workload *and* everything it spawned. Its environment binds it to its GPU (or MIG device),
//! its MPS daemon and its owner labels ([`env`]); its output is streamed line by line and kept in
//! `<state dir>/process/logs/<object name>.log` ([`logs`]); its CPU use comes from a cgroup v2
//! where one can be created, else from the process tree in `/proc` ([`cgroup`], [`procfs`]).
//! Every started group is recorded in `<state dir>/process/registry.json` ([`registry`]) so that
//! an agent restarted after a crash kills exactly its own leftovers ([`reconcile`]).
//!
//! Limits: a descendant that leaves the process group (`setsid`, `setpgid`) escapes the group
//! signals unless a cgroup holds it; its CPU time is then counted only through the cgroup. An
//! agent crash in the microseconds between spawning a leader and recording it leaves that group
//! unrecorded.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use std::os::unix::process::CommandExt;

use tokio::sync::mpsc;

use super::{LaunchSpec, LogLine, Ownership, ReconcileReport, RuntimeError, WorkloadRuntime};

pub mod cgroup;
pub mod env;
mod group;
mod handle;
pub mod logs;
pub mod procfs;
pub mod reconcile;
pub mod registry;

pub use cgroup::CgroupMode;
pub use handle::ProcessHandle;

use cgroup::Cgroup;
use procfs::ProcFs;
use registry::{GroupRecord, Registry};

/// Settings of the process runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// Whose processes these are (exported to each workload as `WATTSWEEP_*` variables).
    pub owner: Ownership,
    /// The agent's state directory; the runtime keeps `process/registry.json` and `process/logs/`
    /// there.
    pub state_dir: PathBuf,
    /// Between SIGTERM and SIGKILL when a deadline passes.
    pub stop_grace: Duration,
    /// How long to wait for a SIGKILLed group to disappear before reporting it stuck.
    pub kill_wait: Duration,
    /// After the leader exits, how long to wait for the rest of its output (pipes held open by
    /// leftover descendants end only when those are killed).
    pub drain_timeout: Duration,
    /// cgroup v2 use for CPU accounting.
    pub cgroup: CgroupMode,
}

impl ProcessConfig {
    /// Defaults: 10 s grace, 10 s kill wait, 2 s output drain, cgroup v2 where available.
    pub fn new(owner: Ownership, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            owner,
            state_dir: state_dir.into(),
            stop_grace: Duration::from_secs(10),
            kill_wait: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(2),
            cgroup: CgroupMode::Auto,
        }
    }
}

/// What the runtime and its handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) owner: Ownership,
    pub(crate) registry: Registry,
    pub(crate) procfs: ProcFs,
    pub(crate) clk_tck: u64,
    pub(crate) stop_grace: Duration,
    pub(crate) kill_wait: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) logs_dir: PathBuf,
    pub(crate) cgroup_root: Option<PathBuf>,
}

/// Starts workloads as process groups.
#[derive(Debug, Clone)]
pub struct ProcessRuntime {
    shared: Arc<Shared>,
}

impl ProcessRuntime {
    /// A runtime keeping its registry and logs under `config.state_dir/process` (created).
    pub fn new(config: ProcessConfig) -> Result<Self, RuntimeError> {
        let dir = config.state_dir.join("process");
        let logs_dir = dir.join("logs");
        std::fs::create_dir_all(&logs_dir).map_err(|source| RuntimeError::Io {
            what: format!(
                "creating the process runtime directory {}",
                logs_dir.display()
            ),
            source,
        })?;
        let cgroup_root = cgroup::resolve_root(&config.cgroup);
        Ok(Self {
            shared: Arc::new(Shared {
                owner: config.owner,
                registry: Registry::new(dir.join("registry.json")),
                procfs: ProcFs::default(),
                clk_tck: procfs::clock_ticks_per_second(),
                stop_grace: config.stop_grace,
                kill_wait: config.kill_wait,
                drain_timeout: config.drain_timeout,
                logs_dir,
                cgroup_root,
            }),
        })
    }

    /// Where instance logs are kept.
    pub fn logs_dir(&self) -> &Path {
        &self.shared.logs_dir
    }

    /// The registry file of started groups.
    pub fn registry_path(&self) -> &Path {
        self.shared.registry.path()
    }

    /// The directory instance cgroups are created in; `None` when CPU accounting uses `/proc`.
    pub fn cgroup_root(&self) -> Option<&Path> {
        self.shared.cgroup_root.as_deref()
    }

    /// The log file of `spec`'s instance.
    pub fn log_path(&self, spec: &LaunchSpec) -> PathBuf {
        self.shared
            .logs_dir
            .join(format!("{}.log", spec.object_name()))
    }

    async fn start_instance(
        &self,
        spec: &LaunchSpec,
        logs: mpsc::Sender<LogLine>,
    ) -> Result<ProcessHandle, RuntimeError> {
        let shared = &self.shared;
        let argv = spec.command()?;
        let Some((program, args)) = argv.split_first() else {
            return Err(RuntimeError::Unsupported {
                workload: spec.workload.name.clone(),
                runtime: "process",
                reason: "the workload has no command".into(),
            });
        };
        let inherited = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok());
        let env = env::child_env(spec, &shared.owner, inherited)?;
        if !env.overridden.is_empty() {
            tracing::warn!(workload = %spec.workload.name, variables = ?env.overridden, "the workload's environment tried to set variables the runtime controls; ignored");
        }
        let object_name = spec.object_name();
        let log_path = self.log_path(spec);

        let mut cmd = std::process::Command::new(program);
        cmd.args(args)
            .envs(&env.set)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for key in &env.remove {
            cmd.env_remove(key);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| spawn_error(&object_name, program, e))?;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let pid = i32::try_from(child.id()).map_err(|_| RuntimeError::Backend {
            runtime: "process",
            reason: format!("child pid {} does not fit a pid_t", child.id()),
        })?;
        // Dropping a std Child neither kills nor reaps it: the handle does both.
        drop(child);

        let exit = match handle::spawn_exit_watcher(pid) {
            Ok(rx) => rx,
            Err(source) => {
                // No watcher, no handle: kill and reap on a best-effort thread.
                handle::kill_in_background(Arc::clone(shared), pid, 0, None);
                return Err(RuntimeError::Io {
                    what: format!("starting the exit watcher of {object_name} (pid {pid})"),
                    source,
                });
            }
        };
        // From here on, dropping the handle kills and reaps the group.
        let mut handle = ProcessHandle {
            name: format!("pid:{pid}"),
            pgid: pid,
            start_time: 0,
            exit,
            status: None,
            pump: None,
            cgroup: None,
            shared: Arc::clone(shared),
            high_water: Default::default(),
            finished: false,
        };
        handle.start_time = shared
            .procfs
            .start_time(pid)
            .ok_or_else(|| RuntimeError::Backend {
                runtime: "process",
                reason: format!("cannot read /proc/{pid}/stat of the just-started {object_name}"),
            })?;
        if let Some(root) = &shared.cgroup_root {
            let mut pids = shared.procfs.live_group_members(pid);
            pids.retain(|p| *p != pid);
            pids.insert(0, pid);
            match Cgroup::create(root, &format!("{object_name}-{pid}"), &pids) {
                Ok(cg) => handle.cgroup = Some(cg),
                Err(e) => {
                    tracing::warn!(root = %root.display(), error = %e, "cannot put the workload in a cgroup; CPU accounting uses the process tree");
                }
            }
        }
        shared.registry.add(GroupRecord {
            name: handle.name.clone(),
            object_name: object_name.clone(),
            pgid: pid,
            leader_pid: pid,
            start_time: handle.start_time,
            node: shared.owner.node.clone(),
            task: spec.task_id,
            attempt: spec.attempt,
            instance: spec.instance,
            cgroup: handle.cgroup.as_ref().map(|c| c.dir().to_path_buf()),
            log: log_path.clone(),
        })?;

        let pipe_error = |what: &str, source| RuntimeError::Io {
            what: format!("registering the {what} pipe of {object_name}"),
            source,
        };
        let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
            return Err(RuntimeError::Backend {
                runtime: "process",
                reason: format!("{object_name} was started without output pipes"),
            });
        };
        let stdout =
            tokio::process::ChildStdout::from_std(stdout).map_err(|e| pipe_error("stdout", e))?;
        let stderr =
            tokio::process::ChildStderr::from_std(stderr).map_err(|e| pipe_error("stderr", e))?;
        handle.pump = Some(tokio::spawn(async move {
            logs::pump(stdout, stderr, logs, &log_path).await;
        }));
        tracing::debug!(pid, name = %object_name, "workload process group started");
        Ok(handle)
    }
}

fn spawn_error(name: &str, program: &str, e: std::io::Error) -> RuntimeError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => RuntimeError::StartFailed {
            name: name.to_string(),
            reason: format!(
                "program `{program}` not found (a path, or a name on the agent's PATH)"
            ),
        },
        ErrorKind::PermissionDenied => RuntimeError::StartFailed {
            name: name.to_string(),
            reason: format!("program `{program}` is not executable by the agent: {e}"),
        },
        _ => RuntimeError::Io {
            what: format!("starting `{program}` for {name}"),
            source: e,
        },
    }
}

impl WorkloadRuntime for ProcessRuntime {
    type Handle = ProcessHandle;

    fn name(&self) -> &'static str {
        "process"
    }

    async fn start(
        &self,
        spec: &LaunchSpec,
        logs: mpsc::Sender<LogLine>,
    ) -> Result<ProcessHandle, RuntimeError> {
        self.start_instance(spec, logs).await
    }

    /// Kill the groups recorded by an earlier agent on this state directory that still run
    /// (see [`reconcile`]); call it at start-up, before starting workloads. Groups started by
    /// this runtime instance are left alone.
    async fn reconcile(&self) -> Result<ReconcileReport, RuntimeError> {
        reconcile::reconcile(&self.shared).await
    }
}
