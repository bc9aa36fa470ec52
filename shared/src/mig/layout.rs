//! The MIG layout language (DESIGN.md §3): terms joined by `+`; a term is
//! `PROFILE[ xN][@START][(CI terms)]`; CI terms are `Nc[ xM]` joined by `+`.

use serde::{Deserialize, Serialize};

/// A parsed, not yet placed, layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutSpec {
    /// GPU-instance terms in the order written.
    pub terms: Vec<GiTerm>,
}

/// One GPU-instance term: `3g.40gb x2@0(1c x3)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiTerm {
    /// The profile, by name or NVML id.
    pub profile: ProfileRef,
    /// How many instances (`xN`), at least 1.
    pub count: u8,
    /// Pinned start slot (`@START`) of the first instance.
    pub start: Option<u8>,
    /// Compute-instance split of each instance; `None` means one CI spanning the GPU instance.
    pub compute: Option<Vec<CiTerm>>,
}

/// How a term names its profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProfileRef {
    /// Driver name (`3g.40gb`, `1g.10gb+me`) or slice shorthand (`3g`).
    Name(String),
    /// NVML profile id (`9`).
    Id(u32),
}

/// One compute-instance term: `2c x3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiTerm {
    /// Compute slices of each compute instance.
    pub compute_slices: u8,
    /// How many.
    pub count: u8,
}

/// A layout string that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MIG layout at column {column}: {message}")]
pub struct LayoutParseError {
    /// 1-based column (in characters) in the layout string.
    pub column: usize,
    /// What is wrong and what is allowed there.
    pub message: String,
}

/// Parse a layout string.
pub fn parse_layout(input: &str) -> Result<LayoutSpec, LayoutParseError> {
    let _ = input;
    todo!("MIG helper")
}
