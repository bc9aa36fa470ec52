//! The planner: a pure function from a validated campaign and a fleet inventory to the ordered list
//! of tasks the coordinator publishes.
//!
//! Planning is deterministic: the same campaign, campaign id and fleet (in any node order) give the
//! same tasks, ids and order, so a coordinator can re-plan after a restart and `wattsweep plan` shows
//! exactly what `submit` will run. Nothing is dropped silently: every matching target that cannot
//! take a configuration is listed in [`Plan::skipped`] with the reason.
//!
//! # Matching
//!
//! Nodes match `targets.nodes` globs on the node id (case-sensitive); GPUs match `targets.gpu_models`
//! globs on their NVML name, case-insensitively. Nodes are taken in node-id order, GPUs in index
//! order. A GPU's MIG profile table is the one its inventory reports (read from the driver), else the
//! built-in table of its model ([`crate::mig::builtin_table`]).
//!
//! # Configurations and their names
//!
//! Sweeps are expanded in file order; within a sweep, workload by workload (each workload its own
//! configuration, or all of them together with `mix`), then the sweep's values in the order written.
//! A configuration is named `{sweep}/{workloads}/{point}`, where `{workloads}` is the workload name
//! (with `mix`, the names joined by `+`) and `{point}` is:
//!
//! | sharing | point | example |
//! | --- | --- | --- |
//! | exclusive | `exclusive` | `solo/burn/exclusive` |
//! | time-slicing | `c{concurrency}` | `time-slicing/burn/c4` |
//! | mps | `c{concurrency}-atp{percentage}` (concurrency outer) | `mps/burn/c2-atp50` |
//! | mig layouts | the layout as written without whitespace, `-c{n}` added when `n` workload instances share each compute instance (`n ≠ 1`) | `mig-layouts/burn/4g.40gb+3g.40gb`, `mig-layouts/burn/7g.80gb(2cx3+1c)-c2` |
//! | mig neighbours | `{protagonist}+n{neighbours}` | `mig-neighbours/burn/3g.40gb+n2` |
//! | usage grid | the level of each GPU, in index order, joined by `-` | `passthrough/burn/50-0-100` |
//!
//! Names are unique in a campaign (the planner refuses duplicates) and, with the target and the
//! repetition, make the task id ([`task_id`]).
//!
//! With `mix`, workload instance `i` of a configuration runs workload `i mod n` of the mix (MIG
//! assignments spell this out; time-slicing and MPS instances follow the same rule at launch).
//!
//! MIG layouts are placed on each target's profile table (once per table). `fill = "all"` loads every
//! compute instance (role `fill`); `"first"` only compute instance 0 of the placed layout's first GPU
//! instance, the one at the lowest start slot (role `protagonist`); `neighbours = W` loads that one
//! with the sweep's workload and every other compute instance with `W` (role `neighbour`). Each
//! loaded compute instance gets `concurrency` assignments (time-slicing inside the MIG device).
//!
//! MIG neighbour series: for each protagonist profile, the protagonist is placed alone, then
//! neighbours of the neighbour profile (`smallest`: [`crate::mig::ProfileTable::smallest`]) are added
//! one at a time, every instance already placed kept where it is, until no profile table of the
//! sweep's targets can place one more, or `max_neighbours`. A target whose table holds fewer neighbours gets
//! the longer configurations listed as skipped with the placement error.
//!
//! Usage grids: one configuration per level vector over the target's GPUs (node scope: all matching
//! GPUs of the node; gpu and any scope: one GPU); `design = "full"` is every combination,
//! `"fractional"` a strength-2 covering array ([`design`]). Nodes with different GPU counts get the
//! designs of their own size.
//!
//! # Targets
//!
//! `gpu` scope: one task per matching GPU. `node` scope: one task per node with matching GPUs, all of
//! them together (`Target::Node`); a node whose matching GPUs are of different models is skipped.
//! `any` scope: one task per configuration with `Target::Any` of the first model, in sorted order,
//! on which the configuration is valid.
//!
//! # Order
//!
//! `sequential`: repetition by repetition, configurations in the order above, targets in fleet
//! order. `shuffled`: the same, but each repetition's configurations are permuted
//! ([`order::shuffled`], seeded by the campaign seed and the repetition). `seq` is the position.

