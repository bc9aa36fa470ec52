//! The MIG manager: puts a GPU into a placed MIG layout and always takes it back out.
//!
//! [`MigManager::apply`] records its intent in an on-disk journal first (the GPU, the instances
//! that existed before — the baseline — and what it will create), then creates the GPU instances at
//! their planned placements, then the compute instances, then checks that what exists is exactly
//! what was asked. Any failure on the way restores the baseline before the error is returned.
//! [`MigManager::restore`] destroys everything not in the baseline (compute instances first) and
//! clears the journal; [`MigManager::recover`] does that at start-up for every journal a crashed run
//! left behind. MIG mode is never changed and GPUs are never reset. What to do is decided by the
//! pure [`plan()`] function; this module only executes it.

mod journal;
mod manager;
pub mod plan;
mod validate;

use std::path::PathBuf;

pub use journal::{JOURNAL_VERSION, Journal, journal_path};
pub use manager::MigManager;
pub use plan::{CiKey, GiKey, GiState, MigState, Step, StepError, plan};
use wattsweep_shared::mig::PlacedLayout;

use crate::gpu::GpuError;

/// How the MIG manager behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigConfig {
    /// Directory of the intent journals (one file per GPU).
    pub state_dir: PathBuf,
    /// Whether wattsweep may change a GPU's MIG mode. Off by default; the manager never changes
    /// MIG mode itself and only uses the flag to explain what to do when MIG is disabled.
    pub allow_mig_mode_change: bool,
}

impl MigConfig {
    /// Journals in `state_dir`, MIG mode changes not allowed.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            allow_mig_mode_change: false,
        }
    }
}

/// One MIG device of an applied layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigDevice {
    /// Index of the GPU instance in the layout's `instances`.
    pub gi_index: usize,
    /// Index of the compute instance in that GPU instance's `compute_instances`.
    pub ci_index: usize,
    /// Driver's GPU-instance id.
    pub gi_id: u32,
    /// Driver's compute-instance id.
    pub ci_id: u32,
    /// MIG device UUID workloads are bound to.
    pub uuid: String,
}

/// A layout that now exists on a GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedLayout {
    /// GPU index.
    pub gpu: u32,
    /// The layout.
    pub layout: PlacedLayout,
    /// One entry per compute instance of the layout, in layout order.
    pub devices: Vec<MigDevice>,
}

impl AppliedLayout {
    /// UUID of the MIG device of compute instance `ci_index` of GPU instance `gi_index`.
    pub fn uuid(&self, gi_index: usize, ci_index: usize) -> Option<&str> {
        self.devices
            .iter()
            .find(|d| d.gi_index == gi_index && d.ci_index == ci_index)
            .map(|d| d.uuid.as_str())
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// GPU index.
    pub gpu: u32,
    /// Steps executed (empty when there was nothing to restore).
    pub steps: Vec<Step>,
    /// Whether a journal was found (false: nothing had been applied).
    pub had_journal: bool,
}

/// What start-up recovery did.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// GPUs restored to their baseline.
    pub restored: Vec<RestoreReport>,
    /// Journals that could not be recovered (left in place for the next try).
    pub failed: Vec<MigError>,
}

