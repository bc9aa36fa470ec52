//! MIG instances of a simulated GPU, checked by the MIG engine itself: a creation is accepted
//! exactly when the engine accepts the resulting set of instances, all pinned where they are, so
//! simulated GPUs refuse what the engine refuses, with the engine's reason.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wattsweep_shared::mig::{
    CiTerm, GiProfile, GiTerm, LayoutSpec, PlacedCi, PlacedGi, PlacedLayout, ProfileRef,
    ProfileTable, place,
};

use crate::gpu::{ExistingComputeInstance, ExistingGpuInstance};

/// Namespace of every simulated UUID (GPU and MIG device).
const SIM_NAMESPACE: Uuid = Uuid::from_u128(0x5f0e_7a1c_9d2b_4e8f_a6c3_1b7d_2e4f_6a80);

/// A GPU instance that exists on a simulated GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimGi {
    /// GPU-instance id.
    pub gi_id: u32,
    /// GPU-instance profile id.
    pub profile_id: u32,
    /// First placement slot.
    pub start: u8,
    /// Slots held.
    pub size: u8,
    /// Compute slices.
    pub compute_slices: u8,
    /// Compute instances, ordered by start.
    pub compute_instances: Vec<SimCi>,
}

/// A compute instance that exists inside a simulated GPU instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimCi {
    /// Compute-instance id.
    pub ci_id: u32,
    /// Compute-instance profile id.
    pub profile_id: u32,
    /// Compute slices.
    pub compute_slices: u8,
    /// First compute slice inside the GPU instance.
    pub start: u8,
    /// MIG device UUID.
    pub uuid: String,
}

/// Deterministic UUID of simulated GPU `index` of node `node_id`.
pub fn gpu_uuid(node_id: &str, index: u32) -> String {
    let name = format!("wattsweep-sim/{node_id}/gpu/{index}");
    format!("GPU-{}", Uuid::new_v5(&SIM_NAMESPACE, name.as_bytes()))
}

/// Deterministic UUID of a MIG device: the same placement on the same GPU always gets the same one.
pub fn mig_uuid(
    gpu_uuid: &str,
    gi_profile: u32,
    gi_start: u8,
    ci_profile: u32,
    ci_start: u8,
) -> String {
    let name = format!("{gpu_uuid}/gi/{gi_profile}@{gi_start}/ci/{ci_profile}@{ci_start}");
    format!("MIG-{}", Uuid::new_v5(&SIM_NAMESPACE, name.as_bytes()))
}

/// The engine's view of a GPU instance: pinned, with its compute instances pinned, or the default
/// full-size compute instance while it has none yet.
fn term(profile_id: u32, start: u8, cis: &[(u8, u8)]) -> GiTerm {
    GiTerm {
        profile: ProfileRef::Id(profile_id),
        count: 1,
        start: Some(start),
        compute: (!cis.is_empty()).then(|| {
            cis.iter()
                .map(|&(compute_slices, start)| CiTerm {
                    compute_slices,
                    count: 1,
                    start: Some(start),
                })
                .collect()
        }),
    }
}

fn ci_pairs(gi: &SimGi) -> Vec<(u8, u8)> {
    gi.compute_instances
        .iter()
        .map(|c| (c.compute_slices, c.start))
        .collect()
}

/// Check that a new GPU instance of `profile_id` at `start` may join `existing`; returns its
/// profile. The reason is the engine's.
pub fn check_new_gi<'t>(
    table: &'t ProfileTable,
    existing: &[SimGi],
    profile_id: u32,
    start: u8,
) -> Result<&'t GiProfile, String> {
    let mut terms: Vec<GiTerm> = existing
        .iter()
        .map(|gi| term(gi.profile_id, gi.start, &ci_pairs(gi)))
        .collect();
    terms.push(term(profile_id, start, &[]));
    place(table, &LayoutSpec { terms }).map_err(|e| e.to_string())?;
    table
        .profile_by_id(profile_id)
        .ok_or_else(|| format!("profile id {profile_id} does not exist on {}", table.model))
}

/// Check that a new compute instance of `ci_profile_id` at `start` may join GPU instance
/// `existing[gi_pos]`; returns its compute slices. The reason is the engine's.
pub fn check_new_ci(
    table: &ProfileTable,
    existing: &[SimGi],
    gi_pos: usize,
    ci_profile_id: u32,
    start: u8,
) -> Result<u8, String> {
    let gi = existing
        .get(gi_pos)
        .ok_or_else(|| format!("no GPU instance at position {gi_pos}"))?;
    let profile = table.profile_by_id(gi.profile_id).ok_or_else(|| {
        format!(
            "profile id {} does not exist on {}",
            gi.profile_id, table.model
        )
    })?;
    let ci = profile
        .compute_instance_profiles
        .iter()
        .find(|c| c.id == ci_profile_id)
        .ok_or_else(|| {
            let known: Vec<String> = profile
                .compute_instance_profiles
                .iter()
                .map(|c| format!("{}c (id {})", c.compute_slices, c.id))
                .collect();
            format!(
                "{} has no compute-instance profile id {ci_profile_id}; available: {}",
                profile.name,
                known.join(", ")
            )
        })?;
    let mut terms: Vec<GiTerm> = Vec::with_capacity(existing.len());
    for (i, other) in existing.iter().enumerate() {
        let mut cis = ci_pairs(other);
        if i == gi_pos {
            cis.push((ci.compute_slices, start));
        }
        terms.push(term(other.profile_id, other.start, &cis));
    }
    place(table, &LayoutSpec { terms }).map_err(|e| e.to_string())?;
    Ok(ci.compute_slices)
}

