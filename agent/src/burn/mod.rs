//! `wattsweep-duty-burn`: a duty-cycled GPU load that needs nothing but the NVIDIA driver.
//!
//! Usage-grid sweeps (passthrough) load each GPU of a node at a given percentage. This module holds
//! the parts of that load generator: the duty-cycle decision ([`duty`]), the loop that applies it to
//! any clock and any kernel ([`runner`], so tests drive it with simulated kernel durations), the
//! embedded PTX kernel and its arithmetic ([`kernel`]), and the only code that talks to the driver
//! ([`cuda`]).

pub mod cuda;
pub mod duty;
pub mod error;
pub mod kernel;
pub mod runner;

pub use duty::{DutyCycle, DutyError};
pub use error::BurnError;
pub use runner::{Clock, Report, Summary, Work, ready_line, run};
