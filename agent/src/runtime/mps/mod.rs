//! NVIDIA MPS control daemons: one `nvidia-cuda-mps-control -d` per GPU shared through MPS, with
//! its own pipe and log directories under the agent's state directory, so that the agent's MPS
//! configurations never touch (or get confused with) a site-wide daemon in `/tmp/nvidia-mps`.
//!
//! [`MpsControl::start`] launches a daemon with `CUDA_VISIBLE_DEVICES` set to the GPU's UUID and
//! waits (polling, with a deadline) until its control socket and pid file appear;
//! [`MpsDaemon::client`] gives workloads the matching [`MpsClient`] settings; the [`MpsDaemon`]
//! guard stops it (`quit` on the control binary's stdin, then a deadline, then SIGKILL by the
//! recorded pid). Each daemon is recorded in `<state dir>/mps/<GPU>/daemon.json`, and
//! [`MpsControl::recover`] stops daemons a crashed agent left behind. MPS on a MIG device is
//! refused.
//!
//! What the real daemon does (seen with driver 580.159, MPS binary version 13000, on an H100):
//! `-d` returns at once with the pipe directory holding `control`, `control_lock`,
//! `control_privileged`, a `log` FIFO and `nvidia-cuda-mps-control.pid`; the daemon's environment
//! carries our `CUDA_VISIBLE_DEVICES` and directories; a client with
//! `CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=50` is served by an `nvidia-cuda-mps-server` and sees half
//! the SMs; `quit` stops server and daemon within a few tens of ms, removes the pid file and
//! leaves the sockets behind (hence readiness also needs a live pid from the pid file, and stale
//! files are cleared before a start).
//!
//! Tests drive a fake control binary (a shell script that daemonises a `sleep`,
//! `tests/mps_daemon.rs`); the real daemon is exercised on GPU machines only
//! (`tests/mps_gpu.rs`, ignored elsewhere), where the same code runs unchanged.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::GpuBinding;
use super::MpsClient;
use crate::runtime::process::procfs::ProcFs;

mod control;
mod daemon;
pub mod error;
pub mod record;

pub use control::{find_on_path, is_executable};
pub use daemon::MpsDaemon;
pub use error::MpsError;

use record::{DaemonPaths, DaemonRecord};

/// The control binary's name, looked up on `PATH` by default.
pub const CONTROL_BINARY: &str = "nvidia-cuda-mps-control";

/// Settings of the MPS manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpsConfig {
    /// The agent's state directory; daemons live in `mps/<GPU UUID>/` under it. Keep it short:
    /// the pipe directory must fit a UNIX socket path ([`record::MAX_PIPE_DIR_BYTES`]).
    pub state_dir: PathBuf,
    /// The control binary: `None` finds `nvidia-cuda-mps-control` on `PATH`; a bare name is
    /// looked up on `PATH`; a path is used as is.
    pub binary: Option<PathBuf>,
    /// How long the daemon may take to create its control socket.
    pub ready_timeout: Duration,
    /// How long `quit` may take, and again how long the daemon may take to exit (before and
    /// after SIGKILL).
    pub stop_timeout: Duration,
}

impl MpsConfig {
    /// Defaults: the binary from `PATH`, 10 s to become ready, 10 s per stop step.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            binary: None,
            ready_timeout: Duration::from_secs(10),
            stop_timeout: Duration::from_secs(10),
        }
    }
}

/// The GPU an MPS daemon can serve for `binding`: exactly one whole GPU by UUID (pure).
pub fn mps_gpu(binding: &GpuBinding) -> Result<String, MpsError> {
    match binding {
        GpuBinding::MigDevice { uuid, .. } => Err(MpsError::MigDevice { uuid: uuid.clone() }),
        GpuBinding::Gpus { uuids, .. } => match uuids.as_slice() {
            [uuid] if uuid.starts_with("MIG-") => Err(MpsError::MigDevice { uuid: uuid.clone() }),
            [uuid] => Ok(uuid.clone()),
            [] => Err(MpsError::InvalidGpu {
                reason: "the binding has no GPU UUID (indices alone do not identify a GPU)".into(),
            }),
            many => Err(MpsError::InvalidGpu {
                reason: format!(
                    "the binding names {} GPUs ({}); start one daemon per GPU",
                    many.len(),
                    many.join(", ")
                ),
            }),
        },
        GpuBinding::None => Err(MpsError::InvalidGpu {
            reason: "the binding has no GPU".into(),
        }),
    }
}

/// Starts and recovers MPS control daemons.
#[derive(Debug, Clone)]
pub struct MpsControl {
    config: MpsConfig,
    procfs: ProcFs,
}

impl MpsControl {
    /// A manager with `config`; nothing is checked or started yet.
    pub fn new(config: MpsConfig) -> Self {
        Self {
            config,
            procfs: ProcFs::default(),
        }
    }

    /// The control binary this manager would run, resolved against the current `PATH`.
    pub fn binary(&self) -> Result<PathBuf, MpsError> {
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        resolve_binary(self.config.binary.as_deref(), &path_var)
    }

