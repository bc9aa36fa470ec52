//! The fleet as the planner sees it: the GPUs the campaign's globs match, grouped by node and by
//! model, each with the MIG profile table its configurations are placed on.
//!
//! Also builds hypothetical nodes from model ids, so `wattsweep plan --gpu h100-80gb` can plan a
//! campaign without a fleet.

use std::collections::BTreeMap;

use wildmatch::WildMatch;

use super::PlanError;
use crate::campaign::Targets;
use crate::gpu_model;
use crate::mig::{ProfileTable, builtin_table};
use crate::model::{GpuInventory, GpuRef, NodeInventory};

/// Whether and how a GPU can be partitioned with MIG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MigSupport {
    /// Place layouts on `Fleet::tables[i]`.
    Table(usize),
    /// The inventory says the GPU cannot do MIG.
    NotCapable,
    /// MIG-capable, but neither the driver nor wattsweep has a profile table for the model.
    NoTable,
    /// Not looked up: the campaign has no MIG sweep.
    Unresolved,
}

/// One matching GPU.
#[derive(Debug)]
pub(crate) struct FleetGpu<'a> {
    /// Node id.
    pub node_id: &'a str,
    /// The GPU as inventoried.
    pub inv: &'a GpuInventory,
    /// How tasks name it.
    pub gref: GpuRef,
    /// Its MIG table.
    pub mig: MigSupport,
}

impl FleetGpu<'_> {
    /// Why MIG configurations cannot run here, when they cannot.
    pub fn mig_refusal(&self) -> Option<String> {
        match self.mig {
            MigSupport::Table(_) | MigSupport::Unresolved => None,
            MigSupport::NotCapable => Some(format!(
                "GPU {} of node `{}` ({}) is not MIG-capable",
                self.inv.index, self.node_id, self.inv.name
            )),
            MigSupport::NoTable => Some(format!(
                "GPU {} of node `{}`: no MIG profile table for model `{}` (the driver reported \
                 none and wattsweep has built-in tables for {})",
                self.inv.index,
                self.node_id,
                self.inv.model_key(),
                gpu_model::known_ids()
            )),
        }
    }
}

/// A node with at least one matching GPU.
#[derive(Debug)]
pub(crate) struct FleetNode {
    /// Its matching GPUs: `Fleet::gpus[first..first + count]`, in index order.
    pub first: usize,
    /// How many.
    pub count: usize,
}

/// The matching part of the fleet, in a canonical order (node id, then GPU index) so the plan does
/// not depend on the order the registry lists nodes in.
#[derive(Debug)]
pub(crate) struct Fleet<'a> {
    /// Matching GPUs.
    pub gpus: Vec<FleetGpu<'a>>,
    /// Nodes holding them.
    pub nodes: Vec<FleetNode>,
    /// Distinct model keys, sorted, each with its first GPU (an index into `gpus`).
    pub models: Vec<(String, usize)>,
    /// Distinct MIG profile tables.
    pub tables: Vec<ProfileTable>,
}

