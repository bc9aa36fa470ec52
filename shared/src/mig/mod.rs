//! The MIG engine: profile tables, the layout language, the placement solver and enumeration.
//!
//! A layout such as `4g.40gb + 3g.40gb` or `7g.80gb(2c x3 + 1c)` is parsed ([`parse_layout`]), checked
//! against one GPU's profile table and placed deterministically ([`place`]): every refusal says which
//! slots collide, which maximum is exceeded or which profile this model lacks. The agent creates the
//! placed instances with `nvmlDeviceCreateGpuInstanceWithPlacement`, so the same layout lands on the
//! same slices on every run.

mod enumerate;
mod layout;
mod profile;
mod solver;
mod tables;

pub use enumerate::{enumerate_layouts, maximal_layouts};
pub use layout::{CiTerm, GiTerm, LayoutParseError, LayoutSpec, ProfileRef, parse_layout};
pub use profile::{CiProfile, GiProfile, ProfileTable, TableSource};
pub use solver::{PlacedCi, PlacedGi, PlacedLayout, PlacementError, place};
pub use tables::builtin_table;
