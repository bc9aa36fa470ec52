//! `wattsweep-agent`: the node agent's binary. Everything lives in the library (`cli`); this only
//! parses the command line, sets up logging to stderr and exits with the command's code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use wattsweep_agent::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WATTSWEEP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    run(cli)
}
