//! End to end crash recovery: a child process applies a MIG layout on simulated GPUs (state file and
//! journal in a temporary directory) and is killed with SIGKILL while the layout is applied; a fresh
//! instance on the same directories then recovers, and the simulated GPU holds no instance.
//!
//! The child is this test binary itself, re-run on the ignored test `crash_child`, so no extra
//! binary has to be built or installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use wattsweep_agent::gpu::GpuBackend;
use wattsweep_agent::gpu::sim::{ManualClock, SimConfig, SimulatedGpus, read_state_file};
use wattsweep_agent::mig::{MigConfig, MigManager, journal_path};
use wattsweep_shared::mig::{builtin_table, parse_layout, place};

const CHILD_DIR_ENV: &str = "WATTSWEEP_TEST_MIG_CRASH_DIR";
const LAYOUT: &str = "4g.40gb + 2g.20gb + 1g.10gb(1c)";

fn sim_config(dir: &Path) -> SimConfig {
    SimConfig::new("crash-node", "h100-80gb", 2).with_state_file(dir.join("sim-state.json"))
}

fn state_dir(dir: &Path) -> PathBuf {
    dir.join("agent-state")
}

#[test]
#[ignore = "the child process of crash_while_applied_then_recover; run by it"]
fn crash_child() {
    let dir = PathBuf::from(std::env::var(CHILD_DIR_ENV).expect("run by the parent test"));
    let gpus = SimulatedGpus::new(sim_config(&dir), Arc::new(ManualClock::default())).unwrap();
    let mgr = MigManager::new(&gpus, MigConfig::new(state_dir(&dir)));
    let table = builtin_table("h100-80gb").unwrap();
    let layout = place(&table, &parse_layout(LAYOUT).unwrap()).unwrap();
    let applied = mgr.apply(1, &layout).unwrap();
    let mut out = std::io::stdout();
    // On a line of its own: the test harness has already printed `test crash_child ... `.
    writeln!(out, "\nAPPLIED {}", applied.devices.len()).unwrap();
    out.flush().unwrap();
    // Hold the layout until killed (or until the parent goes away).
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn crash_while_applied_then_recover() {
    let dir = tempfile::tempdir().unwrap();
    // The child's stderr goes to a file: a pipe nobody reads could fill and block the child before it
    // reports, which would hang this test.
    let stderr_path = dir.path().join("child.stderr");
    let stderr_file = std::fs::File::create(&stderr_path).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr_file))
        .spawn()
        .unwrap();
    // Read the child's stdout on a thread so that waiting for its report has a deadline.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some((_, n)) = line.trim().split_once("APPLIED ")
                && let Ok(n) = n.parse::<usize>()
            {
                let _ = tx.send(n);
                return;
            }
            line.clear();
        }
    });
    let applied = rx.recv_timeout(std::time::Duration::from_secs(120)).ok();
    let Some(devices) = applied else {
        let _ = child.kill();
        let _ = child.wait();
        let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        panic!("the child did not report an applied layout within 120 s: {err}");
    };
    assert_eq!(devices, 3);

    // While the child holds the layout, the state on disk shows it and the journal exists.
    let saved = read_state_file(&dir.path().join("sim-state.json"))
        .unwrap()
        .unwrap();
    assert_eq!(saved.gpus[1].instances.len(), 3);
    assert!(journal_path(&state_dir(dir.path()), 1).exists());

    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");

    // A fresh start on the same directories: the instances survived the crash, recovery removes
    // them.
    let gpus =
        SimulatedGpus::new(sim_config(dir.path()), Arc::new(ManualClock::default())).unwrap();
    assert_eq!(gpus.mig_instances(1).unwrap().len(), 3);
    let mgr = MigManager::new(&gpus, MigConfig::new(state_dir(dir.path())));
    let report = mgr.recover().unwrap();
    assert!(report.is_clean(), "{:?}", report.failed);
    assert_eq!(report.restored.len(), 1);
    assert_eq!(report.restored[0].gpu, 1);
    assert!(gpus.mig_instances(1).unwrap().is_empty());
    assert!(!journal_path(&state_dir(dir.path()), 1).exists());

    let saved = read_state_file(&dir.path().join("sim-state.json"))
        .unwrap()
        .unwrap();
    assert!(
        saved.gpus.iter().all(|g| g.instances.is_empty()),
        "state file still lists instances: {saved:?}"
    );
}
