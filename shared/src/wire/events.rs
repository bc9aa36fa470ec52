//! Task events: what an agent reports while it runs a task.
//!
//! Events drive campaign state (dispatched → running → finished) and progress displays; the result
//! message, not the `finished` event, carries the measurements. Every event names its attempt so the
//! coordinator can ignore events from an attempt it has fenced off.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::WireMessage;
use crate::subjects::{self, NodeId};

/// One event of one task attempt, published on `wattsweep.v1.event.<campaign>.<task>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// Campaign id.
    pub campaign_id: Uuid,
    /// Task id.
    pub task_id: Uuid,
    /// Attempt the event belongs to.
    pub attempt: u32,
    /// Node that runs the attempt.
    pub node: NodeId,
    /// When it happened, unix milliseconds (absolute, agent clock).
    pub at_ms: u64,
    /// What happened.
    pub event: EventKind,
}

impl WireMessage for TaskEvent {
    const KIND: &'static str = "task-event";
}

impl TaskEvent {
    /// The subject this event is published on.
    pub fn subject(&self) -> String {
        subjects::event_subject(self.campaign_id, self.task_id)
    }
}

/// What happened to a task attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventKind {
    /// The agent took the task off its queue and holds the GPUs.
    Claimed,
    /// The sharing mode is set up and the first phase begins.
    Started,
    /// A phase began.
    Phase {
        /// The phase.
        phase: Phase,
    },
    /// Periodic progress inside a phase.
    Progress {
        /// The current phase.
        phase: Phase,
        /// Time spent in the phase so far, milliseconds.
        elapsed_ms: u64,
        /// Planned length of the phase, milliseconds (the maximum for cool-down).
        planned_ms: u64,
    },
    /// The attempt ended and its result is stored.
    Finished,
    /// The attempt failed.
    Failed {
        /// What went wrong, for people.
        reason: String,
        /// Whether another attempt can succeed.
        class: FailureClass,
    },
    /// An event this build does not know (sent by a newer agent).
    #[serde(other)]
    Unknown,
}

/// The phases of a task run (DESIGN.md §3 `[timing]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Idle capture before the workload starts.
    IdleBaseline,
    /// The workload runs; not measured.
    Warmup,
    /// The measured window.
    Measure,
    /// Idle after the workload until temperatures settle.
    Cooldown,
    /// A phase this build does not know.
    #[serde(other)]
    Unknown,
}

impl Phase {
    /// The known phases, in run order.
    pub const ALL: [Phase; 4] = [
        Phase::IdleBaseline,
        Phase::Warmup,
        Phase::Measure,
        Phase::Cooldown,
    ];

    /// The name on the wire and in telemetry tags (`phase=measure`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::IdleBaseline => "idle-baseline",
            Phase::Warmup => "warmup",
            Phase::Measure => "measure",
            Phase::Cooldown => "cooldown",
            Phase::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a failure can go away on another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// May succeed on another attempt (node lost, runtime hiccup, timeout).
    Transient,
    /// Will fail again (bad image, layout invalid on this GPU): terminated, not retried.
    Deterministic,
    /// A class this build does not know.
    #[serde(other)]
    Unknown,
}

impl FailureClass {
    /// Whether the task may be retried. Unknown classes are retried (within the attempt limit):
    /// terminating them would lose work for a class a newer agent may consider recoverable.
    pub fn retryable(self) -> bool {
        !matches!(self, FailureClass::Deterministic)
    }
}

/// A failure with its class, as recorded in campaign state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// What went wrong, for people.
    pub reason: String,
    /// Whether another attempt can succeed.
    pub class: FailureClass,
}