/// Smallest GPU-instance id ≥ 1 not in use.
pub fn next_gi_id(existing: &[SimGi]) -> u32 {
    (1..)
        .find(|id| existing.iter().all(|g| g.gi_id != *id))
        .unwrap_or(u32::MAX)
}

/// Smallest compute-instance id ≥ 0 not in use in `gi`.
pub fn next_ci_id(gi: &SimGi) -> u32 {
    (0..)
        .find(|id| gi.compute_instances.iter().all(|c| c.ci_id != *id))
        .unwrap_or(u32::MAX)
}

/// The instances as the engine's placed layout (profile names from the table).
pub fn to_placed(table: &ProfileTable, gis: &[SimGi]) -> PlacedLayout {
    PlacedLayout {
        instances: gis
            .iter()
            .map(|gi| PlacedGi {
                profile_id: gi.profile_id,
                profile: table
                    .profile_by_id(gi.profile_id)
                    .map_or_else(|| gi.profile_id.to_string(), |p| p.name.clone()),
                start: gi.start,
                size: gi.size,
                compute_slices: gi.compute_slices,
                compute_instances: gi
                    .compute_instances
                    .iter()
                    .map(|c| PlacedCi {
                        profile_id: c.profile_id,
                        compute_slices: c.compute_slices,
                        start: c.start,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The instances as the backend trait reports them.
pub fn to_existing(gis: &[SimGi]) -> Vec<ExistingGpuInstance> {
    gis.iter()
        .map(|gi| ExistingGpuInstance {
            gi_id: gi.gi_id,
            profile_id: gi.profile_id,
            start: gi.start,
            size: gi.size,
            compute_instances: gi
                .compute_instances
                .iter()
                .map(|c| ExistingComputeInstance {
                    ci_id: c.ci_id,
                    profile_id: c.profile_id,
                    start: c.start,
                    uuid: c.uuid.clone(),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use wattsweep_shared::mig::builtin_table;

    use super::*;

    fn gi(gi_id: u32, profile_id: u32, start: u8, size: u8, slices: u8) -> SimGi {
        SimGi {
            gi_id,
            profile_id,
            start,
            size,
            compute_slices: slices,
            compute_instances: vec![],
        }
    }

    #[test]
    fn uuids_are_deterministic_and_distinct() {
        assert_eq!(gpu_uuid("n1", 0), gpu_uuid("n1", 0));
        assert_ne!(gpu_uuid("n1", 0), gpu_uuid("n1", 1));
        assert_ne!(gpu_uuid("n1", 0), gpu_uuid("n2", 0));
        assert!(gpu_uuid("n1", 0).starts_with("GPU-"));
        let g = gpu_uuid("n1", 0);
        assert_eq!(mig_uuid(&g, 9, 0, 2, 0), mig_uuid(&g, 9, 0, 2, 0));
        assert_ne!(mig_uuid(&g, 9, 0, 2, 0), mig_uuid(&g, 9, 4, 2, 0));
        assert!(mig_uuid(&g, 9, 0, 2, 0).starts_with("MIG-"));
    }

    #[test]
    fn refuses_collisions_with_existing_instances() {
        let t = builtin_table("h100-80gb").unwrap();
        let existing = vec![gi(1, 9, 0, 4, 3)];
        assert!(check_new_gi(&t, &existing, 9, 4).is_ok());
        let err = check_new_gi(&t, &existing, 14, 2).unwrap_err();
        assert!(err.contains("slot"), "{err}");
        let err = check_new_gi(&t, &existing, 9, 2).unwrap_err();
        assert!(err.contains("allowed start"), "{err}");
        let err = check_new_gi(&t, &[], 3, 0).unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn refuses_compute_instances_that_do_not_fit() {
        let t = builtin_table("h100-80gb").unwrap();
        let mut existing = vec![gi(1, 0, 0, 8, 7)];
        assert_eq!(check_new_ci(&t, &existing, 0, 1, 0), Ok(2));
        existing[0].compute_instances.push(SimCi {
            ci_id: 0,
            profile_id: 1,
            compute_slices: 2,
            start: 0,
            uuid: String::new(),
        });
        assert!(check_new_ci(&t, &existing, 0, 0, 1).is_err());
        assert_eq!(check_new_ci(&t, &existing, 0, 0, 2), Ok(1));
        let err = check_new_ci(&t, &existing, 0, 42, 2).unwrap_err();
        assert!(err.contains("no compute-instance profile id 42"), "{err}");
    }

    #[test]
    fn ids_fill_gaps() {
        let mut a = gi(1, 19, 0, 1, 1);
        let b = gi(3, 19, 1, 1, 1);
        assert_eq!(next_gi_id(&[a.clone(), b]), 2);
        assert_eq!(next_gi_id(&[]), 1);
        assert_eq!(next_ci_id(&a), 0);
        a.compute_instances.push(SimCi {
            ci_id: 0,
            profile_id: 0,
            compute_slices: 1,
            start: 0,
            uuid: String::new(),
        });
        assert_eq!(next_ci_id(&a), 1);
    }
}
