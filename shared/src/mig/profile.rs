//! MIG profile tables: which GPU-instance and compute-instance profiles a GPU model offers and where
//! each may be placed.

use serde::{Deserialize, Serialize};

/// Where a profile table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableSource {
    /// wattsweep's built-in table, from NVIDIA's MIG user guide.
    #[default]
    BuiltIn,
    /// Read from the driver through NVML at run time.
    Driver,
    /// A source this build does not know.
    #[serde(other)]
    Unknown,
}

/// The MIG profiles of one GPU model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileTable {
    /// Model id (`h100-80gb`) or the NVML name for driver-read tables of unknown models.
    pub model: String,
    /// Placement slots (memory slices) of the whole GPU: 8 on A100/H100/H200.
    pub memory_slices: u8,
    /// Compute slices of the whole GPU: 7 on A100/H100/H200.
    pub compute_slices: u8,
    /// GPU-instance profiles, ordered by profile id.
    pub gpu_instance_profiles: Vec<GiProfile>,
    /// Where the table came from.
    #[serde(default)]
    pub source: TableSource,
}

/// A GPU-instance profile (`3g.40gb`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GiProfile {
    /// NVML profile id (`NVML_GPU_INSTANCE_PROFILE_*` value as `nvidia-smi mig -lgip` shows it).
    pub id: u32,
    /// Name as the driver prints it (`3g.40gb`, `1g.10gb+me`).
    pub name: String,
    /// Compute slices (the `Ng` part).
    pub compute_slices: u8,
    /// Placement slots one instance occupies (`nvidia-smi mig -lgipp` `:size`).
    pub placement_size: u8,
    /// Memory of one instance, MiB.
    pub memory_mib: u64,
    /// Most instances of this profile that can exist at once.
    pub max_count: u8,
    /// Allowed start slots (`nvidia-smi mig -lgipp` `{…}`).
    pub placements: Vec<u8>,
    /// Media engines (decoders, JPEG, OFA) included: the `+me` profiles.
    #[serde(default)]
    pub media_extensions: bool,
    /// Compute-instance profiles available inside one instance of this profile.
    #[serde(default)]
    pub compute_instance_profiles: Vec<CiProfile>,
}

/// A compute-instance profile inside a GPU instance (`2c.7g.80gb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiProfile {
    /// NVML compute-instance profile id.
    pub id: u32,
    /// Compute slices (the `Nc` part).
    pub compute_slices: u8,
    /// Most instances of this profile inside one GPU instance.
    pub max_count: u8,
    /// Allowed start compute slices inside the GPU instance.
    pub placements: Vec<u8>,
}
