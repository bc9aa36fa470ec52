//! The phase machine of one task run (DESIGN §3 `[timing]`): a pure reconciler from (state, event)
//! to (state, commands). The driver executes the commands and feeds back what happened; nothing here
//! sleeps, reads a clock or touches a GPU, so every path is tested exhaustively.
//!
//! ```text
//! Setup → IdleBaseline → Launch → WaitReady → Warmup → Measure → Stop → Cooldown → Cleanup → Done
//!   └──────────── any failure, an early exit, a readiness timeout, cancel ─────────┘        → Failed
//! ```
//!
//! Rules the machine enforces:
//! - Telemetry phases: `idle-baseline` from the end of set-up, `warmup` from the launch (model
//!   loading is tagged warm-up), `measure`, `cooldown` from the end of the measured window, and
//!   none from clean-up on. Every change is one [`Command::EnterPhase`], at which the sampler reads
//!   every energy counter, so energy is read at every boundary.
//! - The measured window starts only once every instance is ready (its readiness line seen, or
//!   started when it has none) *and* `warmup_s` has passed since then: loading never falls in the
//!   window. The readiness timer runs from the launch; when it fires first the task fails.
//! - An instance that ends before the measured window is over fails the task
//!   ([`classify_exit`]); one that ends after it does not matter.
//! - Cool-down ends when every GPU with an idle-baseline temperature is back within
//!   `cooldown_temp_delta_c` of it (the mean of its idle readings), or after `cooldown_max_s`.
//! - Clean-up runs on every path: each of [`Command::RemoveInstances`], [`Command::StopMps`] and
//!   [`Command::RestoreMig`] is issued exactly once, whatever happened (the driver's versions are
//!   no-ops when there is nothing to undo); instances started and not yet stopped are stopped
//!   first. A failure or cancel skips the cool-down.

mod machine;

use std::time::Duration;

use wattsweep_shared::model::Timing;
use wattsweep_shared::wire::FailureClass;

use crate::runtime::ExitStatus;
use crate::telemetry::sampler::Phase;

pub use machine::{Machine, classify_exit};

/// Where a task run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// MIG layout, MPS daemons being set up.
    Setup,
    /// Idle capture.
    IdleBaseline,
    /// Instances being started.
    Launch,
    /// Every instance started; waiting for the readiness lines.
    WaitReady,
    /// Every instance ready; the warm-up runs.
    Warmup,
    /// The measured window.
    Measure,
    /// Instances being stopped after the window.
    Stop,
    /// Idle until the GPUs cool down.
    Cooldown,
    /// Everything being undone.
    Cleanup,
    /// Finished, succeeded.
    Done,
    /// Finished, failed or cancelled.
    Failed,
}

impl State {
    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Done | State::Failed)
    }
}

/// The machine's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// End of the idle baseline.
    IdleBaseline,
    /// Readiness deadline, from the launch.
    Ready,
    /// End of the warm-up, from readiness.
    Warmup,
    /// End of the measured window.
    Measure,
    /// Longest cool-down, from the end of the window.
    Cooldown,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Set-up (MIG layout, MPS daemons, the launch decisions) succeeded.
    SetupDone {
        /// Per instance to start: whether it signals readiness with a log line (else it is ready
        /// once started).
        needs_ready_signal: Vec<bool>,
        /// Longest wait for readiness, from the launch.
        ready_timeout: Duration,
    },
    /// Set-up failed.
    SetupFailed {
        /// Why.
        reason: String,
        /// Whether another attempt can succeed.
        class: FailureClass,
    },
    /// Instance `instance` is running.
    Started {
        /// Instance index.
        instance: u32,
    },
    /// Starting an instance failed.
    LaunchFailed {
        /// Why.
        reason: String,
        /// Whether another attempt can succeed.
        class: FailureClass,
    },
    /// Instance `instance` printed its readiness line.
    Ready {
        /// Instance index.
        instance: u32,
    },
    /// Instance `instance` ended.
    Exited {
        /// Instance index.
        instance: u32,
        /// How.
        status: ExitStatus,
    },
    /// A timer started by [`Command::StartTimer`] fired.
    TimerElapsed(Timer),
    /// A GPU temperature reading.
    Temperature {
        /// GPU index.
        gpu: u32,
        /// °C.
        celsius: f64,
    },
    /// [`Command::StopInstances`] is done.
    InstancesStopped,
    /// Anything else that makes the run fail (sampler gone, runtime error).
    Failure {
        /// Why.
        reason: String,
        /// Whether another attempt can succeed.
        class: FailureClass,
    },
    /// The run is cancelled.
    Cancel,
    /// The clean-up commands ran; `error` says what could not be undone.
    CleanupDone {
        /// What failed, if anything.
        error: Option<String>,
    },
}

/// Something for the driver to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Apply the MIG layout, start the MPS daemons; answer [`Event::SetupDone`] or
    /// [`Event::SetupFailed`].
    Setup,
    /// Tag telemetry with this phase from now on ([`Phase::None`]: the run's phases are over); the
    /// sampler reads every energy counter at the change.
    EnterPhase(Phase),
    /// Start (or restart) a timer; answer [`Event::TimerElapsed`] when it fires.
    StartTimer(Timer, Duration),
    /// Start every instance; answer [`Event::Started`] per instance or [`Event::LaunchFailed`].
    StartInstances,
    /// Stop every running instance; answer [`Event::InstancesStopped`].
    StopInstances,
    /// Remove every instance (clean-up).
    RemoveInstances,
    /// Stop the MPS daemons (clean-up).
    StopMps,
    /// Restore the GPUs' MIG baselines (clean-up).
    RestoreMig,
}

/// What the machine needs to know about the run.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineConfig {
    /// Idle capture.
    pub idle_baseline: Duration,
    /// Warm-up after readiness.
    pub warmup: Duration,
    /// Measured window.
    pub measure: Duration,
    /// Longest cool-down.
    pub cooldown_max: Duration,
    /// Cool-down ends within this many °C of the idle baseline.
    pub cooldown_temp_delta_c: f64,
}

impl MachineConfig {
    /// The phase durations of `timing`.
    pub fn from_timing(timing: &Timing) -> Self {
        let s = |v: u32| Duration::from_secs(u64::from(v));
        Self {
            idle_baseline: s(timing.idle_baseline_s),
            warmup: s(timing.warmup_s),
            measure: s(timing.measure_s),
            cooldown_max: s(timing.cooldown_max_s),
            cooldown_temp_delta_c: timing.cooldown_temp_delta_c,
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
