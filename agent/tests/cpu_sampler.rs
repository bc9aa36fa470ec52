//! The CPU sampler on this machine, for real: a busy child process must show CPU time and an idle
//! one must not; the host's counters must move. Where the host lets us create a cgroup v2 directory,
//! the busy child is moved into one and measured through `cpu.stat` as well.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use wattsweep_agent::telemetry::cpu::{
    CpuSampler, CpuTimeSource, WorkloadTarget, cgroup_dir_of, parse_cgroup2_mount,
};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn busy() -> Kill {
    Kill(
        Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap(),
    )
}

/// Wait (bounded) until the workload has used `cpu_s` of CPU; the machine is shared, so the busy
/// child may get little CPU, but it gets some.
fn wait_for_cpu(s: &CpuSampler, t: &WorkloadTarget, cpu_s: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = s.workload_counters(t).unwrap();
        if c.cpu_s >= cpu_s || Instant::now() > deadline {
            return c.cpu_s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_busy_child_uses_cpu_and_an_idle_one_does_not() {
    let busy = busy();
    let idle = Kill(Command::new("sleep").arg("60").spawn().unwrap());
    let mut s = CpuSampler::new();
    let busy_t = WorkloadTarget::ProcessTree(busy.0.id());
    let idle_t = WorkloadTarget::ProcessTree(idle.0.id());
    let targets = [busy_t.clone(), idle_t.clone()];
    let first = s.sample(&targets).unwrap();
    assert!(first.host.is_none(), "no rate before a second reading");

    let busy_cpu = wait_for_cpu(&s, &busy_t, 0.2);
    let second = s.sample(&targets).unwrap();
    let idle_c = s.workload_counters(&idle_t).unwrap();
    assert!(
        busy_cpu >= 0.2,
        "busy child used only {busy_cpu} s of CPU in 60 s"
    );
    assert!(
        idle_c.cpu_s < busy_cpu,
        "idle {} s vs busy {busy_cpu} s",
        idle_c.cpu_s
    );
    assert_eq!(idle_c.source, CpuTimeSource::ProcessTree);

    let host = second.host.expect("host rates on the second reading");
    assert!(
        (0.0..=100.0).contains(&host.util_pct) && host.util_pct > 0.0,
        "{host:?}"
    );
    assert!(host.ctxt_per_s > 0.0);
    let (counters, rates) = second.workloads[0].reading.as_ref().unwrap();
    assert!(counters.processes >= 1);
    assert!(rates.unwrap().cpu_pct > 0.0);
    // The sleeping child blocked at least once (voluntary switch) and then stayed asleep.
    assert!(idle_c.ctxt.voluntary >= 1);
}

#[test]
fn a_gone_workload_is_reported_not_fatal() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let mut s = CpuSampler::new();
    let sample = s.sample(&[WorkloadTarget::ProcessTree(pid)]).unwrap();
    let err = sample.workloads[0].reading.as_ref().unwrap_err();
    assert!(err.contains(&pid.to_string()), "{err}");
}

/// A cgroup v2 directory of our own, removed on drop (after its processes are gone).
struct TestCgroup(PathBuf);
impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn cgroup_cpu_stat_counts_a_busy_member() {
    let Some(mount) = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|m| parse_cgroup2_mount(&m))
    else {
        eprintln!("SKIP: no cgroup v2 hierarchy on this host");
        return;
    };
    assert!(cgroup_dir_of(std::process::id()).is_some());
    let dir = PathBuf::from(mount).join(format!("wattsweep-test-{}", std::process::id()));
    if std::fs::create_dir(&dir).is_err() {
        eprintln!("SKIP: cannot create a cgroup under the v2 hierarchy (not root?)");
        return;
    }
    let cg = TestCgroup(dir.clone());
    let child = busy();
    if std::fs::write(dir.join("cgroup.procs"), child.0.id().to_string()).is_err() {
        eprintln!("SKIP: cannot move a process into a new cgroup here");
        return;
    }
    let s = CpuSampler::new();
    let t = WorkloadTarget::Cgroup(dir.clone());
    let used = wait_for_cpu(&s, &t, 0.2);
    let c = s.workload_counters(&t).unwrap();
    assert_eq!(c.source, CpuTimeSource::Cgroup);
    assert_eq!(c.processes, 1);
    assert!(used >= 0.2, "cgroup usage {used} s");
    drop(child);
    drop(cg);
}
