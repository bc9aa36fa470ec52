#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

/// A stat line as the kernel writes it (52 fields).
fn stat_line(pid: i32, comm: &str, state: char, pgrp: i32, t: [u64; 4], start: u64) -> String {
    format!(
        "{pid} ({comm}) {state} 1 {pgrp} {pgrp} 0 -1 4194304 120 0 0 0 {} {} {} {} 20 0 1 0 {start} \
         8192000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0",
        t[0], t[1], t[2], t[3]
    )
}

#[test]
fn parses_a_real_stat_line() {
    let s = parse_stat(
        "1 (process_api) S 0 0 0 0 -1 4194560 197843 83950879 0 30526 243 1290 161577 33573 10 -10 \
         14 0 24 47071232 3538 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 1 0 0 0 0 0 0 \
         0 0 0 0 0 0 0",
    )
    .unwrap();
    assert_eq!(
        s,
        ProcStat {
            pid: 1,
            comm: "process_api".into(),
            state: 'S',
            ppid: 0,
            pgrp: 0,
            session: 0,
            utime: 243,
            stime: 1290,
            cutime: 161577,
            cstime: 33573,
            start_time: 24,
        }
    );
    assert_eq!(s.total_ticks(), 243 + 1290 + 161577 + 33573);
}

#[test]
fn comm_with_spaces_and_parentheses() {
    let s = parse_stat(&stat_line(42, "a) (b c)", 'Z', 40, [1, 2, 3, 4], 99)).unwrap();
    assert_eq!(s.comm, "a) (b c)");
    assert_eq!(s.pgrp, 40);
    assert!(s.is_dead());
    assert_eq!(s.start_time, 99);
}

#[test]
fn truncated_and_garbled_lines_are_errors_naming_the_field() {
    assert_eq!(parse_stat("12 sh S 1"), Err(ProcParseError::NoComm));
    let e = parse_stat("12 (sh) S 1 12 12").unwrap_err();
    assert!(matches!(e, ProcParseError::Missing { .. }), "{e}");
    let e = parse_stat(
        &stat_line(1, "x", 'S', 1, [1, 2, 3, 4], 5).replace(" 20 0 1 0 5 ", " 20 0 1 0 five "),
    )
    .unwrap_err();
    assert_eq!(
        e,
        ProcParseError::Invalid {
            field: 22,
            name: "starttime",
            value: "five".into()
        }
    );
    assert!(e.to_string().contains("starttime"));
}

#[test]
fn negative_child_times_read_as_zero() {
    let line = stat_line(5, "x", 'S', 5, [1, 2, 0, 0], 7).replace(" 1 2 0 0 20 ", " 1 2 -3 -4 20 ");
    let s = parse_stat(&line).unwrap();
    assert_eq!((s.cutime, s.cstime), (0, 0));
}

#[test]
fn context_switches_from_status() {
    let status = "Name:\tsh\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n";
    assert_eq!(parse_ctxt_switches(status), Some(15));
    assert_eq!(parse_ctxt_switches("Name:\tsh\n"), None);
    assert_eq!(
        parse_ctxt_switches("voluntary_ctxt_switches:\t7\n"),
        Some(7)
    );
}

#[test]
fn environ_pairs() {
    assert_eq!(
        parse_environ(b"A=1\0B=x=y\0junk\0=v\0\0"),
        vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
    );
}

#[test]
fn group_usage_sums_own_and_reaped_children_time() {
    let m = |pid, t, cs| MemberSample {
        stat: parse_stat(&stat_line(pid, "w", 'S', 10, t, 1)).unwrap(),
        ctxt_switches: cs,
    };
    let (cpu, cs) = group_usage(
        &[
            m(10, [100, 50, 30, 20], Some(5)),
            m(11, [50, 0, 0, 0], None),
        ],
        100,
    );
    assert!((cpu - 2.5).abs() < 1e-12, "{cpu}");
    assert_eq!(cs, Some(5));
    assert_eq!(group_usage(&[], 100), (0.0, None));
    assert_eq!(group_usage(&[m(10, [0; 4], None)], 100).1, None);
}

