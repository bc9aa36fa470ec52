//! Executing MIG plans against a [`GpuBackend`], with the journal written before anything is
//! created and the baseline restored on every failure path.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use wattsweep_shared::mig::PlacedLayout;
use wattsweep_shared::model::GpuInventory;

use super::journal::{self, JOURNAL_VERSION, Journal, journal_path};
use super::plan::{CiKey, GiKey, MigState, Step, plan};
use super::validate;
use super::{AppliedLayout, MigConfig, MigDevice, MigError, RecoveryReport, RestoreReport};
use crate::gpu::{ExistingGpuInstance, GpuBackend, GpuError};

/// The MIG manager of one node, over any GPU backend.
///
/// Calls for one GPU must not overlap (the agent runs one task per GPU at a time); different GPUs
/// may be handled from different threads.
pub struct MigManager<'a> {
    backend: &'a dyn GpuBackend,
    config: MigConfig,
}

impl std::fmt::Debug for MigManager<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigManager")
            .field("backend", &self.backend.kind())
            .field("config", &self.config)
            .finish()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl<'a> MigManager<'a> {
    /// A manager over `backend`.
    pub fn new(backend: &'a dyn GpuBackend, config: MigConfig) -> Self {
        Self { backend, config }
    }

    /// The configuration.
    pub fn config(&self) -> &MigConfig {
        &self.config
    }

    /// Put `layout` on GPU `gpu`, keeping the instances that already exist (the baseline).
    ///
    /// On success every compute instance of the layout exists at its placement and its MIG device
    /// UUID is returned. On any failure the baseline is restored before the error is returned
    /// (a creation refused halfway returns the driver's reason).
    pub fn apply(&self, gpu: u32, layout: &PlacedLayout) -> Result<AppliedLayout, MigError> {
        let path = journal_path(&self.config.state_dir, gpu);
        if journal::read(&path)?.is_some() {
            return Err(MigError::AlreadyApplied {
                gpu,
                journal: path.display().to_string(),
            });
        }
        let inventory = self.check_mig_ready(gpu)?;
        let existing = self.backend.mig_instances(gpu)?;
        let baseline = MigState::from_existing(&existing);
        let wanted = MigState::from_layout(layout);
        check_baseline(gpu, &baseline, &wanted)?;
        let target = baseline.union(&wanted);
        if let Some(table) = &inventory.profile_table {
            validate::check_state(table, &target).map_err(|reason| MigError::InvalidLayout {
                gpu,
                layout: layout.to_string(),
                reason,
            })?;
        }
        let steps = plan(&baseline, &target);
        if !baseline.instances.is_empty() {
            tracing::warn!(gpu, baseline = %baseline, "MIG instances existed before; they are kept");
        }
        journal::write(
            &path,
            &Journal {
                version: JOURNAL_VERSION,
                gpu,
                gpu_uuid: inventory.uuid.clone(),
                baseline,
                target: target.clone(),
                layout: layout.to_string(),
                written_at_ms: now_ms(),
            },
        )?;
        tracing::info!(gpu, layout = %layout, steps = steps.len(), "applying MIG layout");

        let result = execute(self.backend, gpu, &existing, &steps)
            .map_err(|(step, source)| MigError::Step {
                gpu,
                step: step.to_string(),
                source,
            })
            .and_then(|()| self.verify(gpu, &target))
            .and_then(|now| applied(gpu, layout, &now));
        match result {
            Ok(done) => Ok(done),
            Err(cause) => match self.restore(gpu) {
                Ok(_) => Err(cause),
                Err(restore) => Err(MigError::RestoreFailed {
                    gpu,
                    cause: Box::new(cause),
                    restore: Box::new(restore),
                }),
            },
        }
    }

    /// Take GPU `gpu` back to the baseline its journal recorded: destroy every compute instance
    /// and GPU instance not in it (compute instances first), check, and clear the journal. Without
    /// a journal there is nothing to restore.
    pub fn restore(&self, gpu: u32) -> Result<RestoreReport, MigError> {
        let path = journal_path(&self.config.state_dir, gpu);
        match journal::read(&path)? {
            None => Ok(RestoreReport {
                gpu,
                steps: vec![],
                had_journal: false,
            }),
            Some(j) => self.restore_journal(gpu, &path, &j),
        }
    }

    /// At start-up: restore every GPU a crashed run left a journal for. GPUs are found by UUID,
    /// so a changed index is followed. Journals that cannot be recovered are kept and reported.
    pub fn recover(&self) -> Result<RecoveryReport, MigError> {
        let mut report = RecoveryReport::default();
        let paths = journal::list(&self.config.state_dir)?;
        if paths.is_empty() {
            return Ok(report);
        }
        let inventory = self.backend.inventory()?;
        for path in paths {
            let j = match journal::read(&path) {
                Ok(Some(j)) => j,
                Ok(None) => continue,
                Err(e) => {
                    report.failed.push(e);
                    continue;
                }
            };
            let index = inventory
                .iter()
                .find(|g| g.index == j.gpu && g.uuid == j.gpu_uuid)
                .or_else(|| inventory.iter().find(|g| g.uuid == j.gpu_uuid))
                .map(|g| g.index);
            let Some(index) = index else {
                report.failed.push(MigError::GpuGone {
                    journal: path.display().to_string(),
                    gpu_uuid: j.gpu_uuid.clone(),
                });
                continue;
            };
            tracing::warn!(gpu = index, journal = %path.display(), "recovering MIG layout left by a previous run");
            match self.restore_journal(index, &path, &j) {
                Ok(r) => report.restored.push(r),
                Err(e) => report.failed.push(e),
            }
        }
        Ok(report)
    }

    fn restore_journal(
        &self,
        gpu: u32,
        path: &Path,
        j: &Journal,
    ) -> Result<RestoreReport, MigError> {
        let fail = |step: String, reason: String| MigError::Restore {
            gpu,
            baseline: j.baseline.to_string(),
            step,
            reason,
        };
        let existing = self
            .backend
            .mig_instances(gpu)
            .map_err(|e| fail("list MIG instances".into(), e.to_string()))?;
        let current = MigState::from_existing(&existing);
        let steps = plan(&current, &j.baseline);
        execute(self.backend, gpu, &existing, &steps)
            .map_err(|(step, e)| fail(step.to_string(), e.to_string()))?;
        let now = self
            .backend
            .mig_instances(gpu)
            .map_err(|e| fail("list MIG instances".into(), e.to_string()))?;
        let found = MigState::from_existing(&now);
        if found != j.baseline {
            return Err(fail(
                "verify".into(),
                format!("the GPU holds {found} afterwards"),
            ));
        }
        journal::remove(path)?;
        tracing::info!(gpu, steps = steps.len(), "MIG baseline restored");
        Ok(RestoreReport {
            gpu,
            steps,
            had_journal: true,
        })
    }

    fn check_mig_ready(&self, gpu: u32) -> Result<GpuInventory, MigError> {
        let inventory = self.backend.inventory()?;
        let count = inventory.len();
        let g = inventory
            .into_iter()
            .find(|g| g.index == gpu)
            .ok_or(MigError::NoSuchGpu { gpu, count })?;
        if !g.mig_capable {
            return Err(MigError::NotMigCapable { gpu, name: g.name });
        }
        if !g.mig_enabled {
            return Err(if self.config.allow_mig_mode_change {
                MigError::MigModeChangeNotImplemented { gpu }
            } else {
                MigError::MigDisabled { gpu }
            });
        }
        Ok(g)
    }

    fn verify(&self, gpu: u32, target: &MigState) -> Result<Vec<ExistingGpuInstance>, MigError> {
        let now = self.backend.mig_instances(gpu)?;
        let found = MigState::from_existing(&now);
        if &found != target {
            return Err(MigError::VerifyFailed {
                gpu,
                expected: target.to_string(),
                found: found.to_string(),
            });
        }
        Ok(now)
    }
}

