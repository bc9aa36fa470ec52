//! CPU telemetry: host utilisation and context switches per second (`/proc/stat`), and per workload
//! its CPU time and context switches — the cost of GPU sharing that shows up on the host (MPS
//! control daemons, time-slicing contention, container runtimes).
//!
//! A workload is named by a cgroup v2 directory (containers) or by the root pid of a process tree
//! (plain processes). CPU time comes from the cgroup's `cpu.stat` `usage_usec` when there is one (it
//! also counts processes that have exited), else from the live tree's `utime + stime`. Context
//! switches are not in `cpu.stat`: they are summed over every thread of every live process
//! (`/proc/<pid>/task/<tid>/status`; the process-level file counts only the main thread), so those of
//! threads that have exited are lost. Reading costs a few hundred microseconds per workload, fine at
//! the ~1 Hz of DESIGN §4; the caller owns the schedule.

mod parse;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use parse::{
    CgroupCpuStat, CtxtSwitches, HostCpu, HostTimes, ParseError, PidStat, descendants, host_rates,
    parse_cgroup_cpu_stat, parse_cgroup_v2_path, parse_cgroup2_mount, parse_pid_stat,
    parse_proc_stat, parse_status_ctxt,
};

/// Errors reading CPU figures.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file did not parse.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ParseError,
    },
    /// The workload's root process does not exist.
    #[error("process {0} does not exist (no /proc/{0}/stat)")]
    NoSuchProcess(u32),
}

/// What a workload is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WorkloadTarget {
    /// A cgroup v2 directory (`/sys/fs/cgroup/system.slice/docker-….scope`).
    Cgroup(PathBuf),
    /// A process and all its descendants.
    ProcessTree(u32),
}

/// Where a workload's CPU time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuTimeSource {
    /// cgroup `cpu.stat` `usage_usec` (includes exited processes).
    Cgroup,
    /// Sum of `utime + stime` of the live processes.
    ProcessTree,
}

/// Cumulative counters of one workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkloadCounters {
    /// CPU time, seconds.
    pub cpu_s: f64,
    /// Where `cpu_s` came from.
    pub source: CpuTimeSource,
    /// Context switches summed over the live threads.
    pub ctxt: CtxtSwitches,
    /// Live processes counted.
    pub processes: usize,
}

/// A workload's rates over an interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkloadCpu {
    /// CPU use, percent of one CPU (200 = two CPUs busy).
    pub cpu_pct: f64,
    /// Voluntary context switches per second.
    pub voluntary_per_s: f64,
    /// Involuntary context switches per second.
    pub nonvoluntary_per_s: f64,
}

/// Rates between two readings of the same workload `dt_s` apart. Counters that went backwards
/// (a process exited) count as zero for that interval.
pub fn workload_rates(
    prev: &WorkloadCounters,
    cur: &WorkloadCounters,
    dt_s: f64,
) -> Option<WorkloadCpu> {
    if dt_s <= 0.0 {
        return None;
    }
    Some(WorkloadCpu {
        cpu_pct: ((cur.cpu_s - prev.cpu_s).max(0.0) / dt_s) * 100.0,
        voluntary_per_s: cur.ctxt.voluntary.saturating_sub(prev.ctxt.voluntary) as f64 / dt_s,
        nonvoluntary_per_s: cur.ctxt.nonvoluntary.saturating_sub(prev.ctxt.nonvoluntary) as f64
            / dt_s,
    })
}

/// One workload in a [`CpuSample`].
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSample {
    /// The workload.
    pub target: WorkloadTarget,
    /// Its cumulative counters and its rates since the previous reading of it (`None` on the
    /// first), or why it could not be read.
    pub reading: Result<(WorkloadCounters, Option<WorkloadCpu>), String>,
}

/// One reading of the CPU sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuSample {
    /// Host rates since the previous reading (`None` on the first).
    pub host: Option<HostCpu>,
    /// One entry per target, in the order given.
    pub workloads: Vec<WorkloadSample>,
}

