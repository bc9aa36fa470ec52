//! Errors of the command line, each mapped to the exit code DESIGN.md §5 gives it.

use std::path::PathBuf;
use std::process::ExitCode;

use wattsweep_shared::campaign::LoadError;
use wattsweep_shared::plan::PlanError;

/// Why a command could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The campaign could not be loaded (a file unreadable, or campaign errors with file:line:col).
    #[error("{0}")]
    Load(#[from] LoadError),
    /// An unknown GPU model id.
    #[error("unknown GPU model `{given}`; known models: {known}")]
    UnknownModel {
        /// What was given.
        given: String,
        /// The known ids.
        known: String,
    },
    /// An argument that is syntactically fine but means nothing.
    #[error("{0}")]
    Usage(String),
    /// The planner refused.
    #[error("{0}")]
    Plan(#[from] PlanError),
    /// Writing the output failed (e.g. a closed pipe).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// Whether the output pipe was closed by its reader.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// Exit code: 2 for usage or input errors, 1 for a failure of what was asked.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Read { .. }
            | CliError::Load(_)
            | CliError::UnknownModel { .. }
            | CliError::Usage(_) => ExitCode::from(2),
            CliError::Plan(_) | CliError::Output(_) => ExitCode::from(1),
        }
    }
}
