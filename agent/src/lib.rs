//! The wattsweep node agent as a library: everything `wattsweep-agent` does, behind small traits, so
//! that tests drive the same code the binary runs.

pub mod burn;
pub mod cli;
pub mod executor;
pub mod fsio;
pub mod gpu;
pub mod inventory;
pub mod mig;
pub mod runtime;
pub mod telemetry;
