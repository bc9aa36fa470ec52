//! Command-line parsing and dispatch. Each subcommand lives in its own module and writes to the
//! writer it is given, so tests can run commands in-process and read their output.

mod error;
mod mig;
mod plan;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::CliError;

use crate::output::Format;

/// wattsweep: measure how GPU sharing (MIG, time-slicing, MPS) changes power, energy and performance,
/// and turn it into worst-case power envelopes.
#[derive(Debug, Parser)]
#[command(name = "wattsweep", version, about, long_about = None)]
pub struct Cli {
    /// Output format of commands whose output is data.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table, env = "WATTSWEEP_FORMAT")]
    pub format: Format,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Expand a campaign into its tasks without running them.
    Plan(plan::PlanArgs),
    /// Inspect MIG profile tables, check layouts, enumerate placed layouts.
    Mig {
        /// What to do with MIG.
        #[command(subcommand)]
        command: mig::MigCommand,
    },
}

/// How a command that ran to the end turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// What was asked for is valid / succeeded: exit 0.
    Success,
    /// What was asked for is invalid or failed: exit 1.
    Invalid,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Invalid => ExitCode::from(1),
        }
    }
}

/// Run a parsed command line, printing to standard output.
pub fn run(cli: Cli) -> Result<Outcome, CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run_to(cli, &mut out)
}

/// Run a parsed command line, printing to `out`.
pub fn run_to(cli: Cli, out: &mut dyn Write) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Plan(args) => plan::run(&args, cli.format, out),
        Command::Mig { command } => mig::run(&command, cli.format, out),
    }
}
