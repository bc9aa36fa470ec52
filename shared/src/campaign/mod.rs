//! The campaign model: what a planner asks for, parsed from TOML and validated.
//!
//! [`model`] holds the validated campaign the planner consumes; parsing (with file:line:col on every
//! error) and validation against the targeted GPU models live beside it. Parsing takes text, not
//! paths ([`parse_campaign`]); [`load_campaign`] is the one function that reads a campaign file and
//! the catalog folders it names ([`catalog_dirs`]) from disk, shared by every command line.

mod check;
mod error;
mod files;
mod mig_check;
mod mig_sweep;
mod model;
mod parse;
mod raw;
mod sections;
mod sweep;
mod workload;

pub use error::{CampaignError, CampaignErrors, ErrorKind, Source};
pub use files::{LoadError, load_campaign};
pub use model::{
    Campaign, Design, Fill, LayoutEntry, NeighbourProfile, Order, Sweep, SweepKind, Targets,
};
pub use parse::{catalog_dirs, parse_campaign};
