//! The deterministic placement solver: from a parsed layout and a GPU's profile table to GPU and
//! compute instances at definite slots, or a precise reason why not.
//!
//! Checks, in this order (the first failure is reported): empty layout and zero counts; every
//! profile exists on the model; per-profile maxima (summed over terms); total compute slices; each
//! term's compute-instance split (profiles, maxima, slices, placement); then GPU-instance placement
//! by the rules of the packer (`pack.rs`): pinned terms first in term order (`x2@0` takes slot 0
//! and then the next allowed free starts above it), then the others, largest placement size first,
//! then term order, at the lowest allowed free start, with a backtracking search when that greedy
//! choice fails. Every instance of a term gets the same compute-instance split.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::compute::{fitting, place_cis};
use super::pack::{Group, PackError, pack};
use super::{
    CiTerm, GiProfile, GiTerm, LayoutSpec, PlacementError, ProfileRef, ProfileTable, SlotUse,
};

/// A layout with every GPU instance and compute instance at a definite place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlacedLayout {
    /// GPU instances ordered by start slot.
    pub instances: Vec<PlacedGi>,
}

/// One placed GPU instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlacedGi {
    /// NVML GPU-instance profile id.
    pub profile_id: u32,
    /// Profile name (`3g.40gb`).
    pub profile: String,
    /// First placement slot.
    pub start: u8,
    /// Slots occupied.
    pub size: u8,
    /// Compute slices of the instance.
    pub compute_slices: u8,
    /// Compute instances, ordered by start.
    pub compute_instances: Vec<PlacedCi>,
}

/// One placed compute instance inside a GPU instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlacedCi {
    /// NVML compute-instance profile id.
    pub profile_id: u32,
    /// Compute slices.
    pub compute_slices: u8,
    /// First compute slice inside the GPU instance.
    pub start: u8,
}

impl PlacedGi {
    /// Whether the instance has exactly one compute instance spanning it (the default split).
    pub fn has_whole_ci(&self) -> bool {
        matches!(
            self.compute_instances.as_slice(),
            [ci] if ci.start == 0 && ci.compute_slices == self.compute_slices
        )
    }
}

impl PlacedLayout {
    /// The layout as a fully pinned spec: one term per GPU instance with its start, and the
    /// compute split (every CI pinned) unless it is the single full-size CI. Placing it on the same
    /// table gives this layout back.
    pub fn to_spec(&self) -> LayoutSpec {
        LayoutSpec {
            terms: self
                .instances
                .iter()
                .map(|gi| GiTerm {
                    profile: ProfileRef::Name(gi.profile.clone()),
                    count: 1,
                    start: Some(gi.start),
                    compute: (!gi.has_whole_ci()).then(|| {
                        gi.compute_instances
                            .iter()
                            .map(|ci| CiTerm {
                                compute_slices: ci.compute_slices,
                                count: 1,
                                start: Some(ci.start),
                            })
                            .collect()
                    }),
                })
                .collect(),
        }
    }

    /// This layout with one more GPU instance of `profile` (whole-GI compute instance), every
    /// existing instance kept where it is: the step of a "neighbours added one by one" sweep.
    pub fn with_instance(
        &self,
        table: &ProfileTable,
        profile: &ProfileRef,
    ) -> Result<PlacedLayout, PlacementError> {
        let mut spec = self.to_spec();
        spec.terms.push(GiTerm::new(profile.clone(), 1));
        place(table, &spec)
    }

    /// Compute slices used by all GPU instances.
    pub fn compute_slices(&self) -> u32 {
        self.instances
            .iter()
            .map(|gi| u32::from(gi.compute_slices))
            .sum()
    }

    /// Compute instances over all GPU instances: the MIG devices workloads run on.
    pub fn compute_instance_count(&self) -> usize {
        self.instances
            .iter()
            .map(|gi| gi.compute_instances.len())
            .sum()
    }
}

impl fmt::Display for PlacedLayout {
    /// `3g.40gb@0 + 3g.40gb@4`; split instances as `7g.80gb@0(2c@0 + 2c@2 + 2c@4 + 1c@6)`.
    /// [`parse_layout`](super::parse_layout) and [`place`] turn this text back into the same layout.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_spec(), f)
    }
}

