//! Pure conversions from what the driver reports about MIG into wattsweep's shared types: the
//! driver's profile table (`nvidia-smi mig -lgip` / `-lgipp`) into a [`ProfileTable`], and the
//! instances that exist into a [`PlacedLayout`]. Kept apart from the FFI so they can be tested
//! without a GPU.

use wattsweep_shared::mig::{
    CiProfile, GiProfile, PlacedCi, PlacedGi, PlacedLayout, ProfileTable, TableSource,
};

use super::ffi::{RawCiProfile, RawGiProfile, RawPlacement};
use crate::gpu::ExistingGpuInstance;

/// One GPU-instance profile with everything the driver said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverGiProfile {
    /// The profile info.
    pub info: RawGiProfile,
    /// Its possible placements.
    pub placements: Vec<RawPlacement>,
    /// Its compute-instance profiles (read from an existing instance of it; empty when none exists,
    /// since NVML only answers that question for a GPU instance).
    pub compute_profiles: Vec<RawCiProfile>,
}

fn to_u8(v: u32) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

/// The profile table of a GPU from the driver's answers, or `None` when the driver reported no
/// profile. Profiles are ordered by id; the GPU's slot count is the end of the furthest placement
/// and its compute-slice count the largest profile's slices.
pub fn profile_table(model: &str, profiles: &[DriverGiProfile]) -> Option<ProfileTable> {
    if profiles.is_empty() {
        return None;
    }
    let mut gi: Vec<GiProfile> = profiles.iter().map(gi_profile).collect();
    gi.sort_by_key(|p| p.id);
    gi.dedup_by_key(|p| p.id);
    let memory_slices = profiles
        .iter()
        .flat_map(|p| {
            p.placements
                .iter()
                .map(|pl| pl.start.saturating_add(pl.size))
        })
        .max()
        .unwrap_or(0);
    let compute_slices = profiles
        .iter()
        .map(|p| p.info.slice_count)
        .max()
        .unwrap_or(0);
    Some(ProfileTable {
        model: model.to_string(),
        memory_slices: to_u8(memory_slices),
        compute_slices: to_u8(compute_slices),
        gpu_instance_profiles: gi,
        source: TableSource::Driver,
    })
}

fn gi_profile(p: &DriverGiProfile) -> GiProfile {
    let mut placements: Vec<u8> = p.placements.iter().map(|pl| to_u8(pl.start)).collect();
    placements.sort_unstable();
    placements.dedup();
    let placement_size = p.placements.iter().map(|pl| pl.size).max().unwrap_or(0);
    let mut compute_instance_profiles: Vec<CiProfile> = p
        .compute_profiles
        .iter()
        .map(|c| {
            let mut starts: Vec<u8> = c.placements.iter().map(|pl| to_u8(pl.start)).collect();
            starts.sort_unstable();
            starts.dedup();
            CiProfile {
                id: c.id,
                compute_slices: to_u8(c.slice_count),
                max_count: to_u8(c.instance_count),
                placements: starts,
            }
        })
        .collect();
    compute_instance_profiles.sort_by_key(|c| c.id);
    GiProfile {
        id: p.info.id,
        name: p.info.name.clone(),
        compute_slices: to_u8(p.info.slice_count),
        placement_size: to_u8(placement_size),
        memory_mib: p.info.memory_mib,
        max_count: to_u8(p.info.instance_count),
        placements,
        media_extensions: p.info.name.contains("+me"),
        compute_instance_profiles,
    }
}

