//! MIG profile tables: which GPU-instance and compute-instance profiles a GPU model offers and where
//! each may be placed.
//!
//! The table is the single source of truth for every MIG decision: the parser only reads names, the
//! solver and the enumeration only consult the table, so a driver-read table (agent) and a built-in
//! one (offline planning) are treated alike.

use serde::{Deserialize, Serialize};

use super::{PlacementError, ProfileRef};

/// Where a profile table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableSource {
    /// wattsweep's built-in table, from NVIDIA's MIG user guide.
    #[default]
    BuiltIn,
    /// Read from the driver through NVML at run time.
    Driver,
    /// A source this build does not know.
    #[serde(other)]
    Unknown,
}

/// The MIG profiles of one GPU model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileTable {
    /// Model id (`h100-80gb`) or the NVML name for driver-read tables of unknown models.
    pub model: String,
    /// Placement slots (memory slices) of the whole GPU: 8 on A100/H100/H200.
    pub memory_slices: u8,
    /// Compute slices of the whole GPU: 7 on A100/H100/H200.
    pub compute_slices: u8,
    /// GPU-instance profiles, ordered by profile id.
    pub gpu_instance_profiles: Vec<GiProfile>,
    /// Where the table came from.
    #[serde(default)]
    pub source: TableSource,
}

/// A GPU-instance profile (`3g.40gb`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GiProfile {
    /// NVML profile id (`NVML_GPU_INSTANCE_PROFILE_*` value as `nvidia-smi mig -lgip` shows it).
    pub id: u32,
    /// Name as the driver prints it (`3g.40gb`, `1g.10gb+me`).
    pub name: String,
    /// Compute slices (the `Ng` part).
    pub compute_slices: u8,
    /// Placement slots one instance occupies (`nvidia-smi mig -lgipp` `:size`).
    pub placement_size: u8,
    /// Memory of one instance, MiB.
    pub memory_mib: u64,
    /// Most instances of this profile that can exist at once.
    pub max_count: u8,
    /// Allowed start slots (`nvidia-smi mig -lgipp` `{…}`).
    pub placements: Vec<u8>,
    /// Media engines (decoders, JPEG, OFA) included: the `+me` profiles.
    #[serde(default)]
    pub media_extensions: bool,
    /// Compute-instance profiles available inside one instance of this profile.
    #[serde(default)]
    pub compute_instance_profiles: Vec<CiProfile>,
}

/// A compute-instance profile inside a GPU instance (`2c.7g.80gb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiProfile {
    /// NVML compute-instance profile id.
    pub id: u32,
    /// Compute slices (the `Nc` part).
    pub compute_slices: u8,
    /// Most instances of this profile inside one GPU instance.
    pub max_count: u8,
    /// Allowed start compute slices inside the GPU instance.
    pub placements: Vec<u8>,
}

/// The NVML compute-instance profile id of a CI with `compute_slices` slices
/// (`NVML_COMPUTE_INSTANCE_PROFILE_{1,2,3,4,7,8,6}_SLICE` = 0, 1, 2, 3, 4, 5, 6).
///
/// Used when a driver-read table lists no compute-instance profiles for a GPU instance, so that the
/// instance's default (full-size) compute instance can still be named.
pub fn nvml_ci_profile_id(compute_slices: u8) -> Option<u32> {
    match compute_slices {
        1 => Some(0),
        2 => Some(1),
        3 => Some(2),
        4 => Some(3),
        7 => Some(4),
        8 => Some(5),
        6 => Some(6),
        _ => None,
    }
}

impl ProfileTable {
    /// The GPU-instance profile a layout term names.
    ///
    /// * [`ProfileRef::Id`]: the profile with that NVML id.
    /// * [`ProfileRef::Name`]: the driver name, case-insensitive, with an optional `MIG ` prefix
    ///   (`3g.40gb`, `MIG 1g.10gb+me`); or the slice shorthand `Ng` (the profile without media
    ///   extensions that has `N` compute slices and the least memory, so `1g` is `1g.10gb`, not
    ///   `1g.20gb`) and `Ng+me` (the media-extension profile with `N` compute slices); a name of
    ///   digits only is read as an id.
    ///
    /// Anything else is [`PlacementError::UnknownProfile`], listing the names this model knows.
    pub fn find(&self, profile: &ProfileRef) -> Result<&GiProfile, PlacementError> {
        let found = match profile {
            ProfileRef::Id(id) => self.profile_by_id(*id),
            ProfileRef::Name(name) => self.find_by_name(name),
        };
        found.ok_or_else(|| PlacementError::UnknownProfile {
            profile: profile.to_string(),
            model: self.model.clone(),
            known: self.known_profiles(),
        })
    }

    /// The GPU-instance profile with this NVML id.
    pub fn profile_by_id(&self, id: u32) -> Option<&GiProfile> {
        self.gpu_instance_profiles.iter().find(|p| p.id == id)
    }

    /// The smallest GPU-instance profile: fewest compute slices, then least memory, then fewest
    /// placement slots, then lowest id; profiles with media extensions are never chosen (they are
    /// limited to one instance, so they cannot serve as "neighbours added one by one").
    pub fn smallest(&self) -> Option<&GiProfile> {
        self.gpu_instance_profiles
            .iter()
            .filter(|p| !p.media_extensions)
            .min_by_key(|p| (p.compute_slices, p.memory_mib, p.placement_size, p.id))
    }

