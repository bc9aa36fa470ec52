//! Which targets take each configuration, and with which (placed) configuration.
//!
//! Targets by scope: `gpu` → every matching GPU; `node` → every node with matching GPUs, all of them
//! together (one model per node); `any` → one `Target::Any` for the first model, in sorted order, on
//! which the configuration is valid. MIG layouts are placed once per (configuration, profile
//! table), not per target. A target that matches but cannot take a configuration is recorded in
//! [`Skip`]s: per sweep when the target itself is the reason (not MIG-capable, no profile table,
//! mixed models), per configuration when the placement fails.

use super::PlanError;
use super::Skip;
use super::configs::{Draft, Point, SweepFleet};
use super::fleet::{Fleet, FleetGpu, MigSupport};
use super::mig_sharing::{layout_sharing, neighbours_sharing};
use crate::campaign::{Campaign, Sweep, SweepKind};
use crate::model::{Configuration, Scope, Sharing, Target, WorkloadSpec};

/// A configuration as tasks carry it, with its workloads in full.
#[derive(Debug)]
pub(crate) struct Variant {
    pub configuration: Configuration,
    pub workloads: Vec<WorkloadSpec>,
}

/// A target and its displayed form (part of task ids).
#[derive(Debug)]
pub(crate) struct Slot {
    pub target: Target,
    pub label: String,
}

/// One configuration with the targets that take it: `(slot, variant)` pairs in target order.
#[derive(Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub rows: Vec<(u32, u32)>,
}

/// The targets of one sweep that can take at least some of its configurations.
pub(crate) struct Eligible {
    scope: Scope,
    /// Indices into the fleet's GPUs (gpu scope), nodes (node scope) or models (any scope).
    members: Vec<usize>,
}

/// Builds slots, variants and skips for every sweep of a campaign.
pub(crate) struct Resolver<'f, 'a> {
    fleet: &'f Fleet<'a>,
    pub slots: Vec<Slot>,
    pub variants: Vec<Variant>,
    pub skipped: Vec<Skip>,
    gpu_base: Option<usize>,
    node_base: Option<usize>,
    any_base: Option<usize>,
    /// Per node, why it cannot run node-scope configurations (mixed models).
    node_refusals: Vec<Option<String>>,
}

