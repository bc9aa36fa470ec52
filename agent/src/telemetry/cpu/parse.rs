//! Pure parsers for the kernel files the CPU sampler reads (`/proc/stat`, `/proc/<pid>/stat`,
//! `/proc/<pid>/status`, cgroup v2 `cpu.stat`, `/proc/<pid>/cgroup`, `/proc/self/mountinfo`) and the
//! pure arithmetic on what they hold. Tested on text captured from real machines.

/// Text that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {file}: {message}")]
pub struct ParseError {
    /// Which kind of file (`/proc/stat`).
    pub file: &'static str,
    /// What is wrong.
    pub message: String,
}

fn err(file: &'static str, message: impl Into<String>) -> ParseError {
    ParseError {
        file,
        message: message.into(),
    }
}

/// Whole-host CPU counters from `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostTimes {
    /// Ticks not idle (user, nice, system, irq, softirq, steal; guest time is inside user/nice).
    pub busy: u64,
    /// All ticks (busy + idle + iowait).
    pub total: u64,
    /// Context switches since boot.
    pub ctxt: u64,
}

/// Parse `/proc/stat`: the aggregate `cpu` line and `ctxt`.
pub fn parse_proc_stat(text: &str) -> Result<HostTimes, ParseError> {
    const F: &str = "/proc/stat";
    let mut times = None;
    let mut ctxt = None;
    for line in text.lines() {
        let mut it = line.split_ascii_whitespace();
        match it.next() {
            Some("cpu") => {
                let v: Vec<u64> = it
                    .map(|x| {
                        x.parse::<u64>()
                            .map_err(|e| err(F, format!("cpu line value {x:?}: {e}")))
                    })
                    .collect::<Result<_, _>>()?;
                if v.len() < 4 {
                    return Err(err(
                        F,
                        format!("cpu line has {} values, at least 4 expected", v.len()),
                    ));
                }
                let get = |i: usize| v.get(i).copied().unwrap_or(0);
                let idle = get(3) + get(4);
                let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
                times = Some((busy, busy + idle));
            }
            Some("ctxt") => {
                let x = it.next().unwrap_or("");
                ctxt = Some(
                    x.parse::<u64>()
                        .map_err(|e| err(F, format!("ctxt value {x:?}: {e}")))?,
                );
            }
            _ => {}
        }
    }
    let (busy, total) = times.ok_or_else(|| err(F, "no aggregate `cpu` line"))?;
    let ctxt = ctxt.ok_or_else(|| err(F, "no `ctxt` line"))?;
    Ok(HostTimes { busy, total, ctxt })
}

/// Host utilisation over an interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostCpu {
    /// Busy share of all CPUs, percent (0–100).
    pub util_pct: f64,
    /// Context switches per second, whole host.
    pub ctxt_per_s: f64,
}

/// Utilisation and context-switch rate between two `/proc/stat` readings `dt_s` seconds apart;
/// `None` when no tick elapsed, the interval is not positive or a counter went backwards.
pub fn host_rates(prev: HostTimes, cur: HostTimes, dt_s: f64) -> Option<HostCpu> {
    let total = cur.total.checked_sub(prev.total)?;
    let busy = cur.busy.checked_sub(prev.busy)?;
    let ctxt = cur.ctxt.checked_sub(prev.ctxt)?;
    if total == 0 || dt_s <= 0.0 {
        return None;
    }
    Some(HostCpu {
        util_pct: (busy.min(total) as f64 / total as f64) * 100.0,
        ctxt_per_s: ctxt as f64 / dt_s,
    })
}

/// From `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidStat {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// User time of all its threads, clock ticks.
    pub utime: u64,
    /// System time of all its threads, clock ticks.
    pub stime: u64,
}

/// Parse `/proc/<pid>/stat`. The command name is in parentheses and may itself hold spaces and
/// parentheses, so fields are counted after the *last* `)`.
pub fn parse_pid_stat(text: &str) -> Result<PidStat, ParseError> {
    const F: &str = "/proc/<pid>/stat";
    let open = text
        .find(" (")
        .ok_or_else(|| err(F, "no ` (` before the command name"))?;
    let close = text
        .rfind(')')
        .ok_or_else(|| err(F, "no `)` after the command name"))?;
    let pid = text[..open]
        .trim()
        .parse::<u32>()
        .map_err(|e| err(F, format!("pid: {e}")))?;
    let rest: Vec<&str> = text[close + 1..].split_ascii_whitespace().collect();
    // rest[0] = state (field 3), rest[1] = ppid (4), rest[11] = utime (14), rest[12] = stime (15).
    let field = |i: usize, name: &str| -> Result<u64, ParseError> {
        let raw = rest.get(i).ok_or_else(|| {
            err(
                F,
                format!("{name} missing: {} fields after the name", rest.len()),
            )
        })?;
        raw.parse::<u64>()
            .map_err(|e| err(F, format!("{name} {raw:?}: {e}")))
    };
    Ok(PidStat {
        pid,
        ppid: u32::try_from(field(1, "ppid")?).map_err(|e| err(F, format!("ppid: {e}")))?,
        utime: field(11, "utime")?,
        stime: field(12, "stime")?,
    })
}

