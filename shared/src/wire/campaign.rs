//! Campaign state as stored in the `wattsweep_campaigns` bucket.
//!
//! One record per campaign holds its source (so the plan can be rebuilt), its state and its task table.
//! Coordinator instances update it with revision compare-and-set, so the record is the single truth
//! every instance reads: it must decode on every instance, old and new.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{TaskFailure, WireMessage};
use crate::subjects::NodeId;

/// A campaign's stored state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignRecord {
    /// Campaign id.
    pub id: Uuid,
    /// Campaign name.
    pub name: String,
    /// When it was submitted, unix milliseconds.
    pub submitted_at_ms: u64,
    /// The submitted files.
    pub source: CampaignSource,
    /// Where the campaign stands.
    pub state: CampaignState,
    /// When it reached a terminal state, unix milliseconds.
    #[serde(default)]
    pub finished_at_ms: Option<u64>,
    /// Every task, in run order.
    #[serde(default)]
    pub tasks: Vec<TaskRow>,
}

impl WireMessage for CampaignRecord {
    const KIND: &'static str = "campaign-record";
}

/// The files a campaign was submitted with, as text (the coordinator reads no user files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignSource {
    /// Campaign file name as given on the command line (for error positions).
    pub file_name: String,
    /// Campaign file contents (TOML).
    pub toml: String,
    /// Workload catalog files the campaign may draw workloads from.
    #[serde(default)]
    pub catalogs: Vec<CatalogSource>,
}

/// One workload catalog file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSource {
    /// File name (for error positions).
    pub file_name: String,
    /// File contents (TOML).
    pub toml: String,
}

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CampaignState {
    /// Accepted; no task dispatched yet.
    Pending,
    /// Tasks are being dispatched or run.
    Running,
    /// Cancel requested; running tasks are being stopped.
    Cancelling,
    /// Every task reached a terminal state (some may have failed: see the task counts).
    Finished,
    /// Cancelled; every task is terminal.
    Cancelled,
    /// A state this build does not know.
    #[serde(other)]
    Unknown,
}

impl CampaignState {
    /// Whether the campaign will change no more.
    pub fn is_terminal(self) -> bool {
        matches!(self, CampaignState::Finished | CampaignState::Cancelled)
    }

    /// The name on the wire and in command output.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Pending => "pending",
            CampaignState::Running => "running",
            CampaignState::Cancelling => "cancelling",
            CampaignState::Finished => "finished",
            CampaignState::Cancelled => "cancelled",
            CampaignState::Unknown => "unknown",
        }
    }
}

impl fmt::Display for CampaignState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One task of a campaign's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRow {
    /// Task id.
    pub id: Uuid,
    /// Position in the run order.
    pub seq: u32,
    /// Configuration name (`time-slicing/burn/c4`).
    pub configuration: String,
    /// Target as displayed (`node1/gpu3`, `any/h100-80gb`).
    pub target: String,
    /// Repetition, 0-based.
    pub repetition: u32,
    /// Where the task stands.
    pub state: TaskState,
    /// Current attempt; 0 before the first dispatch.
    #[serde(default)]
    pub attempt: u32,
    /// Node of the current attempt.
    #[serde(default)]
    pub node: Option<NodeId>,
    /// The most recent failure, kept across retries.
    #[serde(default)]
    pub last_error: Option<TaskFailure>,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    /// Not yet published.
    Pending,
    /// Published on a node's queue.
    Dispatched,
    /// Claimed by an agent.
    Running,
    /// A result was stored.
    Succeeded,
    /// Failed for good (deterministic failure, or out of attempts).
    Failed,
    /// Cancelled with its campaign.
    Cancelled,
    /// A state this build does not know.
    #[serde(other)]
    Unknown,
}

impl TaskState {
    /// Whether the task will change no more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed | TaskState::Cancelled
        )
    }

    /// The name on the wire and in command output.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Dispatched => "dispatched",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
            TaskState::Unknown => "unknown",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
