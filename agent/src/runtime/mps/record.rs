//! Where a GPU's MPS daemon lives on disk, and the record that lets a restarted agent find and
//! stop a daemon its crashed predecessor left running.
//!
//! Layout under the agent's state directory: `mps/<GPU UUID>/pipe` (`CUDA_MPS_PIPE_DIRECTORY`),
//! `mps/<GPU UUID>/log` (`CUDA_MPS_LOG_DIRECTORY`, kept) and `mps/<GPU UUID>/daemon.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::MpsError;
use crate::fsio::write_atomic;
use crate::runtime::process::procfs::ProcFs;

/// The control socket the daemon creates in its pipe directory.
pub const CONTROL_SOCKET: &str = "control";
/// The pid file the daemon writes in its pipe directory.
pub const PID_FILE: &str = "nvidia-cuda-mps-control.pid";
/// The longest socket name the daemon creates in its pipe directory.
const LONGEST_SOCKET_NAME: &str = "control_privileged";
/// `sun_path` holds 108 bytes including the terminating NUL.
const SUN_PATH_MAX: usize = 107;
/// Longest pipe directory that leaves room for every socket name.
pub const MAX_PIPE_DIR_BYTES: usize = SUN_PATH_MAX - 1 - LONGEST_SOCKET_NAME.len();

/// The directories of one GPU's daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonPaths {
    /// `mps/<uuid>`.
    pub root: PathBuf,
    /// The pipe directory.
    pub pipe_dir: PathBuf,
    /// The log directory.
    pub log_dir: PathBuf,
    /// The record file.
    pub record: PathBuf,
}

impl DaemonPaths {
    /// The paths for `gpu_uuid` under `state_dir` (pure; checks the UUID is a plain name and the
    /// pipe directory fits a socket path).
    pub fn new(state_dir: &Path, gpu_uuid: &str) -> Result<Self, MpsError> {
        let plain = !gpu_uuid.is_empty()
            && gpu_uuid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain {
            return Err(MpsError::InvalidGpu {
                reason: format!(
                    "`{gpu_uuid}` is not a GPU UUID (letters, digits, `-` and `_` only)"
                ),
            });
        }
        let root = state_dir.join("mps").join(gpu_uuid);
        let pipe_dir = root.join("pipe");
        let len = pipe_dir.as_os_str().len();
        if len > MAX_PIPE_DIR_BYTES {
            return Err(MpsError::PathTooLong {
                path: pipe_dir,
                len,
                max: MAX_PIPE_DIR_BYTES,
            });
        }
        Ok(Self {
            log_dir: root.join("log"),
            record: root.join("daemon.json"),
            pipe_dir,
            root,
        })
    }

    /// The control socket.
    pub fn control(&self) -> PathBuf {
        self.pipe_dir.join(CONTROL_SOCKET)
    }

    /// The daemon's pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.pipe_dir.join(PID_FILE)
    }
}

/// A started daemon, as recorded in the state directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonRecord {
    /// The GPU it serves.
    pub gpu_uuid: String,
    /// The daemon's pid (from its pid file).
    pub pid: i32,
    /// Its start time, clock ticks after boot, so a reused pid is never killed.
    pub start_time: u64,
    /// `CUDA_MPS_PIPE_DIRECTORY`.
    pub pipe_dir: PathBuf,
    /// `CUDA_MPS_LOG_DIRECTORY`.
    pub log_dir: PathBuf,
    /// The control binary it was started with (used to send `quit`).
    pub binary: PathBuf,
}

impl DaemonRecord {
    /// Whether the recorded daemon still runs (same pid and start time, not a zombie).
    pub fn is_running(&self, procfs: &ProcFs) -> bool {
        procfs
            .stat(self.pid)
            .is_some_and(|s| s.start_time == self.start_time && !s.is_dead())
    }

    /// Read a record file.
    pub fn load(path: &Path) -> Result<Self, MpsError> {
        let bytes = std::fs::read(path)
            .map_err(|e| MpsError::io(format!("reading {}", path.display()), e))?;
        serde_json::from_slice(&bytes).map_err(|e| MpsError::Record {
            path: path.to_path_buf(),
            reason: format!("not a daemon record: {e}"),
        })
    }

    /// Write it atomically.
    pub fn save(&self, path: &Path) -> Result<(), MpsError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| MpsError::Record {
            path: path.to_path_buf(),
            reason: format!("cannot encode: {e}"),
        })?;
        write_atomic(path, &bytes)
            .map_err(|e| MpsError::io(format!("writing {}", path.display()), e))
    }
}

/// Every record file under `<state_dir>/mps`.
pub fn record_files(state_dir: &Path) -> Result<Vec<PathBuf>, MpsError> {
    let dir = state_dir.join("mps");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(MpsError::io(format!("listing {}", dir.display()), e)),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path().join("daemon.json"))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_per_gpu() {
        let p = DaemonPaths::new(Path::new("/var/lib/ws"), "GPU-1234-abcd").unwrap();
        assert_eq!(p.pipe_dir, Path::new("/var/lib/ws/mps/GPU-1234-abcd/pipe"));
        assert_eq!(p.log_dir, Path::new("/var/lib/ws/mps/GPU-1234-abcd/log"));
        assert_eq!(
            p.control(),
            Path::new("/var/lib/ws/mps/GPU-1234-abcd/pipe/control")
        );
        assert_eq!(
            p.pid_file(),
            Path::new("/var/lib/ws/mps/GPU-1234-abcd/pipe/nvidia-cuda-mps-control.pid")
        );
    }

    #[test]
    fn odd_uuids_and_long_paths_are_refused() {
        for bad in ["", "../etc", "GPU/x", "GPU x"] {
            let e = DaemonPaths::new(Path::new("/s"), bad).unwrap_err();
            assert!(e.is_deterministic(), "{e}");
        }
        let long = Path::new("/").join("d".repeat(60));
        let e = DaemonPaths::new(&long, "GPU-8c0ee3a6-1111-2222-3333-444455556666").unwrap_err();
        assert!(matches!(e, MpsError::PathTooLong { .. }), "{e}");
        assert!(
            e.to_string().contains("shorter agent state directory"),
            "{e}"
        );
    }

    #[test]
    fn records_round_trip_and_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(record_files(dir.path()).unwrap().is_empty());
        let p = DaemonPaths::new(dir.path(), "GPU-a").unwrap();
        std::fs::create_dir_all(&p.root).unwrap();
        let r = DaemonRecord {
            gpu_uuid: "GPU-a".into(),
            pid: 1,
            start_time: u64::MAX,
            pipe_dir: p.pipe_dir.clone(),
            log_dir: p.log_dir.clone(),
            binary: "/bin/x".into(),
        };
        r.save(&p.record).unwrap();
        assert_eq!(record_files(dir.path()).unwrap(), vec![p.record.clone()]);
        assert_eq!(DaemonRecord::load(&p.record).unwrap(), r);
        assert!(
            !r.is_running(&ProcFs::default()),
            "pid 1 started at another time"
        );
        std::fs::write(&p.record, "{").unwrap();
        let e = DaemonRecord::load(&p.record).unwrap_err();
        assert!(e.to_string().contains("daemon.json"), "{e}");
    }
}
