//! Campaign endpoints: submit, status, cancel, report.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApiReply, ApiRequest};
use crate::subjects::{ApiEndpoint, NodeId};
use crate::wire::{
    CampaignRecord, CampaignSource, CampaignState, Phase, TaskResult, TaskState, WireMessage,
};

/// Submit a campaign: the coordinator parses, validates and plans it against the live fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// The campaign file and the workload catalogs, as text.
    pub source: CampaignSource,
}

impl WireMessage for SubmitRequest {
    const KIND: &'static str = "api.submit.request";
}

impl ApiRequest for SubmitRequest {
    const ENDPOINT: ApiEndpoint = ApiEndpoint::Submit;
    type Reply = SubmitReply;
}

/// A campaign was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitAccepted {
    /// The new campaign's id.
    pub campaign_id: Uuid,
    /// Its name.
    pub name: String,
    /// Tasks planned.
    pub tasks: u32,
    /// Things worth knowing that did not stop the submission (e.g. a node glob matching nothing).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Reply to [`SubmitRequest`].
pub type SubmitReply = ApiReply<SubmitAccepted>;

impl WireMessage for SubmitReply {
    const KIND: &'static str = "api.submit.reply";
}

/// Ask for the status of one campaign, or of all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusRequest {
    /// The campaign; all campaigns when absent.
    #[serde(default)]
    pub campaign_id: Option<Uuid>,
}

impl WireMessage for StatusRequest {
    const KIND: &'static str = "api.status.request";
}

impl ApiRequest for StatusRequest {
    const ENDPOINT: ApiEndpoint = ApiEndpoint::Status;
    type Reply = StatusReply;
}

/// The status of the campaigns asked for.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatusReport {
    /// One entry per campaign, newest first.
    #[serde(default)]
    pub campaigns: Vec<CampaignStatus>,
}

/// Reply to [`StatusRequest`].
pub type StatusReply = ApiReply<StatusReport>;

impl WireMessage for StatusReply {
    const KIND: &'static str = "api.status.reply";
}

/// Where one campaign stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignStatus {
    /// Campaign id.
    pub id: Uuid,
    /// Campaign name.
    pub name: String,
    /// Campaign state.
    pub state: CampaignState,
    /// When it was submitted, unix milliseconds.
    pub submitted_at_ms: u64,
    /// When it reached a terminal state, unix milliseconds.
    #[serde(default)]
    pub finished_at_ms: Option<u64>,
    /// Tasks by state, over the whole campaign.
    pub counts: TaskCounts,
    /// Progress per node that has been given tasks.
    #[serde(default)]
    pub nodes: Vec<NodeProgress>,
}

/// Task counts by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskCounts {
    /// Not yet published.
    #[serde(default)]
    pub pending: u32,
    /// Published, not yet claimed.
    #[serde(default)]
    pub dispatched: u32,
    /// Claimed and running.
    #[serde(default)]
    pub running: u32,
    /// Succeeded.
    #[serde(default)]
    pub succeeded: u32,
    /// Failed for good.
    #[serde(default)]
    pub failed: u32,
    /// Cancelled.
    #[serde(default)]
    pub cancelled: u32,
    /// In a state this build does not know.
    #[serde(default)]
    pub unknown: u32,
}

impl TaskCounts {
    /// Count one task in `state`.
    pub fn add(&mut self, state: TaskState) {
        let slot = match state {
            TaskState::Pending => &mut self.pending,
            TaskState::Dispatched => &mut self.dispatched,
            TaskState::Running => &mut self.running,
            TaskState::Succeeded => &mut self.succeeded,
            TaskState::Failed => &mut self.failed,
            TaskState::Cancelled => &mut self.cancelled,
            TaskState::Unknown => &mut self.unknown,
        };
        *slot = slot.saturating_add(1);
    }

    /// Counts of `states`.
    pub fn of(states: impl IntoIterator<Item = TaskState>) -> Self {
        let mut counts = Self::default();
        for s in states {
            counts.add(s);
        }
        counts
    }

    /// All tasks counted.
    pub fn total(&self) -> u64 {
        [
            self.pending,
            self.dispatched,
            self.running,
            self.succeeded,
            self.failed,
            self.cancelled,
            self.unknown,
        ]
        .iter()
        .map(|&n| u64::from(n))
        .sum()
    }
}

/// A node's share of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeProgress {
    /// The node.
    pub node: NodeId,
    /// Its tasks by state.
    pub counts: TaskCounts,
    /// What it runs now.
    #[serde(default)]
    pub current: Vec<CurrentTask>,
}

/// A task attempt running now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentTask {
    /// Task id.
    pub task_id: Uuid,
    /// Attempt.
    pub attempt: u32,
    /// Configuration name.
    pub configuration: String,
    /// Current phase, from the latest event.
    #[serde(default)]
    pub phase: Option<Phase>,
    /// Fraction of the task's planned duration done, 0–1.
    #[serde(default)]
    pub progress: Option<f64>,
}

/// Cancel a campaign: pending tasks are dropped and running ones stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// The campaign.
    pub campaign_id: Uuid,
    /// Why, for the record.
    #[serde(default)]
    pub reason: Option<String>,
}

impl WireMessage for CancelRequest {
    const KIND: &'static str = "api.cancel.request";
}

impl ApiRequest for CancelRequest {
    const ENDPOINT: ApiEndpoint = ApiEndpoint::Cancel;
    type Reply = CancelReply;
}

/// A cancellation was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelAck {
    /// The campaign.
    pub campaign_id: Uuid,
    /// Its state after the request (`cancelling` while running tasks stop).
    pub state: CampaignState,
    /// Tasks cancelled by this request.
    pub cancelled_tasks: u32,
}

/// Reply to [`CancelRequest`].
pub type CancelReply = ApiReply<CancelAck>;

impl WireMessage for CancelReply {
    const KIND: &'static str = "api.cancel.reply";
}

/// Ask for the data of a campaign's report, one page of results at a time (a whole campaign's
/// results can exceed the server's maximum payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    /// The campaign.
    pub campaign_id: Uuid,
    /// Index of the first result wanted.
    #[serde(default)]
    pub offset: u32,
    /// Most results wanted; the coordinator may send fewer to stay under the payload limit.
    #[serde(default)]
    pub limit: Option<u32>,
}

impl WireMessage for ReportRequest {
    const KIND: &'static str = "api.report.request";
}

impl ApiRequest for ReportRequest {
    const ENDPOINT: ApiEndpoint = ApiEndpoint::Report;
    type Reply = ReportReply;
}

/// One page of a campaign's report data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPage {
    /// The campaign record; sent with the first page (offset 0) only.
    #[serde(default)]
    pub record: Option<CampaignRecord>,
    /// Results counted for the campaign (the accepted attempt of each task; superseded attempts are
    /// left out), ordered by task sequence.
    #[serde(default)]
    pub results: Vec<TaskResult>,
    /// Results the campaign has in all.
    pub total_results: u32,
    /// Offset of the next page; absent on the last page.
    #[serde(default)]
    pub next_offset: Option<u32>,
}

/// Reply to [`ReportRequest`].
pub type ReportReply = ApiReply<ReportPage>;

impl WireMessage for ReportReply {
    const KIND: &'static str = "api.report.reply";
}