impl<'a> Fleet<'a> {
    /// The GPUs of `fleet` that `targets` match; MIG tables are looked up when `need_tables`.
    pub fn matching(
        targets: &Targets,
        fleet: &'a [NodeInventory],
        need_tables: bool,
    ) -> Result<Self, PlanError> {
        let node_globs: Vec<WildMatch> = targets.nodes.iter().map(|g| WildMatch::new(g)).collect();
        let gpu_globs: Vec<WildMatch> = targets
            .gpu_models
            .iter()
            .map(|g| WildMatch::new_case_insensitive(g))
            .collect();

        let mut sorted: Vec<&NodeInventory> = fleet.iter().collect();
        sorted.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        if let Some(w) = sorted.windows(2).find(|w| w[0].node_id == w[1].node_id) {
            return Err(PlanError::DuplicateNode {
                node: w[0].node_id.clone(),
            });
        }

        let mut out = Fleet {
            gpus: Vec::new(),
            nodes: Vec::new(),
            models: Vec::new(),
            tables: Vec::new(),
        };
        let mut builtin: BTreeMap<&str, Option<usize>> = BTreeMap::new();
        for node in sorted {
            if !node_globs.iter().any(|g| g.matches(&node.node_id)) {
                continue;
            }
            let mut gpus: Vec<&GpuInventory> = node.gpus.iter().collect();
            gpus.sort_by_key(|g| g.index);
            if let Some(w) = gpus.windows(2).find(|w| w[0].index == w[1].index) {
                return Err(PlanError::DuplicateGpu {
                    node: node.node_id.clone(),
                    index: w[0].index,
                });
            }
            let first = out.gpus.len();
            for inv in gpus {
                if !gpu_globs.iter().any(|g| g.matches(&inv.name)) {
                    continue;
                }
                let mig = if need_tables {
                    out.mig_support(inv, &mut builtin)
                } else {
                    MigSupport::Unresolved
                };
                out.gpus.push(FleetGpu {
                    node_id: &node.node_id,
                    inv,
                    gref: GpuRef {
                        index: inv.index,
                        uuid: inv.uuid.clone(),
                        model: inv.model_key().to_owned(),
                    },
                    mig,
                });
            }
            let count = out.gpus.len() - first;
            if count > 0 {
                out.nodes.push(FleetNode { first, count });
            }
        }
        if out.gpus.is_empty() {
            return Err(PlanError::NoMatchingGpus {
                nodes: targets.nodes.clone(),
                gpu_models: targets.gpu_models.clone(),
                fleet: summary(fleet),
            });
        }

        let mut models: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, g) in out.gpus.iter().enumerate() {
            models.entry(g.gref.model.as_str()).or_insert(i);
        }
        out.models = models.into_iter().map(|(m, i)| (m.to_owned(), i)).collect();
        Ok(out)
    }

    /// The MIG table of `inv`: the driver's if the inventory has one, else the built-in table of its
    /// model (looked up once per model).
    fn mig_support<'b>(
        &mut self,
        inv: &'b GpuInventory,
        builtin: &mut BTreeMap<&'b str, Option<usize>>,
    ) -> MigSupport {
        if !inv.mig_capable {
            return MigSupport::NotCapable;
        }
        if let Some(table) = &inv.profile_table {
            let i = match self.tables.iter().position(|t| t == table) {
                Some(i) => i,
                None => {
                    self.tables.push(table.clone());
                    self.tables.len() - 1
                }
            };
            return MigSupport::Table(i);
        }
        let Some(model) = inv.model_id.as_deref() else {
            return MigSupport::NoTable;
        };
        let slot = builtin.entry(model).or_insert_with(|| {
            let table = builtin_table(model)?;
            Some(match self.tables.iter().position(|t| *t == table) {
                Some(i) => i,
                None => {
                    self.tables.push(table);
                    self.tables.len() - 1
                }
            })
        });
        slot.map_or(MigSupport::NoTable, MigSupport::Table)
    }
}

/// `3 nodes; GPUs: 16× NVIDIA H100 80GB HBM3, 8× NVIDIA A100-SXM4-80GB`, for error messages.
fn summary(fleet: &[NodeInventory]) -> String {
    if fleet.is_empty() {
        return "no nodes".to_owned();
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for g in fleet.iter().flat_map(|n| &n.gpus) {
        *names.entry(g.name.as_str()).or_default() += 1;
    }
    let gpus = if names.is_empty() {
        "none".to_owned()
    } else {
        names
            .iter()
            .map(|(n, c)| format!("{c}× {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{} node(s); GPUs: {gpus}", fleet.len())
}

/// A node that exists only on paper, for planning without a fleet: GPUs of the given models
/// (`(model id, count)`, indexed in that order from 0), named as NVML names them, MIG- and
/// MPS-capable, with empty UUIDs. MIG layouts are placed on the built-in table of each model.
pub fn hypothetical_node(node_id: &str, gpus: &[(&str, u32)]) -> Result<NodeInventory, PlanError> {
    let mut out = NodeInventory {
        node_id: node_id.to_owned(),
        hostname: node_id.to_owned(),
        ..NodeInventory::default()
    };
    let mut index = 0u32;
    for (model_id, count) in gpus {
        let model = gpu_model::by_id(model_id).ok_or_else(|| PlanError::UnknownModel {
            node: node_id.to_owned(),
            model: (*model_id).to_owned(),
            known: gpu_model::known_ids(),
        })?;
        for _ in 0..*count {
            out.gpus.push(GpuInventory {
                index,
                uuid: String::new(),
                name: model.nvml_name.to_owned(),
                model_id: Some(model.id.to_owned()),
                memory_mib: model.memory_mib,
                power_limit_w: model.tdp_w,
                mig_capable: true,
                mps_capable: true,
                ..GpuInventory::default()
            });
            index += 1;
        }
    }
    Ok(out)
}