/// Reads `/proc` (and cgroup directories) and turns counters into rates.
#[derive(Debug)]
pub struct CpuSampler {
    proc_root: PathBuf,
    clk_tck: f64,
    prev_host: Option<(Instant, HostTimes)>,
    prev_workloads: HashMap<WorkloadTarget, (Instant, WorkloadCounters)>,
}

impl Default for CpuSampler {
    fn default() -> Self {
        Self::new()
    }
}

fn read(path: &Path) -> Result<String, CpuError> {
    std::fs::read_to_string(path).map_err(|source| CpuError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parsed<T>(path: &Path, r: Result<T, ParseError>) -> Result<T, CpuError> {
    r.map_err(|source| CpuError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

impl CpuSampler {
    /// A sampler of this machine's `/proc`.
    pub fn new() -> Self {
        let clk_tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|t| *t > 0)
            .map(|t| t as f64)
            .unwrap_or(100.0);
        CpuSampler {
            proc_root: PathBuf::from("/proc"),
            clk_tck,
            prev_host: None,
            prev_workloads: HashMap::new(),
        }
    }

    /// Whole-host counters now.
    pub fn host_times(&self) -> Result<HostTimes, CpuError> {
        let path = self.proc_root.join("stat");
        let text = read(&path)?;
        parsed(&path, parse_proc_stat(&text))
    }

    /// `(pid, ppid)` of every process (processes that vanish while listed are skipped).
    fn all_processes(&self) -> Result<Vec<(u32, PidStat)>, CpuError> {
        let dir = std::fs::read_dir(&self.proc_root).map_err(|source| CpuError::Read {
            path: self.proc_root.clone(),
            source,
        })?;
        let mut out = Vec::new();
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(Some(stat)) = self.pid_stat(pid) {
                out.push((pid, stat));
            }
        }
        Ok(out)
    }

    /// `/proc/<pid>/stat`, `None` if the process is gone.
    fn pid_stat(&self, pid: u32) -> Result<Option<PidStat>, CpuError> {
        let path = self.proc_root.join(pid.to_string()).join("stat");
        match std::fs::read_to_string(&path) {
            Ok(text) => parsed(&path, parse_pid_stat(&text)).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CpuError::Read { path, source }),
        }
    }

    /// Context switches summed over the threads of `pid` (zero if it is gone).
    fn process_ctxt(&self, pid: u32) -> CtxtSwitches {
        let tasks = self.proc_root.join(pid.to_string()).join("task");
        let Ok(dir) = std::fs::read_dir(&tasks) else {
            return CtxtSwitches::default();
        };
        dir.flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
            .filter_map(|text| parse_status_ctxt(&text).ok())
            .fold(CtxtSwitches::default(), |a, b| a + b)
    }

    /// Pids listed in `cgroup.procs` of `dir` and of every cgroup below it.
    fn cgroup_pids(dir: &Path, out: &mut Vec<u32>) -> Result<(), CpuError> {
        let procs = dir.join("cgroup.procs");
        let text = read(&procs)?;
        out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    Self::cgroup_pids(&e.path(), out)?;
                }
            }
        }
        Ok(())
    }

    /// Cumulative counters of a workload now.
    pub fn workload_counters(&self, target: &WorkloadTarget) -> Result<WorkloadCounters, CpuError> {
        match target {
            WorkloadTarget::Cgroup(dir) => {
                let path = dir.join("cpu.stat");
                let stat = parsed(&path, parse_cgroup_cpu_stat(&read(&path)?))?;
                let mut pids = Vec::new();
                Self::cgroup_pids(dir, &mut pids)?;
                let ctxt = pids
                    .iter()
                    .map(|p| self.process_ctxt(*p))
                    .fold(CtxtSwitches::default(), |a, b| a + b);
                Ok(WorkloadCounters {
                    cpu_s: stat.usage_usec as f64 / 1e6,
                    source: CpuTimeSource::Cgroup,
                    ctxt,
                    processes: pids.len(),
                })
            }
            WorkloadTarget::ProcessTree(root) => {
                if self.pid_stat(*root)?.is_none() {
                    return Err(CpuError::NoSuchProcess(*root));
                }
                let all = self.all_processes()?;
                let pairs: Vec<(u32, u32)> = all.iter().map(|(p, s)| (*p, s.ppid)).collect();
                let tree = descendants(*root, &pairs);
                let mut ticks = 0u64;
                let mut ctxt = CtxtSwitches::default();
                for pid in &tree {
                    if let Some((_, s)) = all.iter().find(|(p, _)| p == pid) {
                        ticks += s.utime + s.stime;
                    }
                    ctxt = ctxt + self.process_ctxt(*pid);
                }
                Ok(WorkloadCounters {
                    cpu_s: ticks as f64 / self.clk_tck,
                    source: CpuTimeSource::ProcessTree,
                    ctxt,
                    processes: tree.len(),
                })
            }
        }
    }

    /// Read the host and every target; rates are relative to this sampler's previous reading.
    pub fn sample(&mut self, targets: &[WorkloadTarget]) -> Result<CpuSample, CpuError> {
        let now = Instant::now();
        let host_now = self.host_times()?;
        let host = self
            .prev_host
            .and_then(|(t, prev)| host_rates(prev, host_now, now.duration_since(t).as_secs_f64()));
        self.prev_host = Some((now, host_now));
        let mut workloads = Vec::with_capacity(targets.len());
        for target in targets {
            let reading = match self.workload_counters(target) {
                Ok(cur) => {
                    let rates = self.prev_workloads.get(target).and_then(|(t, prev)| {
                        workload_rates(prev, &cur, now.duration_since(*t).as_secs_f64())
                    });
                    self.prev_workloads.insert(target.clone(), (now, cur));
                    Ok((cur, rates))
                }
                Err(e) => Err(e.to_string()),
            };
            workloads.push(WorkloadSample {
                target: target.clone(),
                reading,
            });
        }
        self.prev_workloads.retain(|t, _| targets.contains(t));
        Ok(CpuSample { host, workloads })
    }
}

