//! Every NATS subject, stream, consumer, bucket, key and queue-group name wattsweep uses.
//!
//! Names are a contract between the coordinator, the agents and any operator tooling (DESIGN.md §2), so
//! they are built in this one module and nowhere else: a typo elsewhere would silently route messages
//! into the void. Node ids become subject tokens, consumer names and KV keys, so they are validated
//! once, by [`NodeId::parse`], and every function here takes the validated [`NodeId`]. Campaign and
//! task ids are UUIDs, whose hyphenated text is always a valid single token.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The prefix of every subject, without its trailing dot.
pub const PREFIX: &str = "wattsweep.v1";

/// Stream holding the task queue (work-queue retention, file storage).
pub const TASKS_STREAM: &str = "WATTSWEEP_TASKS";
/// Stream holding task events (claimed, started, phase, progress, finished, failed).
pub const EVENTS_STREAM: &str = "WATTSWEEP_EVENTS";
/// Stream holding task results (limits retention, deduplicated by [`result_msg_id`]).
pub const RESULTS_STREAM: &str = "WATTSWEEP_RESULTS";

/// KV bucket of the fleet registry; key = node id ([`node_key`]).
pub const NODES_BUCKET: &str = "wattsweep_nodes";
/// KV bucket of campaign state; key = campaign id ([`campaign_key`]).
pub const CAMPAIGNS_BUCKET: &str = "wattsweep_campaigns";

/// Queue group every coordinator instance serves the API in, so each request is answered once.
pub const API_QUEUE_GROUP: &str = "wattsweep-coordinators";

/// Header carrying JetStream's deduplication id.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// The token after the node id in the subject of a task that holds several GPUs of the node.
pub const NODE_SLOT_TOKEN: &str = "node";

/// Longest accepted node id. A durable consumer's name (`node-<id>`) becomes a directory name on the
/// server's file storage, so the id must stay well below the usual 255-byte file-name limit.
pub const NODE_ID_MAX_LEN: usize = 128;

/// A node id that is safe as a subject token, a consumer-name suffix and a KV key.
///
/// Accepted: 1 to [`NODE_ID_MAX_LEN`] characters, each an ASCII letter, digit, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

/// Why a text is not a valid node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeIdError {
    /// The id is empty.
    #[error("invalid node id: it is empty; use 1 to {NODE_ID_MAX_LEN} of A-Z a-z 0-9 _ -")]
    Empty,
    /// The id is longer than [`NODE_ID_MAX_LEN`].
    #[error(
        "invalid node id `{id}`: {len} characters, at most {NODE_ID_MAX_LEN} are allowed \
         (it becomes a file name on the NATS server)"
    )]
    TooLong {
        /// The rejected id.
        id: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The id contains a character outside `[A-Za-z0-9_-]`.
    #[error(
        "invalid node id `{id}`: character {ch:?} at byte {position} is not allowed{}; \
         node ids may contain only A-Z a-z 0-9 _ -",
        why_forbidden(*.ch)
    )]
    InvalidChar {
        /// The rejected id.
        id: String,
        /// The first offending character.
        ch: char,
        /// Its byte offset in `id`.
        position: usize,
    },
}

/// The special meaning of a forbidden character, for the error message.
fn why_forbidden(ch: char) -> &'static str {
    match ch {
        '.' => " (`.` separates subject tokens)",
        '*' | '>' => " (it is a subject wildcard)",
        c if c.is_whitespace() => " (whitespace ends a subject)",
        _ => "",
    }
}