impl RecoveryReport {
    /// Whether every journal was recovered.
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Errors of the MIG manager.
#[derive(Debug, thiserror::Error)]
pub enum MigError {
    /// No GPU with this index.
    #[error("no GPU with index {gpu} (the node has {count})")]
    NoSuchGpu {
        /// GPU index.
        gpu: u32,
        /// GPUs the backend reports.
        count: usize,
    },
    /// The GPU cannot do MIG.
    #[error(
        "GPU {gpu} ({name}) does not support MIG; MIG layouts need an A100, H100 or H200 class GPU"
    )]
    NotMigCapable {
        /// GPU index.
        gpu: u32,
        /// Its name.
        name: String,
    },
    /// MIG mode is off and wattsweep may not change it.
    #[error(
        "GPU {gpu}: MIG mode is disabled, and wattsweep does not change MIG mode unless allowed \
         (allow_mig_mode_change = false). Enable it yourself with `nvidia-smi -i {gpu} -mig 1` \
         while the GPU is idle, or set `allow_mig_mode_change = true` in the agent configuration"
    )]
    MigDisabled {
        /// GPU index.
        gpu: u32,
    },
    /// MIG mode is off; changing it is allowed but the manager does not do it.
    #[error(
        "GPU {gpu}: MIG mode is disabled; allow_mig_mode_change is set, but the MIG manager never \
         changes MIG mode itself: enable it with `nvidia-smi -i {gpu} -mig 1` while the GPU is idle"
    )]
    MigModeChangeNotImplemented {
        /// GPU index.
        gpu: u32,
    },
    /// A layout is already applied on the GPU (its journal exists).
    #[error(
        "GPU {gpu} already has a wattsweep MIG layout applied (journal {journal}); restore it before \
         applying another"
    )]
    AlreadyApplied {
        /// GPU index.
        gpu: u32,
        /// The journal file.
        journal: String,
    },
    /// The layout (with the instances that exist) cannot exist on this GPU: the MIG engine's reason.
    /// Nothing was touched.
    #[error("GPU {gpu}: MIG layout {layout} is not valid on this GPU: {reason}")]
    InvalidLayout {
        /// GPU index.
        gpu: u32,
        /// The layout.
        layout: String,
        /// The engine's reason.
        reason: String,
    },
    /// The layout collides with instances that existed before wattsweep touched the GPU.
    #[error(
        "GPU {gpu}: the layout collides with MIG instances that existed before ({baseline}): \
         {detail}; wattsweep never destroys instances it did not create — remove them \
         (`nvidia-smi mig -dci` then `-dgi`) or choose a layout around them"
    )]
    ConflictsWithBaseline {
        /// GPU index.
        gpu: u32,
        /// The instances that existed.
        baseline: String,
        /// Which instance collides with which.
        detail: String,
    },
    /// A driver call failed; the GPU was restored to its baseline.
    #[error("GPU {gpu}: {step} failed: {source}; the GPU was restored to its MIG baseline")]
    Step {
        /// GPU index.
        gpu: u32,
        /// The step that failed.
        step: String,
        /// The driver's error.
        #[source]
        source: GpuError,
    },
    /// After creation, what exists differs from what was asked; the GPU was restored.
    #[error(
        "GPU {gpu}: after applying, the MIG instances are {found}, not the expected {expected}; the \
         GPU was restored to its MIG baseline"
    )]
    VerifyFailed {
        /// GPU index.
        gpu: u32,
        /// What should exist.
        expected: String,
        /// What exists.
        found: String,
    },
    /// Restoring the baseline failed too: the journal is kept for the next recovery.
    #[error("GPU {gpu}: {cause}; then restoring the MIG baseline failed too: {restore}")]
    RestoreFailed {
        /// GPU index.
        gpu: u32,
        /// What failed first.
        cause: Box<MigError>,
        /// Why the restore failed.
        restore: Box<MigError>,
    },
    /// Restoring did not reach the baseline (a step failed or instances differ).
    #[error(
        "GPU {gpu}: restoring the MIG baseline {baseline} failed at `{step}`: {reason}; the journal is kept"
    )]
    Restore {
        /// GPU index.
        gpu: u32,
        /// The baseline.
        baseline: String,
        /// The step (or `verify`).
        step: String,
        /// Why.
        reason: String,
    },
    /// A journal's GPU is not on this node any more.
    #[error(
        "MIG journal {journal} is for GPU {gpu_uuid}, which this node does not have; left in place"
    )]
    GpuGone {
        /// The journal file.
        journal: String,
        /// The GPU's UUID.
        gpu_uuid: String,
    },
    /// The journal could not be read or written.
    #[error("MIG journal {path}: {reason}")]
    Journal {
        /// The file or directory.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A backend call outside a plan step failed.
    #[error(transparent)]
    Backend(#[from] GpuError),
}