mod configs;
pub mod design;
mod error;
mod fleet;
mod ids;
mod mig_sharing;
pub mod order;
mod resolve;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::campaign::{Campaign, Order, SweepKind};
use crate::model::{Target, TaskSpec};

pub use error::{MAX_TASKS, PlanError};
pub use fleet::hypothetical_node;
pub use ids::{CAMPAIGN_NAMESPACE, TASK_NAMESPACE, campaign_id_for, task_id};

/// The outcome of planning a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Tasks in run order (`tasks[i].seq == i`).
    pub tasks: Vec<TaskSpec>,
    /// Targets that match but cannot take some configuration, with the reason.
    pub skipped: Vec<Skip>,
}

/// A matching target that cannot take a configuration (or any configuration of a sweep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skip {
    /// Sweep name.
    pub sweep: String,
    /// The configuration; `None` when the target cannot take any configuration of the sweep (it is
    /// not MIG-capable, has no profile table, or holds GPUs of different models).
    pub configuration: Option<String>,
    /// The target skipped.
    pub target: Target,
    /// Why, in words (the placement error for MIG layouts that do not fit).
    pub reason: String,
}

/// Expand `campaign` into tasks for `fleet`, with `campaign_id` in every task and task id.
pub fn plan(
    campaign: &Campaign,
    campaign_id: Uuid,
    fleet: &[crate::model::NodeInventory],
) -> Result<Plan, PlanError> {
    let need_tables = campaign.sweeps.iter().any(|s| {
        matches!(
            s.kind,
            SweepKind::MigLayouts { .. } | SweepKind::MigNeighbours { .. }
        )
    });
    let fleet = fleet::Fleet::matching(&campaign.targets, fleet, need_tables)?;
    let mut resolver = resolve::Resolver::new(&fleet);
    let mut names: HashSet<String> = HashSet::new();
    let mut entries = Vec::new();
    for sweep in &campaign.sweeps {
        let (eligible, sweep_fleet) = resolver.eligible(sweep);
        let drafts = configs::drafts(sweep, &sweep_fleet)?;
        for d in &drafts {
            if !names.insert(d.name.clone()) {
                return Err(PlanError::DuplicateConfiguration {
                    sweep: sweep.name.clone(),
                    name: d.name.clone(),
                });
            }
        }
        entries.extend(resolver.entries(campaign, sweep, &eligible, drafts)?);
    }

    let per_repetition: u64 = entries.iter().map(|e| e.rows.len() as u64).sum();
    let total = per_repetition.saturating_mul(u64::from(campaign.repetitions));
    if total > MAX_TASKS {
        return Err(PlanError::TooManyTasks {
            tasks: total,
            limit: MAX_TASKS,
        });
    }
    let resolve::Resolver {
        slots,
        variants,
        skipped,
        ..
    } = resolver;

    // `total ≤ MAX_TASKS`, which fits a usize and a u32.
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut ids = ids::TaskIds::new(campaign_id);
    let identity: Vec<usize> = (0..entries.len()).collect();
    for repetition in 0..campaign.repetitions {
        let order = match campaign.order {
            Order::Sequential => identity.clone(),
            Order::Shuffled => order::shuffled(entries.len(), campaign.seed, repetition),
        };
        for e in order {
            let entry = &entries[e];
            for &(slot, variant) in &entry.rows {
                let slot = &slots[slot as usize];
                let variant = &variants[variant as usize];
                tasks.push(TaskSpec {
                    id: ids.id(&entry.name, &slot.label, repetition),
                    seq: u32::try_from(tasks.len()).unwrap_or(u32::MAX),
                    campaign_id,
                    campaign: campaign.name.clone(),
                    configuration: variant.configuration.clone(),
                    target: slot.target.clone(),
                    repetition,
                    timing: campaign.timing.clone(),
                    workloads: variant.workloads.clone(),
                });
            }
        }
    }
    Ok(Plan { tasks, skipped })
}

#[cfg(test)]
mod tests;