fn idx(i: usize) -> u32 {
    // Bounded by MAX_TASKS-sized inputs long before u32 overflows.
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl<'f, 'a> Resolver<'f, 'a> {
    pub fn new(fleet: &'f Fleet<'a>) -> Self {
        let node_refusals = fleet
            .nodes
            .iter()
            .map(|n| {
                let gpus = &fleet.gpus[n.first..n.first + n.count];
                let first = &gpus[0].gref.model;
                if gpus.iter().all(|g| &g.gref.model == first) {
                    return None;
                }
                let list: Vec<String> = gpus
                    .iter()
                    .map(|g| format!("gpu{} {}", g.gref.index, g.gref.model))
                    .collect();
                Some(format!(
                    "the node's matching GPUs are of different models ({}); node scope needs one \
                     model per node: narrow targets.gpu_models",
                    list.join(", ")
                ))
            })
            .collect();
        Self {
            fleet,
            slots: Vec::new(),
            variants: Vec::new(),
            skipped: Vec::new(),
            gpu_base: None,
            node_base: None,
            any_base: None,
            node_refusals,
        }
    }

    fn base(&mut self, scope: Scope) -> usize {
        let existing = match scope {
            Scope::Gpu => self.gpu_base,
            Scope::Node => self.node_base,
            Scope::Any => self.any_base,
        };
        if let Some(b) = existing {
            return b;
        }
        let base = self.slots.len();
        let fleet = self.fleet;
        match scope {
            Scope::Gpu => {
                for g in &fleet.gpus {
                    let target = Target::Gpu {
                        node: g.node_id.to_owned(),
                        gpu: g.gref.clone(),
                    };
                    self.push_slot(target);
                }
                self.gpu_base = Some(base);
            }
            Scope::Node => {
                for n in &fleet.nodes {
                    let gpus = &fleet.gpus[n.first..n.first + n.count];
                    let target = Target::Node {
                        node: gpus[0].node_id.to_owned(),
                        gpus: gpus.iter().map(|g| g.gref.clone()).collect(),
                    };
                    self.push_slot(target);
                }
                self.node_base = Some(base);
            }
            Scope::Any => {
                for (model, _) in &fleet.models {
                    self.push_slot(Target::Any {
                        model: model.clone(),
                    });
                }
                self.any_base = Some(base);
            }
        }
        base
    }

    fn push_slot(&mut self, target: Target) {
        let label = target.to_string();
        self.slots.push(Slot { target, label });
    }

    fn skip(&mut self, sweep: &Sweep, configuration: Option<&str>, slot: usize, reason: String) {
        self.skipped.push(Skip {
            sweep: sweep.name.clone(),
            configuration: configuration.map(str::to_owned),
            target: self.slots[slot].target.clone(),
            reason,
        });
    }

    /// The GPU of the fleet whose MIG table stands for `model` in any scope: the first of that model
    /// with a table, else the first.
    fn model_gpu(&self, model: usize) -> usize {
        let (key, first) = &self.fleet.models[model];
        self.fleet
            .gpus
            .iter()
            .position(|g| &g.gref.model == key && matches!(g.mig, MigSupport::Table(_)))
            .unwrap_or(*first)
    }

    /// The sweep's eligible targets (recording per-sweep skips) and what the drafts need to know
    /// about them.
    pub fn eligible(&mut self, sweep: &Sweep) -> (Eligible, SweepFleet<'f>) {
        let is_mig = matches!(
            sweep.kind,
            SweepKind::MigLayouts { .. } | SweepKind::MigNeighbours { .. }
        );
        let base = self.base(sweep.scope);
        let fleet = self.fleet;
        let mut members = Vec::new();
        let mut gpu_counts = Vec::new();
        let mut tables: Vec<usize> = Vec::new();
        let mut use_table = |m: MigSupport| {
            if let MigSupport::Table(t) = m
                && !tables.contains(&t)
            {
                tables.push(t);
            }
        };
        match sweep.scope {
            Scope::Gpu => {
                for (i, g) in fleet.gpus.iter().enumerate() {
                    match g.mig_refusal().filter(|_| is_mig) {
                        Some(reason) => self.skip(sweep, None, base + i, reason),
                        None => {
                            members.push(i);
                            use_table(g.mig);
                        }
                    }
                }
                gpu_counts.push(1);
            }
            Scope::Node => {
                for (i, n) in fleet.nodes.iter().enumerate() {
                    let gpus = &fleet.gpus[n.first..n.first + n.count];
                    let refusal = self.node_refusals[i].clone().or_else(|| {
                        gpus.iter()
                            .filter_map(|g| g.mig_refusal())
                            .next()
                            .filter(|_| is_mig)
                    });
                    match refusal {
                        Some(reason) => self.skip(sweep, None, base + i, reason),
                        None => {
                            members.push(i);
                            gpus.iter().for_each(|g| use_table(g.mig));
                            if !gpu_counts.contains(&n.count) {
                                gpu_counts.push(n.count);
                            }
                        }
                    }
                }
                gpu_counts.sort_unstable();
            }
            Scope::Any => {
                for m in 0..fleet.models.len() {
                    members.push(m);
                    use_table(fleet.gpus[self.model_gpu(m)].mig);
                }
                gpu_counts.push(1);
            }
        }
        let tables = tables.into_iter().map(|t| &fleet.tables[t]).collect();
        (
            Eligible {
                scope: sweep.scope,
                members,
            },
            SweepFleet { gpu_counts, tables },
        )
    }

    /// Resolve every draft of `sweep` on its eligible targets.
    pub fn entries(
        &mut self,
        campaign: &Campaign,
        sweep: &Sweep,
        eligible: &Eligible,
        drafts: Vec<Draft<'_>>,
    ) -> Result<Vec<Entry>, PlanError> {
        let mut out = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let mut d = Resolving {
                sweep,
                specs: workload_specs(campaign, sweep, &draft.workloads)?,
                draft: &draft,
                fixed: None,
                placed: vec![None; self.fleet.tables.len()],
            };
            let rows = match eligible.scope {
                Scope::Gpu => self.gpu_rows(&mut d, &eligible.members),
                Scope::Node => self.node_rows(&mut d, &eligible.members),
                Scope::Any => self.any_rows(&mut d, &eligible.members),
            };
            out.push(Entry {
                name: draft.name,
                rows,
            });
        }
        Ok(out)
    }

    /// Gpu scope: every eligible GPU whose table takes the draft.
    fn gpu_rows(&mut self, d: &mut Resolving<'_, '_>, members: &[usize]) -> Vec<(u32, u32)> {
        let base = self.base(Scope::Gpu);
        let mut rows = Vec::new();
        if d.draft.gpus.is_some_and(|k| k != 1) {
            return rows;
        }
        for &g in members {
            match d.on(self, self.fleet.gpus[g].mig) {
                Ok(v) => rows.push((idx(base + g), v)),
                Err(reason) => self.skip(d.sweep, Some(&d.draft.name), base + g, reason),
            }
        }
        rows
    }

    /// Node scope: every eligible node of the draft's size whose GPUs all take the draft, the same
    /// way.
    fn node_rows(&mut self, d: &mut Resolving<'_, '_>, members: &[usize]) -> Vec<(u32, u32)> {
        let base = self.base(Scope::Node);
        let fleet = self.fleet;
        let mut rows = Vec::new();
        for &n in members {
            let node = &fleet.nodes[n];
            if d.draft.gpus.is_some_and(|k| k != node.count) {
                continue;
            }
            let gpus = &fleet.gpus[node.first..node.first + node.count];
            match self.node_variant(d, gpus) {
                Ok(v) => rows.push((idx(base + n), v)),
                Err(reason) => self.skip(d.sweep, Some(&d.draft.name), base + n, reason),
            }
        }
        rows
    }

    /// The variant every GPU of a node takes, or why they cannot run the draft together.
    fn node_variant(
        &mut self,
        d: &mut Resolving<'_, '_>,
        gpus: &[FleetGpu<'_>],
    ) -> Result<u32, String> {
        let mut chosen: Option<(u32, u32)> = None; // (variant, GPU index)
        for g in gpus {
            let v = d
                .on(self, g.mig)
                .map_err(|reason| format!("GPU {}: {reason}", g.gref.index))?;
            match chosen {
                None => chosen = Some((v, g.gref.index)),
                Some((first, at)) if first != v => {
                    let a = &self.variants[first as usize].configuration.sharing;
                    let b = &self.variants[v as usize].configuration.sharing;
                    if a != b {
                        return Err(format!(
                            "the layout places differently on GPU {} than on GPU {at} (their \
                             profile tables differ)",
                            g.gref.index
                        ));
                    }
                }
                Some(_) => {}
            }
        }
        chosen
            .map(|(v, _)| v)
            .ok_or_else(|| "the node has no matching GPU".to_owned())
    }

    /// Any scope: the first model, in sorted order, that takes the draft; every model skipped when
    /// none does.
    fn any_rows(&mut self, d: &mut Resolving<'_, '_>, members: &[usize]) -> Vec<(u32, u32)> {
        let base = self.base(Scope::Any);
        let fleet = self.fleet;
        if d.draft.gpus.is_some_and(|k| k != 1) {
            return Vec::new();
        }
        let mut reasons = Vec::new();
        for &m in members {
            let g = &fleet.gpus[self.model_gpu(m)];
            let result = match g.mig_refusal().filter(|_| d.draft.point.is_mig()) {
                Some(reason) => Err(reason),
                None => d.on(self, g.mig),
            };
            match result {
                Ok(v) => return vec![(idx(base + m), v)],
                Err(reason) => reasons.push((m, reason)),
            }
        }
        for (m, reason) in reasons {
            self.skip(d.sweep, Some(&d.draft.name), base + m, reason);
        }
        Vec::new()
    }

    fn variant(
        &mut self,
        sweep: &Sweep,
        draft: &Draft<'_>,
        sharing: Sharing,
        specs: &[WorkloadSpec],
    ) -> u32 {
        self.variants.push(Variant {
            configuration: Configuration {
                name: draft.name.clone(),
                sweep: sweep.name.clone(),
                sharing,
                runtime: sweep.runtime,
                workloads: draft.workloads.clone(),
            },
            workloads: specs.to_vec(),
        });
        idx(self.variants.len() - 1)
    }
}

/// One draft being resolved: its variant, or its variant per profile table, made on first use.
struct Resolving<'d, 'c> {
    sweep: &'d Sweep,
    draft: &'d Draft<'c>,
    specs: Vec<WorkloadSpec>,
    /// The variant of a draft that does not depend on the GPU.
    fixed: Option<u32>,
    /// Per profile table: the variant placed on it, or why the draft does not place there.
    placed: Vec<Option<Result<u32, String>>>,
}

impl Resolving<'_, '_> {
    /// The variant for a GPU with `mig` support (placing the layout once per table).
    fn on(&mut self, r: &mut Resolver<'_, '_>, mig: MigSupport) -> Result<u32, String> {
        if let Point::Fixed(s) = &self.draft.point {
            let (sweep, draft, specs) = (self.sweep, self.draft, &self.specs);
            return Ok(*self
                .fixed
                .get_or_insert_with(|| r.variant(sweep, draft, s.clone(), specs)));
        }
        let MigSupport::Table(t) = mig else {
            return Err("no MIG profile table".to_owned());
        };
        let (sweep, draft, specs) = (self.sweep, self.draft, &self.specs);
        let fleet = r.fleet;
        self.placed[t]
            .get_or_insert_with(|| {
                mig_sharing(&fleet.tables[t], draft).map(|s| r.variant(sweep, draft, s, specs))
            })
            .clone()
    }
}

fn mig_sharing(table: &crate::mig::ProfileTable, draft: &Draft<'_>) -> Result<Sharing, String> {
    match &draft.point {
        Point::Fixed(s) => Ok(s.clone()),
        Point::MigLayout {
            spec,
            fill,
            concurrency,
        } => layout_sharing(table, spec, fill, *concurrency, draft.group()),
        Point::MigNeighbours {
            protagonist,
            neighbours,
            profile,
            workload,
        } => neighbours_sharing(
            table,
            protagonist,
            *neighbours,
            profile,
            draft.group(),
            workload,
        ),
    }
}

/// The full specs of the named workloads, in order.
fn workload_specs(
    campaign: &Campaign,
    sweep: &Sweep,
    names: &[String],
) -> Result<Vec<WorkloadSpec>, PlanError> {
    names
        .iter()
        .map(|n| {
            campaign
                .workloads
                .get(n)
                .cloned()
                .ok_or_else(|| PlanError::UnknownWorkload {
                    sweep: sweep.name.clone(),
                    workload: n.clone(),
                    defined: campaign
                        .workloads
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}
