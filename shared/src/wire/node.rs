//! The heartbeat an agent writes to the fleet registry.
//!
//! The coordinator learns the fleet from these alone: what each node has (its inventory), whether it
//! is alive (a node is stale after three missed heartbeats), what it runs and whether it is draining.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::WireMessage;
use crate::model::NodeInventory;
use crate::subjects::{self, NodeId, NodeIdError};

/// Heartbeats missed before a node counts as stale (DESIGN.md §2).
pub const STALE_AFTER_MISSED: u32 = 3;

/// An agent's heartbeat, stored under the node id in the `wattsweep_nodes` bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The node's inventory (its `node_id` is the bucket key).
    pub inventory: NodeInventory,
    /// When it was sent, unix milliseconds (agent clock).
    pub at_ms: u64,
    /// Sequence number, increasing with every heartbeat of one agent process.
    pub seq: u64,
    /// Interval at which the agent sends heartbeats, milliseconds.
    pub interval_ms: u64,
    /// Task attempts running now.
    #[serde(default)]
    pub running: Vec<RunningTask>,
    /// The agent takes no new tasks and will stop once its running tasks end.
    #[serde(default)]
    pub draining: bool,
}

impl WireMessage for Heartbeat {
    const KIND: &'static str = "heartbeat";
}

impl Heartbeat {
    /// The node id, validated.
    pub fn node_id(&self) -> Result<NodeId, NodeIdError> {
        NodeId::parse(&self.inventory.node_id)
    }

    /// The key this heartbeat is stored under.
    pub fn key(&self) -> Result<String, NodeIdError> {
        Ok(subjects::node_key(&self.node_id()?))
    }

    /// Whether a node whose last heartbeat is this one is stale at `now_ms`: more than
    /// [`STALE_AFTER_MISSED`] intervals have passed since it was sent.
    pub fn is_stale(&self, now_ms: u64) -> bool {
        let allowed = self
            .interval_ms
            .saturating_mul(u64::from(STALE_AFTER_MISSED));
        now_ms.saturating_sub(self.at_ms) > allowed
    }
}

/// One task attempt a node is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunningTask {
    /// Task id.
    pub task_id: Uuid,
    /// Attempt.
    pub attempt: u32,
}
