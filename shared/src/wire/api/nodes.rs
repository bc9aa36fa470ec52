//! The nodes endpoint: the fleet as the coordinator sees it.

use serde::{Deserialize, Serialize};

use super::{ApiReply, ApiRequest};
use crate::model::NodeInventory;
use crate::subjects::ApiEndpoint;
use crate::wire::{RunningTask, WireMessage};

/// Ask for the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodesRequest {}

impl WireMessage for NodesRequest {
    const KIND: &'static str = "api.nodes.request";
}

impl ApiRequest for NodesRequest {
    const ENDPOINT: ApiEndpoint = ApiEndpoint::Nodes;
    type Reply = NodesReply;
}

/// Every registered node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeList {
    /// Nodes ordered by id.
    #[serde(default)]
    pub nodes: Vec<NodeEntry>,
}

/// Reply to [`NodesRequest`].
pub type NodesReply = ApiReply<NodeList>;

impl WireMessage for NodesReply {
    const KIND: &'static str = "api.nodes.reply";
}

/// One node of the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Its inventory, from its latest heartbeat.
    pub inventory: NodeInventory,
    /// When its latest heartbeat was sent, unix milliseconds.
    pub last_seen_ms: u64,
    /// It missed too many heartbeats to be given tasks.
    pub stale: bool,
    /// It takes no new tasks.
    #[serde(default)]
    pub draining: bool,
    /// Task attempts it runs.
    #[serde(default)]
    pub running: Vec<RunningTask>,
}
