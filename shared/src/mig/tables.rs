//! Built-in MIG profile tables, from NVIDIA's MIG user guide, so that layouts can be checked and
//! placed offline (planning, `wattsweep mig layouts`) exactly as the agent will place them.
//!
//! All five models share the GA100/GH100 geometry: 8 memory slices (placement slots), 7 compute
//! slices and the same seven GPU-instance profiles with the same ids, placements and maxima. Only the
//! memory size (and so the names) differs. The data below is therefore one geometry table plus one
//! memory row per model; names are built from them (`{compute}g.{gb}gb[+me]`).
//!
//! Sources and what is verified:
//! * GPU-instance placements: the guide's `nvidia-smi mig -lgipp` listing (ids 19 and 20
//!   `{0..6}:1`, 15 `{0,2,4,6}:2`, 14 `{0,2,4}:2`, 9 `{0,4}:4`, 5 `{0}:4`, 0 `{0}:8`).
//! * Instance maxima and names: the guide's "Supported MIG Profiles" tables (A100, H100 80GB, H100
//!   94GB names, H200). The guide states the 94GB table for H100 PCIe and SXM5; the names here
//!   (`1g.12gb` … `3g.47gb`, `7g.94gb`) are the ones the brief and NVIDIA's vGPU documentation use.
//! * Memory (MiB): `nvidia-smi mig -lgip` output, GiB with two decimals resolved to 1/8 GiB (the
//!   guide shows `20096MiB` for a `3g.20gb`, i.e. 19.625 GiB printed as `19.62`): A100 40GB
//!   4.75/9.75/19.62/39.38 GiB, A100 80GB 9.50/19.50/39.25/79.00, H100 80GB 9.75/19.62/39.50/79.25.
//!   **Not verified** for H100 94GB and H200 141GB (no `-lgip` listing found): their sizes are the
//!   nominal figure of the profile name taken as GiB (name GB × 1024 MiB); the driver reports a few
//!   per cent less, as it does on the verified models.
//! * Compute-instance profiles: NVML ids 1c=0, 2c=1, 3c=2, 4c=3, 7c=4 (nvml.h). Counts verified from
//!   `nvidia-smi mig -lcip` examples for 4g (1c 4/4, 2c 2/2, 4c 1/1) and 2g (1c 2/2, 2c 1/1) GPU
//!   instances, and three `1c` in a `3g` from the guide. **Not verified** against a `-lcipp` listing:
//!   the CI start slices (7g: 1c `{0..6}`, 2c `{0,2,4}`, 3c `{0,4}`, 4c `{0}`, 7c `{0}`; 4g: 1c
//!   `{0..3}`, 2c `{0,2}`, 4c `{0}`; 3g: 1c `{0,1,2}`, 2c `{0}`, 3c `{0}`; 2g: 1c `{0,1}`, 2c `{0}`;
//!   1g: 1c `{0}`), which follow NVIDIA's NVML mock (`go-nvml` `mock/shared/gpus`) and mirror the
//!   GPU-instance placement rules; and the 7g maxima (1c 7, 2c 3, 3c 2, 4c 1, 7c 1), taken as the
//!   number of allowed starts, as for the verified cases. A table read from the driver replaces all
//!   of this on a real GPU.

use super::{CiProfile, GiProfile, ProfileTable, TableSource};

/// Memory slices (placement slots) of a GA100/GH100 GPU.
const MEMORY_SLICES: u8 = 8;
/// Compute slices of a GA100/GH100 GPU in MIG mode.
const COMPUTE_SLICES: u8 = 7;

/// One GPU-instance profile of the shared geometry.
struct GiGeometry {
    id: u32,
    compute_slices: u8,
    placement_size: u8,
    max_count: u8,
    placements: &'static [u8],
    media_extensions: bool,
}

/// The shared geometry, ordered by profile id. The memory of a profile is selected by its
/// `placement_size` (1, 2, 4 or 8 memory slices), see [`ModelMemory`].
const GEOMETRY: &[GiGeometry] = &[
    gi(0, 7, 8, 1, &[0], false),
    gi(5, 4, 4, 1, &[0], false),
    gi(9, 3, 4, 2, &[0, 4], false),
    gi(14, 2, 2, 3, &[0, 2, 4], false),
    gi(15, 1, 2, 4, &[0, 2, 4, 6], false),
    gi(19, 1, 1, 7, &[0, 1, 2, 3, 4, 5, 6], false),
    gi(20, 1, 1, 1, &[0, 1, 2, 3, 4, 5, 6], true),
];

