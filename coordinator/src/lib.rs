//! The `wattsweep` command line and (later) the coordinator service, as a library so tests drive the
//! same code the binary runs.

pub mod cli;
pub mod output;
