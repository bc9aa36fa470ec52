//! The simulated GPUs' state file: what a real driver keeps across an agent restart (MIG
//! instances, MIG mode, power limits, the energy counter), so that crash recovery can be tested
//! against simulated GPUs exactly as against real ones. JSON, written atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::mig::SimGi;
use crate::fsio::write_atomic;
use crate::gpu::GpuError;

/// Version of the state file format.
pub const STATE_VERSION: u32 = 1;

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimStateFile {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// Node the GPUs belong to.
    pub node_id: String,
    /// When it was written, µs since the epoch (simulated clock).
    pub saved_at_us: u64,
    /// GPUs in index order.
    pub gpus: Vec<SimGpuState>,
}

/// One GPU's persistent state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimGpuState {
    /// GPU index.
    pub index: u32,
    /// GPU UUID.
    pub uuid: String,
    /// Model id.
    pub model: String,
    /// MIG mode enabled.
    pub mig_enabled: bool,
    /// Power limit, W.
    pub power_limit_w: f64,
    /// Energy counter when written, mJ: the counter continues from here after a restart.
    pub energy_mj: u64,
    /// MIG instances.
    pub instances: Vec<SimGi>,
}

fn state_error(path: &Path, reason: impl ToString) -> GpuError {
    GpuError::SimState {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Read a state file; `None` when it does not exist.
pub fn read_state_file(path: &Path) -> Result<Option<SimStateFile>, GpuError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(state_error(path, e)),
    };
    let state: SimStateFile = serde_json::from_slice(&bytes)
        .map_err(|e| state_error(path, format!("not a simulated GPU state file: {e}")))?;
    if state.version != STATE_VERSION {
        return Err(state_error(
            path,
            format!(
                "format version {} is not the supported version {STATE_VERSION}",
                state.version
            ),
        ));
    }
    Ok(Some(state))
}

/// Write a state file atomically.
pub fn write_state_file(path: &Path, state: &SimStateFile) -> Result<(), GpuError> {
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| state_error(path, e))?;
    write_atomic(path, &bytes).map_err(|e| state_error(path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::gpu::sim::mig::SimCi;

    fn sample() -> SimStateFile {
        SimStateFile {
            version: STATE_VERSION,
            node_id: "n1".into(),
            saved_at_us: 42,
            gpus: vec![SimGpuState {
                index: 0,
                uuid: "GPU-x".into(),
                model: "h100-80gb".into(),
                mig_enabled: true,
                power_limit_w: 650.0,
                energy_mj: 123_456,
                instances: vec![SimGi {
                    gi_id: 1,
                    profile_id: 9,
                    start: 4,
                    size: 4,
                    compute_slices: 3,
                    compute_instances: vec![SimCi {
                        ci_id: 0,
                        profile_id: 2,
                        compute_slices: 3,
                        start: 0,
                        uuid: "MIG-y".into(),
                    }],
                }],
            }],
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.json");
        assert_eq!(read_state_file(&path).unwrap(), None);
        write_state_file(&path, &sample()).unwrap();
        assert_eq!(read_state_file(&path).unwrap(), Some(sample()));
    }

    #[test]
    fn garbage_and_other_versions_are_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = read_state_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("sim.json") && err.contains("not a simulated GPU state file"),
            "{err}"
        );
        let mut s = sample();
        s.version = 99;
        write_state_file(&path, &s).unwrap();
        let err = read_state_file(&path).unwrap_err().to_string();
        assert!(err.contains("version 99"), "{err}");
    }
}
