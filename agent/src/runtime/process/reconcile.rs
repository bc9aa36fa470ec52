//! After an agent crash: kill exactly the process groups it had started, and nothing else.
//!
//! For each registry record of this node the decision ([`classify`]) is pure:
//! - the leader still exists with the recorded start time → the group is ours: kill it by pgid
//!   (the live or zombie leader pins the group id, so the pgid cannot name anyone else);
//! - the leader is gone (it was reaped by init) or its PID now belongs to a later process → only
//!   members of the recorded group that started no earlier than the leader *and* carry this
//!   instance's `WATTSWEEP_*` owner variables in their environment are ours; they are killed one
//!   by one;
//! - otherwise nothing of the group is left.
//!
//! The record is dropped in every case. Groups started by this runtime instance itself are live
//! handles, not leftovers, and are skipped.

use nix::sys::signal::Signal;

use super::super::{ReconcileReport, RuntimeError, labels};
use super::Shared;
use super::cgroup::Cgroup;
use super::env::label_env_name;
use super::group::{kill_group, signal_pid, wait_pids_gone};
use super::procfs::ProcStat;
use super::registry::GroupRecord;

/// What to do about one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The leader is ours and something of the group still runs: kill the group by pgid.
    KillGroup,
    /// The leader is gone; these pids are provably ours: kill them one by one.
    KillOrphans(Vec<i32>),
    /// Nothing of the group runs any more.
    Gone,
}

/// A current member of a recorded group and its environment (`None` where unreadable).
pub type Member = (ProcStat, Option<Vec<(String, String)>>);

/// Whether a process's environment carries `record`'s owner variables.
pub fn carries_owner_env(record: &GroupRecord, environ: &[(String, String)]) -> bool {
    let want = [
        (label_env_name(labels::NODE), record.node.clone()),
        (label_env_name(labels::TASK), record.task.to_string()),
        (label_env_name(labels::ATTEMPT), record.attempt.to_string()),
        (
            label_env_name(labels::INSTANCE),
            record.instance.to_string(),
        ),
    ];
    want.iter()
        .all(|(k, v)| environ.iter().any(|(ek, ev)| ek == k && ev == v))
}

/// Decide about `record` from the current leader stat (by the recorded pid) and the current
/// members of the recorded group with their environments (`None` where unreadable).
pub fn classify(record: &GroupRecord, leader: Option<&ProcStat>, members: &[Member]) -> Verdict {
    let running = |s: &ProcStat| !s.is_dead() && s.pgrp == record.pgid;
    let leader_is_ours =
        leader.is_some_and(|l| l.start_time == record.start_time && l.pgrp == record.pgid);
    if leader_is_ours {
        return if members.iter().any(|(s, _)| running(s)) {
            Verdict::KillGroup
        } else {
            Verdict::Gone
        };
    }
    let orphans: Vec<i32> = members
        .iter()
        .filter(|(s, env)| {
            running(s)
                && s.pid != record.leader_pid
                && s.start_time >= record.start_time
                && env.as_deref().is_some_and(|e| carries_owner_env(record, e))
        })
        .map(|(s, _)| s.pid)
        .collect();
    if orphans.is_empty() {
        Verdict::Gone
    } else {
        Verdict::KillOrphans(orphans)
    }
}

