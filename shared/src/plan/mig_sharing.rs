//! MIG configurations on one profile table: place the layout, then say which workload runs on which
//! compute instance.
//!
//! - Layout sweeps place the layout as written ([`crate::mig::place`]) and load it by the sweep's
//!   `fill`: `all` loads every compute instance (role `Fill`), `first` only compute instance 0 of
//!   GPU instance 0 of the placed layout, i.e. the one at the lowest start slot (role `Protagonist`),
//!   `neighbours = W` loads that one with the sweep's workload and every other with `W` (role
//!   `Neighbour`). Every loaded compute instance gets `concurrency` workload instances
//!   (time-slicing inside the MIG device), as that many assignments with the same indices.
//! - Neighbour sweeps place the protagonist alone, then add neighbours of the neighbour profile one
//!   at a time, every instance already placed kept where it is, so the protagonist stays on the
//!   same slices and each step differs from the previous one by exactly one neighbour. The protagonist's compute instance runs the sweep's workload, every
//!   neighbour's compute instances the neighbour workload.
//!
//! With `mix`, the sweep's workloads are dealt round-robin over the workload instances of the
//! protagonist/fill roles in assignment order (instance `i` runs workload `i mod n`).

use crate::campaign::{Fill, NeighbourProfile};
use crate::mig::{GiTerm, LayoutSpec, PlacedLayout, ProfileRef, ProfileTable, place};
use crate::model::{InstanceRole, MigAssignment, Sharing};

/// A MIG layout sweep point on `table`.
pub(crate) fn layout_sharing(
    table: &ProfileTable,
    spec: &LayoutSpec,
    fill: &Fill,
    concurrency: u32,
    group: &[String],
) -> Result<Sharing, String> {
    let layout = place(table, spec).map_err(|e| e.to_string())?;
    let mut deal = Dealer::new(group);
    let mut assignments = Vec::new();
    for (gi, inst) in layout.instances.iter().enumerate() {
        for ci in 0..inst.compute_instances.len() {
            let first = gi == 0 && ci == 0;
            let (workload, role) = match fill {
                Fill::All => (None, InstanceRole::Fill),
                Fill::First if first => (None, InstanceRole::Protagonist),
                Fill::First => continue,
                Fill::Neighbours(_) if first => (None, InstanceRole::Protagonist),
                Fill::Neighbours(w) => (Some(w.as_str()), InstanceRole::Neighbour),
            };
            for _ in 0..concurrency {
                let workload = match workload {
                    Some(w) => w.to_owned(),
                    None => deal.next(),
                };
                assignments.push(assignment(gi, ci, workload, role));
            }
        }
    }
    Ok(Sharing::Mig {
        layout,
        assignments,
    })
}

/// A protagonist with `neighbours` neighbours on `table`.
pub(crate) fn neighbours_sharing(
    table: &ProfileTable,
    protagonist: &ProfileRef,
    neighbours: u32,
    neighbour_profile: &NeighbourProfile,
    group: &[String],
    neighbour_workload: &str,
) -> Result<Sharing, String> {
    let (layout, protagonist_at) =
        neighbours_layout(table, protagonist, neighbours, neighbour_profile)?;
    let mut deal = Dealer::new(group);
    let mut assignments = Vec::new();
    for (gi, inst) in layout.instances.iter().enumerate() {
        for ci in 0..inst.compute_instances.len() {
            let (workload, role) = if gi == protagonist_at {
                (deal.next(), InstanceRole::Protagonist)
            } else {
                (neighbour_workload.to_owned(), InstanceRole::Neighbour)
            };
            assignments.push(assignment(gi, ci, workload, role));
        }
    }
    Ok(Sharing::Mig {
        layout,
        assignments,
    })
}

/// The placed layout of a protagonist and `neighbours` neighbours, with the protagonist's index in
/// it: the protagonist placed alone, then one neighbour at a time added with every instance already
/// there kept in place ([`PlacedLayout::with_instance`]).
pub(crate) fn neighbours_layout(
    table: &ProfileTable,
    protagonist: &ProfileRef,
    neighbours: u32,
    neighbour_profile: &NeighbourProfile,
) -> Result<(PlacedLayout, usize), String> {
    let alone_spec = LayoutSpec {
        terms: vec![GiTerm::new(protagonist.clone(), 1)],
    };
    let mut layout = place(table, &alone_spec).map_err(|e| format!("protagonist alone: {e}"))?;
    let Some(p) = layout.instances.first() else {
        return Err("protagonist alone: the placed layout is empty".to_owned());
    };
    let (start, profile_id) = (p.start, p.profile_id);
    if neighbours > 0 {
        let neighbour = match neighbour_profile {
            NeighbourProfile::Profile(r) => r.clone(),
            NeighbourProfile::Smallest => match table.smallest() {
                Some(g) => ProfileRef::Id(g.id),
                None => {
                    return Err(format!(
                        "the profile table of `{}` has no GPU-instance profile without media \
                         extensions to use as the smallest neighbour",
                        table.model
                    ));
                }
            },
        };
        for n in 1..=neighbours {
            layout = layout
                .with_instance(table, &neighbour)
                .map_err(|e| format!("adding neighbour {n}: {e}"))?;
        }
    }
    let at = layout
        .instances
        .iter()
        .position(|g| g.start == start && g.profile_id == profile_id)
        .ok_or_else(|| {
            format!("the protagonist placed at slot {start} is missing from the placed layout")
        })?;
    Ok((layout, at))
}

fn assignment(gi: usize, ci: usize, workload: String, role: InstanceRole) -> MigAssignment {
    MigAssignment {
        // A GPU holds at most a few dozen instances.
        gpu_instance: u32::try_from(gi).unwrap_or(u32::MAX),
        compute_instance: u32::try_from(ci).unwrap_or(u32::MAX),
        workload,
        role,
    }
}

/// Deals a configuration's workloads round-robin.
struct Dealer<'a> {
    group: &'a [String],
    next: usize,
}

impl<'a> Dealer<'a> {
    fn new(group: &'a [String]) -> Self {
        Self { group, next: 0 }
    }

    fn next(&mut self) -> String {
        let w = self
            .group
            .get(self.next % self.group.len().max(1))
            .cloned()
            .unwrap_or_default();
        self.next += 1;
        w
    }
}
