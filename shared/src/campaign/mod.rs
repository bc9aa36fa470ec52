//! The campaign model: what a planner asks for, parsed from TOML and validated.
//!
//! [`model`] holds the validated campaign the planner consumes; parsing (with file:line:col on every
//! error) and validation against the targeted GPU models live beside it. Parsing takes text, not
//! paths, so this module stays free of I/O: the command line reads the campaign file, asks
//! [`catalog_dirs`] which catalog folders it names, reads those, and calls [`parse_campaign`].

mod check;
mod error;
mod mig_check;
mod mig_sweep;
mod model;
mod parse;
mod raw;
mod sections;
mod sweep;
mod workload;

pub use error::{CampaignError, CampaignErrors, ErrorKind, Source};
pub use model::{
    Campaign, Design, Fill, LayoutEntry, NeighbourProfile, Order, Sweep, SweepKind, Targets,
};
pub use parse::{catalog_dirs, parse_campaign};
