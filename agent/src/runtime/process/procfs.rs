//! Reading `/proc`: who belongs to a process group, when a process started, how much CPU a group
//! used. The process runtime needs this for CPU accounting where cgroup v2 is not available, to find
//! every member of a group before and after killing it, and to tell a recorded process from a later
//! one that reuses its PID.
//!
//! The parsers are pure (text in, values out); [`ProcFs`] is the only part that touches the file
//! system, and it reads from a configurable root so tests can feed it a fake `/proc` tree.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

/// Parsed fields of `/proc/<pid>/stat` that the runtime uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// Process id (field 1).
    pub pid: i32,
    /// Command name without its parentheses (field 2; may contain spaces and parentheses).
    pub comm: String,
    /// State letter (field 3): `R`, `S`, `D`, `Z`, …
    pub state: char,
    /// Parent process id (field 4).
    pub ppid: i32,
    /// Process group id (field 5).
    pub pgrp: i32,
    /// Session id (field 6).
    pub session: i32,
    /// User-mode CPU time of the whole process, clock ticks (field 14).
    pub utime: u64,
    /// Kernel-mode CPU time of the whole process, clock ticks (field 15).
    pub stime: u64,
    /// User-mode time of waited-for (reaped) children, clock ticks (field 16).
    pub cutime: u64,
    /// Kernel-mode time of waited-for (reaped) children, clock ticks (field 17).
    pub cstime: u64,
    /// Start time after boot, clock ticks (field 22). With the PID it identifies a process: a
    /// reused PID has a later start time.
    pub start_time: u64,
}

impl ProcStat {
    /// True for a zombie (exited, not yet reaped) or a dead task: it runs nothing and cannot be
    /// killed any further.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }

    /// CPU ticks of this process plus its reaped descendants.
    pub fn total_ticks(&self) -> u64 {
        self.utime
            .saturating_add(self.stime)
            .saturating_add(self.cutime)
            .saturating_add(self.cstime)
    }
}

/// Why a `/proc` file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcParseError {
    /// The `(comm)` field is missing or unterminated.
    #[error("stat line has no `(comm)` field")]
    NoComm,
    /// A field is missing.
    #[error("stat line ends before field {field} ({name})")]
    Missing {
        /// 1-based field number as in proc(5).
        field: usize,
        /// The field's name.
        name: &'static str,
    },
    /// A field is not a number of the expected kind.
    #[error("stat field {field} ({name}) is `{value}`, expected an integer")]
    Invalid {
        /// 1-based field number as in proc(5).
        field: usize,
        /// The field's name.
        name: &'static str,
        /// What was there.
        value: String,
    },
}

/// Parse one `/proc/<pid>/stat` line.
pub fn parse_stat(text: &str) -> Result<ProcStat, ProcParseError> {
    let open = text.find('(').ok_or(ProcParseError::NoComm)?;
    let close = text.rfind(')').ok_or(ProcParseError::NoComm)?;
    if close < open {
        return Err(ProcParseError::NoComm);
    }
    let pid = int_field::<i32>(text[..open].trim(), 1, "pid")?;
    let comm = text[open + 1..close].to_string();
    // Fields after the comm, numbered from 3.
    let rest: Vec<&str> = text[close + 1..].split_ascii_whitespace().collect();
    let get = |field: usize, name: &'static str| {
        rest.get(field - 3)
            .copied()
            .ok_or(ProcParseError::Missing { field, name })
    };
    let state_field = get(3, "state")?;
    let mut chars = state_field.chars();
    let state = match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => {
            return Err(ProcParseError::Invalid {
                field: 3,
                name: "state",
                value: state_field.to_string(),
            });
        }
    };
    // cutime/cstime are signed in the kernel ABI; negative values never occur in practice and
    // are read as zero.
    let ticks = |field: usize, name: &'static str| -> Result<u64, ProcParseError> {
        let v = int_field::<i64>(get(field, name)?, field, name)?;
        Ok(u64::try_from(v).unwrap_or(0))
    };
    Ok(ProcStat {
        pid,
        comm,
        state,
        ppid: int_field(get(4, "ppid")?, 4, "ppid")?,
        pgrp: int_field(get(5, "pgrp")?, 5, "pgrp")?,
        session: int_field(get(6, "session")?, 6, "session")?,
        utime: int_field(get(14, "utime")?, 14, "utime")?,
        stime: int_field(get(15, "stime")?, 15, "stime")?,
        cutime: ticks(16, "cutime")?,
        cstime: ticks(17, "cstime")?,
        start_time: int_field(get(22, "starttime")?, 22, "starttime")?,
    })
}

fn int_field<T: std::str::FromStr>(
    value: &str,
    field: usize,
    name: &'static str,
) -> Result<T, ProcParseError> {
    value.parse().map_err(|_| ProcParseError::Invalid {
        field,
        name,
        value: value.to_string(),
    })
}

/// Voluntary plus involuntary context switches from a `/proc/<pid>/status` (or
/// `/proc/<pid>/task/<tid>/status`) text; `None` when neither line is present.
pub fn parse_ctxt_switches(status: &str) -> Option<u64> {
    let mut total: Option<u64> = None;
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if (key == "voluntary_ctxt_switches" || key == "nonvoluntary_ctxt_switches")
            && let Ok(n) = value.trim().parse::<u64>()
        {
            total = Some(total.unwrap_or(0).saturating_add(n));
        }
    }
    total
}

