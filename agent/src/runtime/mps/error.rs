//! Errors of the MPS control-daemon manager. Each names the GPU, path or process concerned.

use std::path::PathBuf;
use std::time::Duration;

/// Why an MPS daemon could not be started, stopped or recovered.
#[derive(Debug, thiserror::Error)]
pub enum MpsError {
    /// The control binary is not where it was configured or not on `PATH`.
    #[error(
        "MPS control binary `{name}` not found (searched: {searched}); install the NVIDIA driver \
         utilities or configure the binary's path"
    )]
    BinaryNotFound {
        /// The configured name or path.
        name: String,
        /// Where it was looked for.
        searched: String,
    },
    /// MPS was asked for on a MIG device; wattsweep does not combine MPS with MIG.
    #[error("MPS on a MIG device is not supported ({uuid}); MPS needs a whole GPU")]
    MigDevice {
        /// The MIG device (or GPU) UUID.
        uuid: String,
    },
    /// The binding does not name exactly one whole GPU by UUID.
    #[error("an MPS daemon serves exactly one whole GPU given by UUID: {reason}")]
    InvalidGpu {
        /// What was wrong with the binding.
        reason: String,
    },
    /// The pipe directory is too long for the daemon's UNIX sockets.
    #[error(
        "MPS pipe directory {} is {len} bytes long; at most {max} fit a UNIX socket path \
         (use a shorter agent state directory)", path.display()
    )]
    PathTooLong {
        /// The pipe directory.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A daemon this agent started for the GPU still runs.
    #[error(
        "an MPS control daemon (pid {pid}) already serves {gpu} from {}; stop it or run recovery first",
        pipe_dir.display()
    )]
    AlreadyRunning {
        /// GPU UUID.
        gpu: String,
        /// Its pid.
        pid: i32,
        /// Its pipe directory.
        pipe_dir: PathBuf,
    },
    /// `nvidia-cuda-mps-control -d` failed.
    #[error("starting the MPS control daemon for {gpu} failed: {reason}")]
    StartFailed {
        /// GPU UUID.
        gpu: String,
        /// Why, with the command's output.
        reason: String,
    },
    /// The daemon did not create its control socket and pid file in time.
    #[error(
        "the MPS control daemon for {gpu} was not ready after {waited:?}: no control socket and \
         live pid file in {}", pipe_dir.display()
    )]
    NotReady {
        /// GPU UUID.
        gpu: String,
        /// How long it was given.
        waited: Duration,
        /// Where the socket was expected.
        pipe_dir: PathBuf,
    },
    /// The daemon survived `quit` and SIGKILL.
    #[error("the MPS control daemon for {gpu} (pid {pid}) did not stop: {reason}")]
    StopFailed {
        /// GPU UUID.
        gpu: String,
        /// Its pid.
        pid: i32,
        /// What was tried.
        reason: String,
    },
    /// A daemon record in the state directory is unreadable.
    #[error("MPS daemon record {}: {reason}", path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// Local I/O failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl MpsError {
    /// Whether retrying the same request cannot help (configuration or request errors).
    pub fn is_deterministic(&self) -> bool {
        matches!(
            self,
            MpsError::BinaryNotFound { .. }
                | MpsError::MigDevice { .. }
                | MpsError::InvalidGpu { .. }
                | MpsError::PathTooLong { .. }
        )
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        MpsError::Io {
            what: what.into(),
            source,
        }
    }
}
