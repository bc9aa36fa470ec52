//! The campaign model: what a planner asks for, parsed from TOML and validated.
//!
//! [`model`] holds the validated campaign the planner consumes; parsing (with file:line:col on every
//! error) and validation against the targeted GPU models live beside it. Parsing takes text, not
//! paths, so this module stays free of I/O: the command line reads the files.

mod model;

pub use model::{
    Campaign, Design, Fill, LayoutEntry, NeighbourProfile, Order, Sweep, SweepKind, Targets,
};
