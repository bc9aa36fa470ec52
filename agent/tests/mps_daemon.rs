//! The MPS daemon manager against a FAKE `nvidia-cuda-mps-control` (a shell script written here):
//! `-d` daemonises a `sleep`, writes the pid file and, a moment later, the `control` socket
//! stand-in; a `quit` line on stdin kills the daemon and removes its pid file but, like the real
//! daemon (seen with driver 580 on an H100), leaves `control` behind. Every call logs the
//! environment it saw to `$CUDA_MPS_LOG_DIRECTORY/fake-control.log`.
//!
//! There is no NVIDIA driver on the development machine: the real daemon is exercised on GPU
//! machines, where the same code runs with the binary found on `PATH`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use process_support::{is_running, script};
use wattsweep_agent::runtime::GpuBinding;
use wattsweep_agent::runtime::mps::{MpsConfig, MpsControl, MpsError};

const GPU_A: &str = "GPU-8c0ee3a6-1111-2222-3333-444455556666";
const GPU_B: &str = "GPU-0b1e2d3c-7777-8888-9999-aaaabbbbcccc";
const GPU_C: &str = "GPU-c0c0c0c0-0000-1111-2222-333344445555";

/// The fake control binary; `mode` is `normal`, `ignore-quit`, `never-ready` or `fail`.
fn fake_control(dir: &Path, name: &str, mode: &str) -> PathBuf {
    let body = r#"# Fake nvidia-cuda-mps-control for wattsweep tests.
pipe="$CUDA_MPS_PIPE_DIRECTORY"
log="$CUDA_MPS_LOG_DIRECTORY/fake-control.log"
echo "call=$* gpu=$CUDA_VISIBLE_DEVICES pipe=$CUDA_MPS_PIPE_DIRECTORY log=$CUDA_MPS_LOG_DIRECTORY" >> "$log"
if [ "$1" = "-d" ]; then
    if [ "@MODE@" = fail ]; then echo "no CUDA-capable device is detected" >&2; exit 1; fi
    sleep 1000 </dev/null >/dev/null 2>&1 &
    echo $! > "$pipe/nvidia-cuda-mps-control.pid"
    if [ "@MODE@" != never-ready ]; then
        (sleep 0.2; : > "$pipe/control") </dev/null >/dev/null 2>&1 &
    fi
    exit 0
fi
read cmd
echo "stdin=$cmd" >> "$log"
if [ "$cmd" = quit ] && [ "@MODE@" != ignore-quit ]; then
    kill "$(cat "$pipe/nvidia-cuda-mps-control.pid")"
    rm -f "$pipe/nvidia-cuda-mps-control.pid"
fi"#;
    script(dir, name, &body.replace("@MODE@", mode))
}

fn gpu(uuid: &str) -> GpuBinding {
    GpuBinding::Gpus {
        uuids: vec![uuid.into()],
        indices: vec![0],
    }
}

struct Setup {
    dir: tempfile::TempDir,
    config: MpsConfig,
}

fn setup(mode: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_control(dir.path(), "fake-mps-control", mode);
    let mut config = MpsConfig::new(dir.path().join("state"));
    config.binary = Some(fake);
    config.ready_timeout = Duration::from_secs(20);
    config.stop_timeout = Duration::from_secs(20);
    Setup { dir, config }
}

fn fake_log(state: &Path, uuid: &str) -> String {
    std::fs::read_to_string(state.join("mps").join(uuid).join("log/fake-control.log"))
        .unwrap_or_default()
}

