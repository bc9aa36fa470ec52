//! Launch decisions: which workload instances a task starts, on which GPU resources, with which
//! placeholder values. Pure: the task, the node's GPUs and what the set-up produced (the applied MIG
//! layouts, the MPS daemons) in; [`LaunchSpec`]s out. Every sharing mode's rule is here, so the
//! driver only executes.
//!
//! | sharing | instances |
//! | --- | --- |
//! | exclusive | one per target GPU |
//! | time-slicing N | N per target GPU |
//! | MPS N, p % | N clients per target GPU, each with `CUDA_MPS_ACTIVE_THREAD_PERCENTAGE = p`; refused on a MIG GPU |
//! | MIG | one per [`MigAssignment`] on each target GPU, bound to that compute instance's MIG device (several assignments of one compute instance time-slice it) |
//! | usage grid | one per target GPU whose level is above 0, with `{level}` = that GPU's level |
//!
//! With several workloads (a `mix`), instance `j` of a GPU runs workload `j mod n` of the
//! configuration's list (MIG assignments name their workload). Instances are numbered across the
//! task, GPU after GPU, from 0.

use std::collections::BTreeMap;

use uuid::Uuid;
use wattsweep_shared::model::{
    GpuInventory, GpuRef, MigAssignment, Sharing, Target, TaskSpec, Timing, WorkloadSpec,
};

use crate::mig::AppliedLayout;
use crate::runtime::{GpuBinding, LaunchSpec, MpsClient};

/// Seconds added to `{run_s}` on top of warm-up, measured window and the readiness allowance, so
/// that a workload told to run `{run_s}` seconds is still running when the executor stops it at the
/// end of the measured window (start-up, stop and clock slack).
pub const RUN_SLACK_S: u32 = 30;

/// Where the MPS control daemon serving one GPU listens, as the set-up started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpsDirs {
    /// `CUDA_MPS_PIPE_DIRECTORY`.
    pub pipe_dir: String,
    /// `CUDA_MPS_LOG_DIRECTORY`.
    pub log_dir: String,
}

/// What the launch decisions need besides the task.
#[derive(Debug, Clone, Copy)]
pub struct LaunchContext<'a> {
    /// The node's GPUs (its inventory).
    pub gpus: &'a [GpuInventory],
    /// The MIG layout applied on each GPU, by GPU index (MIG tasks only).
    pub mig: &'a BTreeMap<u32, AppliedLayout>,
    /// The MPS daemon serving each GPU, by GPU index (MPS tasks only).
    pub mps: &'a BTreeMap<u32, MpsDirs>,
}

/// Why a task's instances cannot be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// The target names no GPU of this node (`any`, or a target this build does not know).
    #[error(
        "target {target} does not name GPUs of this node; the executor runs `gpu` and `node` targets \
         (the dispatcher resolves `any`)"
    )]
    UnresolvedTarget {
        /// The target.
        target: String,
    },
    /// The target names a GPU this node does not have, or whose UUID differs.
    #[error("target GPU {index} ({uuid}) is not on this node: {reason}")]
    NoSuchGpu {
        /// GPU index.
        index: u32,
        /// UUID the task names.
        uuid: String,
        /// What differs.
        reason: String,
    },
    /// A sharing mode this build does not know.
    #[error("the task's sharing mode is unknown to this agent (sent by a newer coordinator)")]
    UnknownSharing,
    /// Zero instances asked for.
    #[error("{mode} with concurrency 0: at least 1 instance is needed")]
    ZeroConcurrency {
        /// The mode.
        mode: &'static str,
    },
    /// The configuration names a workload the task does not carry.
    #[error(
        "workload `{name}` is not among the task's workloads ({known}); every name of the \
         configuration must come with its spec"
    )]
    UnknownWorkload {
        /// The name.
        name: String,
        /// The workloads carried.
        known: String,
    },
    /// The configuration names no workload.
    #[error("the configuration names no workload")]
    NoWorkload,
    /// MPS on a GPU in MIG mode.
    #[error("GPU {gpu} is in MIG mode: MPS on MIG is not supported (DESIGN §3)")]
    MpsOnMig {
        /// GPU index.
        gpu: u32,
    },
    /// MPS asked for but no daemon serves the GPU (a set-up bug).
    #[error("GPU {gpu}: no MPS control daemon was started for it")]
    MpsNotStarted {
        /// GPU index.
        gpu: u32,
    },
    /// MIG asked for but no layout was applied on the GPU (a set-up bug).
    #[error("GPU {gpu}: no MIG layout was applied for this task")]
    MigNotApplied {
        /// GPU index.
        gpu: u32,
    },
    /// A MIG assignment names a compute instance the applied layout does not have.
    #[error(
        "GPU {gpu}: MIG assignment to GPU instance {gpu_instance}, compute instance \
         {compute_instance} names no compute instance of the layout"
    )]
    NoMigDevice {
        /// GPU index.
        gpu: u32,
        /// GPU-instance index in the layout.
        gpu_instance: u32,
        /// Compute-instance index in that GPU instance.
        compute_instance: u32,
    },
    /// Usage-grid levels do not match the target's GPUs.
    #[error("usage grid with {levels} levels for {gpus} target GPUs: one level per GPU is needed")]
    LevelsMismatch {
        /// Levels given.
        levels: usize,
        /// GPUs targeted.
        gpus: usize,
    },
    /// A usage-grid level above 100 %.
    #[error("usage-grid level {level} % on GPU {gpu}: levels are 0–100")]
    LevelOutOfRange {
        /// GPU index.
        gpu: u32,
        /// The level.
        level: u32,
    },
}

