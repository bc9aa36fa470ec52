//! Deciding, apart from doing: the MIG instances of a GPU as a value ([`MigState`]) and the pure
//! function ([`plan`]) that turns the instances that exist and the instances wanted into an ordered
//! list of create/destroy steps. Steps name instances by placement, never by driver id, so a plan
//! can be checked against an in-memory model ([`MigState::apply`]) without a GPU.

use std::fmt;

use serde::{Deserialize, Serialize};
use wattsweep_shared::mig::PlacedLayout;

use crate::gpu::ExistingGpuInstance;

/// A GPU instance by placement: its profile and first slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GiKey {
    /// GPU-instance profile id.
    pub profile_id: u32,
    /// First placement slot.
    pub start: u8,
}

/// A compute instance by placement inside its GPU instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CiKey {
    /// Compute-instance profile id.
    pub profile_id: u32,
    /// First compute slice inside the GPU instance.
    pub start: u8,
}

/// One GPU instance with its compute instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiState {
    /// Profile and placement.
    pub key: GiKey,
    /// Slots held.
    pub size: u8,
    /// Compute instances, sorted.
    pub compute_instances: Vec<CiKey>,
}

/// The MIG instances of one GPU, sorted by start slot: what exists, or what is wanted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MigState {
    /// GPU instances, sorted by start slot (then profile id).
    pub instances: Vec<GiState>,
}

/// One step of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Destroy a compute instance.
    DestroyCi {
        /// Its GPU instance.
        gi: GiKey,
        /// The compute instance.
        ci: CiKey,
    },
    /// Destroy a GPU instance (its compute instances are gone by then).
    DestroyGi {
        /// The GPU instance.
        gi: GiKey,
    },
    /// Create a GPU instance at its placement.
    CreateGi {
        /// The GPU instance.
        gi: GiKey,
        /// Slots it holds.
        size: u8,
    },
    /// Create a compute instance at its placement.
    CreateCi {
        /// Its GPU instance.
        gi: GiKey,
        /// The compute instance.
        ci: CiKey,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::DestroyCi { gi, ci } => write!(
                f,
                "destroy compute instance {}@{} of GPU instance {}@{}",
                ci.profile_id, ci.start, gi.profile_id, gi.start
            ),
            Step::DestroyGi { gi } => {
                write!(f, "destroy GPU instance {}@{}", gi.profile_id, gi.start)
            }
            Step::CreateGi { gi, .. } => {
                write!(f, "create GPU instance {}@{}", gi.profile_id, gi.start)
            }
            Step::CreateCi { gi, ci } => write!(
                f,
                "create compute instance {}@{} in GPU instance {}@{}",
                ci.profile_id, ci.start, gi.profile_id, gi.start
            ),
        }
    }
}

