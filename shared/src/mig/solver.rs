//! The deterministic placement solver.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{LayoutSpec, ProfileTable};

/// A layout with every GPU instance and compute instance at a definite place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlacedLayout {
    /// GPU instances ordered by start slot.
    pub instances: Vec<PlacedGi>,
}

/// One placed GPU instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlacedGi {
    /// NVML GPU-instance profile id.
    pub profile_id: u32,
    /// Profile name (`3g.40gb`).
    pub profile: String,
    /// First placement slot.
    pub start: u8,
    /// Slots occupied.
    pub size: u8,
    /// Compute slices of the instance.
    pub compute_slices: u8,
    /// Compute instances, ordered by start.
    pub compute_instances: Vec<PlacedCi>,
}

/// One placed compute instance inside a GPU instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlacedCi {
    /// NVML compute-instance profile id.
    pub profile_id: u32,
    /// Compute slices.
    pub compute_slices: u8,
    /// First compute slice inside the GPU instance.
    pub start: u8,
}

impl fmt::Display for PlacedLayout {
    /// `3g.40gb@0 + 3g.40gb@4`; split instances as `7g.80gb@0(2c@0 + 2c@2 + 2c@4 + 1c@6)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!("MIG helper")
    }
}

/// Why a layout cannot be placed on a GPU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// Placeholder until the MIG engine lands.
    #[error("{0}")]
    Other(String),
}

/// Place `spec` on a GPU with `table`, deterministically (lowest free start slots first, pinned
/// starts honoured), or say precisely why it cannot be placed.
pub fn place(table: &ProfileTable, spec: &LayoutSpec) -> Result<PlacedLayout, PlacementError> {
    let _ = (table, spec);
    todo!("MIG helper")
}
