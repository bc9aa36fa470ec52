//! What a run hands back ([`TaskOutcome`]) and tells as it goes ([`TaskEvents`]).

use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;
use uuid::Uuid;
use wattsweep_shared::wire::{EventKind, Outcome, PhaseTiming, TaskFailure, TaskSummary};

use crate::runtime::ExitStatus;

/// Where phase changes and the run's start and end are told as they happen (the fleet protocol
/// publishes them as task events; the command line logs them).
pub trait TaskEvents: Send + Sync {
    /// Something happened at `at_ms` (unix milliseconds).
    fn event(&self, at_ms: u64, event: &EventKind);
}

/// Tells nobody.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl TaskEvents for NoEvents {
    fn event(&self, _at_ms: u64, _event: &EventKind) {}
}

/// Keeps every event, in order (tests, reports).
#[derive(Debug, Default)]
pub struct RecordedEvents {
    events: Mutex<Vec<(u64, EventKind)>>,
}

impl RecordedEvents {
    /// The events so far.
    pub fn events(&self) -> Vec<(u64, EventKind)> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl TaskEvents for RecordedEvents {
    fn event(&self, at_ms: u64, event: &EventKind) {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((at_ms, event.clone()));
    }
}

/// One instance of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceReport {
    /// Instance index.
    pub instance: u32,
    /// Workload name.
    pub workload: String,
    /// The runtime's name for it (container, pod, `pid:<n>`), once started.
    pub name: Option<String>,
    /// The GPU resources it was bound to, in words.
    pub binding: String,
    /// How it ended, in words, as its runtime reported it (`killed (stopped)` after the executor
    /// stopped it); `None` when the run ended before the runtime reported it.
    pub exit: Option<String>,
    /// Its exit code, when it exited on its own with one.
    pub exit_code: Option<i32>,
    /// Its log file.
    pub log_path: PathBuf,
    /// Figures of merit read from its log.
    pub fom_samples: usize,
}

impl InstanceReport {
    /// Record how it ended.
    pub fn set_exit(&mut self, status: &ExitStatus) {
        self.exit_code = match status {
            ExitStatus::Exited(c) => Some(*c),
            _ => None,
        };
        self.exit = Some(match status {
            ExitStatus::Exited(c) => format!("exited with code {c}"),
            ExitStatus::Killed(why) => format!("killed ({why})"),
            ExitStatus::DeadlineExceeded => "killed at its deadline".into(),
        });
    }
}

/// How one run of a task went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskOutcome {
    /// Task id.
    pub task_id: Uuid,
    /// Attempt number.
    pub attempt: u32,
    /// Configuration name.
    pub configuration: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The measurements; present when the measured window completed.
    pub summary: Option<TaskSummary>,
    /// Why there is no summary although the window completed.
    pub summary_error: Option<String>,
    /// When each phase ran (also for a failed run, as far as it got).
    pub phases: Vec<PhaseTiming>,
    /// The instances.
    pub instances: Vec<InstanceReport>,
    /// Energy-counter readings taken (one per GPU at every phase boundary).
    pub energy_reads: usize,
    /// What the sampler reported (failing calls, fallbacks).
    pub notices: Vec<String>,
    /// When the run started, unix ms.
    pub started_at_ms: u64,
    /// When it ended, unix ms.
    pub finished_at_ms: u64,
}

impl TaskOutcome {
    /// Whether every phase ran and the measurements are complete.
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Succeeded
    }

    /// The failure, for a failed run.
    pub fn failure(&self) -> Option<TaskFailure> {
        match &self.outcome {
            Outcome::Failed { reason, class } => Some(TaskFailure {
                reason: reason.clone(),
                class: *class,
            }),
            _ => None,
        }
    }
}
