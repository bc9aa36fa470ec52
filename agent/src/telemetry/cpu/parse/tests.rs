//! Parser tests on text captured from real machines, and property tests on generated text.

use proptest::prelude::*;

use super::*;

/// `/proc/stat` captured on a 2-CPU build machine (kernel 6.x).
const PROC_STAT: &str = "cpu  8073 78475 20496 223547 1231 0 170 39 0 0
cpu0 3335 37968 9709 114775 199 0 32 16 0 0
cpu1 4738 40506 10787 108771 1031 0 138 22 0 0
intr 2577218 0 9 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
ctxt 1484978
btime 1763781060
processes 44072
procs_running 3
procs_blocked 0
softirq 1085462 0 350717 1 130717 0 0 2 320716 0 283309
";

/// `/proc/1/stat` of a process whose name has a space and parentheses would break naive splitting.
const PID_STAT_ODD_NAME: &str = "4242 (my (odd) name) S 17 4242 12351 0 -1 4194304 101 0 0 0 321 45 0 0 20 0 1 0 166976 3133440 406 18446744073709551615 93925399326720 93925399346601 140731752935968 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

/// `/proc/1/stat` as captured.
const PID_STAT: &str = "1 (process_api) S 0 0 0 0 -1 4194560 104974 18041172 0 6913 131 654 34383 7726 10 -10 14 0 24 50569216 4174 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

/// The end of `/proc/1/status` as captured.
const STATUS_TAIL: &str = "Cpus_allowed:\t3
Cpus_allowed_list:\t0-1
Mems_allowed_list:\t0
voluntary_ctxt_switches:\t361
nonvoluntary_ctxt_switches:\t25
";

/// cgroup v2 `cpu.stat` as captured (hybrid host, `/sys/fs/cgroup/unified`).
const CPU_STAT: &str = "usage_usec 1076235782
user_usec 868723571
system_usec 207512210
nice_usec 787958486
core_sched.force_idle_usec 0
nr_periods 0
nr_throttled 0
throttled_usec 0
nr_bursts 0
burst_usec 0
";

/// `/proc/self/cgroup` of a hybrid host, and of a unified host running Docker.
const CGROUP_HYBRID: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/958f7a110e93922b3de05314043038cd\n1:cpu:/\n0::/\n";
const CGROUP_UNIFIED: &str = "0::/system.slice/docker-0123abcd.scope\n";

const MOUNTINFO: &str =
    "31 25 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
33 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

#[test]
fn proc_stat_aggregate_line_and_ctxt() {
    let t = parse_proc_stat(PROC_STAT).unwrap();
    assert_eq!(t.busy, 8073 + 78475 + 20496 + 170 + 39);
    assert_eq!(t.total, t.busy + 223547 + 1231);
    assert_eq!(t.ctxt, 1_484_978);
}

#[test]
fn proc_stat_errors_name_the_problem() {
    let e = parse_proc_stat("cpu0 1 2 3 4\nctxt 5\n").unwrap_err();
    assert!(e.to_string().contains("no aggregate `cpu` line"), "{e}");
    let e = parse_proc_stat("cpu 1 2 3 4\n").unwrap_err();
    assert!(e.to_string().contains("ctxt"), "{e}");
    let e = parse_proc_stat("cpu 1 x 3 4\nctxt 5\n").unwrap_err();
    assert!(e.to_string().contains("\"x\""), "{e}");
}

#[test]
fn host_rates_from_two_readings() {
    let a = HostTimes {
        busy: 100,
        total: 1000,
        ctxt: 10_000,
    };
    let b = HostTimes {
        busy: 150,
        total: 1200,
        ctxt: 12_000,
    };
    let r = host_rates(a, b, 2.0).unwrap();
    assert!((r.util_pct - 25.0).abs() < 1e-12);
    assert!((r.ctxt_per_s - 1000.0).abs() < 1e-12);
    assert_eq!(host_rates(b, a, 1.0), None);
    assert_eq!(host_rates(a, a, 1.0), None);
}

#[test]
fn pid_stat_counts_fields_after_the_last_parenthesis() {
    let s = parse_pid_stat(PID_STAT_ODD_NAME).unwrap();
    assert_eq!(
        s,
        PidStat {
            pid: 4242,
            ppid: 17,
            utime: 321,
            stime: 45
        }
    );
    let s = parse_pid_stat(PID_STAT).unwrap();
    assert_eq!(
        s,
        PidStat {
            pid: 1,
            ppid: 0,
            utime: 131,
            stime: 654
        }
    );
    assert!(parse_pid_stat("12 (x) S 1 2").is_err());
}

