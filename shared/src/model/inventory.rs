//! What a node has: its GPUs with their MIG tables, its runtimes, its BMC.

use serde::{Deserialize, Serialize};

use super::Runtime;
use crate::mig::{PlacedLayout, ProfileTable};

/// A node's inventory, sent at registration and with every heartbeat.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeInventory {
    /// Node id (unique in the fleet; subject-safe).
    pub node_id: String,
    /// Host name.
    #[serde(default)]
    pub hostname: String,
    /// Agent version.
    #[serde(default)]
    pub agent_version: String,
    /// Logical CPUs.
    #[serde(default)]
    pub cpus: u32,
    /// Host memory, MiB.
    #[serde(default)]
    pub memory_mib: u64,
    /// Runtimes this agent can launch workloads with.
    #[serde(default)]
    pub runtimes: Vec<Runtime>,
    /// Whether the node's BMC answers.
    #[serde(default)]
    pub ipmi: IpmiStatus,
    /// GPUs in NVML index order.
    #[serde(default)]
    pub gpus: Vec<GpuInventory>,
}

/// Whether platform telemetry is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpmiStatus {
    /// No BMC configured or found.
    #[default]
    Absent,
    /// BMC reachable.
    Reachable,
    /// BMC configured but not answering.
    Unreachable,
    /// A status this build does not know.
    #[serde(other)]
    Unknown,
}

/// One GPU of a node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GpuInventory {
    /// NVML index.
    pub index: u32,
    /// GPU UUID.
    pub uuid: String,
    /// NVML name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// wattsweep model id when recognised (`h100-80gb`).
    #[serde(default)]
    pub model_id: Option<String>,
    /// Total memory, MiB.
    #[serde(default)]
    pub memory_mib: u64,
    /// Driver version.
    #[serde(default)]
    pub driver_version: String,
    /// CUDA driver API version (`13.0`).
    #[serde(default)]
    pub cuda_version: String,
    /// Enforced power limit, watts.
    #[serde(default)]
    pub power_limit_w: f64,
    /// The GPU supports MIG.
    #[serde(default)]
    pub mig_capable: bool,
    /// MIG mode is currently enabled.
    #[serde(default)]
    pub mig_enabled: bool,
    /// MIG profile table as the driver reports it (overrides the built-in table).
    #[serde(default)]
    pub profile_table: Option<ProfileTable>,
    /// MIG instances that exist now.
    #[serde(default)]
    pub current_layout: Option<PlacedLayout>,
    /// An MPS control daemon can run for this GPU.
    #[serde(default)]
    pub mps_capable: bool,
    /// This GPU is simulated (never a hidden fallback: always shown).
    #[serde(default)]
    pub simulated: bool,
}

impl GpuInventory {
    /// The model key the planner uses: the model id, or the NVML name for unknown models.
    pub fn model_key(&self) -> &str {
        self.model_id.as_deref().unwrap_or(&self.name)
    }
}
