//! Why a campaign cannot be planned at all.
//!
//! A target that cannot take one configuration is not an error: it is listed in
//! [`super::Plan::skipped`]. These errors mean the plan as a whole would be wrong or unusable.

/// Largest number of tasks one plan may hold (a task is about a kilobyte in memory and minutes of
/// GPU time; a campaign above this is almost certainly a full usage grid that should be fractional).
pub const MAX_TASKS: u64 = 10_000_000;

/// Why a campaign cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// No GPU of the fleet matches the campaign's targets.
    #[error(
        "no GPU matches the campaign targets (nodes = {nodes:?}, gpu_models = {gpu_models:?}); \
         the fleet has {fleet}"
    )]
    NoMatchingGpus {
        /// The node globs.
        nodes: Vec<String>,
        /// The GPU-name globs.
        gpu_models: Vec<String>,
        /// What the fleet has, summarised.
        fleet: String,
    },
    /// A sweep names a workload the campaign does not define.
    #[error(
        "sweep `{sweep}` names workload `{workload}`, which the campaign does not define (defined: {defined})"
    )]
    UnknownWorkload {
        /// Sweep name.
        sweep: String,
        /// The missing workload.
        workload: String,
        /// Workloads the campaign defines, comma-separated.
        defined: String,
    },
    /// A hypothetical node names a GPU model wattsweep does not know.
    #[error("node `{node}`: unknown GPU model `{model}` (known: {known})")]
    UnknownModel {
        /// Node id.
        node: String,
        /// The model id given.
        model: String,
        /// Known model ids, comma-separated.
        known: String,
    },
    /// Two configurations of the campaign would have the same name (and so the same task ids).
    #[error(
        "sweep `{sweep}` produces configuration `{name}` twice; the values a sweep lists must be \
         distinct (and configuration names unique in the campaign)"
    )]
    DuplicateConfiguration {
        /// Sweep producing the second one.
        sweep: String,
        /// The configuration name.
        name: String,
    },
    /// Two nodes of the fleet have the same id.
    #[error("node id `{node}` appears twice in the fleet; node ids must be unique")]
    DuplicateNode {
        /// Node id.
        node: String,
    },
    /// A node lists the same GPU index twice.
    #[error("node `{node}` lists GPU index {index} twice; GPU indices must be unique per node")]
    DuplicateGpu {
        /// Node id.
        node: String,
        /// The repeated NVML index.
        index: u32,
    },
    /// A full usage grid too large to plan.
    #[error(
        "sweep `{sweep}`: a full usage grid over {gpus} GPUs at {levels} levels has {levels}^{gpus} \
         configurations, more than the {limit} allowed; use design = \"fractional\" or fewer levels"
    )]
    DesignTooLarge {
        /// Sweep name.
        sweep: String,
        /// GPUs of the node.
        gpus: usize,
        /// Levels of the sweep.
        levels: usize,
        /// The limit ([`MAX_TASKS`]).
        limit: u64,
    },
    /// The plan would hold too many tasks.
    #[error(
        "the campaign expands to {tasks} tasks, more than the {limit} allowed; narrow the targets, \
         lower the repetitions or use design = \"fractional\" for usage grids"
    )]
    TooManyTasks {
        /// Tasks the campaign expands to.
        tasks: u64,
        /// The limit ([`MAX_TASKS`]).
        limit: u64,
    },
}
