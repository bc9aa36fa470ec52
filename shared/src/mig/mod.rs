//! The MIG engine: profile tables, the layout language, the placement solver and enumeration.
//!
//! A layout such as `4g.40gb + 3g.40gb` or `7g.80gb(2c x3 + 1c)` is parsed ([`parse_layout`]), checked
//! against one GPU's profile table and placed deterministically ([`place`]): every refusal says which
//! slots collide, which maximum is exceeded or which profile this model lacks. The agent creates the
//! placed instances with `nvmlDeviceCreateGpuInstanceWithPlacement`, so the same layout lands on the
//! same slices on every run. A placed layout prints (`Display`) as a fully pinned layout string that
//! parses and places back to the identical layout.

mod compute;
mod enumerate;
mod error;
mod layout;
mod pack;
mod profile;
mod solver;
mod tables;

#[cfg(test)]
mod proptests;

pub use enumerate::{enumerate_layouts, maximal_layouts};
pub use error::{PlacementError, SlotUse};
pub use layout::{CiTerm, GiTerm, LayoutParseError, LayoutSpec, ProfileRef, parse_layout};
pub use profile::{CiProfile, GiProfile, ProfileTable, TableSource, nvml_ci_profile_id};
pub use solver::{PlacedCi, PlacedGi, PlacedLayout, place};
pub use tables::{builtin_models, builtin_table};
