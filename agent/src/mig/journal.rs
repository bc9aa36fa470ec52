//! The MIG intent journal: before the agent creates anything on a GPU it writes down the GPU, the
//! instances that existed before (the baseline) and what it is about to create, so that after a
//! crash the next start can destroy exactly what wattsweep created and nothing else. One JSON
//! file per GPU in the agent's state directory, written atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::MigError;
use super::plan::MigState;
use crate::fsio::write_atomic;

/// Version of the journal format.
pub const JOURNAL_VERSION: u32 = 1;
const PREFIX: &str = "mig-journal-gpu";
const SUFFIX: &str = ".json";

/// One GPU's journal entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// Format version ([`JOURNAL_VERSION`]).
    pub version: u32,
    /// GPU index when written.
    pub gpu: u32,
    /// GPU UUID, to find the GPU again if indices change.
    pub gpu_uuid: String,
    /// Instances that existed before: restore leaves (or puts) exactly these.
    pub baseline: MigState,
    /// Everything that should exist once the layout is applied (baseline included).
    pub target: MigState,
    /// The layout as asked, for people reading the file.
    pub layout: String,
    /// When the intent was recorded, ms since the Unix epoch.
    pub written_at_ms: u64,
}

fn journal_error(path: &Path, reason: impl ToString) -> MigError {
    MigError::Journal {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Path of GPU `gpu`'s journal in `dir`.
pub fn journal_path(dir: &Path, gpu: u32) -> PathBuf {
    dir.join(format!("{PREFIX}{gpu}{SUFFIX}"))
}

/// Read a journal; `None` when there is none.
pub fn read(path: &Path) -> Result<Option<Journal>, MigError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(journal_error(path, e)),
    };
    let journal: Journal = serde_json::from_slice(&bytes)
        .map_err(|e| journal_error(path, format!("not a MIG journal: {e}")))?;
    if journal.version != JOURNAL_VERSION {
        return Err(journal_error(
            path,
            format!(
                "format version {} is not the supported version {JOURNAL_VERSION}",
                journal.version
            ),
        ));
    }
    Ok(Some(journal))
}

/// Write a journal atomically (creating the directory if needed).
pub fn write(path: &Path, journal: &Journal) -> Result<(), MigError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| journal_error(dir, e))?;
    }
    let bytes = serde_json::to_vec_pretty(journal).map_err(|e| journal_error(path, e))?;
    write_atomic(path, &bytes).map_err(|e| journal_error(path, e))
}

/// Remove a journal (absent is fine).
pub fn remove(path: &Path) -> Result<(), MigError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(journal_error(path, e)),
    }
}

/// Every journal file in `dir`, sorted (none when the directory does not exist).
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, MigError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(journal_error(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| journal_error(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::mig::plan::{CiKey, GiKey, GiState};

    fn sample() -> Journal {
        Journal {
            version: JOURNAL_VERSION,
            gpu: 3,
            gpu_uuid: "GPU-abc".into(),
            baseline: MigState::default(),
            target: MigState {
                instances: vec![GiState {
                    key: GiKey {
                        profile_id: 9,
                        start: 4,
                    },
                    size: 4,
                    compute_instances: vec![CiKey {
                        profile_id: 2,
                        start: 0,
                    }],
                }],
            },
            layout: "3g.40gb@4".into(),
            written_at_ms: 1,
        }
    }

    #[test]
    fn round_trip_list_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("state");
        let path = journal_path(&state_dir, 3);
        assert_eq!(list(&state_dir).unwrap(), Vec::<PathBuf>::new());
        assert_eq!(read(&path).unwrap(), None);
        write(&path, &sample()).unwrap();
        std::fs::write(state_dir.join("other.json"), b"{}").unwrap();
        assert_eq!(read(&path).unwrap(), Some(sample()));
        assert_eq!(list(&state_dir).unwrap(), vec![path.clone()]);
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert_eq!(read(&path).unwrap(), None);
    }

    #[test]
    fn a_damaged_journal_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path(), 0);
        std::fs::write(&path, b"[1,2").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains("mig-journal-gpu0.json") && err.contains("not a MIG journal"),
            "{err}"
        );
    }
}