/// `KEY=value` pairs of a NUL-separated `/proc/<pid>/environ`; entries without `=` are skipped.
pub fn parse_environ(bytes: &[u8]) -> Vec<(String, String)> {
    bytes
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (k, v) = entry.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// One member of a process group as sampled for CPU accounting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSample {
    /// Its stat line.
    pub stat: ProcStat,
    /// Its context switches summed over its threads, when readable.
    pub ctxt_switches: Option<u64>,
}

/// CPU seconds and context switches of a group from its members' samples (pure).
///
/// Each member contributes its own time plus the time of the children it reaped, so a short-lived
/// child's time is counted once it has been waited for by a member. Time of processes that left
/// the group, or whose parent is outside it, is lost when they exit; callers keep a high-water
/// mark so the cumulative figure never goes backwards.
pub fn group_usage(members: &[MemberSample], clk_tck: u64) -> (f64, Option<u64>) {
    let ticks: u64 = members
        .iter()
        .fold(0u64, |acc, m| acc.saturating_add(m.stat.total_ticks()));
    let switches = members
        .iter()
        .filter_map(|m| m.ctxt_switches)
        .fold(None, |acc: Option<u64>, n| {
            Some(acc.unwrap_or(0).saturating_add(n))
        });
    (ticks as f64 / clk_tck.max(1) as f64, switches)
}

/// The kernel's clock tick (`USER_HZ`) for `/proc` CPU times; 100 when it cannot be read.
pub fn clock_ticks_per_second() -> u64 {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(v)) if v > 0 => u64::try_from(v).unwrap_or(100),
        _ => 100,
    }
}

/// Reads process information under a `/proc` root.
#[derive(Debug, Clone)]
pub struct ProcFs {
    root: PathBuf,
}

impl Default for ProcFs {
    fn default() -> Self {
        Self::new("/proc")
    }
}

impl ProcFs {
    /// A reader of the `/proc` tree at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root it reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The stat of `pid`; `None` when the process does not exist (or vanished while being read).
    pub fn stat(&self, pid: i32) -> Option<ProcStat> {
        let text = fs::read_to_string(self.root.join(pid.to_string()).join("stat")).ok()?;
        parse_stat(&text).ok()
    }

    /// The start time of `pid` (field 22), `None` when it does not exist.
    pub fn start_time(&self, pid: i32) -> Option<u64> {
        self.stat(pid).map(|s| s.start_time)
    }

    /// Context switches of `pid` summed over its threads (`task/*/status`), falling back to the
    /// process's own `status` (its main thread only) when the task directory cannot be read.
    pub fn ctxt_switches(&self, pid: i32) -> Option<u64> {
        let dir = self.root.join(pid.to_string());
        if let Ok(tasks) = fs::read_dir(dir.join("task")) {
            let mut total: Option<u64> = None;
            for task in tasks.flatten() {
                if let Some(n) = fs::read_to_string(task.path().join("status"))
                    .ok()
                    .as_deref()
                    .and_then(parse_ctxt_switches)
                {
                    total = Some(total.unwrap_or(0).saturating_add(n));
                }
            }
            if total.is_some() {
                return total;
            }
        }
        fs::read_to_string(dir.join("status"))
            .ok()
            .as_deref()
            .and_then(parse_ctxt_switches)
    }

    /// The environment `pid` was started with; `None` when unreadable (gone, another user's).
    pub fn environ(&self, pid: i32) -> Option<Vec<(String, String)>> {
        fs::read(self.root.join(pid.to_string()).join("environ"))
            .ok()
            .map(|b| parse_environ(&b))
    }

    /// Stats of every process (zombies included); processes that vanish while being listed are
    /// skipped.
    pub fn all(&self) -> Vec<ProcStat> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| pid_of(&e.file_name()))
            .filter_map(|pid| self.stat(pid))
            .collect()
    }

    /// Every process of group `pgid` (zombies included).
    pub fn group_members(&self, pgid: i32) -> Vec<ProcStat> {
        self.all().into_iter().filter(|s| s.pgrp == pgid).collect()
    }

    /// Members of group `pgid` that still run (not zombies).
    pub fn live_group_members(&self, pgid: i32) -> Vec<i32> {
        self.group_members(pgid)
            .into_iter()
            .filter(|s| !s.is_dead())
            .map(|s| s.pid)
            .collect()
    }

    /// Samples of every member of group `pgid` for [`group_usage`].
    pub fn group_samples(&self, pgid: i32) -> Vec<MemberSample> {
        self.group_members(pgid)
            .into_iter()
            .map(|stat| MemberSample {
                ctxt_switches: self.ctxt_switches(stat.pid),
                stat,
            })
            .collect()
    }
}

fn pid_of(name: &OsStr) -> Option<i32> {
    name.to_str()?.parse().ok().filter(|p: &i32| *p > 0)
}

#[cfg(test)]
#[path = "procfs_tests.rs"]
mod tests;