/// The cgroup v2 directory of a process, if the host has a cgroup v2 hierarchy and the process is
/// in it (`/proc/self/mountinfo` + `/proc/<pid>/cgroup`).
pub fn cgroup_dir_of(pid: u32) -> Option<PathBuf> {
    let mount = parse_cgroup2_mount(&std::fs::read_to_string("/proc/self/mountinfo").ok()?)?;
    let rel = parse_cgroup_v2_path(&std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?)?;
    Some(Path::new(&mount).join(rel.trim_start_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(cpu_s: f64, v: u64, n: u64) -> WorkloadCounters {
        WorkloadCounters {
            cpu_s,
            source: CpuTimeSource::ProcessTree,
            ctxt: CtxtSwitches {
                voluntary: v,
                nonvoluntary: n,
            },
            processes: 1,
        }
    }

    #[test]
    fn workload_rates_per_second() {
        let r = workload_rates(&counters(1.0, 10, 5), &counters(2.5, 30, 5), 0.5).unwrap();
        assert!((r.cpu_pct - 300.0).abs() < 1e-9);
        assert!((r.voluntary_per_s - 40.0).abs() < 1e-9);
        assert_eq!(r.nonvoluntary_per_s, 0.0);
        // A process left the tree: counters shrink, rates do not go negative.
        let r = workload_rates(&counters(2.0, 30, 5), &counters(1.0, 3, 1), 1.0).unwrap();
        assert_eq!((r.cpu_pct, r.voluntary_per_s), (0.0, 0.0));
        assert_eq!(
            workload_rates(&counters(0.0, 0, 0), &counters(0.0, 0, 0), 0.0),
            None
        );
    }

    #[test]
    fn this_process_is_a_tree_of_at_least_itself() {
        let s = CpuSampler::new();
        let c = s
            .workload_counters(&WorkloadTarget::ProcessTree(std::process::id()))
            .unwrap();
        assert!(c.processes >= 1);
        assert!(c.ctxt.total() > 0);
        assert!(matches!(
            s.workload_counters(&WorkloadTarget::ProcessTree(u32::MAX - 1)),
            Err(CpuError::NoSuchProcess(_))
        ));
    }
}
