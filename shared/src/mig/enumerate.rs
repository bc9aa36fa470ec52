//! Enumeration of every valid placed layout, and of the maximal ones.

use super::{PlacedLayout, ProfileTable};

/// Every distinct valid placed layout built from the given GPU-instance profile ids (all profiles
/// when `profiles` is `None`), without compute-instance splits.
pub fn enumerate_layouts(table: &ProfileTable, profiles: Option<&[u32]>) -> Vec<PlacedLayout> {
    let _ = (table, profiles);
    todo!("MIG helper")
}

/// The layouts of [`enumerate_layouts`] to which no further instance of the allowed profiles fits.
pub fn maximal_layouts(table: &ProfileTable, profiles: Option<&[u32]>) -> Vec<PlacedLayout> {
    let _ = (table, profiles);
    todo!("MIG helper")
}
