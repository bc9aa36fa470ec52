//! `wattsweep-agent`: the node agent. Its subcommands (`run`, `inventory`, `sample`) arrive with the
//! GPU backends and the fleet protocol; until then the binary only identifies itself.

use clap::Parser;

/// wattsweep node agent: claims this node's tasks, reconfigures MIG, runs workloads and samples telemetry.
#[derive(Debug, Parser)]
#[command(name = "wattsweep-agent", version, about, long_about = None)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!(
        "wattsweep-agent {}: no subcommands yet (inventory, sample and run come with the agent issues)",
        env!("CARGO_PKG_VERSION")
    );
}