    /// Start a daemon for the GPU of `gpu` (one whole GPU by UUID) and wait until it is ready.
    pub async fn start(&self, gpu: &GpuBinding) -> Result<MpsDaemon, MpsError> {
        let uuid = mps_gpu(gpu)?;
        let paths = DaemonPaths::new(&self.config.state_dir, &uuid)?;
        let binary = self.binary()?;
        let (ready, stop, procfs) = (
            self.config.ready_timeout,
            self.config.stop_timeout,
            self.procfs.clone(),
        );
        let record_path = paths.record.clone();
        let record = tokio::task::spawn_blocking(move || {
            control::start(&binary, &uuid, &paths, ready, stop, &procfs)
        })
        .await
        .map_err(|e| MpsError::io("starting the MPS daemon", std::io::Error::other(e)))??;
        tracing::info!(gpu = %record.gpu_uuid, pid = record.pid, pipe_dir = %record.pipe_dir.display(), "MPS control daemon ready");
        Ok(MpsDaemon::new(
            record,
            record_path,
            self.config.stop_timeout,
            self.procfs.clone(),
        ))
    }

    /// Stop every daemon recorded in the state directory (left by a crashed agent) and drop the
    /// records; returns the GPUs whose daemon was still running. Call at start-up, before
    /// starting daemons. The recorded binary is used for `quit`; where it is gone, the daemon is
    /// killed by its recorded pid (start time checked).
    pub async fn recover(&self) -> Result<Vec<String>, MpsError> {
        let files = record::record_files(&self.config.state_dir)?;
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let (timeout, procfs) = (self.config.stop_timeout, self.procfs.clone());
        tokio::task::spawn_blocking(move || {
            let mut stopped = Vec::new();
            for path in files {
                let record = DaemonRecord::load(&path)?;
                let binary = is_executable(&record.binary).then_some(record.binary.as_path());
                if control::stop(binary, &record, &path, timeout, &procfs)? {
                    tracing::info!(gpu = %record.gpu_uuid, pid = record.pid, "stopped an MPS daemon left by an earlier agent");
                    stopped.push(record.gpu_uuid.clone());
                }
            }
            Ok(stopped)
        })
        .await
        .map_err(|e| MpsError::io("recovering MPS daemons", std::io::Error::other(e)))?
    }

    /// The client settings of the daemon that would serve `gpu_uuid` (for executors that keep
    /// only the UUID).
    pub fn client_for(
        &self,
        gpu_uuid: &str,
        active_thread_percentage: u32,
    ) -> Result<MpsClient, MpsError> {
        let paths = DaemonPaths::new(&self.config.state_dir, gpu_uuid)?;
        Ok(MpsClient {
            pipe_dir: paths.pipe_dir.to_string_lossy().into_owned(),
            log_dir: paths.log_dir.to_string_lossy().into_owned(),
            active_thread_percentage,
        })
    }
}

/// Resolve the configured control binary against a `PATH` value (see [`MpsConfig::binary`]).
pub fn resolve_binary(
    configured: Option<&Path>,
    path_var: &std::ffi::OsStr,
) -> Result<PathBuf, MpsError> {
    let name = configured.unwrap_or(Path::new(CONTROL_BINARY));
    let is_bare_name = name.components().count() == 1 && !name.is_absolute();
    let found = if is_bare_name {
        name.to_str().and_then(|n| find_on_path(n, path_var))
    } else {
        is_executable(name).then(|| name.to_path_buf())
    };
    found.ok_or_else(|| MpsError::BinaryNotFound {
        name: name.display().to_string(),
        searched: if is_bare_name {
            format!("PATH={}", OsString::from(path_var).to_string_lossy())
        } else {
            "that path".into()
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn mps_serves_exactly_one_whole_gpu() {
        let gpus = |u: &[&str]| GpuBinding::Gpus {
            uuids: u.iter().map(|s| s.to_string()).collect(),
            indices: vec![],
        };
        assert_eq!(mps_gpu(&gpus(&["GPU-a"])).unwrap(), "GPU-a");
        let mig = GpuBinding::MigDevice {
            uuid: "MIG-1".into(),
            profile: "1g.10gb".into(),
        };
        for (b, needle) in [
            (mig, "MIG-1"),
            (gpus(&["MIG-2"]), "MIG-2"),
            (gpus(&[]), "no GPU UUID"),
            (gpus(&["GPU-a", "GPU-b"]), "one daemon per GPU"),
            (GpuBinding::None, "no GPU"),
        ] {
            let e = mps_gpu(&b).unwrap_err();
            assert!(e.is_deterministic(), "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
        assert!(matches!(
            mps_gpu(&gpus(&["MIG-2"])),
            Err(MpsError::MigDevice { .. })
        ));
    }

    #[test]
    fn binary_resolution_names_what_was_searched() {
        let empty = std::ffi::OsStr::new("/nonexistent-dir");
        let e = resolve_binary(None, empty).unwrap_err();
        assert!(e.is_deterministic());
        let msg = e.to_string();
        assert!(
            msg.contains(CONTROL_BINARY) && msg.contains("PATH=/nonexistent-dir"),
            "{msg}"
        );
        let e = resolve_binary(Some(Path::new("/no/such/mps-control")), empty).unwrap_err();
        assert!(e.to_string().contains("/no/such/mps-control"), "{e}");
        assert_eq!(
            resolve_binary(Some(Path::new("sh")), std::ffi::OsStr::new("/bin:/usr/bin"))
                .unwrap()
                .file_name(),
            Some(std::ffi::OsStr::new("sh"))
        );
        assert_eq!(
            resolve_binary(Some(Path::new("/bin/sh")), empty).unwrap(),
            Path::new("/bin/sh")
        );
    }

    #[test]
    fn client_settings_follow_the_layout() {
        let c = MpsControl::new(MpsConfig::new("/s"));
        let client = c.client_for("GPU-a", 40).unwrap();
        assert_eq!(client.pipe_dir, "/s/mps/GPU-a/pipe");
        assert_eq!(client.log_dir, "/s/mps/GPU-a/log");
        assert_eq!(client.active_thread_percentage, 40);
    }
}