const fn gi(
    id: u32,
    compute_slices: u8,
    placement_size: u8,
    max_count: u8,
    placements: &'static [u8],
    media_extensions: bool,
) -> GiGeometry {
    GiGeometry {
        id,
        compute_slices,
        placement_size,
        max_count,
        placements,
        media_extensions,
    }
}

/// One compute-instance profile: (compute slices, NVML CI profile id, allowed start slices). Its
/// maximum count is the number of allowed starts.
type CiGeometry = (u8, u32, &'static [u8]);

/// Compute-instance profiles of a GPU instance, by the GPU instance's compute slices.
const CI_GEOMETRY: &[(u8, &[CiGeometry])] = &[
    (1, &[(1, 0, &[0])]),
    (2, &[(1, 0, &[0, 1]), (2, 1, &[0])]),
    (3, &[(1, 0, &[0, 1, 2]), (2, 1, &[0]), (3, 2, &[0])]),
    (4, &[(1, 0, &[0, 1, 2, 3]), (2, 1, &[0, 2]), (4, 3, &[0])]),
    (
        7,
        &[
            (1, 0, &[0, 1, 2, 3, 4, 5, 6]),
            (2, 1, &[0, 2, 4]),
            (3, 2, &[0, 4]),
            (4, 3, &[0]),
            (7, 4, &[0]),
        ],
    ),
];

/// Per-model memory: for instances of 1, 2, 4 and 8 memory slices, the GB figure of the name and
/// the memory in MiB.
struct ModelMemory {
    id: &'static str,
    name_gb: [u32; 4],
    memory_mib: [u64; 4],
}

const MODELS: &[ModelMemory] = &[
    ModelMemory {
        id: "a100-40gb",
        name_gb: [5, 10, 20, 40],
        memory_mib: [4864, 9984, 20096, 40320],
    },
    ModelMemory {
        id: "a100-80gb",
        name_gb: [10, 20, 40, 80],
        memory_mib: [9728, 19968, 40192, 80896],
    },
    ModelMemory {
        id: "h100-80gb",
        name_gb: [10, 20, 40, 80],
        memory_mib: [9984, 20096, 40448, 81152],
    },
    ModelMemory {
        id: "h100-94gb",
        name_gb: [12, 24, 47, 94],
        memory_mib: [12 * 1024, 24 * 1024, 47 * 1024, 94 * 1024],
    },
    ModelMemory {
        id: "h200-141gb",
        name_gb: [18, 35, 71, 141],
        memory_mib: [18 * 1024, 35 * 1024, 71 * 1024, 141 * 1024],
    },
];

/// Model ids with a built-in table.
pub fn builtin_models() -> impl Iterator<Item = &'static str> {
    MODELS.iter().map(|m| m.id)
}

/// The built-in table of a model id (case-insensitive), if wattsweep has one.
pub fn builtin_table(model_id: &str) -> Option<ProfileTable> {
    let model = MODELS
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(model_id.trim()))?;
    let gpu_instance_profiles = GEOMETRY
        .iter()
        .map(|g| {
            let class = memory_class(g.placement_size);
            GiProfile {
                id: g.id,
                name: format!(
                    "{}g.{}gb{}",
                    g.compute_slices,
                    model.name_gb[class],
                    if g.media_extensions { "+me" } else { "" }
                ),
                compute_slices: g.compute_slices,
                placement_size: g.placement_size,
                memory_mib: model.memory_mib[class],
                max_count: g.max_count,
                placements: g.placements.to_vec(),
                media_extensions: g.media_extensions,
                compute_instance_profiles: ci_profiles(g.compute_slices),
            }
        })
        .collect();
    Some(ProfileTable {
        model: model.id.to_string(),
        memory_slices: MEMORY_SLICES,
        compute_slices: COMPUTE_SLICES,
        gpu_instance_profiles,
        source: TableSource::BuiltIn,
    })
}

/// Index into [`ModelMemory`] rows for an instance of `placement_size` memory slices.
fn memory_class(placement_size: u8) -> usize {
    match placement_size {
        0 | 1 => 0,
        2 => 1,
        3 | 4 => 2,
        _ => 3,
    }
}

