//! The `wattsweep-agent` command line (DESIGN §5): argument definitions, the GPU-backend factory,
//! and dispatch to the commands. Every flag also reads a `WATTSWEEP_*` environment variable. Exit
//! codes: 0 success, 1 the thing asked for failed (no NVML, a driver error), 2 usage or input error.

mod bench;
mod execute;
mod inventory;
mod sample;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::gpu::nvml::NvmlBackend;
use crate::gpu::sim::{RealClock, SimConfig, SimError, SimulatedGpus};
use crate::gpu::{GpuBackend, GpuError};
use crate::inventory::InventoryError;
use crate::telemetry::sampler::SamplerError;

/// wattsweep node agent: claims this node's tasks, reconfigures MIG, runs workloads and samples telemetry.
#[derive(Debug, Parser)]
#[command(name = "wattsweep-agent", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print this node's inventory: host, runtimes, GPUs with their MIG profile tables.
    Inventory(InventoryArgs),
    /// Sample GPU telemetry live (power from the driver's sample buffer, status, energy counter)
    /// and end with a per-GPU summary that checks the energy counter against the samples.
    Sample(SampleArgs),
    /// Measure the sampler's own cost: CPU seconds per second and peak memory.
    BenchSampler(BenchArgs),
    /// Run a campaign's tasks for this node, one after another, without a coordinator: a table per
    /// task, `results.json` and telemetry files in --out. Exit 0 when every task succeeded.
    Execute(ExecuteArgs),
}

/// A runtime forced on every task of `execute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeOverride {
    /// Plain child processes.
    Process,
    /// Docker containers.
    Docker,
}

/// `execute` arguments.
#[derive(Debug, Clone, Args)]
pub struct ExecuteArgs {
    /// The campaign file (TOML).
    #[arg(value_name = "CAMPAIGN.toml", env = "WATTSWEEP_CAMPAIGN")]
    pub campaign: PathBuf,
    /// Run only the configurations whose name matches this glob (`time-slicing/*`).
    #[arg(
        long,
        value_name = "GLOB",
        env = "WATTSWEEP_CONFIGURATION",
        default_value = "*"
    )]
    pub configuration: String,
    /// Runs of every configuration (default: the campaign's `repetitions`).
    #[arg(long, value_name = "N", env = "WATTSWEEP_REPETITIONS")]
    pub repetitions: Option<u32>,
    /// Folder for `results.json`, the telemetry files (`telemetry/`) and the instance logs
    /// (`logs/`).
    #[arg(
        long,
        value_name = "DIR",
        env = "WATTSWEEP_OUT",
        default_value = "wattsweep-out"
    )]
    pub out: PathBuf,
    /// Workload catalog folders, besides the ones the campaign names in `[campaign] catalog`
    /// (repeatable).
    #[arg(
        long = "catalog",
        value_name = "DIR",
        env = "WATTSWEEP_CATALOG",
        value_delimiter = ','
    )]
    pub catalogs: Vec<PathBuf>,
    /// Run every task with this runtime instead of the one its sweep names.
    #[arg(long, value_enum, env = "WATTSWEEP_RUNTIME_OVERRIDE")]
    pub runtime_override: Option<RuntimeOverride>,
    /// Node id (default: the host name, made subject-safe).
    #[arg(long, env = "WATTSWEEP_NODE_ID")]
    pub node_id: Option<String>,
    /// State folder: MIG journals, MPS daemons, the process runtime's registry (default:
    /// `<out>/state`). Layouts a crashed run left in its journals are restored at start.
    #[arg(long, value_name = "DIR", env = "WATTSWEEP_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// GPU backend.
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Which GPUs: the real ones through NVML, or simulated ones.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Use N simulated GPUs instead of NVML (for tests and demos; always marked simulated).
    #[arg(long, value_name = "N", env = "WATTSWEEP_SIMULATE")]
    pub simulate: Option<u32>,
    /// Model of the simulated GPUs (`h100-80gb`, `a100-40gb`, …).
    #[arg(
        long,
        value_name = "MODEL",
        env = "WATTSWEEP_SIM_MODEL",
        default_value = "h100-80gb"
    )]
    pub sim_model: String,
    /// Node id the simulated GPUs' UUIDs derive from (default: this host's name).
    #[arg(long = "sim-node", value_name = "ID", env = "WATTSWEEP_SIM_NODE")]
    pub sim_node: Option<String>,
}

/// Output of `inventory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum InventoryFormat {
    /// Tables for people.
    #[default]
    Table,
    /// JSON (the `NodeInventory` the agent registers with).
    Json,
}

