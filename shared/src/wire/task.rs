//! The task message a coordinator publishes on a node's queue.
//!
//! It is self-contained: an agent runs the task from this message alone (workloads, sharing, timing,
//! target), without reading campaign state, so a restarted or newly added agent needs nothing else.
//! The attempt number and lease let the coordinator fence a late result from an attempt it has
//! already given up on.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::WireMessage;
use crate::model::{GpuRef, Target, TaskSpec};
use crate::subjects::{self, NodeId, NodeIdError, TaskSlot};

/// A task as published on `wattsweep.v1.task.<node>.<slot>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMessage {
    /// The planned task.
    pub spec: TaskSpec,
    /// Attempt number, 1 for the first delivery; a redispatch after a lost lease increments it.
    pub attempt: u32,
    /// The terms the agent holds the task under.
    pub lease: Lease,
    /// For scope `any`: the node and GPU the dispatcher chose. Absent for `gpu` and `node` targets,
    /// which name their GPUs themselves.
    #[serde(default)]
    pub assigned: Option<AssignedGpu>,
}

impl WireMessage for TaskMessage {
    const KIND: &'static str = "task";
}

/// The terms under which an agent holds a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// JetStream `ack_wait` of the node's consumer, seconds: without a progress ack in this time the
    /// task is redelivered.
    pub ack_wait_s: u32,
    /// When the coordinator issued this attempt, unix milliseconds.
    pub issued_at_ms: u64,
    /// How often the agent sends progress acks while the task runs, seconds (below `ack_wait_s`).
    #[serde(default)]
    pub progress_every_s: u32,
    /// After this time (unix milliseconds) the coordinator treats the attempt as lost even if progress
    /// acks still arrive: the longest the task can take plus slack.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

/// The GPU a dispatcher chose for an `any` task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedGpu {
    /// The node.
    pub node: NodeId,
    /// The GPU on that node.
    pub gpu: GpuRef,
}

/// Why a task message cannot be routed to a queue subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The target names a node id that is not subject-safe.
    #[error("task {task_id}: {source}")]
    InvalidNode {
        /// The task.
        task_id: Uuid,
        /// Why the node id was rejected.
        source: NodeIdError,
    },
    /// An `any` task has not been assigned a GPU yet.
    #[error("task {task_id} targets any `{model}` GPU and has not been assigned one")]
    Unassigned {
        /// The task.
        task_id: Uuid,
        /// The GPU model it needs.
        model: String,
    },
    /// The target is of a kind this build does not know.
    #[error("task {task_id} has a target this build does not know")]
    UnknownTarget {
        /// The task.
        task_id: Uuid,
    },
}

impl TaskMessage {
    /// The node and queue slot this message belongs on.
    pub fn route(&self) -> Result<(NodeId, TaskSlot), RouteError> {
        let task_id = self.spec.id;
        let parse = |node: &str| {
            NodeId::parse(node).map_err(|source| RouteError::InvalidNode { task_id, source })
        };
        match &self.spec.target {
            Target::Gpu { node, gpu } => Ok((parse(node)?, TaskSlot::Gpu(gpu.index))),
            Target::Node { node, .. } => Ok((parse(node)?, TaskSlot::Node)),
            Target::Any { model } => match &self.assigned {
                Some(a) => Ok((a.node.clone(), TaskSlot::Gpu(a.gpu.index))),
                None => Err(RouteError::Unassigned {
                    task_id,
                    model: model.clone(),
                }),
            },
            Target::Unknown => Err(RouteError::UnknownTarget { task_id }),
        }
    }

    /// The subject this message is published on ([`subjects::task_subject`] of [`Self::route`]).
    pub fn subject(&self) -> Result<String, RouteError> {
        let (node, slot) = self.route()?;
        Ok(subjects::task_subject(&node, slot))
    }
}
