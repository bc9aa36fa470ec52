//! Checking a wanted set of MIG instances with the MIG engine before touching the GPU, so that an
//! invalid layout is refused deterministically with the engine's reason instead of halfway through
//! by the driver.

use wattsweep_shared::mig::{CiTerm, GiTerm, LayoutSpec, ProfileRef, ProfileTable, place};

use super::plan::MigState;

/// Check that all of `state` (baseline and layout together) can exist at once on a GPU with
/// `table`, every instance pinned where it is. The error is the engine's reason.
pub fn check_state(table: &ProfileTable, state: &MigState) -> Result<(), String> {
    let mut terms = Vec::with_capacity(state.instances.len());
    for gi in &state.instances {
        let profile = table.profile_by_id(gi.key.profile_id).ok_or_else(|| {
            format!(
                "GPU-instance profile id {} does not exist on {}; known profiles: {}",
                gi.key.profile_id,
                table.model,
                table.known_profiles().join(", ")
            )
        })?;
        let mut cis = Vec::with_capacity(gi.compute_instances.len());
        for ci in &gi.compute_instances {
            let c = profile
                .compute_instance_profiles
                .iter()
                .find(|c| c.id == ci.profile_id)
                .ok_or_else(|| {
                    format!(
                        "{}@{} has no compute-instance profile id {}",
                        profile.name, gi.key.start, ci.profile_id
                    )
                })?;
            cis.push(CiTerm {
                compute_slices: c.compute_slices,
                count: 1,
                start: Some(ci.start),
            });
        }
        terms.push(GiTerm {
            profile: ProfileRef::Id(gi.key.profile_id),
            count: 1,
            start: Some(gi.key.start),
            compute: (!cis.is_empty()).then_some(cis),
        });
    }
    if terms.is_empty() {
        return Ok(());
    }
    place(table, &LayoutSpec { terms })
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use wattsweep_shared::mig::{builtin_table, parse_layout};

    use super::*;

    fn state(text: &str) -> MigState {
        let t = builtin_table("h100-80gb").unwrap();
        MigState::from_layout(&place(&t, &parse_layout(text).unwrap()).unwrap())
    }

    #[test]
    fn accepts_valid_and_refuses_colliding_sets() {
        let t = builtin_table("h100-80gb").unwrap();
        assert_eq!(check_state(&t, &MigState::default()), Ok(()));
        assert_eq!(check_state(&t, &state("4g.40gb + 3g.40gb(1c x3)")), Ok(()));
        let both = state("3g.40gb@0").union(&state("2g.20gb@2"));
        let err = check_state(&t, &both).unwrap_err();
        assert!(err.contains("slot"), "{err}");
        let mut bad = state("7g.80gb");
        bad.instances[0].compute_instances[0].profile_id = 42;
        let err = check_state(&t, &bad).unwrap_err();
        assert!(err.contains("no compute-instance profile id 42"), "{err}");
        bad.instances[0].key.profile_id = 77;
        let err = check_state(&t, &bad).unwrap_err();
        assert!(err.contains("profile id 77 does not exist"), "{err}");
    }
}
