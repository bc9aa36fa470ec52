//! The result of one task attempt, published once its telemetry is written.
//!
//! Results are stored in the results stream (deduplicated per attempt), and envelopes are computed from
//! them alone, so a result carries its own identity (campaign, task, attempt, node) and the measured
//! summary.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{FailureClass, TaskSummary, WireMessage};
use crate::subjects::{self, NodeId};

/// The result of one attempt, published on `wattsweep.v1.result.<campaign>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// Campaign id.
    pub campaign_id: Uuid,
    /// Task id.
    pub task_id: Uuid,
    /// Attempt the result belongs to.
    pub attempt: u32,
    /// Node that ran the attempt.
    pub node: NodeId,
    /// How the attempt ended.
    pub outcome: Outcome,
    /// When the attempt started (claimed), unix milliseconds.
    pub started_at_ms: u64,
    /// When it ended, unix milliseconds.
    pub finished_at_ms: u64,
    /// The measurements; present when the measured window completed (also for some failures, e.g.
    /// a workload that crashed during cool-down).
    #[serde(default)]
    pub summary: Option<TaskSummary>,
}

impl WireMessage for TaskResult {
    const KIND: &'static str = "task-result";
}

impl TaskResult {
    /// The subject this result is published on.
    pub fn subject(&self) -> String {
        subjects::result_subject(self.campaign_id)
    }

    /// The `Nats-Msg-Id` it is published with, so a re-publication of the same attempt is dropped.
    pub fn msg_id(&self) -> String {
        subjects::result_msg_id(self.task_id, self.attempt)
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Outcome {
    /// Every phase ran and the measurements are complete.
    Succeeded,
    /// The attempt failed.
    Failed {
        /// What went wrong, for people.
        reason: String,
        /// Whether another attempt can succeed.
        class: FailureClass,
    },
    /// The campaign was cancelled while the attempt ran.
    Cancelled,
    /// An outcome this build does not know.
    #[serde(other)]
    Unknown,
}