/// Reconcile every record of `shared`'s registry that belongs to its node.
pub(crate) async fn reconcile(shared: &Shared) -> Result<ReconcileReport, RuntimeError> {
    let mut report = ReconcileReport::default();
    for record in shared.registry.load()? {
        if record.node != shared.owner.node {
            tracing::debug!(pgid = record.pgid, node = %record.node, "registry record of another node left alone");
            continue;
        }
        if shared.registry.is_own(record.pgid, record.start_time) {
            continue;
        }
        let procfs = &shared.procfs;
        let leader = procfs.stat(record.leader_pid);
        let members: Vec<_> = procfs
            .group_members(record.pgid)
            .into_iter()
            .map(|s| {
                let env = procfs.environ(s.pid);
                (s, env)
            })
            .collect();
        let cgroup = record.cgroup.clone().map(Cgroup::at);
        let verdict = classify(&record, leader.as_ref(), &members);
        tracing::info!(pgid = record.pgid, name = %record.name, ?verdict, "reconciling a process group left by an earlier agent");
        match &verdict {
            Verdict::KillGroup => {
                kill_group(procfs, record.pgid, shared.kill_wait, cgroup.as_ref()).await?;
            }
            Verdict::KillOrphans(pids) => {
                if let Some(cg) = &cgroup {
                    let _ = cg.kill();
                }
                for pid in pids {
                    signal_pid(*pid, Signal::SIGKILL)?;
                }
                let left = wait_pids_gone(procfs, pids, shared.kill_wait).await;
                if !left.is_empty() {
                    return Err(RuntimeError::Backend {
                        runtime: "process",
                        reason: format!(
                            "processes {left:?} of the leftover group {} still run {:?} after SIGKILL",
                            record.pgid, shared.kill_wait
                        ),
                    });
                }
            }
            Verdict::Gone => {}
        }
        if let Some(cg) = &cgroup
            && let Err(e) = cg.remove_within(shared.kill_wait).await
        {
            tracing::warn!(cgroup = %cg.dir().display(), error = %e, "cannot remove a leftover cgroup");
        }
        shared.registry.remove(record.pgid, record.start_time)?;
        if verdict != Verdict::Gone {
            report.removed.push(record.name.clone());
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use uuid::Uuid;

    fn record() -> GroupRecord {
        GroupRecord {
            name: "pid:100".into(),
            object_name: "ws-x".into(),
            pgid: 100,
            leader_pid: 100,
            start_time: 5000,
            node: "n1".into(),
            task: Uuid::from_u128(7),
            attempt: 1,
            instance: 2,
            cgroup: None,
            log: "/l".into(),
        }
    }

    fn stat(pid: i32, pgrp: i32, state: char, start: u64) -> ProcStat {
        ProcStat {
            pid,
            comm: "x".into(),
            state,
            ppid: 1,
            pgrp,
            session: 1,
            utime: 0,
            stime: 0,
            cutime: 0,
            cstime: 0,
            start_time: start,
        }
    }

    fn owner_env() -> Vec<(String, String)> {
        vec![
            ("PATH".into(), "/bin".into()),
            ("WATTSWEEP_NODE".into(), "n1".into()),
            ("WATTSWEEP_TASK".into(), Uuid::from_u128(7).to_string()),
            ("WATTSWEEP_ATTEMPT".into(), "1".into()),
            ("WATTSWEEP_INSTANCE".into(), "2".into()),
        ]
    }

    #[test]
    fn live_leader_with_matching_start_time_kills_the_group() {
        let leader = stat(100, 100, 'S', 5000);
        let members = vec![(leader.clone(), None), (stat(101, 100, 'S', 5001), None)];
        assert_eq!(
            classify(&record(), Some(&leader), &members),
            Verdict::KillGroup
        );
    }

    #[test]
    fn zombie_leader_alone_means_gone() {
        let leader = stat(100, 100, 'Z', 5000);
        assert_eq!(
            classify(&record(), Some(&leader), &[(leader.clone(), None)]),
            Verdict::Gone
        );
    }

    #[test]
    fn reused_pid_is_never_killed() {
        // PID 100 now belongs to a later process that leads its own group 100.
        let stranger = stat(100, 100, 'S', 9000);
        let members = vec![
            (stranger.clone(), Some(vec![("PATH".into(), "/bin".into())])),
            (stat(103, 100, 'S', 9001), Some(vec![])),
        ];
        assert_eq!(
            classify(&record(), Some(&stranger), &members),
            Verdict::Gone
        );
    }

    #[test]
    fn orphans_need_the_owner_env_and_a_later_start() {
        let members = vec![
            (stat(101, 100, 'S', 5001), Some(owner_env())),
            (stat(102, 100, 'S', 4000), Some(owner_env())), // older than the leader: not ours
            (stat(103, 100, 'S', 5002), None),              // environ unreadable
            (stat(104, 100, 'Z', 5003), Some(owner_env())), // already dead
            (
                stat(105, 100, 'S', 5004),
                Some(vec![("WATTSWEEP_NODE".into(), "n2".into())]),
            ),
        ];
        assert_eq!(
            classify(&record(), None, &members),
            Verdict::KillOrphans(vec![101])
        );
        assert_eq!(classify(&record(), None, &[]), Verdict::Gone);
    }

    #[test]
    fn owner_env_must_match_every_label() {
        let r = record();
        assert!(carries_owner_env(&r, &owner_env()));
        let mut env = owner_env();
        env[4].1 = "3".into();
        assert!(!carries_owner_env(&r, &env));
    }
}