impl NodeId {
    /// Validate `text` as a node id.
    pub fn parse(text: &str) -> Result<Self, NodeIdError> {
        if text.is_empty() {
            return Err(NodeIdError::Empty);
        }
        if let Some((position, ch)) = text
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(NodeIdError::InvalidChar {
                id: text.to_owned(),
                ch,
                position,
            });
        }
        if text.len() > NODE_ID_MAX_LEN {
            return Err(NodeIdError::TooLong {
                id: text.to_owned(),
                len: text.len(),
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for NodeId {
    type Error = NodeIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NodeId> for String {
    fn from(value: NodeId) -> Self {
        value.0
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Which queue of a node a task is published on: one GPU's, or the node-wide one for tasks that
/// hold several GPUs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskSlot {
    /// The GPU with this NVML index.
    Gpu(u32),
    /// Several GPUs of the node together (scope `node`).
    Node,
}

/// Subjects the task stream is created with.
///
/// `>` rather than `*.*` so that every per-node consumer filter (`…task.<node>.>`) is a subset of the
/// stream's subjects under any server's subset rule.
pub fn tasks_stream_subjects() -> Vec<String> {
    vec![format!("{PREFIX}.task.>")]
}

/// Subject of a task for one slot of a node: `wattsweep.v1.task.<node>.<gpu-index>` or
/// `wattsweep.v1.task.<node>.node`.
pub fn task_subject(node: &NodeId, slot: TaskSlot) -> String {
    match slot {
        TaskSlot::Gpu(index) => format!("{PREFIX}.task.{node}.{index}"),
        TaskSlot::Node => format!("{PREFIX}.task.{node}.{NODE_SLOT_TOKEN}"),
    }
}

/// Why a subject is not a task subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskSubjectError {
    /// The subject does not have the shape `wattsweep.v1.task.<node>.<slot>`.
    #[error(
        "`{subject}` is not a task subject: expected {PREFIX}.task.<node>.<gpu-index> or \
         {PREFIX}.task.<node>.{NODE_SLOT_TOKEN}"
    )]
    Shape {
        /// The subject.
        subject: String,
    },
    /// The node token is not a valid node id.
    #[error("task subject `{subject}`: {source}")]
    Node {
        /// The subject.
        subject: String,
        /// Why the node token was rejected.
        source: NodeIdError,
    },
}

/// Split a task subject into its node and slot (the inverse of [`task_subject`]).
pub fn parse_task_subject(subject: &str) -> Result<(NodeId, TaskSlot), TaskSubjectError> {
    let shape = || TaskSubjectError::Shape {
        subject: subject.to_owned(),
    };
    let rest = subject
        .strip_prefix(PREFIX)
        .and_then(|r| r.strip_prefix(".task."))
        .ok_or_else(shape)?;
    let (node, slot) = rest.split_once('.').ok_or_else(shape)?;
    let node = NodeId::parse(node).map_err(|source| TaskSubjectError::Node {
        subject: subject.to_owned(),
        source,
    })?;
    let slot = if slot == NODE_SLOT_TOKEN {
        TaskSlot::Node
    } else if !slot.is_empty() && slot.bytes().all(|b| b.is_ascii_digit()) {
        TaskSlot::Gpu(slot.parse().map_err(|_| shape())?)
    } else {
        return Err(shape());
    };
    Ok((node, slot))
}

/// Durable consumer a node's agent pulls its tasks from: `node-<node>`.
pub fn node_consumer(node: &NodeId) -> String {
    format!("node-{node}")
}

/// Filter subject of [`node_consumer`]: `wattsweep.v1.task.<node>.>`.
pub fn node_consumer_filter(node: &NodeId) -> String {
    format!("{PREFIX}.task.{node}.>")
}

/// Subjects the events stream is created with.
pub fn events_stream_subjects() -> Vec<String> {
    vec![format!("{PREFIX}.event.*.*")]
}

/// Subject of one task's events: `wattsweep.v1.event.<campaign>.<task>`.
pub fn event_subject(campaign: Uuid, task: Uuid) -> String {
    format!("{PREFIX}.event.{campaign}.{task}")
}

/// Filter for every event of one campaign: `wattsweep.v1.event.<campaign>.*`.
pub fn campaign_events_filter(campaign: Uuid) -> String {
    format!("{PREFIX}.event.{campaign}.*")
}

/// Subjects the results stream is created with.
pub fn results_stream_subjects() -> Vec<String> {
    vec![format!("{PREFIX}.result.*")]
}

/// Subject of a campaign's results: `wattsweep.v1.result.<campaign>`.
pub fn result_subject(campaign: Uuid) -> String {
    format!("{PREFIX}.result.{campaign}")
}

/// `Nats-Msg-Id` of a result, so a result re-published after a crash is stored once per attempt:
/// `<task>-a<attempt>`.
pub fn result_msg_id(task: Uuid, attempt: u32) -> String {
    format!("{task}-a{attempt}")
}

/// Key of a node in [`NODES_BUCKET`].
pub fn node_key(node: &NodeId) -> String {
    node.as_str().to_owned()
}

/// Key of a campaign in [`CAMPAIGNS_BUCKET`].
pub fn campaign_key(campaign: Uuid) -> String {
    campaign.to_string()
}

/// Subject of a node's ~1 Hz live telemetry (core NATS, not stored): `wattsweep.v1.live.<node>`.
pub fn live_subject(node: &NodeId) -> String {
    format!("{PREFIX}.live.{node}")
}

/// Subscription subject for every node's live telemetry.
pub fn live_wildcard() -> String {
    format!("{PREFIX}.live.*")
}

/// One request/reply endpoint of the coordinator API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiEndpoint {
    /// Validate and submit a campaign.
    Submit,
    /// Campaign progress.
    Status,
    /// Cancel a campaign.
    Cancel,
    /// Data for a campaign report.
    Report,
    /// The fleet.
    Nodes,
}

impl ApiEndpoint {
    /// Every endpoint.
    pub const ALL: [ApiEndpoint; 5] = [
        ApiEndpoint::Submit,
        ApiEndpoint::Status,
        ApiEndpoint::Cancel,
        ApiEndpoint::Report,
        ApiEndpoint::Nodes,
    ];

    /// The endpoint's token in its subject.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiEndpoint::Submit => "submit",
            ApiEndpoint::Status => "status",
            ApiEndpoint::Cancel => "cancel",
            ApiEndpoint::Report => "report",
            ApiEndpoint::Nodes => "nodes",
        }
    }

    /// Request subject: `wattsweep.v1.api.<endpoint>`.
    pub fn subject(self) -> String {
        format!("{PREFIX}.api.{}", self.as_str())
    }
}

impl fmt::Display for ApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Subscription subject for every API endpoint (a coordinator may serve them with one subscription).
pub fn api_wildcard() -> String {
    format!("{PREFIX}.api.*")
}

#[cfg(test)]
mod tests;