/// The layout formed by the instances that exist, ordered by start slot (compute instances by
/// start). Profile names and compute slices come from `table`; a profile the table lacks is named
/// `profile-ID` and its slices are taken from its placement size.
pub fn placed_layout(
    existing: &[ExistingGpuInstance],
    table: Option<&ProfileTable>,
) -> PlacedLayout {
    let mut instances: Vec<PlacedGi> = existing
        .iter()
        .map(|gi| {
            let profile = table.and_then(|t| {
                t.gpu_instance_profiles
                    .iter()
                    .find(|p| p.id == gi.profile_id)
            });
            let mut cis: Vec<PlacedCi> = gi
                .compute_instances
                .iter()
                .map(|ci| {
                    let slices = profile
                        .and_then(|p| {
                            p.compute_instance_profiles
                                .iter()
                                .find(|c| c.id == ci.profile_id)
                        })
                        .map(|c| c.compute_slices)
                        .unwrap_or(0);
                    PlacedCi {
                        profile_id: ci.profile_id,
                        compute_slices: slices,
                        start: ci.start,
                    }
                })
                .collect();
            cis.sort_by_key(|c| c.start);
            PlacedGi {
                profile_id: gi.profile_id,
                profile: profile
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| format!("profile-{}", gi.profile_id)),
                start: gi.start,
                size: gi.size,
                compute_slices: profile.map(|p| p.compute_slices).unwrap_or(gi.size),
                compute_instances: cis,
            }
        })
        .collect();
    instances.sort_by_key(|g| g.start);
    PlacedLayout { instances }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::ExistingComputeInstance;

    fn pl(start: u32, size: u32) -> RawPlacement {
        RawPlacement { start, size }
    }

    fn gi(
        id: u32,
        name: &str,
        slices: u32,
        count: u32,
        mem: u64,
        placements: Vec<RawPlacement>,
    ) -> DriverGiProfile {
        DriverGiProfile {
            info: RawGiProfile {
                id,
                name: name.into(),
                slice_count: slices,
                instance_count: count,
                memory_mib: mem,
            },
            placements,
            compute_profiles: vec![],
        }
    }

    /// The H100 80GB table as the driver reports it (`nvidia-smi mig -lgip` / `-lgipp`, driver 550+).
    fn h100() -> Vec<DriverGiProfile> {
        vec![
            gi(
                19,
                "1g.10gb",
                1,
                7,
                9856,
                (0..7).map(|s| pl(s, 1)).collect(),
            ),
            gi(
                20,
                "1g.10gb+me",
                1,
                1,
                9856,
                (0..7).map(|s| pl(s, 1)).collect(),
            ),
            gi(
                15,
                "1g.20gb",
                1,
                4,
                20096,
                vec![pl(0, 2), pl(2, 2), pl(4, 2), pl(6, 2)],
            ),
            gi(
                14,
                "2g.20gb",
                2,
                3,
                20096,
                vec![pl(0, 2), pl(2, 2), pl(4, 2)],
            ),
            gi(9, "3g.40gb", 3, 2, 40320, vec![pl(0, 4), pl(4, 4)]),
            gi(5, "4g.40gb", 4, 1, 40320, vec![pl(0, 4)]),
            gi(0, "7g.80gb", 7, 1, 80896, vec![pl(0, 8)]),
        ]
    }

    #[test]
    fn h100_driver_answers_become_the_lgip_table() {
        let t = profile_table("h100-80gb", &h100()).unwrap();
        assert_eq!(t.source, TableSource::Driver);
        assert_eq!((t.memory_slices, t.compute_slices), (8, 7));
        let ids: Vec<u32> = t.gpu_instance_profiles.iter().map(|p| p.id).collect();
        assert_eq!(ids, vec![0, 5, 9, 14, 15, 19, 20]);
        let p9 = &t.gpu_instance_profiles[2];
        assert_eq!(
            (
                p9.name.as_str(),
                p9.compute_slices,
                p9.placement_size,
                p9.max_count
            ),
            ("3g.40gb", 3, 4, 2)
        );
        assert_eq!(p9.placements, vec![0, 4]);
        assert!(t.gpu_instance_profiles[6].media_extensions);
        assert!(!t.gpu_instance_profiles[5].media_extensions);
    }

    #[test]
    fn no_profiles_no_table() {
        assert_eq!(profile_table("x", &[]), None);
    }

    #[test]
    fn existing_instances_become_a_placed_layout() {
        let mut profiles = h100();
        profiles[6].compute_profiles = vec![RawCiProfile {
            id: 1,
            slice_count: 2,
            instance_count: 3,
            placements: vec![pl(4, 2), pl(0, 2), pl(2, 2)],
        }];
        let t = profile_table("h100-80gb", &profiles).unwrap();
        assert_eq!(
            t.gpu_instance_profiles[0].compute_instance_profiles[0].placements,
            vec![0, 2, 4]
        );
        let ci = |id, start| ExistingComputeInstance {
            ci_id: id,
            profile_id: 1,
            start,
            uuid: format!("MIG-{id}"),
        };
        let existing = vec![ExistingGpuInstance {
            gi_id: 0,
            profile_id: 0,
            start: 0,
            size: 8,
            compute_instances: vec![ci(2, 4), ci(0, 0)],
        }];
        let layout = placed_layout(&existing, Some(&t));
        assert_eq!(layout.instances.len(), 1);
        let g = &layout.instances[0];
        assert_eq!(
            (g.profile.as_str(), g.compute_slices, g.size),
            ("7g.80gb", 7, 8)
        );
        let starts: Vec<u8> = g.compute_instances.iter().map(|c| c.start).collect();
        assert_eq!(starts, vec![0, 4]);
        assert!(g.compute_instances.iter().all(|c| c.compute_slices == 2));
    }

    #[test]
    fn unknown_profiles_are_named_by_id_and_instances_sorted() {
        let existing = vec![
            ExistingGpuInstance {
                gi_id: 2,
                profile_id: 9,
                start: 4,
                size: 4,
                compute_instances: vec![],
            },
            ExistingGpuInstance {
                gi_id: 1,
                profile_id: 99,
                start: 0,
                size: 4,
                compute_instances: vec![],
            },
        ];
        let layout = placed_layout(&existing, None);
        assert_eq!(layout.instances[0].profile, "profile-99");
        assert_eq!(layout.instances[1].start, 4);
    }
}
