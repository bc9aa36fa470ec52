//! How a GPU is shared during a task, which runtime launches the workloads, and what a task targets.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::mig::PlacedLayout;

/// The sharing mode of a sweep, without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SharingKind {
    /// One workload owns the GPU.
    Exclusive,
    /// N workloads share the GPU (or a MIG device) through the driver's time-slicing.
    TimeSlicing,
    /// N workloads share the GPU through an MPS control daemon.
    Mps,
    /// The GPU is partitioned into MIG instances.
    Mig,
    /// Every GPU of a node is loaded at a chosen level (passthrough experiment).
    UsageGrid,
}

impl SharingKind {
    /// Every kind, in the order the campaign reference lists them.
    pub const ALL: [SharingKind; 5] = [
        SharingKind::Exclusive,
        SharingKind::TimeSlicing,
        SharingKind::Mps,
        SharingKind::Mig,
        SharingKind::UsageGrid,
    ];

    /// The name used in campaign files.
    pub fn as_str(self) -> &'static str {
        match self {
            SharingKind::Exclusive => "exclusive",
            SharingKind::TimeSlicing => "time-slicing",
            SharingKind::Mps => "mps",
            SharingKind::Mig => "mig",
            SharingKind::UsageGrid => "usage-grid",
        }
    }
}

impl fmt::Display for SharingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sharing configuration with its parameters, as a task carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Sharing {
    /// One workload instance owns each target GPU.
    Exclusive,
    /// `concurrency` instances run at once on each target GPU.
    TimeSlicing {
        /// Number of concurrent workload instances.
        concurrency: u32,
    },
    /// `concurrency` MPS clients, each limited to `active_thread_percentage` of the SMs.
    Mps {
        /// Number of concurrent MPS clients.
        concurrency: u32,
        /// `CUDA_MPS_ACTIVE_THREAD_PERCENTAGE` given to every client.
        active_thread_percentage: u32,
    },
    /// A MIG layout, placed, and which workload runs on which compute instance.
    Mig {
        /// The placed layout the agent creates.
        layout: PlacedLayout,
        /// One entry per compute instance that runs a workload.
        assignments: Vec<MigAssignment>,
    },
    /// Each GPU of the target runs a duty-cycled load at the given percentage (same order as the
    /// target's GPUs).
    UsageGrid {
        /// Load level per target GPU, percent.
        levels: Vec<u32>,
    },
    /// A mode this build does not know (sent by a newer coordinator).
    #[serde(other)]
    Unknown,
}

impl Sharing {
    /// The kind of this configuration.
    pub fn kind(&self) -> Option<SharingKind> {
        match self {
            Sharing::Exclusive => Some(SharingKind::Exclusive),
            Sharing::TimeSlicing { .. } => Some(SharingKind::TimeSlicing),
            Sharing::Mps { .. } => Some(SharingKind::Mps),
            Sharing::Mig { .. } => Some(SharingKind::Mig),
            Sharing::UsageGrid { .. } => Some(SharingKind::UsageGrid),
            Sharing::Unknown => None,
        }
    }
}

/// Which workload runs on one MIG compute instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigAssignment {
    /// Index of the GPU instance in [`PlacedLayout::instances`].
    pub gpu_instance: u32,
    /// Index of the compute instance inside that GPU instance.
    pub compute_instance: u32,
    /// Workload name (a key of the task's workloads).
    pub workload: String,
    /// Why this instance is loaded.
    pub role: InstanceRole,
}

/// The part a loaded MIG instance plays in the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceRole {
    /// The instance under study.
    Protagonist,
    /// An instance loaded to disturb the protagonist.
    Neighbour,
    /// An instance loaded because the layout is filled.
    Fill,
    /// A role this build does not know.
    #[serde(other)]
    Unknown,
}

/// How workloads are launched on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// Containers through the Docker engine.
    Docker,
    /// Pods/Jobs through the Kubernetes API.
    Kubernetes,
    /// Plain child processes.
    Process,
    /// A runtime this build does not know.
    #[serde(other)]
    Unknown,
}

impl Runtime {
    /// Every known runtime.
    pub const ALL: [Runtime; 3] = [Runtime::Docker, Runtime::Kubernetes, Runtime::Process];

    /// The name used in campaign files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Kubernetes => "kubernetes",
            Runtime::Process => "process",
            Runtime::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one configuration runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Each matching GPU runs the configuration on its own.
    Gpu,
    /// All matching GPUs of a node run it together (platform envelope).
    Node,
    /// Once, on any one matching GPU.
    Any,
}

impl Scope {
    /// The name used in campaign files.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Gpu => "gpu",
            Scope::Node => "node",
            Scope::Any => "any",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
