//! Why a layout cannot be placed: one variant per rule, each naming the instances, slots and limits
//! involved, so that a refused campaign says exactly what to change.

use std::fmt;

/// Slots (or compute slices) held by one placed instance, as "no room" errors report them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotUse {
    /// The instance, as `4g.40gb@0 (term 1)`.
    pub instance: String,
    /// First slot held.
    pub first: u8,
    /// Last slot held.
    pub last: u8,
}

impl fmt::Display for SlotUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{} by {}", self.first, self.instance)
        } else {
            write!(f, "{}-{} by {}", self.first, self.last, self.instance)
        }
    }
}

/// Why a layout cannot be placed on a GPU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// The layout has no GPU instance at all.
    #[error("empty MIG layout: give at least one GPU instance, such as `7g.80gb` or `3g.40gb x2`")]
    EmptyLayout,
    /// A term asks for zero instances.
    #[error("term {term} (`{profile}`) asks for 0 instances: a count must be at least 1")]
    ZeroCount {
        /// 1-based term number.
        term: usize,
        /// The profile as written.
        profile: String,
    },
    /// The model has no such GPU-instance profile.
    #[error("profile `{profile}` does not exist on {model}; known profiles: {}", .known.join(", "))]
    UnknownProfile {
        /// The profile as written.
        profile: String,
        /// The model of the profile table.
        model: String,
        /// Known profiles, as `name (id N)`.
        known: Vec<String>,
    },
    /// More instances of a profile than the GPU allows.
    #[error("{requested} instances of {profile} requested, but at most {max} can exist on one GPU")]
    MaxExceeded {
        /// Profile name.
        profile: String,
        /// Instances asked for, over all terms.
        requested: u32,
        /// The profile's maximum.
        max: u8,
    },
    /// The GPU instances need more compute slices than the GPU has.
    #[error("the layout needs {requested} compute slices, but the GPU has {available}")]
    ComputeSlicesExceeded {
        /// Compute slices of all requested instances.
        requested: u32,
        /// Compute slices of the GPU.
        available: u8,
    },
    /// A pinned start slot is not an allowed placement of the profile.
    #[error(
        "{profile} (term {term}) cannot start at slot {start}; its allowed start slots are {}",
        list(.allowed)
    )]
    StartNotAllowed {
        /// 1-based term number.
        term: usize,
        /// Profile name.
        profile: String,
        /// The pinned start.
        start: u8,
        /// Allowed start slots.
        allowed: Vec<u8>,
    },
    /// Two pinned instances overlap.
    #[error("{first} and {second} both need slot(s) {}", list(.slots))]
    PinnedCollision {
        /// The instance placed first, as `3g.40gb@0 (term 1)`.
        first: String,
        /// The instance that collides with it.
        second: String,
        /// Slots both would hold.
        slots: Vec<u8>,
    },
    /// No free run of slots at an allowed start is left for an instance (no other arrangement of
    /// the unpinned instances fits either).
    #[error(
        "no room for {instance}: it needs {size} free slot(s) starting at {}, but slots are taken: {}",
        starts(.needed_starts),
        uses(.occupied)
    )]
    NoRoom {
        /// The instance that does not fit, as `2g.20gb (term 2)`.
        instance: String,
        /// Slots it occupies.
        size: u8,
        /// Start slots at which it could go if they were free.
        needed_starts: Vec<u8>,
        /// What holds the slots when it was tried (deterministic first attempt).
        occupied: Vec<SlotUse>,
    },
    /// A compute-instance split is given but empty.
    #[error("{gpu_instance}: the compute-instance split is empty; give terms such as `2c x3 + 1c`")]
    CiEmptySplit {
        /// The GPU instance, as `7g.80gb (term 1)`.
        gpu_instance: String,
    },
    /// A compute-instance term asks for zero instances.
    #[error(
        "{gpu_instance}: `{compute_slices}c` asks for 0 compute instances; a count must be at least 1"
    )]
    CiZeroCount {
        /// The GPU instance.
        gpu_instance: String,
        /// Compute slices of the term.
        compute_slices: u8,
    },
    /// The GPU instance offers no compute-instance profile of that size.
    #[error(
        "{gpu_instance} has no {compute_slices}c compute-instance profile; available: {}",
        sizes(.available)
    )]
    CiUnknownProfile {
        /// The GPU instance.
        gpu_instance: String,
        /// Compute slices asked for.
        compute_slices: u8,
        /// Sizes (compute slices) of the available compute-instance profiles.
        available: Vec<u8>,
    },
    /// More compute instances of a size than the GPU instance allows.
    #[error(
        "{gpu_instance}: {requested} × {compute_slices}c requested, but at most {max} fit in one instance"
    )]
    CiMaxExceeded {
        /// The GPU instance.
        gpu_instance: String,
        /// Compute slices of the profile.
        compute_slices: u8,
        /// Compute instances asked for.
        requested: u32,
        /// The profile's maximum inside this GPU instance.
        max: u8,
    },
    /// The compute instances need more compute slices than the GPU instance has.
    #[error(
        "{gpu_instance}: the compute instances need {requested} compute slices, but it has {available}"
    )]
    CiSlicesExceeded {
        /// The GPU instance.
        gpu_instance: String,
        /// Compute slices asked for.
        requested: u32,
        /// Compute slices of the GPU instance.
        available: u8,
    },
    /// A pinned compute-instance start is not allowed.
    #[error(
        "{gpu_instance}: {compute_slices}c cannot start at compute slice {start}; allowed starts are {}",
        list(.allowed)
    )]
    CiStartNotAllowed {
        /// The GPU instance.
        gpu_instance: String,
        /// Compute slices of the profile.
        compute_slices: u8,
        /// The pinned start.
        start: u8,
        /// Allowed starts.
        allowed: Vec<u8>,
    },
    /// Two pinned compute instances overlap.
    #[error("{gpu_instance}: {first} and {second} both need compute slice(s) {}", list(.slices))]
    CiPinnedCollision {
        /// The GPU instance.
        gpu_instance: String,
        /// The compute instance placed first, as `2c@0`.
        first: String,
        /// The one colliding with it.
        second: String,
        /// Compute slices both would hold.
        slices: Vec<u8>,
    },
    /// No room is left for a compute instance.
    #[error(
        "{gpu_instance}: no room for {instance}: it needs {size} free compute slice(s) starting at {}, but slices are taken: {}",
        starts(.needed_starts),
        uses(.occupied)
    )]
    CiNoRoom {
        /// The GPU instance.
        gpu_instance: String,
        /// The compute instance that does not fit, as `3c (CI term 2)`.
        instance: String,
        /// Compute slices it needs.
        size: u8,
        /// Starts at which it could go if they were free.
        needed_starts: Vec<u8>,
        /// What holds the slices when it was tried.
        occupied: Vec<SlotUse>,
    },
    /// The table names no compute-instance profile spanning the GPU instance.
    #[error(
        "{profile}: no compute-instance profile spans its {compute_slices} compute slices, so it cannot \
         get its default compute instance; give an explicit split"
    )]
    NoDefaultComputeInstance {
        /// Profile name.
        profile: String,
        /// Its compute slices.
        compute_slices: u8,
    },
}

fn list(values: &[u8]) -> String {
    let inner: Vec<String> = values.iter().map(u8::to_string).collect();
    format!("{{{}}}", inner.join(","))
}

fn starts(values: &[u8]) -> String {
    if values.is_empty() {
        "an allowed start, but none is left (a pinned `xN` term takes the allowed starts above \
         its pinned one)"
            .to_string()
    } else {
        format!("one of {}", list(values))
    }
}

fn sizes(values: &[u8]) -> String {
    if values.is_empty() {
        return "none".to_string();
    }
    values
        .iter()
        .map(|v| format!("{v}c"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn uses(values: &[SlotUse]) -> String {
    if values.is_empty() {
        return "none".to_string();
    }
    values
        .iter()
        .map(SlotUse::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