/// A fake `/proc` with a group of two (one a zombie with two threads' worth of status) and an
/// unrelated process.
#[test]
fn procfs_finds_group_members_and_their_usage_in_a_fake_tree() {
    let root = tempfile::tempdir().unwrap();
    let write = |pid: i32, line: String, tasks: &[(i32, &str)]| {
        let d = root.path().join(pid.to_string());
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("stat"), line).unwrap();
        fs::write(d.join("status"), "voluntary_ctxt_switches:\t1\n").unwrap();
        for (tid, status) in tasks {
            let t = d.join("task").join(tid.to_string());
            fs::create_dir_all(&t).unwrap();
            fs::write(t.join("status"), status).unwrap();
        }
    };
    write(
        100,
        stat_line(100, "lead er", 'S', 100, [10, 10, 5, 5], 1000),
        &[
            (
                100,
                "voluntary_ctxt_switches:\t4\nnonvoluntary_ctxt_switches:\t1\n",
            ),
            (
                101,
                "voluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t0\n",
            ),
        ],
    );
    write(
        102,
        stat_line(102, "kid", 'Z', 100, [20, 0, 0, 0], 1001),
        &[],
    );
    write(
        200,
        stat_line(200, "other", 'R', 200, [999, 0, 0, 0], 5),
        &[],
    );
    fs::create_dir_all(root.path().join("self")).unwrap();
    fs::write(root.path().join("uptime"), "1 1").unwrap();

    let p = ProcFs::new(root.path());
    let mut members: Vec<i32> = p.group_members(100).iter().map(|s| s.pid).collect();
    members.sort_unstable();
    assert_eq!(members, vec![100, 102]);
    assert_eq!(p.live_group_members(100), vec![100]);
    assert_eq!(p.start_time(102), Some(1001));
    assert_eq!(p.start_time(7), None);
    assert_eq!(p.ctxt_switches(100), Some(15));
    assert_eq!(p.ctxt_switches(102), Some(1), "falls back to status");
    let (cpu, cs) = group_usage(&p.group_samples(100), 100);
    assert!((cpu - 0.5).abs() < 1e-12, "{cpu}");
    assert_eq!(cs, Some(16));
}

#[test]
fn procfs_reads_this_process() {
    let p = ProcFs::default();
    let me = i32::try_from(std::process::id()).unwrap();
    let s = p.stat(me).unwrap();
    assert_eq!(s.pid, me);
    assert!(s.start_time > 0);
    assert!(p.ctxt_switches(me).is_some());
    assert!(clock_ticks_per_second() > 0);
}

proptest! {
    #[test]
    fn stat_round_trips(
        pid in 1i32..i32::MAX,
        comm in "[ -~]{0,15}",
        state in prop::sample::select(vec!['R', 'S', 'D', 'Z', 'T', 't', 'X', 'I']),
        pgrp in 0i32..i32::MAX,
        t in prop::array::uniform4(0u64..u64::MAX / 8),
        start in 0u64..u64::MAX,
    ) {
        let s = parse_stat(&stat_line(pid, &comm, state, pgrp, t, start)).unwrap();
        prop_assert_eq!(s.pid, pid);
        prop_assert_eq!(s.comm, comm);
        prop_assert_eq!(s.state, state);
        prop_assert_eq!(s.pgrp, pgrp);
        prop_assert_eq!([s.utime, s.stime, s.cutime, s.cstime], t);
        prop_assert_eq!(s.start_time, start);
    }

    #[test]
    fn stat_parser_never_panics(text in "\\PC{0,200}") {
        let _ = parse_stat(&text);
    }

    #[test]
    fn status_parser_sums_both_counters(v in 0u64..u64::MAX / 2, n in 0u64..u64::MAX / 2, noise in "[a-z_]{0,10}") {
        let text = format!("{noise}:\tx\nvoluntary_ctxt_switches:\t{v}\nnonvoluntary_ctxt_switches:\t{n}\n");
        prop_assert_eq!(parse_ctxt_switches(&text), Some(v + n));
    }
}
