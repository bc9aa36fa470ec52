//! One started workload process group: waiting with a deadline, CPU accounting, stopping and
//! removing it.
//!
//! The leader's exit is observed with `waitid(WNOWAIT)` on a dedicated thread, which leaves the
//! leader a zombie: its PID, and so the group id, cannot be reused until [`WorkloadHandle::remove`]
//! reaps it. Every `killpg` this handle sends therefore reaches only the group it started, and the
//! leader's CPU figures stay readable after it exits. Dropping a handle that was not removed kills
//! the group and reaps it in the background (best effort; `remove` is the way).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::super::{CpuUsage, ExitStatus, RuntimeError, WorkloadHandle};
use super::Shared;
use super::cgroup::Cgroup;
use super::group::{kill_group, signal_group, terminate_group};
use super::procfs::group_usage;

/// How the group leader ended, as `waitid` saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaderExit {
    Code(i32),
    Signal(Signal),
    WaitFailed(Errno),
}

/// Watch `pid` (a child of this process) exit without reaping it.
pub(crate) fn spawn_exit_watcher(pid: i32) -> io::Result<watch::Receiver<Option<LeaderExit>>> {
    let (tx, rx) = watch::channel(None);
    std::thread::Builder::new()
        .name(format!("ws-wait-{pid}"))
        .spawn(move || {
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
            let exit = loop {
                match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
                    Ok(WaitStatus::Exited(_, code)) => break LeaderExit::Code(code),
                    Ok(WaitStatus::Signaled(_, sig, _)) => break LeaderExit::Signal(sig),
                    Ok(_) | Err(Errno::EINTR) => continue,
                    Err(e) => break LeaderExit::WaitFailed(e),
                }
            };
            let _ = tx.send(Some(exit));
        })?;
    Ok(rx)
}

/// Reap `pid` without blocking; a child that is already gone is fine.
fn reap_now(pid: i32) {
    let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
}

/// Reap `pid`, blocking until it exits (for background threads only).
fn reap_blocking(pid: i32) {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Err(Errno::EINTR) => continue,
            Ok(WaitStatus::StillAlive) => continue,
            _ => return,
        }
    }
}