/// `inventory` arguments.
#[derive(Debug, Clone, Args)]
pub struct InventoryArgs {
    /// Output format.
    #[arg(long, value_enum, env = "WATTSWEEP_FORMAT", default_value = "table")]
    pub format: InventoryFormat,
    /// Node id (default: the host name, made subject-safe).
    #[arg(long, env = "WATTSWEEP_NODE_ID")]
    pub node_id: Option<String>,
    /// GPU backend.
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Output of `sample`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SampleFormat {
    /// One JSON object a line.
    #[default]
    Json,
    /// InfluxDB line protocol (measurement `gpu`).
    Lp,
}

/// How the sampler reads (shared by `sample` and `bench-sampler`).
#[derive(Debug, Clone, Args)]
pub struct SamplingArgs {
    /// Power resolution wanted, ms (the driver's buffer gives ~20 ms on H100; without a buffer,
    /// instant power is read this often).
    #[arg(long, env = "WATTSWEEP_POWER_MS", default_value_t = 20)]
    pub power_ms: u64,
    /// Status (temperatures, utilisation, memory, clocks, throttle reasons) period, ms.
    #[arg(long, env = "WATTSWEEP_STATUS_MS", default_value_t = 100)]
    pub status_ms: u64,
    /// How often the driver's power buffer is drained, ms (an H100's buffer holds ~2.4 s; each
    /// drain costs ~0.8 ms of CPU whatever the period, so longer is cheaper; a wrapped buffer is
    /// reported as a notice).
    #[arg(long, env = "WATTSWEEP_DRAIN_MS", default_value_t = 1000)]
    pub drain_ms: u64,
    /// Ignore the driver's buffer and read instant power every --power-ms (for comparisons).
    #[arg(long, env = "WATTSWEEP_INSTANT_ONLY")]
    pub instant_only: bool,
    /// Also read instant power (NVML_FI_DEV_POWER_INSTANT) at each drain, as a cross-check of the
    /// buffer (~0.1 ms of CPU a read).
    #[arg(long, env = "WATTSWEEP_WITH_INSTANT")]
    pub with_instant: bool,
    /// GPU index to sample (repeatable; default: every GPU).
    #[arg(
        long = "gpu",
        value_name = "INDEX",
        env = "WATTSWEEP_GPU",
        value_delimiter = ','
    )]
    pub gpus: Vec<u32>,
}

/// `sample` arguments.
#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// How long to sample, seconds.
    #[arg(long, env = "WATTSWEEP_SAMPLE_SECONDS", default_value_t = 10.0)]
    pub seconds: f64,
    /// Output format of the samples (summaries go to stderr as text, and to stdout as JSON with
    /// `--format json`).
    #[arg(
        long,
        value_enum,
        env = "WATTSWEEP_SAMPLE_FORMAT",
        default_value = "json"
    )]
    pub format: SampleFormat,
    /// Sampling.
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// GPU backend.
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// `bench-sampler` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// How long to run, seconds.
    #[arg(long, env = "WATTSWEEP_BENCH_SECONDS", default_value_t = 60.0)]
    pub seconds: f64,
    /// Print the result as one JSON object instead of text.
    #[arg(long, env = "WATTSWEEP_BENCH_JSON")]
    pub json: bool,
    /// Also time each NVML call the sampler uses, REPS times each, before the run (real GPUs only).
    #[arg(long, value_name = "REPS", env = "WATTSWEEP_BENCH_CALLS")]
    pub calls: Option<u32>,
    /// Sampling.
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// GPU backend.
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The GPU backend failed (no NVML, a driver error).
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// The inventory could not be built.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The sampler failed.
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    /// The simulated GPUs could not be set up.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A wrong argument.
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// What `execute` was asked to run failed or cannot run.
    #[error("{0}")]
    Execute(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// The GPU backend the arguments ask for: simulated GPUs with `--simulate N`, else NVML.
pub fn backend(args: &BackendArgs) -> Result<Box<dyn GpuBackend>, CliError> {
    if let Some(count) = args.simulate {
        if count == 0 {
            return Err(CliError::Usage(
                "--simulate N needs N ≥ 1 simulated GPUs".into(),
            ));
        }
        if wattsweep_shared::gpu_model::by_id(&args.sim_model).is_none() {
            return Err(CliError::Usage(format!(
                "--sim-model {:?} is not a known GPU model; known: {}",
                args.sim_model,
                wattsweep_shared::gpu_model::known_ids()
            )));
        }
        let node = args.sim_node.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            crate::inventory::node_id_from_hostname(&host)
        });
        let config = SimConfig::new(node, &args.sim_model, count);
        return Ok(Box::new(SimulatedGpus::new(config, Arc::new(RealClock))?));
    }
    Ok(Box::new(NvmlBackend::new()?))
}

/// Run a parsed command line; errors are printed to stderr.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Inventory(a) => inventory::run(&a),
        Command::Sample(a) => sample::run(&a),
        Command::BenchSampler(a) => bench::run(&a),
        Command::Execute(a) => execute::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wattsweep-agent: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Validate the sampling arguments against the GPUs present; returns the GPU indexes to sample.
fn sampled_gpus(args: &SamplingArgs, present: &[u32]) -> Result<Vec<u32>, CliError> {
    if args.power_ms == 0 || args.drain_ms == 0 {
        return Err(CliError::Usage(format!(
            "--power-ms ({}) and --drain-ms ({}) must be at least 1",
            args.power_ms, args.drain_ms
        )));
    }
    if present.is_empty() {
        return Err(CliError::Usage("this node has no GPU to sample".into()));
    }
    if args.gpus.is_empty() {
        return Ok(present.to_vec());
    }
    for g in &args.gpus {
        if !present.contains(g) {
            let list: Vec<String> = present.iter().map(u32::to_string).collect();
            return Err(CliError::Usage(format!(
                "--gpu {g}: no such GPU on this node; GPU indexes present: {}",
                list.join(", ")
            )));
        }
    }
    let mut gpus = args.gpus.clone();
    gpus.sort_unstable();
    gpus.dedup();
    Ok(gpus)
}

fn positive_seconds(flag: &str, s: f64) -> Result<std::time::Duration, CliError> {
    if s.is_finite() && s > 0.0 && s <= 86_400.0 * 365.0 {
        Ok(std::time::Duration::from_secs_f64(s))
    } else {
        Err(CliError::Usage(format!(
            "{flag} {s}: expected a number of seconds above 0"
        )))
    }
}

#[cfg(test)]
mod tests;