impl fmt::Display for MigState {
    /// `9@0(2@0) + 9@4(0@0 + 0@1)` (profile ids at placements); `(none)` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.instances.is_empty() {
            return f.write_str("(none)");
        }
        for (i, gi) in self.instances.iter().enumerate() {
            if i > 0 {
                f.write_str(" + ")?;
            }
            write!(f, "{}@{}(", gi.key.profile_id, gi.key.start)?;
            for (j, ci) in gi.compute_instances.iter().enumerate() {
                if j > 0 {
                    f.write_str(" + ")?;
                }
                write!(f, "{}@{}", ci.profile_id, ci.start)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A step that does not apply to the in-memory model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step `{step}` does not apply: {reason}")]
pub struct StepError {
    /// The step.
    pub step: Step,
    /// Why.
    pub reason: &'static str,
}

impl MigState {
    /// The instances a driver reports.
    pub fn from_existing(existing: &[ExistingGpuInstance]) -> Self {
        let mut s = Self {
            instances: existing
                .iter()
                .map(|gi| GiState {
                    key: GiKey {
                        profile_id: gi.profile_id,
                        start: gi.start,
                    },
                    size: gi.size,
                    compute_instances: gi
                        .compute_instances
                        .iter()
                        .map(|ci| CiKey {
                            profile_id: ci.profile_id,
                            start: ci.start,
                        })
                        .collect(),
                })
                .collect(),
        };
        s.normalise();
        s
    }

    /// The instances of a placed layout.
    pub fn from_layout(layout: &PlacedLayout) -> Self {
        let mut s = Self {
            instances: layout
                .instances
                .iter()
                .map(|gi| GiState {
                    key: GiKey {
                        profile_id: gi.profile_id,
                        start: gi.start,
                    },
                    size: gi.size,
                    compute_instances: gi
                        .compute_instances
                        .iter()
                        .map(|ci| CiKey {
                            profile_id: ci.profile_id,
                            start: ci.start,
                        })
                        .collect(),
                })
                .collect(),
        };
        s.normalise();
        s
    }

    fn normalise(&mut self) {
        for gi in &mut self.instances {
            gi.compute_instances.sort();
        }
        self.instances
            .sort_by_key(|gi| (gi.key.start, gi.key.profile_id));
    }

    /// The GPU instance at this placement.
    pub fn get(&self, key: GiKey) -> Option<&GiState> {
        self.instances.iter().find(|gi| gi.key == key)
    }

    /// Apply one step to the model, refusing what a driver would refuse on consistency grounds
    /// (a duplicate, a missing instance, a GPU instance destroyed with compute instances).
    pub fn apply(&mut self, step: Step) -> Result<(), StepError> {
        let err = |reason| Err(StepError { step, reason });
        match step {
            Step::DestroyCi { gi, ci } => {
                let Some(g) = self.instances.iter_mut().find(|g| g.key == gi) else {
                    return err("no such GPU instance");
                };
                let before = g.compute_instances.len();
                g.compute_instances.retain(|c| *c != ci);
                if g.compute_instances.len() == before {
                    return err("no such compute instance");
                }
            }
            Step::DestroyGi { gi } => match self.get(gi) {
                None => return err("no such GPU instance"),
                Some(g) if !g.compute_instances.is_empty() => {
                    return err("GPU instance still has compute instances");
                }
                Some(_) => self.instances.retain(|g| g.key != gi),
            },
            Step::CreateGi { gi, size } => {
                if self.get(gi).is_some() {
                    return err("GPU instance exists already");
                }
                self.instances.push(GiState {
                    key: gi,
                    size,
                    compute_instances: vec![],
                });
            }
            Step::CreateCi { gi, ci } => {
                let Some(g) = self.instances.iter_mut().find(|g| g.key == gi) else {
                    return err("no such GPU instance");
                };
                if g.compute_instances.contains(&ci) {
                    return err("compute instance exists already");
                }
                g.compute_instances.push(ci);
            }
        }
        self.normalise();
        Ok(())
    }

    /// This state and `other` together (GPU instances of `other` already here are kept as they
    /// are here).
    pub fn union(&self, other: &MigState) -> MigState {
        let mut s = self.clone();
        for gi in &other.instances {
            if s.get(gi.key).is_none() {
                s.instances.push(gi.clone());
            }
        }
        s.normalise();
        s
    }
}

/// The steps from `current` to `target`, in the order they must run: compute instances to remove,
/// GPU instances to remove, GPU instances to create (by start), compute instances to create.
///
/// GPU instances are matched by placement (profile and start); one present in both keeps its
/// driver ids, and only its compute instances that differ are destroyed or created.
pub fn plan(current: &MigState, target: &MigState) -> Vec<Step> {
    let mut destroy_cis = Vec::new();
    let mut destroy_gis = Vec::new();
    let mut create_gis = Vec::new();
    let mut create_cis = Vec::new();
    for gi in &current.instances {
        let wanted = target.get(gi.key);
        for ci in &gi.compute_instances {
            if !wanted.is_some_and(|w| w.compute_instances.contains(ci)) {
                destroy_cis.push(Step::DestroyCi {
                    gi: gi.key,
                    ci: *ci,
                });
            }
        }
        if wanted.is_none() {
            destroy_gis.push(Step::DestroyGi { gi: gi.key });
        }
    }
    let mut creating: Vec<&GiState> = target.instances.iter().collect();
    creating.sort_by_key(|gi| (gi.key.start, gi.key.profile_id));
    for gi in creating {
        let have = current.get(gi.key);
        if have.is_none() {
            create_gis.push(Step::CreateGi {
                gi: gi.key,
                size: gi.size,
            });
        }
        for ci in &gi.compute_instances {
            if !have.is_some_and(|h| h.compute_instances.contains(ci)) {
                create_cis.push(Step::CreateCi {
                    gi: gi.key,
                    ci: *ci,
                });
            }
        }
    }
    destroy_cis
        .into_iter()
        .chain(destroy_gis)
        .chain(create_gis)
        .chain(create_cis)
        .collect()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