/// SIGKILL group `pgid` (the leader still unreaped) and reap its leader on a background thread,
/// then drop its cgroup and registry record. For paths that cannot await.
pub(crate) fn kill_in_background(
    shared: Arc<Shared>,
    pgid: i32,
    start_time: u64,
    cgroup: Option<Cgroup>,
) {
    if let Some(cg) = &cgroup {
        let _ = cg.kill();
    }
    let _ = signal_group(pgid, Signal::SIGKILL);
    let spawned = std::thread::Builder::new()
        .name(format!("ws-reap-{pgid}"))
        .spawn(move || {
            reap_blocking(pgid);
            if let Some(cg) = &cgroup
                && let Err(e) = cg.remove_within_blocking(shared.kill_wait) {
                    tracing::warn!(cgroup = %cg.dir().display(), error = %e, "cannot remove the cgroup of a killed group");
                }
            if let Err(e) = shared.registry.remove(pgid, start_time) {
                tracing::warn!(pgid, error = %e, "cannot drop the registry record of a killed group");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(pgid, error = %e, "cannot start a reaper thread; the group was killed, its leader stays a zombie until the agent exits");
    }
}

/// A started process group.
#[derive(Debug)]
pub struct ProcessHandle {
    pub(crate) name: String,
    pub(crate) pgid: i32,
    pub(crate) start_time: u64,
    pub(crate) exit: watch::Receiver<Option<LeaderExit>>,
    pub(crate) status: Option<ExitStatus>,
    pub(crate) pump: Option<JoinHandle<()>>,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) high_water: CpuUsage,
    /// Set once the leader is reaped and the record dropped: nothing left for `Drop` to do.
    pub(crate) finished: bool,
}

impl ProcessHandle {
    /// The process group id (the leader's pid).
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// The leader's start time, clock ticks after boot.
    pub fn start_time(&self) -> u64 {
        self.start_time
    }

    /// The cgroup accounting for it, when cgroup v2 is in use.
    pub fn cgroup_dir(&self) -> Option<&std::path::Path> {
        self.cgroup.as_ref().map(Cgroup::dir)
    }

    async fn leader_exit(&mut self) -> Result<LeaderExit, RuntimeError> {
        let pgid = self.pgid;
        let exit: Option<LeaderExit> =
            *self
                .exit
                .wait_for(Option::is_some)
                .await
                .map_err(|_| RuntimeError::Backend {
                    runtime: "process",
                    reason: format!("the exit watcher of process {pgid} ended without a status"),
                })?;
        exit.ok_or_else(|| RuntimeError::Backend {
            runtime: "process",
            reason: format!("no exit status for process {}", self.pgid),
        })
    }

    /// Let the output pump finish (it ends when every holder of the pipes has exited), waiting
    /// at most `within`.
    async fn drain(&mut self, within: Duration) {
        if let Some(pump) = self.pump.as_mut()
            && tokio::time::timeout(within, pump).await.is_ok()
        {
            self.pump = None;
        }
    }
}

fn exit_status(exit: LeaderExit, pgid: i32) -> Result<ExitStatus, RuntimeError> {
    match exit {
        LeaderExit::Code(code) => Ok(ExitStatus::Exited(code)),
        LeaderExit::Signal(sig) => Ok(ExitStatus::Killed(sig.as_str().to_string())),
        LeaderExit::WaitFailed(e) => Err(RuntimeError::Backend {
            runtime: "process",
            reason: format!("waiting for process {pgid} failed: {e}"),
        }),
    }
}

impl WorkloadHandle for ProcessHandle {
    fn name(&self) -> &str {
        &self.name
    }

    async fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, RuntimeError> {
        if let Some(status) = &self.status {
            return Ok(status.clone());
        }
        let status = match tokio::time::timeout(timeout, self.leader_exit()).await {
            Ok(exit) => exit_status(exit?, self.pgid)?,
            Err(_elapsed) => {
                let shared = Arc::clone(&self.shared);
                terminate_group(
                    &shared.procfs,
                    self.pgid,
                    shared.stop_grace,
                    shared.kill_wait,
                    self.cgroup.as_ref(),
                )
                .await?;
                // The leader is dead now; let the watcher see it so later calls are consistent.
                let _ = tokio::time::timeout(shared.kill_wait, self.leader_exit()).await;
                ExitStatus::DeadlineExceeded
            }
        };
        self.drain(self.shared.drain_timeout).await;
        self.status = Some(status.clone());
        Ok(status)
    }

    async fn cpu_usage(&mut self) -> Result<CpuUsage, RuntimeError> {
        let samples = self.shared.procfs.group_samples(self.pgid);
        let (tree_cpu_s, switches) = group_usage(&samples, self.shared.clk_tck);
        let cpu_s = match &self.cgroup {
            Some(cg) => cg.cpu_seconds().unwrap_or_else(|e| {
                tracing::debug!(cgroup = %cg.dir().display(), error = %e, "cgroup cpu.stat unreadable; using the process tree");
                tree_cpu_s
            }),
            None => tree_cpu_s,
        };
        let prev = self.high_water;
        self.high_water = CpuUsage {
            cpu_s: cpu_s.max(prev.cpu_s),
            context_switches: match (switches, prev.context_switches) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        };
        Ok(self.high_water)
    }

    async fn stop(&mut self, grace: Duration) -> Result<(), RuntimeError> {
        let shared = Arc::clone(&self.shared);
        terminate_group(
            &shared.procfs,
            self.pgid,
            grace,
            shared.kill_wait,
            self.cgroup.as_ref(),
        )
        .await?;
        Ok(())
    }

    async fn remove(mut self) -> Result<(), RuntimeError> {
        let shared = Arc::clone(&self.shared);
        if !shared.procfs.live_group_members(self.pgid).is_empty() {
            kill_group(
                &shared.procfs,
                self.pgid,
                shared.kill_wait,
                self.cgroup.as_ref(),
            )
            .await?;
        }
        // Every member is gone or a zombie; the leader's exit is (about to be) reported.
        if tokio::time::timeout(shared.kill_wait, self.leader_exit())
            .await
            .is_err()
        {
            return Err(RuntimeError::Backend {
                runtime: "process",
                reason: format!(
                    "process {} did not exit {:?} after SIGKILL",
                    self.pgid, shared.kill_wait
                ),
            });
        }
        reap_now(self.pgid);
        self.drain(shared.drain_timeout).await;
        if let Some(pump) = self.pump.take() {
            pump.abort();
        }
        if let Some(cg) = &self.cgroup
            && let Err(e) = cg.remove_within(shared.kill_wait).await
        {
            tracing::warn!(cgroup = %cg.dir().display(), error = %e, "cannot remove the workload's cgroup");
        }
        self.finished = true;
        shared.registry.remove(self.pgid, self.start_time)
    }
}

impl Drop for ProcessHandle {
    fn drop(&mut self) {
        if let Some(pump) = self.pump.take() {
            pump.abort();
        }
        if self.finished {
            return;
        }
        kill_in_background(
            Arc::clone(&self.shared),
            self.pgid,
            self.start_time,
            self.cgroup.take(),
        );
    }
}
