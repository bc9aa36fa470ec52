//! Domain types shared by the planner, the wire protocol, the coordinator and the agent.
//!
//! These are the nouns of a campaign once it has been parsed and planned: what runs (workloads), how the
//! GPU is shared (sharing), where (target), for how long (timing), and what a node has (inventory). They
//! are serialised inside wire messages, so every field added later must be `#[serde(default)]` and
//! never renamed.

mod inventory;
mod sharing;
mod task;
mod timing;
mod workload;

pub use inventory::{GpuInventory, IpmiStatus, NodeInventory};
pub use sharing::{InstanceRole, MigAssignment, Runtime, Scope, Sharing, SharingKind};
pub use task::{Configuration, GpuRef, Target, TaskSpec};
pub use timing::Timing;
pub use workload::{MetricSpec, ReadySpec, SimProfile, WorkloadSpec};
