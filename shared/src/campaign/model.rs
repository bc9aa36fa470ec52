//! The validated campaign: every name resolved, every number in range, every layout parsed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::mig::{LayoutSpec, ProfileRef};
use crate::model::{Runtime, Scope, Timing, WorkloadSpec};

/// A campaign ready to plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Campaign name (`[campaign] name`).
    pub name: String,
    /// Runs of every configuration on every target.
    pub repetitions: u32,
    /// Run order.
    pub order: Order,
    /// Seed of the shuffled order.
    pub seed: u64,
    /// Which nodes and GPUs take part.
    pub targets: Targets,
    /// Phase durations.
    pub timing: Timing,
    /// Power budget the fleet envelope is compared with, watts.
    pub power_budget_w: Option<f64>,
    /// Every workload a sweep names, inline or from the catalog.
    pub workloads: BTreeMap<String, WorkloadSpec>,
    /// The sweeps, in file order.
    pub sweeps: Vec<Sweep>,
}

/// Run order of a campaign's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Configurations in file order, repetition by repetition.
    Sequential,
    /// Each repetition is a block whose configurations are shuffled with the campaign's seed, which
    /// spreads thermal drift over the configurations.
    Shuffled,
}

/// `[targets]`: which nodes and GPUs a campaign runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Node-id globs.
    pub nodes: Vec<String>,
    /// NVML-name globs (`*H100*`), matched case-insensitively.
    pub gpu_models: Vec<String>,
    /// Default scope of the sweeps.
    pub scope: Scope,
}

/// One `[[sweep]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// Sweep name, unique in the campaign.
    pub name: String,
    /// Scope (the sweep's own, else the campaign's).
    pub scope: Scope,
    /// How workloads are launched.
    pub runtime: Runtime,
    /// Workloads swept over (each one its own configuration unless `mix`).
    pub workloads: Vec<String>,
    /// Run all `workloads` together in one configuration, instances taking them round-robin.
    pub mix: bool,
    /// The sharing mode and its parameters.
    pub kind: SweepKind,
}

/// A sweep's sharing mode with the values it sweeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "sharing", rename_all = "kebab-case")]
pub enum SweepKind {
    /// `sharing = "exclusive"`.
    Exclusive,
    /// `sharing = "time-slicing"`, `concurrency = [..]`.
    TimeSlicing {
        /// Concurrent instances per GPU.
        concurrency: Vec<u32>,
    },
    /// `sharing = "mps"`, `concurrency = [..]`, `active_thread_percentage = [..]`.
    Mps {
        /// Concurrent MPS clients per GPU.
        concurrency: Vec<u32>,
        /// Active thread percentages swept.
        active_thread_percentage: Vec<u32>,
    },
    /// `sharing = "mig"` with `layouts` (or `gpu_instance` + `compute_instances`, which expand to
    /// layouts such as `7g.80gb(2c x3 + 1c)`).
    MigLayouts {
        /// Layouts swept, in file order.
        layouts: Vec<LayoutEntry>,
        /// Which compute instances run a workload.
        fill: Fill,
        /// Workload instances per loaded compute instance (time-slicing inside a MIG device).
        concurrency: Vec<u32>,
    },
    /// `sharing = "mig"` with `protagonist` and `neighbours`: each protagonist GPU instance alone,
    /// then with neighbours added one by one until no more fit.
    MigNeighbours {
        /// Protagonist GPU-instance profiles.
        protagonists: Vec<ProfileRef>,
        /// Profile of the neighbours.
        neighbour_profile: NeighbourProfile,
        /// Workload the neighbours run.
        neighbour_workload: String,
        /// Stop after this many neighbours (default: as many as fit).
        max_neighbours: Option<u32>,
    },
    /// `sharing = "usage-grid"`: every GPU of a node loaded at one of `levels`.
    UsageGrid {
        /// Load levels, percent.
        levels: Vec<u32>,
        /// Which combinations of levels run.
        design: Design,
    },
}

/// One layout of a MIG sweep, as written and as parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutEntry {
    /// The layout as written in the campaign (used in configuration names).
    pub text: String,
    /// The parsed layout.
    pub spec: LayoutSpec,
}

/// Which compute instances of a MIG layout run a workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fill", content = "workload", rename_all = "kebab-case")]
pub enum Fill {
    /// Every compute instance runs the sweep's workload.
    All,
    /// Only the first compute instance of the first GPU instance runs it.
    First,
    /// The first runs the sweep's workload, every other instance runs this one.
    Neighbours(String),
}

/// Which profile the neighbours of a protagonist use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NeighbourProfile {
    /// The GPU model's smallest GPU-instance profile without media extensions.
    Smallest,
    /// A named profile.
    Profile(ProfileRef),
}

/// Design of a usage grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Design {
    /// Every combination of levels over the node's GPUs (levels^GPUs configurations).
    Full,
    /// A strength-2 covering design: every pair of GPUs is seen at every pair of levels.
    Fractional,
}
