//! Plain data returned by the raw MIG calls of [`super::ffi`]: what the driver said, before it
//! becomes wattsweep's shared types (kept apart so the FFI module holds only the calls).

/// A GPU-instance profile as the driver describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawGiProfile {
    /// Profile id (what `nvidia-smi mig -lgip` prints as `ID`).
    pub id: u32,
    /// Name without the `MIG ` prefix (`3g.40gb`); synthesised for v1-only drivers.
    pub name: String,
    /// Compute slices.
    pub slice_count: u32,
    /// Most instances at once.
    pub instance_count: u32,
    /// Memory, MiB (the driver's `memorySizeMB`).
    pub memory_mib: u64,
}

/// A start/size placement (memory slots for GPU instances, compute slices for compute instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPlacement {
    /// First slot.
    pub start: u32,
    /// Slots occupied.
    pub size: u32,
}

/// A compute-instance profile inside one GPU instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCiProfile {
    /// Profile id.
    pub id: u32,
    /// Compute slices.
    pub slice_count: u32,
    /// Most instances inside the GPU instance.
    pub instance_count: u32,
    /// Allowed placements inside the GPU instance.
    pub placements: Vec<RawPlacement>,
}

/// A GPU instance that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawGi {
    /// GPU-instance id.
    pub id: u32,
    /// Profile id.
    pub profile_id: u32,
    /// Placement.
    pub placement: RawPlacement,
}

/// A compute instance that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawCi {
    /// Compute-instance id.
    pub id: u32,
    /// Profile id.
    pub profile_id: u32,
    /// Placement inside its GPU instance.
    pub placement: RawPlacement,
}
