//! Context switches of a container's processes, read from the host's `/proc`.
//!
//! Docker's stats API has CPU time but no context switches, so the runtime asks the engine for the
//! container's processes (the `top` API: host PIDs, whatever the cgroup version or driver) and sums
//! `voluntary_ctxt_switches + nonvoluntary_ctxt_switches` over every thread in
//! `/proc/<pid>/task/<tid>/status` (a process's own `status` counts only its main thread). This
//! needs the agent in the host's PID namespace, which is how it is deployed.
//!
//! The other path, not used: the container's cgroup lists its processes (`cgroup.procs`, threads in
//! `tasks` on v1 or `cgroup.threads` on v2) under `/sys/fs/cgroup/<controller>/docker/<id>/` with
//! the cgroupfs driver on v1 (`cpu,cpuacct` or a separate `cpu` mount), `.../system.slice/docker-<id>.scope/`
//! with the systemd driver or on v2; it avoids an engine call but depends on the host's layout.
//!
//! The kernel forgets a thread's counts when it exits, so [`SwitchTracker`] keeps the largest count
//! seen per thread: the total is cumulative over everything observed, never decreasing.

use std::collections::BTreeMap;
use std::path::Path;

/// Sum of `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` in a `/proc/.../status` text;
/// `None` unless both are present and numeric.
pub fn parse_status_switches(status: &str) -> Option<u64> {
    let mut voluntary = None;
    let mut involuntary = None;
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "voluntary_ctxt_switches" => voluntary = value.parse::<u64>().ok(),
            "nonvoluntary_ctxt_switches" => involuntary = value.parse::<u64>().ok(),
            _ => {}
        }
    }
    voluntary?.checked_add(involuntary?)
}

/// The host PIDs in a `top` answer: the `PID` column (whatever `ps` arguments the engine used).
pub fn pids_from_top(titles: &[String], processes: &[Vec<String>]) -> Vec<u32> {
    let Some(col) = titles.iter().position(|t| t.trim() == "PID") else {
        return Vec::new();
    };
    processes
        .iter()
        .filter_map(|row| row.get(col))
        .filter_map(|pid| pid.trim().parse::<u32>().ok())
        .collect()
}

/// Context switches per thread of one process: `(tid, switches)`, read under `proc_root`
/// (`/proc`). A process or thread that vanished while being read is skipped.
pub fn read_process_switches(proc_root: &Path, pid: u32) -> Vec<(u32, u64)> {
    let tasks = proc_root.join(pid.to_string()).join("task");
    let Ok(entries) = std::fs::read_dir(&tasks) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let tid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            Some((tid, parse_status_switches(&status)?))
        })
        .collect()
}

/// Cumulative context switches of one container: the largest count seen per thread, summed.
#[derive(Debug, Default, Clone)]
pub struct SwitchTracker {
    per_thread: BTreeMap<u32, u64>,
}

impl SwitchTracker {
    /// Record what one reading saw.
    pub fn observe(&mut self, readings: impl IntoIterator<Item = (u32, u64)>) {
        for (tid, n) in readings {
            let seen = self.per_thread.entry(tid).or_insert(0);
            *seen = (*seen).max(n);
        }
    }

    /// The total so far, `None` before any thread was seen.
    pub fn total(&self) -> Option<u64> {
        if self.per_thread.is_empty() {
            None
        } else {
            Some(
                self.per_thread
                    .values()
                    .fold(0u64, |a, n| a.saturating_add(*n)),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STATUS: &str = "Name:\tsh\nState:\tR (running)\nThreads:\t1\n\
        voluntary_ctxt_switches:\t47\nnonvoluntary_ctxt_switches:\t387\n";

    #[test]
    fn parses_both_counters() {
        assert_eq!(parse_status_switches(STATUS), Some(434));
        assert_eq!(parse_status_switches("voluntary_ctxt_switches:\t1\n"), None);
        assert_eq!(parse_status_switches("garbage"), None);
    }

    #[test]
    fn finds_the_pid_column() {
        let titles: Vec<String> = ["UID", "PID", "PPID", "CMD"].map(String::from).to_vec();
        let rows = vec![
            ["root", "15192", "15170", "sh"].map(String::from).to_vec(),
            ["root", "x", "1", "bad"].map(String::from).to_vec(),
            vec!["short".to_string()],
        ];
        assert_eq!(pids_from_top(&titles, &rows), vec![15192]);
        assert!(pids_from_top(&["UID".to_string()], &rows).is_empty());
    }

    #[test]
    fn reads_this_process_threads() {
        let me = std::process::id();
        let r = read_process_switches(Path::new("/proc"), me);
        assert!(r.iter().any(|(tid, _)| *tid == me), "{r:?}");
        assert!(read_process_switches(Path::new("/nonexistent"), me).is_empty());
    }

    #[test]
    fn tracker_keeps_exited_threads_and_never_decreases() {
        let mut t = SwitchTracker::default();
        assert_eq!(t.total(), None);
        t.observe([(1, 10), (2, 5)]);
        assert_eq!(t.total(), Some(15));
        t.observe([(1, 12)]); // thread 2 exited
        assert_eq!(t.total(), Some(17));
    }

    proptest! {
        #[test]
        fn status_parser_reads_any_counts_in_any_order(
            v in any::<u32>(), n in any::<u32>(), swap in any::<bool>(), noise in "[a-z_]{0,12}"
        ) {
            let a = format!("voluntary_ctxt_switches:\t{v}");
            let b = format!("nonvoluntary_ctxt_switches:\t{n}");
            let (x, y) = if swap { (b, a) } else { (a, b) };
            let text = format!("{noise}:\t1\n{x}\n{noise}x: 2\n{y}\n");
            prop_assert_eq!(parse_status_switches(&text), Some(u64::from(v) + u64::from(n)));
        }

        #[test]
        fn tracker_total_is_monotone(readings in proptest::collection::vec((0u32..8, 0u64..1000), 0..40)) {
            let mut t = SwitchTracker::default();
            let mut last = 0;
            for r in readings {
                t.observe([r]);
                let now = t.total().unwrap_or(0);
                prop_assert!(now >= last);
                last = now;
            }
        }
    }
}
