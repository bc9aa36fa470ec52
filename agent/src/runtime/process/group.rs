//! Ending a whole process group: SIGTERM, a grace period, SIGKILL, and waiting (with a deadline)
//! until no member runs any more. Used by the deadline in `wait`, by `stop`, `remove` and
//! reconciliation, so grandchildren that ignore SIGTERM are never left behind.
//!
//! Signalling by pgid is safe only while the pgid cannot have been reused: the runtime keeps the
//! leader unreaped (a zombie pins its PID and so its group id) until `remove`, and reconciliation
//! checks the leader's start time first.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::time::Instant;

use super::super::RuntimeError;
use super::cgroup::Cgroup;
use super::procfs::ProcFs;

/// How often group membership is polled while waiting for it to empty.
pub const POLL: Duration = Duration::from_millis(20);

fn backend(reason: String) -> RuntimeError {
    RuntimeError::Backend {
        runtime: "process",
        reason,
    }
}

/// Send `sig` to every member of group `pgid`; `Ok(false)` when the group no longer exists.
pub fn signal_group(pgid: i32, sig: Signal) -> Result<bool, RuntimeError> {
    match killpg(Pid::from_raw(pgid), sig) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(e) => Err(backend(format!(
            "sending {sig} to process group {pgid} failed: {e}"
        ))),
    }
}

/// Send `sig` to one process; `Ok(false)` when it no longer exists.
pub fn signal_pid(pid: i32, sig: Signal) -> Result<bool, RuntimeError> {
    match kill(Pid::from_raw(pid), sig) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(e) => Err(backend(format!(
            "sending {sig} to process {pid} failed: {e}"
        ))),
    }
}

/// Poll until `pids` no longer run (gone or zombies), or `within` passes; returns those still
/// running.
pub async fn wait_pids_gone(procfs: &ProcFs, pids: &[i32], within: Duration) -> Vec<i32> {
    let deadline = Instant::now() + within;
    loop {
        let live: Vec<i32> = pids
            .iter()
            .copied()
            .filter(|p| procfs.stat(*p).is_some_and(|s| !s.is_dead()))
            .collect();
        let now = Instant::now();
        if live.is_empty() || now >= deadline {
            return live;
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
}

/// Poll until group `pgid` has no running member, or `within` passes; returns those still
/// running.
pub async fn wait_group_gone(procfs: &ProcFs, pgid: i32, within: Duration) -> Vec<i32> {
    let deadline = Instant::now() + within;
    loop {
        let live = procfs.live_group_members(pgid);
        let now = Instant::now();
        if live.is_empty() || now >= deadline {
            return live;
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
}

/// How a group ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    /// SIGKILL was needed: something outlived the grace period.
    pub killed: bool,
}

/// SIGTERM the group, wait up to `grace`, then SIGKILL it (and its cgroup) and wait up to
/// `kill_wait` for every member to be gone. A member that survives SIGKILL (stuck in the kernel)
/// is an error naming it.
pub async fn terminate_group(
    procfs: &ProcFs,
    pgid: i32,
    grace: Duration,
    kill_wait: Duration,
    cgroup: Option<&Cgroup>,
) -> Result<Termination, RuntimeError> {
    if procfs.live_group_members(pgid).is_empty() {
        return Ok(Termination { killed: false });
    }
    if !grace.is_zero() {
        signal_group(pgid, Signal::SIGTERM)?;
        if wait_group_gone(procfs, pgid, grace).await.is_empty() {
            return Ok(Termination { killed: false });
        }
    }
    kill_group(procfs, pgid, kill_wait, cgroup).await?;
    Ok(Termination { killed: true })
}

/// SIGKILL the group (and everything in its cgroup) and wait up to `kill_wait` until it is gone.
pub async fn kill_group(
    procfs: &ProcFs,
    pgid: i32,
    kill_wait: Duration,
    cgroup: Option<&Cgroup>,
) -> Result<(), RuntimeError> {
    if let Some(cg) = cgroup
        && let Err(e) = cg.kill()
    {
        tracing::warn!(cgroup = %cg.dir().display(), error = %e, "cgroup.kill failed; killing by process group only");
    }
    signal_group(pgid, Signal::SIGKILL)?;
    let left = wait_group_gone(procfs, pgid, kill_wait).await;
    if left.is_empty() {
        Ok(())
    } else {
        Err(backend(format!(
            "process group {pgid} still has running members {left:?} {kill_wait:?} after SIGKILL \
             (stuck in uninterruptible sleep?)"
        )))
    }
}