#[tokio::test]
async fn daemon_starts_serves_clients_and_shuts_down() {
    let s = setup("normal");
    let state = s.config.state_dir.clone();
    let control = MpsControl::new(s.config.clone());
    let daemon = control.start(&gpu(GPU_A)).await.unwrap();
    let pid = daemon.pid();
    assert!(is_running(pid) && daemon.is_running());
    assert_eq!(daemon.gpu_uuid(), GPU_A);
    let pipe = state.join("mps").join(GPU_A).join("pipe");
    let log = state.join("mps").join(GPU_A).join("log");
    assert_eq!(daemon.pipe_dir(), pipe);
    assert_eq!(daemon.log_dir(), log);
    assert!(
        pipe.join("control").exists(),
        "ready means the control socket exists"
    );
    assert!(state.join("mps").join(GPU_A).join("daemon.json").exists());

    let client = daemon.client(50);
    assert_eq!(client.pipe_dir, pipe.to_str().unwrap());
    assert_eq!(client.log_dir, log.to_str().unwrap());
    assert_eq!(client.active_thread_percentage, 50);
    assert_eq!(control.client_for(GPU_A, 50).unwrap(), client);

    daemon.shutdown().await.unwrap();
    assert!(!is_running(pid), "the daemon is gone");
    assert!(
        !pipe.join("control").exists(),
        "the stale control socket was cleared"
    );
    assert!(!state.join("mps").join(GPU_A).join("daemon.json").exists());
    let env_line = format!("gpu={GPU_A} pipe={} log={}", pipe.display(), log.display());
    assert_eq!(
        fake_log(&state, GPU_A).lines().collect::<Vec<_>>(),
        vec![
            format!("call=-d {env_line}"),
            format!("call= {env_line}"),
            "stdin=quit".to_string()
        ],
        "start and quit both ran with the GPU's UUID and directories"
    );
    drop(s.dir);
}

#[tokio::test]
async fn dropping_the_guard_stops_the_daemon() {
    let s = setup("normal");
    let control = MpsControl::new(s.config.clone());
    let daemon = control.start(&gpu(GPU_A)).await.unwrap();
    let pid = daemon.pid();
    drop(daemon);
    assert!(!is_running(pid), "Drop stopped the daemon before returning");
    assert!(fake_log(&s.config.state_dir, GPU_A).contains("stdin=quit"));
}

