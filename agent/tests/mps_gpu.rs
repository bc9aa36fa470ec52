//! The REAL `nvidia-cuda-mps-control` on a GPU machine: the daemon starts with its own pipe and
//! log directories, a CUDA client launched through the process runtime with the daemon's client
//! settings is served by an MPS server, and shutdown leaves no daemon or server behind.
//!
//! Ignored by default (the development and CI machines have no NVIDIA driver). On a GPU machine:
//! `WATTSWEEP_TEST_GPU_UUID=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | head -1)
//! WATTSWEEP_TEST_CUDA_CLIENT='python3 -c "import torch; print(torch.ones(8, device=\"cuda\").sum().item())"'
//! cargo test -p wattsweep-agent --test mps_gpu -- --ignored --nocapture`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod process_support;

use std::time::Duration;

use process_support::{all_lines, channel, is_running, spec};
use wattsweep_agent::runtime::mps::{MpsConfig, MpsControl};
use wattsweep_agent::runtime::{GpuBinding, WorkloadHandle, WorkloadRuntime};

/// Pids of running MPS servers (`nvidia-cuda-mps-server`), from /proc.
fn mps_servers() -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("nvidia-cuda-mps-server") && is_running(pid) {
            out.push(pid);
        }
    }
    out
}

#[tokio::test]
#[ignore = "needs an NVIDIA GPU and driver: set WATTSWEEP_TEST_GPU_UUID and run with --ignored"]
async fn real_mps_daemon_serves_a_cuda_client() {
    let uuid = std::env::var("WATTSWEEP_TEST_GPU_UUID")
        .expect("WATTSWEEP_TEST_GPU_UUID names the GPU to test on");
    let state = tempfile::Builder::new()
        .prefix("ws")
        .tempdir_in("/tmp")
        .unwrap();
    let gpu = GpuBinding::Gpus {
        uuids: vec![uuid.clone()],
        indices: vec![],
    };
    let before = mps_servers();
    let control = MpsControl::new(MpsConfig::new(state.path()));
    println!("control binary: {}", control.binary().unwrap().display());
    let daemon = control.start(&gpu).await.unwrap();
    println!(
        "daemon pid {} pipe {} log {}",
        daemon.pid(),
        daemon.pipe_dir().display(),
        daemon.log_dir().display()
    );
    assert!(daemon.is_running());
    assert!(daemon.pipe_dir().join("control").exists());

    if let Ok(client) = std::env::var("WATTSWEEP_TEST_CUDA_CLIENT") {
        let rt = process_support::runtime(state.path());
        let mut sp = spec(0x6905, &["sh", "-c", &client]);
        sp.gpu = gpu.clone();
        sp.mps = Some(daemon.client(50));
        let (tx, mut rx) = channel();
        let mut h = rt.start(&sp, tx).await.unwrap();
        let status = h.wait(Duration::from_secs(300)).await.unwrap();
        for l in all_lines(&mut rx).await {
            println!("client {:?}: {}", l.stream, l.text);
        }
        h.remove().await.unwrap();
        assert!(status.success(), "the CUDA client failed: {status:?}");
        let servers: Vec<i32> = mps_servers()
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        println!("new MPS servers: {servers:?}");
        assert!(
            !servers.is_empty(),
            "the client was served by an MPS server"
        );
        let logs: Vec<String> = std::fs::read_dir(daemon.log_dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        println!("log dir: {logs:?}");
        for f in ["control.log", "server.log"] {
            if let Ok(text) = std::fs::read_to_string(daemon.log_dir().join(f)) {
                println!("--- {f}\n{text}");
            }
        }
    }

    let pid = daemon.pid();
    daemon.shutdown().await.unwrap();
    assert!(!is_running(pid), "the control daemon is gone");
    let left: Vec<i32> = mps_servers()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(left.is_empty(), "MPS servers left behind: {left:?}");
}
