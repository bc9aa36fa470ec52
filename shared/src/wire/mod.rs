//! The wire protocol: every message the coordinator, the agents and the command line exchange.
//!
//! Processes of different versions run side by side in a fleet (agents are upgraded node by node), so
//! the encoding is built to evolve: MessagePack maps with named fields inside one `{v, kind, body}`
//! envelope ([`encode`], [`decode`]), enums internally tagged with an `Unknown` arm, fields added later
//! always `#[serde(default)]`, nothing ever renamed, `BTreeMap` for deterministic bytes. Snapshot tests
//! pin the encoded bytes of every message kind, so an accidental change to the format fails a test.
//!
//! One file per message family: [`task`](TaskMessage), events ([`TaskEvent`]), results
//! ([`TaskResult`] with its [`TaskSummary`]), the node heartbeat ([`Heartbeat`]), live telemetry
//! ([`LiveSample`]), campaign state ([`CampaignRecord`]) and the coordinator [`api`].

pub mod api;
mod campaign;
mod envelope;
mod events;
mod live;
mod node;
mod result;
mod summary;
mod task;

pub use campaign::{
    CampaignRecord, CampaignSource, CampaignState, CatalogSource, TaskRow, TaskState,
};
pub use envelope::{
    DecodeError, EncodeError, Header, MIN_SUPPORTED_VERSION, MalformedDetail, PROTOCOL_VERSION,
    WireMessage, decode, encode, peek_header,
};
pub use events::{EventKind, FailureClass, Phase, TaskEvent, TaskFailure};
pub use live::{LiveGpu, LiveSample};
pub use node::{Heartbeat, RunningTask, STALE_AFTER_MISSED};
pub use result::{Outcome, TaskResult};
pub use summary::{
    CpuFigures, CpuSummary, EnergyPerWork, FigureOfMerit, GpuSummary, PhaseTiming, PlatformSummary,
    PowerStats, SampleCoverage, TaskSummary,
};
pub use task::{AssignedGpu, Lease, RouteError, TaskMessage};

/// The `kind` of every top-level message, for tools that route or count payloads.
pub const ALL_KINDS: [&str; 16] = [
    <TaskMessage as WireMessage>::KIND,
    <TaskEvent as WireMessage>::KIND,
    <TaskResult as WireMessage>::KIND,
    <Heartbeat as WireMessage>::KIND,
    <LiveSample as WireMessage>::KIND,
    <CampaignRecord as WireMessage>::KIND,
    <api::SubmitRequest as WireMessage>::KIND,
    <api::SubmitReply as WireMessage>::KIND,
    <api::StatusRequest as WireMessage>::KIND,
    <api::StatusReply as WireMessage>::KIND,
    <api::CancelRequest as WireMessage>::KIND,
    <api::CancelReply as WireMessage>::KIND,
    <api::ReportRequest as WireMessage>::KIND,
    <api::ReportReply as WireMessage>::KIND,
    <api::NodesRequest as WireMessage>::KIND,
    <api::NodesReply as WireMessage>::KIND,
];

#[cfg(test)]
mod tests;