/// Context switches of one task, from `/proc/<pid>/task/<tid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtxtSwitches {
    /// Voluntary (the task blocked).
    pub voluntary: u64,
    /// Involuntary (the task was preempted).
    pub nonvoluntary: u64,
}

impl CtxtSwitches {
    /// Both kinds together.
    pub fn total(self) -> u64 {
        self.voluntary + self.nonvoluntary
    }
}

impl std::ops::Add for CtxtSwitches {
    type Output = CtxtSwitches;
    fn add(self, o: CtxtSwitches) -> CtxtSwitches {
        CtxtSwitches {
            voluntary: self.voluntary + o.voluntary,
            nonvoluntary: self.nonvoluntary + o.nonvoluntary,
        }
    }
}

/// Parse the `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` lines of a `status` file.
pub fn parse_status_ctxt(text: &str) -> Result<CtxtSwitches, ParseError> {
    const F: &str = "/proc/<pid>/status";
    let mut v = None;
    let mut n = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "voluntary_ctxt_switches" => &mut v,
            "nonvoluntary_ctxt_switches" => &mut n,
            _ => continue,
        };
        let value = value.trim();
        *slot = Some(
            value
                .parse::<u64>()
                .map_err(|e| err(F, format!("{key} {value:?}: {e}")))?,
        );
    }
    match (v, n) {
        (Some(voluntary), Some(nonvoluntary)) => Ok(CtxtSwitches {
            voluntary,
            nonvoluntary,
        }),
        _ => Err(err(
            F,
            "no voluntary_ctxt_switches/nonvoluntary_ctxt_switches lines",
        )),
    }
}

/// From a cgroup v2 `cpu.stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CgroupCpuStat {
    /// CPU time of every process that ran in the cgroup (also those that exited), µs.
    pub usage_usec: u64,
    /// User part, µs.
    pub user_usec: u64,
    /// System part, µs.
    pub system_usec: u64,
}

/// Parse a cgroup v2 `cpu.stat` (`key value` lines; unknown keys ignored).
pub fn parse_cgroup_cpu_stat(text: &str) -> Result<CgroupCpuStat, ParseError> {
    const F: &str = "cgroup cpu.stat";
    let mut out = CgroupCpuStat::default();
    let mut seen_usage = false;
    for line in text.lines() {
        let mut it = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        let slot = match key {
            "usage_usec" => {
                seen_usage = true;
                &mut out.usage_usec
            }
            "user_usec" => &mut out.user_usec,
            "system_usec" => &mut out.system_usec,
            _ => continue,
        };
        *slot = value
            .parse::<u64>()
            .map_err(|e| err(F, format!("{key} {value:?}: {e}")))?;
    }
    if !seen_usage {
        return Err(err(F, "no usage_usec line (is this a cgroup v2 cpu.stat?)"));
    }
    Ok(out)
}

/// The cgroup v2 path (`/system.slice/docker-….scope`) in a `/proc/<pid>/cgroup` file: the `0::` line.
pub fn parse_cgroup_v2_path(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim().to_string())
}

/// Where the cgroup v2 hierarchy is mounted, from `/proc/self/mountinfo` (`/sys/fs/cgroup` on
/// unified hosts, `/sys/fs/cgroup/unified` on hybrid ones).
pub fn parse_cgroup2_mount(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_ascii_whitespace().next()?;
        (fstype == "cgroup2").then(|| left.split_ascii_whitespace().nth(4).map(str::to_string))?
    })
}

/// `root` and every process below it, given `(pid, ppid)` pairs of all processes; `root` first,
/// then breadth-first. Robust against cycles (a pid is visited once).
pub fn descendants(root: u32, pairs: &[(u32, u32)]) -> Vec<u32> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for &(pid, ppid) in pairs {
            if ppid == parent && pid != parent && !out.contains(&pid) {
                out.push(pid);
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;