impl LaunchError {
    /// Whether the same task fails the same way on every attempt. Only the set-up bugs (a missing
    /// daemon or layout) might not.
    pub fn is_deterministic(&self) -> bool {
        !matches!(
            self,
            LaunchError::MpsNotStarted { .. } | LaunchError::MigNotApplied { .. }
        )
    }
}

/// The GPUs a task targets, in the target's order.
pub fn target_gpus(task: &TaskSpec) -> Result<Vec<GpuRef>, LaunchError> {
    match &task.target {
        Target::Gpu { gpu, .. } => Ok(vec![gpu.clone()]),
        Target::Node { gpus, .. } => Ok(gpus.clone()),
        t @ (Target::Any { .. } | Target::Unknown) => Err(LaunchError::UnresolvedTarget {
            target: t.to_string(),
        }),
    }
}

/// The inventory entry of a target GPU, checked against the UUID the task names (when it names one).
pub fn resolve_gpu<'a>(
    gpus: &'a [GpuInventory],
    gpu: &GpuRef,
) -> Result<&'a GpuInventory, LaunchError> {
    let found =
        gpus.iter()
            .find(|g| g.index == gpu.index)
            .ok_or_else(|| LaunchError::NoSuchGpu {
                index: gpu.index,
                uuid: gpu.uuid.clone(),
                reason: format!("the node has {} GPUs", gpus.len()),
            })?;
    if !gpu.uuid.is_empty() && gpu.uuid != found.uuid {
        return Err(LaunchError::NoSuchGpu {
            index: gpu.index,
            uuid: gpu.uuid.clone(),
            reason: format!("GPU {} is {} now", gpu.index, found.uuid),
        });
    }
    Ok(found)
}

/// Seconds a workload may take to become ready before the task fails: its `ready.timeout_s` when it
/// waits for a log line, 0 when it is ready as soon as it has started.
pub fn ready_allowance_s(workload: &WorkloadSpec) -> u32 {
    match &workload.ready {
        Some(r) if r.log_regex.is_some() => r.timeout_s,
        _ => 0,
    }
}

/// `{run_s}` of a workload: warm-up + measured window + its readiness allowance + [`RUN_SLACK_S`].
/// The executor stops every instance at the end of the measured window; `{run_s}` only has to be
/// long enough that no instance ends on its own before then, however long loading took (up to the
/// readiness timeout, after which the task fails anyway).
pub fn run_s(timing: &Timing, workload: &WorkloadSpec) -> u32 {
    timing
        .warmup_s
        .saturating_add(timing.measure_s)
        .saturating_add(ready_allowance_s(workload))
        .saturating_add(RUN_SLACK_S)
}

/// The placeholder values of one instance: `{measure_s}`, `{warmup_s}`, `{run_s}` and `{level}`
/// (the usage-grid level, 100 in every other mode).
pub fn substitutions(
    timing: &Timing,
    workload: &WorkloadSpec,
    level: u32,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("measure_s".to_string(), timing.measure_s.to_string()),
        ("warmup_s".to_string(), timing.warmup_s.to_string()),
        ("run_s".to_string(), run_s(timing, workload).to_string()),
        ("level".to_string(), level.to_string()),
    ])
}

fn workload<'t>(task: &'t TaskSpec, name: &str) -> Result<&'t WorkloadSpec, LaunchError> {
    task.workloads
        .iter()
        .find(|w| w.name == name)
        .ok_or_else(|| LaunchError::UnknownWorkload {
            name: name.to_string(),
            known: task
                .workloads
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The workload of local instance `j` under the `mix` rule.
fn mixed(task: &TaskSpec, j: u32) -> Result<&WorkloadSpec, LaunchError> {
    let names = &task.configuration.workloads;
    if names.is_empty() {
        return Err(LaunchError::NoWorkload);
    }
    let i = usize::try_from(j).unwrap_or(0) % names.len();
    workload(task, &names[i])
}

struct Builder<'t> {
    task: &'t TaskSpec,
    attempt: u32,
    out: Vec<LaunchSpec>,
}

impl Builder<'_> {
    fn push(
        &mut self,
        workload: &WorkloadSpec,
        gpu: GpuBinding,
        mps: Option<MpsClient>,
        level: u32,
    ) {
        let instance = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        self.out.push(LaunchSpec {
            task_id: self.task.id,
            attempt: self.attempt,
            instance,
            workload: workload.clone(),
            gpu,
            mps,
            substitutions: substitutions(&self.task.timing, workload, level),
            env: BTreeMap::new(),
        });
    }
}