#[test]
fn status_context_switches() {
    assert_eq!(
        parse_status_ctxt(STATUS_TAIL).unwrap(),
        CtxtSwitches {
            voluntary: 361,
            nonvoluntary: 25
        }
    );
    assert!(parse_status_ctxt("Name:\tbash\n").is_err());
}

#[test]
fn cgroup_cpu_stat() {
    let s = parse_cgroup_cpu_stat(CPU_STAT).unwrap();
    assert_eq!(
        s,
        CgroupCpuStat {
            usage_usec: 1_076_235_782,
            user_usec: 868_723_571,
            system_usec: 207_512_210
        }
    );
    assert!(parse_cgroup_cpu_stat("nr_periods 0\n").is_err());
}

#[test]
fn cgroup_paths_and_mounts() {
    assert_eq!(parse_cgroup_v2_path(CGROUP_HYBRID).as_deref(), Some("/"));
    assert_eq!(
        parse_cgroup_v2_path(CGROUP_UNIFIED).as_deref(),
        Some("/system.slice/docker-0123abcd.scope")
    );
    assert_eq!(parse_cgroup_v2_path("1:cpu:/\n"), None);
    assert_eq!(
        parse_cgroup2_mount(MOUNTINFO).as_deref(),
        Some("/sys/fs/cgroup/unified")
    );
    assert_eq!(
        parse_cgroup2_mount("31 25 0:27 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n"),
        None
    );
}

#[test]
fn process_tree() {
    let pairs = [
        (1, 0),
        (10, 1),
        (11, 10),
        (12, 10),
        (13, 11),
        (20, 1),
        (30, 30),
    ];
    assert_eq!(descendants(10, &pairs), vec![10, 11, 12, 13]);
    assert_eq!(descendants(99, &pairs), vec![99]);
    assert_eq!(descendants(30, &pairs), vec![30]);
}

proptest! {
    /// Any counters written in `/proc/stat` form read back exactly.
    #[test]
    fn proc_stat_round_trip(v in proptest::collection::vec(0u64..1u64 << 40, 10), ctxt in 0u64..u64::MAX / 2, cpus in 1usize..4) {
        let mut text = format!("cpu  {}\n", v.iter().map(u64::to_string).collect::<Vec<_>>().join(" "));
        for i in 0..cpus {
            text.push_str(&format!("cpu{i} 1 2 3 4 5 6 7 8 9 10\n"));
        }
        text.push_str(&format!("ctxt {ctxt}\nprocesses 3\n"));
        let t = parse_proc_stat(&text).unwrap();
        let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        prop_assert_eq!(t, HostTimes { busy, total: busy + v[3] + v[4], ctxt });
    }

    /// Whatever the command name (any bytes but NUL and newline), the fields after it are found.
    #[test]
    fn pid_stat_any_name(name in "[^\\x00\\n]{0,15}", pid in 1u32..4_000_000, ppid in 0u32..4_000_000, ut in 0u64..1u64 << 40, st in 0u64..1u64 << 40) {
        let text = format!("{pid} ({name}) R {ppid} 1 1 0 -1 4194304 0 0 0 0 {ut} {st} 0 0 20 0 1 0 5 0 0\n");
        prop_assert_eq!(parse_pid_stat(&text).unwrap(), PidStat { pid, ppid, utime: ut, stime: st });
    }

    /// Utilisation stays within 0–100 % for any pair of increasing readings.
    #[test]
    fn utilisation_is_bounded(b0 in 0u64..1 << 40, i0 in 0u64..1 << 40, db in 0u64..1 << 30, di in 0u64..1 << 30, dt in 0.001f64..100.0) {
        prop_assume!(db + di > 0);
        let a = HostTimes { busy: b0, total: b0 + i0, ctxt: 0 };
        let b = HostTimes { busy: b0 + db, total: b0 + i0 + db + di, ctxt: 7 };
        let r = host_rates(a, b, dt).unwrap();
        prop_assert!((0.0..=100.0).contains(&r.util_pct));
    }

    /// The tree walk returns each reachable pid once, the root first, and never an unrelated pid.
    #[test]
    fn descendants_are_unique_and_reachable(pairs in proptest::collection::vec((1u32..40, 0u32..40), 0..60), root in 0u32..40) {
        let out = descendants(root, &pairs);
        prop_assert_eq!(out[0], root);
        let mut sorted = out.clone();
        sorted.sort_unstable();
        sorted.dedup();
        prop_assert_eq!(sorted.len(), out.len());
        for pid in &out[1..] {
            prop_assert!(pairs.iter().any(|&(p, pp)| p == *pid && out.contains(&pp)));
        }
    }
}
