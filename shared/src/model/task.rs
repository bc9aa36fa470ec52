//! One planned unit of work: a configuration run once on one target.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Runtime, Sharing, Timing, WorkloadSpec};

/// A configuration of a sweep: one point of the sweep's parameter space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    /// Stable, human-readable name, unique in the campaign (`time-slicing/burn/c4`).
    pub name: String,
    /// Name of the sweep it comes from.
    pub sweep: String,
    /// How the GPU is shared.
    pub sharing: Sharing,
    /// How workloads are launched.
    pub runtime: Runtime,
    /// Names of the workloads involved (keys of [`TaskSpec::workloads`]).
    pub workloads: Vec<String>,
}

/// One GPU named in a target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GpuRef {
    /// NVML index on the node.
    pub index: u32,
    /// GPU UUID (`GPU-…`); empty while only planned against a hypothetical fleet.
    #[serde(default)]
    pub uuid: String,
    /// Model id (`h100-80gb`) or, for models without a built-in table, the NVML name.
    pub model: String,
}

/// Where a task runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "kebab-case")]
pub enum Target {
    /// One GPU of one node.
    Gpu {
        /// Node id.
        node: String,
        /// The GPU.
        gpu: GpuRef,
    },
    /// Several GPUs of one node, together (they are all held while the task runs).
    Node {
        /// Node id.
        node: String,
        /// The GPUs, in index order.
        gpus: Vec<GpuRef>,
    },
    /// Any one GPU of the given model; the dispatcher picks the node and GPU.
    Any {
        /// Model id every candidate GPU has.
        model: String,
    },
    /// A target this build does not know.
    #[serde(other)]
    Unknown,
}

impl Target {
    /// The GPU model this target runs on (the first GPU's for node targets).
    pub fn model(&self) -> Option<&str> {
        match self {
            Target::Gpu { gpu, .. } => Some(&gpu.model),
            Target::Node { gpus, .. } => gpus.first().map(|g| g.model.as_str()),
            Target::Any { model } => Some(model),
            Target::Unknown => None,
        }
    }

    /// The node id, when the target names one.
    pub fn node(&self) -> Option<&str> {
        match self {
            Target::Gpu { node, .. } | Target::Node { node, .. } => Some(node),
            Target::Any { .. } | Target::Unknown => None,
        }
    }
}

impl fmt::Display for Target {
    /// `node/gpu3`, `node/gpu0,1,2,3`, `any/h100-80gb`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Gpu { node, gpu } => write!(f, "{node}/gpu{}", gpu.index),
            Target::Node { node, gpus } => {
                write!(f, "{node}/gpu")?;
                for (i, g) in gpus.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", g.index)?;
                }
                Ok(())
            }
            Target::Any { model } => write!(f, "any/{model}"),
            Target::Unknown => f.write_str("unknown"),
        }
    }
}

/// A planned task: everything an agent needs to run one configuration once on one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Stable id: UUID v5 of campaign id, configuration, target and repetition.
    pub id: Uuid,
    /// Position in the campaign's run order (0-based).
    pub seq: u32,
    /// Campaign id.
    pub campaign_id: Uuid,
    /// Campaign name.
    pub campaign: String,
    /// The configuration to run.
    pub configuration: Configuration,
    /// Where it runs.
    pub target: Target,
    /// Repetition number, 0-based.
    pub repetition: u32,
    /// Phase durations.
    pub timing: Timing,
    /// The workloads named by the configuration, in full.
    pub workloads: Vec<WorkloadSpec>,
}
