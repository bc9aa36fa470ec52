//! The configurations of a sweep, in their deterministic order and with their names.
//!
//! A configuration here is a *draft*: everything but the MIG placement, which depends on the profile
//! table of the GPU it runs on and is resolved per table later ([`super::mig_sharing`]). Usage-grid
//! drafts are sized to a GPU count and only fit targets with that many GPUs. Naming and order are
//! documented on [`super`].

use super::PlanError;
use super::design;
use super::mig_sharing::neighbours_layout;
use crate::campaign::{Design, Fill, LayoutEntry, NeighbourProfile, Sweep, SweepKind};
use crate::mig::{LayoutSpec, ProfileRef, ProfileTable};
use crate::model::Sharing;

/// One configuration of a sweep, before MIG placement.
#[derive(Debug)]
pub(crate) struct Draft<'c> {
    /// Configuration name (unique in the campaign).
    pub name: String,
    /// Workload names: the sweep workloads it runs (`group_len` of them) then any neighbour
    /// workload.
    pub workloads: Vec<String>,
    /// How many of `workloads` are the sweep's own.
    pub group_len: usize,
    /// Targets must have exactly this many GPUs (usage grids); `None`: any target.
    pub gpus: Option<usize>,
    /// The sharing, or how to build it on a profile table.
    pub point: Point<'c>,
}

impl Draft<'_> {
    /// The sweep's workloads this configuration runs.
    pub fn group(&self) -> &[String] {
        &self.workloads[..self.group_len]
    }
}

/// The sharing of a draft.
#[derive(Debug)]
pub(crate) enum Point<'c> {
    /// Independent of the GPU.
    Fixed(Sharing),
    /// A MIG layout, placed per profile table.
    MigLayout {
        /// The layout.
        spec: &'c LayoutSpec,
        /// Which compute instances run workloads.
        fill: &'c Fill,
        /// Workload instances per loaded compute instance.
        concurrency: u32,
    },
    /// A protagonist with neighbours, placed per profile table.
    MigNeighbours {
        /// The protagonist profile.
        protagonist: &'c ProfileRef,
        /// How many neighbours.
        neighbours: u32,
        /// Their profile.
        profile: &'c NeighbourProfile,
        /// Their workload.
        workload: &'c str,
    },
}

impl Point<'_> {
    /// Whether the point needs a MIG profile table.
    pub fn is_mig(&self) -> bool {
        !matches!(self, Point::Fixed(_))
    }
}

/// What the fleet contributes to a sweep's configurations.
pub(crate) struct SweepFleet<'t> {
    /// GPU counts of the sweep's targets (1 for gpu and any scope), sorted and distinct.
    pub gpu_counts: Vec<usize>,
    /// Profile tables of the sweep's targets (neighbour series run until none can add one more).
    pub tables: Vec<&'t ProfileTable>,
}

/// The drafts of `sweep`, in order: workload groups as written, then the sweep's values as written.
pub(crate) fn drafts<'c>(
    sweep: &'c Sweep,
    fleet: &SweepFleet<'_>,
) -> Result<Vec<Draft<'c>>, PlanError> {
    let groups: Vec<Vec<String>> = if sweep.mix {
        vec![sweep.workloads.clone()]
    } else {
        sweep.workloads.iter().map(|w| vec![w.clone()]).collect()
    };
    let mut out = Vec::new();
    for group in groups {
        let prefix = format!("{}/{}/", sweep.name, group.join("+"));
        let draft = |point: String, p: Point<'c>, extra: Option<&str>, gpus: Option<usize>| {
            let mut workloads = group.clone();
            if let Some(w) = extra
                && !workloads.iter().any(|x| x == w)
            {
                workloads.push(w.to_owned());
            }
            Draft {
                name: format!("{prefix}{point}"),
                group_len: group.len(),
                workloads,
                gpus,
                point: p,
            }
        };
        match &sweep.kind {
            SweepKind::Exclusive => {
                out.push(draft(
                    "exclusive".into(),
                    Point::Fixed(Sharing::Exclusive),
                    None,
                    None,
                ));
            }
            SweepKind::TimeSlicing { concurrency } => {
                for &c in concurrency {
                    let s = Sharing::TimeSlicing { concurrency: c };
                    out.push(draft(format!("c{c}"), Point::Fixed(s), None, None));
                }
            }
            SweepKind::Mps {
                concurrency,
                active_thread_percentage,
            } => {
                for &c in concurrency {
                    for &p in active_thread_percentage {
                        let s = Sharing::Mps {
                            concurrency: c,
                            active_thread_percentage: p,
                        };
                        out.push(draft(format!("c{c}-atp{p}"), Point::Fixed(s), None, None));
                    }
                }
            }
            SweepKind::MigLayouts {
                layouts,
                fill,
                concurrency,
            } => {
                let extra = match fill {
                    Fill::Neighbours(w) => Some(w.as_str()),
                    Fill::All | Fill::First => None,
                };
                let concurrency: &[u32] = if concurrency.is_empty() {
                    &[1]
                } else {
                    concurrency
                };
                for LayoutEntry { text, spec } in layouts {
                    let layout: String = text.split_whitespace().collect();
                    for &c in concurrency {
                        let point = if c == 1 {
                            layout.clone()
                        } else {
                            format!("{layout}-c{c}")
                        };
                        let p = Point::MigLayout {
                            spec,
                            fill,
                            concurrency: c,
                        };
                        out.push(draft(point, p, extra, None));
                    }
                }
            }
            SweepKind::MigNeighbours {
                protagonists,
                neighbour_profile,
                neighbour_workload,
                max_neighbours,
            } => {
                let cap = fleet
                    .tables
                    .iter()
                    .map(|t| u32::from(t.memory_slices))
                    .max()
                    .unwrap_or(0);
                let cap = max_neighbours.map_or(cap, |m| m.min(cap));
                for protagonist in protagonists {
                    let pname = protagonist.to_string();
                    for n in 0..=cap {
                        let fits_somewhere = n == 0
                            || fleet.tables.iter().any(|t| {
                                neighbours_layout(t, protagonist, n, neighbour_profile).is_ok()
                            });
                        if !fits_somewhere {
                            break;
                        }
                        let p = Point::MigNeighbours {
                            protagonist,
                            neighbours: n,
                            profile: neighbour_profile,
                            workload: neighbour_workload,
                        };
                        out.push(draft(
                            format!("{pname}+n{n}"),
                            p,
                            Some(neighbour_workload),
                            None,
                        ));
                    }
                }
            }
            SweepKind::UsageGrid {
                levels,
                design: kind,
            } => {
                for &k in &fleet.gpu_counts {
                    let rows = match kind {
                        Design::Full => {
                            let fits = design::full_rows(k, levels.len())
                                .is_some_and(|r| r as u64 <= super::MAX_TASKS);
                            if !fits {
                                return Err(PlanError::DesignTooLarge {
                                    sweep: sweep.name.clone(),
                                    gpus: k,
                                    levels: levels.len(),
                                    limit: super::MAX_TASKS,
                                });
                            }
                            design::full(k, levels.len())
                        }
                        Design::Fractional => design::fractional(k, levels.len()),
                    };
                    for row in rows {
                        let values: Vec<u32> = row.iter().map(|&i| levels[i]).collect();
                        let point = values
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join("-");
                        let s = Sharing::UsageGrid { levels: values };
                        out.push(draft(point, Point::Fixed(s), None, Some(k)));
                    }
                }
            }
        }
    }
    Ok(out)
}
