//! The executor: runs one task end to end on this node (DESIGN §3 timing, §4 telemetry).
//!
//! Three layers, each testable on its own:
//! - [`launch`]: pure launch decisions (which instances, on which GPU or MIG device, with which
//!   placeholder values) for every sharing mode;
//! - [`phases`]: the pure phase machine (set-up, idle baseline, launch, readiness, warm-up, the
//!   measured window, stop, cool-down, clean-up on every path);
//! - [`run`]: the driver that executes the machine's commands with the real pieces (a workload
//!   runtime, the MIG manager, MPS daemons through [`node::NodeControl`], the GPU and CPU
//!   samplers) and builds the task summary with `wattsweep_shared::summary::summarize`.

mod collect;
mod commands;
mod instances;
pub mod launch;
pub mod node;
pub mod outcome;
pub mod phases;
pub mod run;
mod wrapup;

pub use commands::mig_error_is_deterministic;
pub use launch::{LaunchContext, LaunchError, MpsDirs, launch_specs};
pub use node::{HostNodeControl, NodeControl, NodeError, SimNodeControl};
pub use outcome::{InstanceReport, NoEvents, RecordedEvents, TaskEvents, TaskOutcome};
pub use phases::{Command, Event, Machine, MachineConfig, State, Timer};
pub use run::{Executor, ExecutorConfig, RunOptions};
