//! Compute-instance rules inside one GPU instance: which CI profiles exist, how many, how many
//! compute slices, and where each CI goes (the same deterministic packer as GPU instances, over the
//! GPU instance's compute slices).

use std::collections::BTreeMap;

use super::pack::{Group, PackError, pack};
use super::{CiTerm, GiProfile, PlacedCi, PlacementError, SlotUse};

/// The single compute instance spanning a GPU instance (what `nvidia-smi mig -cgi … -C` creates).
pub(super) fn whole_gi_ci(gi: &GiProfile) -> Result<PlacedCi, PlacementError> {
    gi.full_ci_profile_id()
        .map(|profile_id| PlacedCi {
            profile_id,
            compute_slices: gi.compute_slices,
            start: 0,
        })
        .ok_or_else(|| PlacementError::NoDefaultComputeInstance {
            profile: gi.name.clone(),
            compute_slices: gi.compute_slices,
        })
}

/// Place the compute instances of one GPU instance of profile `gi`, described in errors as
/// `gpu_instance`. `None` gives the one full-size compute instance.
pub(super) fn place_cis(
    gi: &GiProfile,
    split: Option<&[CiTerm]>,
    gpu_instance: &str,
) -> Result<Vec<PlacedCi>, PlacementError> {
    let Some(split) = split else {
        return Ok(vec![whole_gi_ci(gi)?]);
    };
    if split.is_empty() {
        return Err(PlacementError::CiEmptySplit {
            gpu_instance: gpu_instance.to_string(),
        });
    }
    let mut profiles = Vec::with_capacity(split.len());
    for term in split {
        if term.count == 0 {
            return Err(PlacementError::CiZeroCount {
                gpu_instance: gpu_instance.to_string(),
                compute_slices: term.compute_slices,
            });
        }
        let profile =
            gi.ci_profile(term.compute_slices)
                .ok_or_else(|| PlacementError::CiUnknownProfile {
                    gpu_instance: gpu_instance.to_string(),
                    compute_slices: term.compute_slices,
                    available: gi
                        .compute_instance_profiles
                        .iter()
                        .map(|c| c.compute_slices)
                        .collect(),
                })?;
        profiles.push(profile);
    }

    let mut requested: BTreeMap<u8, u32> = BTreeMap::new();
    for term in split {
        *requested.entry(term.compute_slices).or_default() += u32::from(term.count);
    }
    for profile in &profiles {
        let asked = requested.get(&profile.compute_slices).copied().unwrap_or(0);
        if asked > u32::from(profile.max_count) {
            return Err(PlacementError::CiMaxExceeded {
                gpu_instance: gpu_instance.to_string(),
                compute_slices: profile.compute_slices,
                requested: asked,
                max: profile.max_count,
            });
        }
    }
    let total: u32 = split
        .iter()
        .map(|t| u32::from(t.count) * u32::from(t.compute_slices))
        .sum();
    if total > u32::from(gi.compute_slices) {
        return Err(PlacementError::CiSlicesExceeded {
            gpu_instance: gpu_instance.to_string(),
            requested: total,
            available: gi.compute_slices,
        });
    }

    let groups: Vec<Group> = split
        .iter()
        .zip(&profiles)
        .map(|(term, profile)| Group {
            size: term.compute_slices,
            allowed: fitting(&profile.placements, term.compute_slices, gi.compute_slices),
            count: term.count,
            pin: term.start,
        })
        .collect();
    let label = |(g, k): (usize, u8), start: Option<u8>| -> String {
        let slices = split.get(g).map_or(0, |t| t.compute_slices);
        match start {
            Some(s) => format!("{slices}c@{s}"),
            None => ci_label(split, g, k),
        }
    };
    let packing = pack(gi.compute_slices, &groups).map_err(|e| match e {
        PackError::StartNotAllowed { group } => PlacementError::CiStartNotAllowed {
            gpu_instance: gpu_instance.to_string(),
            compute_slices: split.get(group).map_or(0, |t| t.compute_slices),
            start: split.get(group).and_then(|t| t.start).unwrap_or(0),
            allowed: groups
                .get(group)
                .map(|g| g.allowed.clone())
                .unwrap_or_default(),
        },
        PackError::Collision {
            earlier,
            later,
            slots,
        } => PlacementError::CiPinnedCollision {
            gpu_instance: gpu_instance.to_string(),
            first: label(earlier.0, Some(earlier.1)),
            second: label(later.0, Some(later.1)),
            slices: slots,
        },
        PackError::NoRoom {
            item,
            needed,
            occupied,
        } => PlacementError::CiNoRoom {
            gpu_instance: gpu_instance.to_string(),
            instance: ci_label(split, item.0, item.1),
            size: split.get(item.0).map_or(0, |t| t.compute_slices),
            needed_starts: needed,
            occupied: occupied
                .into_iter()
                .map(|(it, start, size)| SlotUse {
                    instance: label(it, Some(start)),
                    first: start,
                    last: start.saturating_add(size).saturating_sub(1),
                })
                .collect(),
        },
    })?;

    let mut placed: Vec<PlacedCi> = packing
        .iter()
        .zip(&profiles)
        .flat_map(|(starts, profile)| {
            starts.iter().map(|start| PlacedCi {
                profile_id: profile.id,
                compute_slices: profile.compute_slices,
                start: *start,
            })
        })
        .collect();
    placed.sort_by_key(|c| c.start);
    Ok(placed)
}

/// Allowed starts at which an instance of `size` fits inside `slots`, ascending.
pub(super) fn fitting(placements: &[u8], size: u8, slots: u8) -> Vec<u8> {
    let mut out: Vec<u8> = placements
        .iter()
        .copied()
        .filter(|s| u16::from(*s) + u16::from(size) <= u16::from(slots))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn ci_label(split: &[CiTerm], g: usize, k: u8) -> String {
    let term = split.get(g);
    let slices = term.map_or(0, |t| t.compute_slices);
    let count = term.map_or(1, |t| t.count);
    if count > 1 {
        format!(
            "{slices}c (CI term {}, instance {} of {count})",
            g + 1,
            u32::from(k) + 1
        )
    } else {
        format!("{slices}c (CI term {})", g + 1)
    }
}