    /// Every profile as `name (id N)`, in table order: the list error messages show.
    pub fn known_profiles(&self) -> Vec<String> {
        self.gpu_instance_profiles
            .iter()
            .map(|p| format!("{} (id {})", p.name, p.id))
            .collect()
    }

    fn find_by_name(&self, name: &str) -> Option<&GiProfile> {
        let trimmed = name.trim();
        let bare = strip_prefix_ignore_case(trimmed, "MIG ")
            .map(str::trim_start)
            .unwrap_or(trimmed);
        if let Some(exact) = self
            .gpu_instance_profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(bare))
        {
            return Some(exact);
        }
        if let Ok(id) = bare.parse::<u32>() {
            // A name of digits only (e.g. a TOML string `"9"`) means the profile id.
            return self.profile_by_id(id);
        }
        let (slices, media) = parse_shorthand(bare)?;
        self.gpu_instance_profiles
            .iter()
            .filter(|p| p.compute_slices == slices && p.media_extensions == media)
            .min_by_key(|p| (p.memory_mib, p.placement_size, p.id))
    }
}

impl GiProfile {
    /// The compute-instance profile of this GPU instance with `compute_slices` slices.
    pub fn ci_profile(&self, compute_slices: u8) -> Option<&CiProfile> {
        self.compute_instance_profiles
            .iter()
            .find(|c| c.compute_slices == compute_slices)
    }

    /// NVML id of the compute instance spanning the whole GPU instance (the driver's default).
    pub fn full_ci_profile_id(&self) -> Option<u32> {
        self.ci_profile(self.compute_slices)
            .map(|c| c.id)
            .or_else(|| nvml_ci_profile_id(self.compute_slices))
    }

    /// Whether an instance starting at `start` is allowed by the placement table.
    pub fn allows_start(&self, start: u8) -> bool {
        self.placements.contains(&start)
    }
}

/// `Ng` → (N, false); `Ng+me` → (N, true).
fn parse_shorthand(name: &str) -> Option<(u8, bool)> {
    let lower = name.to_ascii_lowercase();
    let (head, media) = match lower.strip_suffix("+me") {
        Some(head) => (head, true),
        None => (lower.as_str(), false),
    };
    let digits = head.strip_suffix('g')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(|n| (n, media))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mig::builtin_table;

    fn h100() -> ProfileTable {
        builtin_table("h100-80gb").expect("h100 table")
    }

    fn name(t: &ProfileTable, r: ProfileRef) -> String {
        t.find(&r).expect("found").name.clone()
    }

    #[test]
    fn find_by_name_id_and_shorthand() {
        let t = h100();
        assert_eq!(name(&t, ProfileRef::Name("3g.40gb".into())), "3g.40gb");
        assert_eq!(name(&t, ProfileRef::Name("3G.40GB".into())), "3g.40gb");
        assert_eq!(
            name(&t, ProfileRef::Name("MIG 1g.10gb+me".into())),
            "1g.10gb+me"
        );
        assert_eq!(name(&t, ProfileRef::Id(9)), "3g.40gb");
        assert_eq!(name(&t, ProfileRef::Name("1g".into())), "1g.10gb");
        assert_eq!(name(&t, ProfileRef::Name("1g+me".into())), "1g.10gb+me");
        assert_eq!(name(&t, ProfileRef::Name("7g".into())), "7g.80gb");
        assert_eq!(name(&t, ProfileRef::Name(" 14 ".into())), "2g.20gb");
    }

    #[test]
    fn unknown_profile_lists_known_names() {
        let t = h100();
        let err = t.find(&ProfileRef::Name("5g.50gb".into())).unwrap_err();
        match &err {
            PlacementError::UnknownProfile {
                profile,
                model,
                known,
            } => {
                assert_eq!(profile, "5g.50gb");
                assert_eq!(model, "h100-80gb");
                assert!(known.iter().any(|k| k == "3g.40gb (id 9)"), "{known:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("1g.10gb+me (id 20)"), "{err}");
        assert!(matches!(
            t.find(&ProfileRef::Id(42)),
            Err(PlacementError::UnknownProfile { .. })
        ));
        assert!(t.find(&ProfileRef::Name("5g".into())).is_err());
        assert!(t.find(&ProfileRef::Name("g".into())).is_err());
    }

    #[test]
    fn smallest_is_plain_1g() {
        assert_eq!(h100().smallest().map(|p| p.name.as_str()), Some("1g.10gb"));
        let a100 = builtin_table("a100-40gb").expect("a100");
        assert_eq!(a100.smallest().map(|p| p.id), Some(19));
    }

    #[test]
    fn full_ci_profile_ids() {
        let t = h100();
        let ids: Vec<_> = t
            .gpu_instance_profiles
            .iter()
            .map(|p| (p.id, p.full_ci_profile_id()))
            .collect();
        assert_eq!(
            ids,
            vec![
                (0, Some(4)),
                (5, Some(3)),
                (9, Some(2)),
                (14, Some(1)),
                (15, Some(0)),
                (19, Some(0)),
                (20, Some(0))
            ]
        );
    }
}
