//! `wattsweep`: the user command line (and, later, the coordinator service).
//!
//! Thin on purpose: parse the command line, set up logging, hand over to [`wattsweep_coordinator::cli`],
//! and turn its outcome into the exit codes DESIGN.md §5 promises (0 success, 1 invalid or failed,
//! 2 usage or input error).

use std::process::ExitCode;

use clap::Parser;
use wattsweep_coordinator::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        // A reader that stops early (`wattsweep plan … | head`) is not an error of ours.
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WATTSWEEP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