/// Refuse a layout whose instances collide with the baseline: the same placement with other
/// compute instances, or overlapping slots.
fn check_baseline(gpu: u32, baseline: &MigState, wanted: &MigState) -> Result<(), MigError> {
    for w in &wanted.instances {
        for b in &baseline.instances {
            let same = w.key == b.key;
            let detail = if same && w.compute_instances != b.compute_instances {
                format!(
                    "GPU instance {}@{} exists with other compute instances",
                    w.key.profile_id, w.key.start
                )
            } else if !same
                && w.key.start < b.key.start.saturating_add(b.size)
                && b.key.start < w.key.start.saturating_add(w.size)
            {
                format!(
                    "GPU instance {}@{} overlaps the existing {}@{}",
                    w.key.profile_id, w.key.start, b.key.profile_id, b.key.start
                )
            } else {
                continue;
            };
            return Err(MigError::ConflictsWithBaseline {
                gpu,
                baseline: baseline.to_string(),
                detail,
            });
        }
    }
    Ok(())
}

/// Run `steps` on the GPU, resolving placements to driver ids from `existing` and from what the
/// steps create. Stops at the first failure.
fn execute(
    backend: &dyn GpuBackend,
    gpu: u32,
    existing: &[ExistingGpuInstance],
    steps: &[Step],
) -> Result<(), (Step, GpuError)> {
    let mut gi_ids: BTreeMap<GiKey, u32> = BTreeMap::new();
    let mut ci_ids: BTreeMap<(GiKey, CiKey), u32> = BTreeMap::new();
    for gi in existing {
        let key = GiKey {
            profile_id: gi.profile_id,
            start: gi.start,
        };
        gi_ids.insert(key, gi.gi_id);
        for ci in &gi.compute_instances {
            let ck = CiKey {
                profile_id: ci.profile_id,
                start: ci.start,
            };
            ci_ids.insert((key, ck), ci.ci_id);
        }
    }
    let unknown = |step: Step| {
        (
            step,
            GpuError::Driver {
                gpu,
                call: "MIG instance lookup",
                reason: "the driver reported no id for this instance".into(),
            },
        )
    };
    for &step in steps {
        match step {
            Step::DestroyCi { gi, ci } => {
                let gi_id = *gi_ids.get(&gi).ok_or_else(|| unknown(step))?;
                let ci_id = *ci_ids.get(&(gi, ci)).ok_or_else(|| unknown(step))?;
                backend
                    .destroy_compute_instance(gpu, gi_id, ci_id)
                    .map_err(|e| (step, e))?;
                ci_ids.remove(&(gi, ci));
            }
            Step::DestroyGi { gi } => {
                let gi_id = *gi_ids.get(&gi).ok_or_else(|| unknown(step))?;
                backend
                    .destroy_gpu_instance(gpu, gi_id)
                    .map_err(|e| (step, e))?;
                gi_ids.remove(&gi);
            }
            Step::CreateGi { gi, .. } => {
                let id = backend
                    .create_gpu_instance(gpu, gi.profile_id, gi.start)
                    .map_err(|e| (step, e))?;
                gi_ids.insert(gi, id);
            }
            Step::CreateCi { gi, ci } => {
                let gi_id = *gi_ids.get(&gi).ok_or_else(|| unknown(step))?;
                let id = backend
                    .create_compute_instance(gpu, gi_id, ci.profile_id, ci.start)
                    .map_err(|e| (step, e))?;
                ci_ids.insert((gi, ci), id);
            }
        }
    }
    Ok(())
}

/// The MIG devices of `layout` among the instances that exist now.
fn applied(
    gpu: u32,
    layout: &PlacedLayout,
    now: &[ExistingGpuInstance],
) -> Result<AppliedLayout, MigError> {
    let mut devices = Vec::new();
    for (gi_index, gi) in layout.instances.iter().enumerate() {
        for (ci_index, ci) in gi.compute_instances.iter().enumerate() {
            let found = now
                .iter()
                .find(|e| e.profile_id == gi.profile_id && e.start == gi.start)
                .and_then(|e| {
                    e.compute_instances
                        .iter()
                        .find(|c| c.profile_id == ci.profile_id && c.start == ci.start)
                        .map(|c| (e.gi_id, c))
                });
            let Some((gi_id, c)) = found else {
                return Err(MigError::VerifyFailed {
                    gpu,
                    expected: layout.to_string(),
                    found: MigState::from_existing(now).to_string(),
                });
            };
            devices.push(MigDevice {
                gi_index,
                ci_index,
                gi_id,
                ci_id: c.ci_id,
                uuid: c.uuid.clone(),
            });
        }
    }
    Ok(AppliedLayout {
        gpu,
        layout: layout.clone(),
        devices,
    })
}