fn ci_profiles(gi_compute_slices: u8) -> Vec<CiProfile> {
    CI_GEOMETRY
        .iter()
        .find(|(slices, _)| *slices == gi_compute_slices)
        .map(|(_, cis)| {
            cis.iter()
                .map(|(compute_slices, id, starts)| CiProfile {
                    id: *id,
                    compute_slices: *compute_slices,
                    max_count: u8::try_from(starts.len()).unwrap_or(u8::MAX),
                    placements: starts.to_vec(),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(model: &str) -> Vec<String> {
        let t = builtin_table(model).expect("table");
        t.gpu_instance_profiles
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    #[test]
    fn every_model_of_gpu_model_has_a_table() {
        for m in crate::gpu_model::MODELS {
            assert!(builtin_table(m.id).is_some(), "{}", m.id);
        }
        assert!(builtin_table("H100-80GB").is_some());
        assert!(builtin_table("a30-24gb").is_none());
        assert_eq!(builtin_models().count(), 5);
    }

    #[test]
    fn names_per_model() {
        // Ordered by id: 0, 5, 9, 14, 15, 19, 20.
        assert_eq!(
            names("a100-40gb"),
            [
                "7g.40gb",
                "4g.20gb",
                "3g.20gb",
                "2g.10gb",
                "1g.10gb",
                "1g.5gb",
                "1g.5gb+me"
            ]
        );
        assert_eq!(
            names("a100-80gb"),
            [
                "7g.80gb",
                "4g.40gb",
                "3g.40gb",
                "2g.20gb",
                "1g.20gb",
                "1g.10gb",
                "1g.10gb+me"
            ]
        );
        assert_eq!(names("h100-80gb"), names("a100-80gb"));
        assert_eq!(
            names("h100-94gb"),
            [
                "7g.94gb",
                "4g.47gb",
                "3g.47gb",
                "2g.24gb",
                "1g.24gb",
                "1g.12gb",
                "1g.12gb+me"
            ]
        );
        assert_eq!(
            names("h200-141gb"),
            [
                "7g.141gb",
                "4g.71gb",
                "3g.71gb",
                "2g.35gb",
                "1g.35gb",
                "1g.18gb",
                "1g.18gb+me"
            ]
        );
    }

    #[test]
    fn h100_geometry_matches_the_guide() {
        let t = builtin_table("h100-80gb").expect("table");
        assert_eq!((t.memory_slices, t.compute_slices), (8, 7));
        let rows: Vec<_> = t
            .gpu_instance_profiles
            .iter()
            .map(|p| {
                (
                    p.id,
                    p.compute_slices,
                    p.placement_size,
                    p.max_count,
                    p.placements.clone(),
                    p.memory_mib,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (0, 7, 8, 1, vec![0], 81152),
                (5, 4, 4, 1, vec![0], 40448),
                (9, 3, 4, 2, vec![0, 4], 40448),
                (14, 2, 2, 3, vec![0, 2, 4], 20096),
                (15, 1, 2, 4, vec![0, 2, 4, 6], 20096),
                (19, 1, 1, 7, vec![0, 1, 2, 3, 4, 5, 6], 9984),
                (20, 1, 1, 1, vec![0, 1, 2, 3, 4, 5, 6], 9984),
            ]
        );
    }

    #[test]
    fn compute_instance_profiles_per_gi() {
        let t = builtin_table("h100-80gb").expect("table");
        let ci = |id: u32| -> Vec<(u8, u32, u8, Vec<u8>)> {
            t.profile_by_id(id)
                .expect("gi")
                .compute_instance_profiles
                .iter()
                .map(|c| (c.compute_slices, c.id, c.max_count, c.placements.clone()))
                .collect()
        };
        assert_eq!(
            ci(0),
            vec![
                (1, 0, 7, vec![0, 1, 2, 3, 4, 5, 6]),
                (2, 1, 3, vec![0, 2, 4]),
                (3, 2, 2, vec![0, 4]),
                (4, 3, 1, vec![0]),
                (7, 4, 1, vec![0]),
            ]
        );
        assert_eq!(
            ci(5),
            vec![
                (1, 0, 4, vec![0, 1, 2, 3]),
                (2, 1, 2, vec![0, 2]),
                (4, 3, 1, vec![0])
            ]
        );
        assert_eq!(
            ci(9),
            vec![
                (1, 0, 3, vec![0, 1, 2]),
                (2, 1, 1, vec![0]),
                (3, 2, 1, vec![0])
            ]
        );
        assert_eq!(ci(14), vec![(1, 0, 2, vec![0, 1]), (2, 1, 1, vec![0])]);
        for id in [15, 19, 20] {
            assert_eq!(ci(id), vec![(1, 0, 1, vec![0])]);
        }
    }

    #[test]
    fn placements_fit_the_gpu() {
        for model in builtin_models() {
            let t = builtin_table(model).expect("table");
            for p in &t.gpu_instance_profiles {
                for s in &p.placements {
                    assert!(s + p.placement_size <= t.memory_slices, "{} @{s}", p.name);
                }
                for c in &p.compute_instance_profiles {
                    for s in &c.placements {
                        assert!(
                            s + c.compute_slices <= p.compute_slices,
                            "{} {}c@{s}",
                            p.name,
                            c.compute_slices
                        );
                    }
                }
            }
        }
    }
}
