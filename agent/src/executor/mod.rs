//! The executor: runs one task end to end on this node (DESIGN §3 timing, §4 telemetry).
//!
//! Three layers, each testable on its own:
//! - [`launch`]: pure launch decisions (which instances, on which GPU or MIG device, with which
//!   placeholder values) for every sharing mode;
//! - [`phases`]: the pure phase machine (set-up, idle baseline, launch, readiness, warm-up, the
//!   measured window, stop, cool-down, clean-up on every path);
//! - [`run`]: the driver that executes the machine's commands with the real pieces (a workload
//!   runtime, the MIG manager, MPS daemons, the GPU and CPU samplers) and builds the task summary.

pub mod launch;
pub mod phases;