/// Place `spec` on a GPU with `table`, deterministically (lowest free start slots first, pinned
/// starts honoured), or say precisely why it cannot be placed.
pub fn place(table: &ProfileTable, spec: &LayoutSpec) -> Result<PlacedLayout, PlacementError> {
    if spec.terms.is_empty() {
        return Err(PlacementError::EmptyLayout);
    }
    if let Some((i, term)) = spec.terms.iter().enumerate().find(|(_, t)| t.count == 0) {
        return Err(PlacementError::ZeroCount {
            term: i + 1,
            profile: term.profile.to_string(),
        });
    }
    let profiles = spec
        .terms
        .iter()
        .map(|t| table.find(&t.profile))
        .collect::<Result<Vec<_>, _>>()?;
    check_counts(table, &spec.terms, &profiles)?;

    let cis = spec
        .terms
        .iter()
        .zip(&profiles)
        .enumerate()
        .map(|(i, (term, profile))| {
            place_cis(
                profile,
                term.compute.as_deref(),
                &format!("{} (term {})", profile.name, i + 1),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;

    let groups: Vec<Group> = spec
        .terms
        .iter()
        .zip(&profiles)
        .map(|(term, profile)| Group {
            size: profile.placement_size,
            allowed: fitting(
                &profile.placements,
                profile.placement_size,
                table.memory_slices,
            ),
            count: term.count,
            pin: term.start,
        })
        .collect();
    let packing = pack(table.memory_slices, &groups)
        .map_err(|e| pack_error(e, &spec.terms, &profiles, &groups))?;

    let mut instances: Vec<PlacedGi> = packing
        .iter()
        .zip(&profiles)
        .zip(&cis)
        .flat_map(|((starts, profile), cis)| {
            starts.iter().map(|start| PlacedGi {
                profile_id: profile.id,
                profile: profile.name.clone(),
                start: *start,
                size: profile.placement_size,
                compute_slices: profile.compute_slices,
                compute_instances: cis.clone(),
            })
        })
        .collect();
    instances.sort_by_key(|gi| gi.start);
    Ok(PlacedLayout { instances })
}

/// Per-profile maxima (summed over terms, reported in order of first appearance) and the total of
/// compute slices.
fn check_counts(
    table: &ProfileTable,
    terms: &[GiTerm],
    profiles: &[&GiProfile],
) -> Result<(), PlacementError> {
    let mut requested: BTreeMap<u32, u32> = BTreeMap::new();
    for (term, profile) in terms.iter().zip(profiles) {
        *requested.entry(profile.id).or_default() += u32::from(term.count);
    }
    for profile in profiles {
        let asked = requested.get(&profile.id).copied().unwrap_or(0);
        if asked > u32::from(profile.max_count) {
            return Err(PlacementError::MaxExceeded {
                profile: profile.name.clone(),
                requested: asked,
                max: profile.max_count,
            });
        }
    }
    let compute: u32 = terms
        .iter()
        .zip(profiles)
        .map(|(t, p)| u32::from(t.count) * u32::from(p.compute_slices))
        .sum();
    if compute > u32::from(table.compute_slices) {
        return Err(PlacementError::ComputeSlicesExceeded {
            requested: compute,
            available: table.compute_slices,
        });
    }
    Ok(())
}

/// An instance for messages: `3g.40gb@4 (term 2)` when placed, `3g.40gb (term 2, instance 2 of 3)`
/// when not.
fn gi_label(
    terms: &[GiTerm],
    profiles: &[&GiProfile],
    item: (usize, u8),
    start: Option<u8>,
) -> String {
    let name = profiles.get(item.0).map_or("?", |p| p.name.as_str());
    let count = terms.get(item.0).map_or(1, |t| t.count);
    let at = start.map(|s| format!("@{s}")).unwrap_or_default();
    if count > 1 {
        format!(
            "{name}{at} (term {}, instance {} of {count})",
            item.0 + 1,
            u32::from(item.1) + 1
        )
    } else {
        format!("{name}{at} (term {})", item.0 + 1)
    }
}

fn pack_error(
    error: PackError,
    terms: &[GiTerm],
    profiles: &[&GiProfile],
    groups: &[Group],
) -> PlacementError {
    match error {
        PackError::StartNotAllowed { group } => PlacementError::StartNotAllowed {
            term: group + 1,
            profile: profiles
                .get(group)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            start: terms.get(group).and_then(|t| t.start).unwrap_or(0),
            allowed: groups
                .get(group)
                .map(|g| g.allowed.clone())
                .unwrap_or_default(),
        },
        PackError::Collision {
            earlier,
            later,
            slots,
        } => PlacementError::PinnedCollision {
            first: gi_label(terms, profiles, earlier.0, Some(earlier.1)),
            second: gi_label(terms, profiles, later.0, Some(later.1)),
            slots,
        },
        PackError::NoRoom {
            item,
            needed,
            occupied,
        } => PlacementError::NoRoom {
            instance: gi_label(terms, profiles, item, None),
            size: profiles.get(item.0).map_or(0, |p| p.placement_size),
            needed_starts: needed,
            occupied: occupied
                .into_iter()
                .map(|(it, start, size)| SlotUse {
                    instance: gi_label(terms, profiles, it, Some(start)),
                    first: start,
                    last: start.saturating_add(size).saturating_sub(1),
                })
                .collect(),
        },
    }
}

#[cfg(test)]
#[path = "solver_tests.rs"]
mod tests;