fn whole(g: &GpuInventory) -> GpuBinding {
    GpuBinding::Gpus {
        uuids: vec![g.uuid.clone()],
        indices: vec![g.index],
    }
}

/// Every instance `task` (attempt `attempt`) starts, in instance order.
pub fn launch_specs(
    task: &TaskSpec,
    attempt: u32,
    ctx: &LaunchContext<'_>,
) -> Result<Vec<LaunchSpec>, LaunchError> {
    let targets = target_gpus(task)?;
    let gpus = targets
        .iter()
        .map(|t| resolve_gpu(ctx.gpus, t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut b = Builder {
        task,
        attempt,
        out: Vec::new(),
    };
    match &task.configuration.sharing {
        Sharing::Exclusive => {
            for g in &gpus {
                b.push(mixed(task, 0)?, whole(g), None, 100);
            }
        }
        Sharing::TimeSlicing { concurrency } => {
            if *concurrency == 0 {
                return Err(LaunchError::ZeroConcurrency {
                    mode: "time-slicing",
                });
            }
            for g in &gpus {
                for j in 0..*concurrency {
                    b.push(mixed(task, j)?, whole(g), None, 100);
                }
            }
        }
        Sharing::Mps {
            concurrency,
            active_thread_percentage,
        } => {
            if *concurrency == 0 {
                return Err(LaunchError::ZeroConcurrency { mode: "MPS" });
            }
            for g in &gpus {
                if g.mig_enabled || ctx.mig.contains_key(&g.index) {
                    return Err(LaunchError::MpsOnMig { gpu: g.index });
                }
                let daemon = ctx
                    .mps
                    .get(&g.index)
                    .ok_or(LaunchError::MpsNotStarted { gpu: g.index })?;
                for j in 0..*concurrency {
                    let client = MpsClient {
                        pipe_dir: daemon.pipe_dir.clone(),
                        log_dir: daemon.log_dir.clone(),
                        active_thread_percentage: *active_thread_percentage,
                    };
                    b.push(mixed(task, j)?, whole(g), Some(client), 100);
                }
            }
        }
        Sharing::Mig { assignments, .. } => {
            for g in &gpus {
                let applied = ctx
                    .mig
                    .get(&g.index)
                    .ok_or(LaunchError::MigNotApplied { gpu: g.index })?;
                for a in assignments {
                    let binding = mig_binding(g.index, applied, a)?;
                    b.push(workload(task, &a.workload)?, binding, None, 100);
                }
            }
        }
        Sharing::UsageGrid { levels } => {
            if levels.len() != gpus.len() {
                return Err(LaunchError::LevelsMismatch {
                    levels: levels.len(),
                    gpus: gpus.len(),
                });
            }
            for (g, &level) in gpus.iter().zip(levels) {
                if level > 100 {
                    return Err(LaunchError::LevelOutOfRange {
                        gpu: g.index,
                        level,
                    });
                }
                if level > 0 {
                    b.push(mixed(task, 0)?, whole(g), None, level);
                }
            }
        }
        Sharing::Unknown => return Err(LaunchError::UnknownSharing),
    }
    Ok(b.out)
}

fn mig_binding(
    gpu: u32,
    applied: &AppliedLayout,
    a: &MigAssignment,
) -> Result<GpuBinding, LaunchError> {
    let missing = || LaunchError::NoMigDevice {
        gpu,
        gpu_instance: a.gpu_instance,
        compute_instance: a.compute_instance,
    };
    let gi = usize::try_from(a.gpu_instance).map_err(|_| missing())?;
    let ci = usize::try_from(a.compute_instance).map_err(|_| missing())?;
    let uuid = applied.uuid(gi, ci).ok_or_else(missing)?;
    let profile = applied
        .layout
        .instances
        .get(gi)
        .map(|p| p.profile.clone())
        .ok_or_else(missing)?;
    Ok(GpuBinding::MigDevice {
        uuid: uuid.to_string(),
        profile,
    })
}

/// A task id's short form for names and logs (`3f2a9c1b`).
pub fn short_id(id: Uuid) -> String {
    id.simple().to_string().chars().take(8).collect()
}

#[cfg(test)]
#[path = "launch_tests.rs"]
mod tests;
