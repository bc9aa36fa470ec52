//! The guard of one running MPS control daemon: it hands out client settings and guarantees the
//! daemon is stopped on every path.
//!
//! Prefer [`MpsDaemon::shutdown`]. A daemon dropped without it is stopped in `Drop`, which blocks
//! the dropping thread (up to the stop timeout for `quit`, again for the daemon to exit, and
//! again after SIGKILL); inside an async runtime that is a worker thread, so it is a safety net,
//! not the normal path. A failed stop leaves the record in the state directory for
//! [`super::MpsControl::recover`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::control;
use super::error::MpsError;
use super::record::DaemonRecord;
use crate::runtime::MpsClient;
use crate::runtime::process::procfs::ProcFs;

/// A running `nvidia-cuda-mps-control -d` serving one GPU.
#[derive(Debug)]
pub struct MpsDaemon {
    record: DaemonRecord,
    record_path: PathBuf,
    stop_timeout: Duration,
    procfs: ProcFs,
    /// Set once a stop was attempted: `Drop` has nothing left to do.
    stopped: bool,
}

impl MpsDaemon {
    pub(crate) fn new(
        record: DaemonRecord,
        record_path: PathBuf,
        stop_timeout: Duration,
        procfs: ProcFs,
    ) -> Self {
        Self {
            record,
            record_path,
            stop_timeout,
            procfs,
            stopped: false,
        }
    }

    /// The GPU it serves.
    pub fn gpu_uuid(&self) -> &str {
        &self.record.gpu_uuid
    }

    /// `CUDA_MPS_PIPE_DIRECTORY`.
    pub fn pipe_dir(&self) -> &Path {
        &self.record.pipe_dir
    }

    /// `CUDA_MPS_LOG_DIRECTORY`.
    pub fn log_dir(&self) -> &Path {
        &self.record.log_dir
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        self.record.pid
    }

    /// Whether the daemon still runs.
    pub fn is_running(&self) -> bool {
        self.record.is_running(&self.procfs)
    }

    /// The settings a workload needs to be a client of this daemon with
    /// `active_thread_percentage` percent of the SMs ([`crate::runtime::LaunchSpec::mps`]).
    /// Runtimes reject percentages outside 1..=100 at launch.
    pub fn client(&self, active_thread_percentage: u32) -> MpsClient {
        MpsClient {
            pipe_dir: self.record.pipe_dir.to_string_lossy().into_owned(),
            log_dir: self.record.log_dir.to_string_lossy().into_owned(),
            active_thread_percentage,
        }
    }

    /// Stop the daemon: `quit`, wait until it is gone, SIGKILL by pid as a last resort.
    pub async fn shutdown(mut self) -> Result<(), MpsError> {
        self.stopped = true;
        let (record, record_path) = (self.record.clone(), self.record_path.clone());
        let (timeout, procfs) = (self.stop_timeout, self.procfs.clone());
        tokio::task::spawn_blocking(move || {
            control::stop(
                Some(&record.binary),
                &record,
                &record_path,
                timeout,
                &procfs,
            )
        })
        .await
        .map_err(|e| MpsError::io("stopping the MPS daemon", std::io::Error::other(e)))?
        .map(|_| ())
    }
}

impl Drop for MpsDaemon {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Err(e) = control::stop(
            Some(&self.record.binary),
            &self.record,
            &self.record_path,
            self.stop_timeout,
            &self.procfs,
        ) {
            tracing::error!(gpu = %self.record.gpu_uuid, error = %e, "MPS daemon not stopped on drop; recovery at the next start will retry");
        }
    }
}