#[tokio::test]
async fn separate_daemons_per_gpu_and_no_second_daemon_for_one_gpu() {
    let s = setup("normal");
    let control = MpsControl::new(s.config.clone());
    let a = control.start(&gpu(GPU_A)).await.unwrap();
    let b = control.start(&gpu(GPU_B)).await.unwrap();
    assert_ne!(a.pid(), b.pid());
    assert_ne!(a.pipe_dir(), b.pipe_dir());
    assert!(fake_log(&s.config.state_dir, GPU_B).contains(&format!("gpu={GPU_B} ")));
    let e = control.start(&gpu(GPU_A)).await.unwrap_err();
    assert!(
        matches!(e, MpsError::AlreadyRunning { pid, .. } if pid == a.pid()),
        "{e}"
    );
    assert!(
        a.is_running(),
        "the refused start left the running daemon alone"
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn recovery_stops_daemons_left_by_a_crashed_agent() {
    let s = setup("normal");
    let state = s.config.state_dir.clone();
    let control = MpsControl::new(s.config.clone());
    // A: left running, its binary still there (stopped with quit).
    let a = control.start(&gpu(GPU_A)).await.unwrap();
    // B: left running, started through a binary that is gone by now (killed by pid).
    let other = fake_control(s.dir.path(), "removed-mps-control", "normal");
    let mut cfg = s.config.clone();
    cfg.binary = Some(other.clone());
    let b = MpsControl::new(cfg).start(&gpu(GPU_B)).await.unwrap();
    // C: its daemon died with the agent; only the record is left.
    let c = control.start(&gpu(GPU_C)).await.unwrap();
    let (pa, pb, pc) = (a.pid(), b.pid(), c.pid());
    // The crash: no guard gets to run.
    std::mem::forget(a);
    std::mem::forget(b);
    std::mem::forget(c);
    std::fs::remove_file(&other).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pc),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(process_support::eventually(|| !is_running(pc)).await);

    let fresh = MpsControl::new(s.config.clone());
    let mut stopped = fresh.recover().await.unwrap();
    stopped.sort();
    let mut want = vec![GPU_A.to_string(), GPU_B.to_string()];
    want.sort();
    assert_eq!(stopped, want);
    assert!(!is_running(pa) && !is_running(pb));
    assert!(fake_log(&state, GPU_A).contains("stdin=quit"));
    assert!(
        !fake_log(&state, GPU_B).contains("stdin="),
        "no quit without a binary"
    );
    for uuid in [GPU_A, GPU_B, GPU_C] {
        assert!(!state.join("mps").join(uuid).join("daemon.json").exists());
    }
    assert!(fresh.recover().await.unwrap().is_empty());
    // The GPUs can be served again.
    fresh
        .start(&gpu(GPU_A))
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_daemon_ignoring_quit_is_killed_by_its_recorded_pid() {
    let mut s = setup("ignore-quit");
    s.config.stop_timeout = Duration::from_millis(300);
    let daemon = MpsControl::new(s.config.clone())
        .start(&gpu(GPU_A))
        .await
        .unwrap();
    let pid = daemon.pid();
    daemon.shutdown().await.unwrap();
    assert!(!is_running(pid));
    assert!(fake_log(&s.config.state_dir, GPU_A).contains("stdin=quit"));
}

#[tokio::test]
async fn a_daemon_that_never_gets_ready_is_reported_and_stopped() {
    let mut s = setup("never-ready");
    s.config.ready_timeout = Duration::from_millis(300);
    let e = MpsControl::new(s.config.clone())
        .start(&gpu(GPU_A))
        .await
        .unwrap_err();
    assert!(matches!(e, MpsError::NotReady { .. }), "{e}");
    assert!(e.to_string().contains("/pipe"), "{e}");
    let log = fake_log(&s.config.state_dir, GPU_A);
    assert!(
        log.contains("stdin=quit"),
        "the half-started daemon was stopped: {log}"
    );
    assert!(
        !s.config
            .state_dir
            .join("mps")
            .join(GPU_A)
            .join("daemon.json")
            .exists()
    );
}

#[tokio::test]
async fn a_failing_start_reports_the_binarys_output() {
    let s = setup("fail");
    let e = MpsControl::new(s.config.clone())
        .start(&gpu(GPU_A))
        .await
        .unwrap_err();
    assert!(matches!(e, MpsError::StartFailed { .. }), "{e}");
    assert!(e.to_string().contains("no CUDA-capable device"), "{e}");
}

#[tokio::test]
async fn mig_devices_and_bad_bindings_are_refused_before_anything_runs() {
    let s = setup("normal");
    let control = MpsControl::new(s.config.clone());
    let mig = GpuBinding::MigDevice {
        uuid: "MIG-4a3b2c1d-0000-1111-2222-333344445555".into(),
        profile: "3g.40gb".into(),
    };
    let e = control.start(&mig).await.unwrap_err();
    assert!(
        matches!(e, MpsError::MigDevice { .. }) && e.is_deterministic(),
        "{e}"
    );
    for b in [
        GpuBinding::None,
        GpuBinding::Gpus {
            uuids: vec![GPU_A.into(), GPU_B.into()],
            indices: vec![0, 1],
        },
    ] {
        let e = control.start(&b).await.unwrap_err();
        assert!(e.is_deterministic(), "{e}");
    }
    assert!(
        !s.config.state_dir.join("mps").exists(),
        "nothing was started"
    );
}

#[tokio::test]
async fn a_missing_binary_is_a_clear_deterministic_error() {
    let s = setup("normal");
    let mut cfg = s.config.clone();
    cfg.binary = Some(s.dir.path().join("absent-mps-control"));
    let e = MpsControl::new(cfg).start(&gpu(GPU_A)).await.unwrap_err();
    assert!(
        matches!(e, MpsError::BinaryNotFound { .. }) && e.is_deterministic(),
        "{e}"
    );
    assert!(e.to_string().contains("absent-mps-control"), "{e}");

    // The default looks on PATH: absent on machines without the NVIDIA driver.
    let default = MpsControl::new(MpsConfig::new(s.dir.path()));
    match default.binary() {
        Err(e) => assert!(e.to_string().contains("nvidia-cuda-mps-control"), "{e}"),
        Ok(p) => assert!(p.ends_with("nvidia-cuda-mps-control"), "{}", p.display()),
    }
}
