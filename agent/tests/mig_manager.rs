//! The MIG manager against simulated GPUs: apply → verify → restore, baselines kept, refusals
//! before anything is touched, failures injected halfway (the baseline always comes back), and
//! start-up recovery from a journal left behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wattsweep_agent::gpu::sim::{ManualClock, SimConfig, SimulatedGpus};
use wattsweep_agent::gpu::{
    BackendKind, DriverInfo, ExistingGpuInstance, GpuBackend, GpuError, GpuStatus, PowerSample,
};
use wattsweep_agent::mig::{MigConfig, MigError, MigManager, MigState, journal_path};
use wattsweep_shared::mig::{PlacedLayout, builtin_table, parse_layout, place};
use wattsweep_shared::model::GpuInventory;

fn sim(n: u32) -> SimulatedGpus {
    SimulatedGpus::new(
        SimConfig::new("node-a", "h100-80gb", n),
        Arc::new(ManualClock::default()),
    )
    .unwrap()
}

fn layout(text: &str) -> PlacedLayout {
    place(
        &builtin_table("h100-80gb").unwrap(),
        &parse_layout(text).unwrap(),
    )
    .unwrap()
}

fn state(backend: &dyn GpuBackend, gpu: u32) -> MigState {
    MigState::from_existing(&backend.mig_instances(gpu).unwrap())
}

#[test]
fn apply_verify_restore() {
    let gpus = sim(2);
    let dir = tempfile::tempdir().unwrap();
    let mgr = MigManager::new(&gpus, MigConfig::new(dir.path()));
    let l = layout("4g.40gb + 3g.40gb(1c x3)");
    let applied = mgr.apply(1, &l).unwrap();
    assert_eq!(applied.gpu, 1);
    assert_eq!(applied.devices.len(), 4);
    assert_eq!(state(&gpus, 1), MigState::from_layout(&l));
    assert!(state(&gpus, 0).instances.is_empty(), "other GPU untouched");
    let existing = gpus.mig_instances(1).unwrap();
    for d in &applied.devices {
        let gi = &l.instances[d.gi_index];
        let ci = &gi.compute_instances[d.ci_index];
        let e = existing.iter().find(|e| e.gi_id == d.gi_id).unwrap();
        assert_eq!((e.profile_id, e.start), (gi.profile_id, gi.start));
        let c = e
            .compute_instances
            .iter()
            .find(|c| c.ci_id == d.ci_id)
            .unwrap();
        assert_eq!((c.profile_id, c.start), (ci.profile_id, ci.start));
        assert_eq!(c.uuid, d.uuid);
        assert_eq!(applied.uuid(d.gi_index, d.ci_index), Some(d.uuid.as_str()));
    }
    let uuids: std::collections::BTreeSet<_> = applied.devices.iter().map(|d| &d.uuid).collect();
    assert_eq!(uuids.len(), 4);
    assert!(journal_path(dir.path(), 1).exists());

    let err = mgr.apply(1, &l).unwrap_err();
    assert!(
        matches!(err, MigError::AlreadyApplied { gpu: 1, .. }),
        "{err}"
    );

    let report = mgr.restore(1).unwrap();
    assert!(report.had_journal);
    assert_eq!(report.steps.len(), 6);
    assert!(state(&gpus, 1).instances.is_empty());
    assert!(!journal_path(dir.path(), 1).exists());
    let again = mgr.restore(1).unwrap();
    assert!(!again.had_journal && again.steps.is_empty());

    // The same layout again gets the same MIG UUIDs.
    let second = mgr.apply(1, &l).unwrap();
    assert_eq!(second.devices, applied.devices);
    mgr.restore(1).unwrap();
}

#[test]
fn the_baseline_is_kept_and_never_collided_with() {
    let gpus = sim(1);
    let gi = gpus.create_gpu_instance(0, 19, 6).unwrap();
    gpus.create_compute_instance(0, gi, 0, 0).unwrap();
    let baseline = state(&gpus, 0);
    let dir = tempfile::tempdir().unwrap();
    let mgr = MigManager::new(&gpus, MigConfig::new(dir.path()));

    let applied = mgr.apply(0, &layout("3g.40gb@0")).unwrap();
    assert_eq!(applied.devices.len(), 1);
    assert_eq!(state(&gpus, 0).instances.len(), 2);
    mgr.restore(0).unwrap();
    assert_eq!(state(&gpus, 0), baseline);

    let err = mgr.apply(0, &layout("7g.80gb")).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, MigError::ConflictsWithBaseline { .. }),
        "{text}"
    );
    assert!(text.contains("overlaps the existing 19@6"), "{text}");
    assert!(!journal_path(dir.path(), 0).exists());
    assert_eq!(state(&gpus, 0), baseline);
}

#[test]
fn mig_disabled_is_a_clear_deterministic_refusal() {
    let gpus = sim(1);
    gpus.set_mig_enabled(0, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mgr = MigManager::new(&gpus, MigConfig::new(dir.path()));
    let err = mgr.apply(0, &layout("7g.80gb")).unwrap_err().to_string();
    assert!(
        err.contains("MIG mode is disabled")
            && err.contains("nvidia-smi -i 0 -mig 1")
            && err.contains("allow_mig_mode_change = true"),
        "{err}"
    );
    let mut config = MigConfig::new(dir.path());
    config.allow_mig_mode_change = true;
    let mgr = MigManager::new(&gpus, config);
    let err = mgr.apply(0, &layout("7g.80gb")).unwrap_err();
    assert!(
        matches!(err, MigError::MigModeChangeNotImplemented { gpu: 0 }),
        "{err}"
    );
    assert!(
        !gpus.inventory().unwrap()[0].mig_enabled,
        "mode left as found"
    );
    let err = mgr.apply(4, &layout("7g.80gb")).unwrap_err();
    assert!(
        matches!(err, MigError::NoSuchGpu { gpu: 4, count: 1 }),
        "{err}"
    );
}

/// A backend that fails on purpose: the n-th create (1-based), every destroy, lies once in
/// `mig_instances`, or reports no MIG profile table.
struct Faulty<'a> {
    inner: &'a SimulatedGpus,
    fail_create: Option<usize>,
    fail_destroy: bool,
    hide_on_list: Option<usize>,
    hide_table: bool,
    creates: AtomicUsize,
    lists: AtomicUsize,
}

impl<'a> Faulty<'a> {
    fn new(inner: &'a SimulatedGpus) -> Self {
        Self {
            inner,
            fail_create: None,
            fail_destroy: false,
            hide_on_list: None,
            hide_table: false,
            creates: AtomicUsize::new(0),
            lists: AtomicUsize::new(0),
        }
    }

    fn create_call(&self, gpu: u32, what: &str) -> Result<(), GpuError> {
        let n = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_create == Some(n) {
            return Err(GpuError::MigRefused {
                gpu,
                operation: what.to_string(),
                reason: "Insufficient Resources (injected)".into(),
            });
        }
        Ok(())
    }
}

impl GpuBackend for Faulty<'_> {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }
    fn driver_info(&self) -> Result<DriverInfo, GpuError> {
        self.inner.driver_info()
    }
    fn inventory(&self) -> Result<Vec<GpuInventory>, GpuError> {
        let mut inv = self.inner.inventory()?;
        if self.hide_table {
            for g in &mut inv {
                g.profile_table = None;
            }
        }
        Ok(inv)
    }
    fn power_samples(&self, gpu: u32, since_us: u64) -> Result<Vec<PowerSample>, GpuError> {
        self.inner.power_samples(gpu, since_us)
    }
    fn instant_power_w(&self, gpu: u32) -> Result<f64, GpuError> {
        self.inner.instant_power_w(gpu)
    }
    fn energy_mj(&self, gpu: u32) -> Result<u64, GpuError> {
        self.inner.energy_mj(gpu)
    }
    fn status(&self, gpu: u32) -> Result<GpuStatus, GpuError> {
        self.inner.status(gpu)
    }
    fn mig_instances(&self, gpu: u32) -> Result<Vec<ExistingGpuInstance>, GpuError> {
        let n = self.lists.fetch_add(1, Ordering::SeqCst) + 1;
        let mut out = self.inner.mig_instances(gpu)?;
        if self.hide_on_list == Some(n)
            && let Some(gi) = out.last_mut()
        {
            gi.compute_instances.pop();
        }
        Ok(out)
    }
    fn create_gpu_instance(&self, gpu: u32, profile_id: u32, start: u8) -> Result<u32, GpuError> {
        self.create_call(gpu, "create GPU instance")?;
        self.inner.create_gpu_instance(gpu, profile_id, start)
    }
    fn create_compute_instance(
        &self,
        gpu: u32,
        gi_id: u32,
        ci_profile_id: u32,
        start: u8,
    ) -> Result<u32, GpuError> {
        self.create_call(gpu, "create compute instance")?;
        self.inner
            .create_compute_instance(gpu, gi_id, ci_profile_id, start)
    }
    fn destroy_compute_instance(&self, gpu: u32, gi_id: u32, ci_id: u32) -> Result<(), GpuError> {
        if self.fail_destroy {
            return Err(GpuError::MigRefused {
                gpu,
                operation: "destroy compute instance".into(),
                reason: "In use by another client (injected)".into(),
            });
        }
        self.inner.destroy_compute_instance(gpu, gi_id, ci_id)
    }
    fn destroy_gpu_instance(&self, gpu: u32, gi_id: u32) -> Result<(), GpuError> {
        self.inner.destroy_gpu_instance(gpu, gi_id)
    }
}

#[test]
fn a_creation_failing_halfway_restores_the_baseline_with_the_drivers_reason() {
    let l = layout("2g.20gb x3");
    let creates = l.instances.len() + l.compute_instance_count();
    assert_eq!(creates, 6);
    for fail_at in 1..=creates {
        let gpus = sim(1);
        let gi = gpus.create_gpu_instance(0, 19, 6).unwrap();
        gpus.create_compute_instance(0, gi, 0, 0).unwrap();
        let baseline = state(&gpus, 0);
        let faulty = Faulty {
            fail_create: Some(fail_at),
            ..Faulty::new(&gpus)
        };
        let dir = tempfile::tempdir().unwrap();
        let mgr = MigManager::new(&faulty, MigConfig::new(dir.path()));
        let err = mgr.apply(0, &l).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, MigError::Step { .. }), "{text}");
        assert!(text.contains("Insufficient Resources (injected)"), "{text}");
        assert!(text.contains("restored"), "{text}");
        assert_eq!(state(&gpus, 0), baseline, "failing create #{fail_at}");
        assert!(!journal_path(dir.path(), 0).exists());
    }
}

#[test]
fn an_invalid_layout_is_refused_before_anything_is_touched() {
    // Hand-made, unchecked: the second instance overlaps the first.
    let mut l = layout("3g.40gb x2");
    l.instances[1].start = 2;
    let gpus = sim(1);
    let faulty = Faulty::new(&gpus);
    let dir = tempfile::tempdir().unwrap();
    let mgr = MigManager::new(&faulty, MigConfig::new(dir.path()));
    let err = mgr.apply(0, &l).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, MigError::InvalidLayout { gpu: 0, .. }),
        "{text}"
    );
    assert!(text.contains("cannot start at slot 2"), "{text}");
    assert_eq!(faulty.creates.load(Ordering::SeqCst), 0);
    assert!(!journal_path(dir.path(), 0).exists());
}

#[test]
fn a_layout_the_driver_refuses_is_rolled_back_with_the_drivers_reason() {
    // A backend without a profile table in its inventory: only the driver decides.
    let mut l = layout("3g.40gb x2");
    l.instances[1].start = 2;
    let gpus = sim(1);
    let backend = Faulty {
        hide_table: true,
        ..Faulty::new(&gpus)
    };
    let dir = tempfile::tempdir().unwrap();
    let mgr = MigManager::new(&backend, MigConfig::new(dir.path()));
    let err = mgr.apply(0, &l).unwrap_err().to_string();
    assert!(
        err.contains("create GPU instance 9@2") && err.contains("allowed start"),
        "{err}"
    );
    assert_eq!(backend.creates.load(Ordering::SeqCst), 2);
    assert!(state(&gpus, 0).instances.is_empty());
    assert!(!journal_path(dir.path(), 0).exists());
}

#[test]
fn a_failed_verification_restores_the_baseline() {
    let gpus = sim(1);
    // mig_instances calls: 1 baseline, 2 verify (lies), 3 and 4 restore.
    let faulty = Faulty {
        hide_on_list: Some(2),
        ..Faulty::new(&gpus)
    };
    let dir = tempfile::tempdir().unwrap();
    let mgr = MigManager::new(&faulty, MigConfig::new(dir.path()));
    let err = mgr.apply(0, &layout("3g.40gb x2")).unwrap_err();
    assert!(matches!(err, MigError::VerifyFailed { .. }), "{err}");
    assert!(state(&gpus, 0).instances.is_empty());
    assert!(!journal_path(dir.path(), 0).exists());
}

#[test]
fn when_restoring_fails_too_the_journal_is_kept_and_recovery_finishes_the_job() {
    let gpus = sim(1);
    let faulty = Faulty {
        // Creates: 2 GPU instances, then the compute instances; the second of those fails, so
        // one compute instance must be destroyed, and destroying fails.
        fail_create: Some(4),
        fail_destroy: true,
        ..Faulty::new(&gpus)
    };
    let dir = tempfile::tempdir().unwrap();
    let mgr = MigManager::new(&faulty, MigConfig::new(dir.path()));
    let err = mgr.apply(0, &layout("3g.40gb x2")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, MigError::RestoreFailed { .. }), "{text}");
    assert!(
        text.contains("Insufficient Resources") && text.contains("In use"),
        "{text}"
    );
    assert!(journal_path(dir.path(), 0).exists());
    assert!(!state(&gpus, 0).instances.is_empty());

    let healthy = MigManager::new(&gpus, MigConfig::new(dir.path()));
    let report = healthy.recover().unwrap();
    assert!(report.is_clean(), "{:?}", report.failed);
    assert_eq!(report.restored.len(), 1);
    assert!(state(&gpus, 0).instances.is_empty());
    assert!(!journal_path(dir.path(), 0).exists());
}

#[test]
fn recovery_restores_a_layout_left_by_a_vanished_manager() {
    let gpus = sim(3);
    let dir = tempfile::tempdir().unwrap();
    {
        let mgr = MigManager::new(&gpus, MigConfig::new(dir.path()));
        mgr.apply(0, &layout("1g.10gb x7")).unwrap();
        mgr.apply(2, &layout("7g.80gb(2c x3 + 1c)")).unwrap();
    }
    let mgr = MigManager::new(&gpus, MigConfig::new(dir.path()));
    let report = mgr.recover().unwrap();
    assert!(report.is_clean());
    assert_eq!(
        report.restored.iter().map(|r| r.gpu).collect::<Vec<_>>(),
        vec![0, 2]
    );
    for g in 0..3 {
        assert!(state(&gpus, g).instances.is_empty());
    }
    let report = mgr.recover().unwrap();
    assert!(report.restored.is_empty() && report.is_clean());

    // A journal for a GPU this node does not have is kept and reported.
    let other = SimulatedGpus::new(
        SimConfig::new("node-b", "h100-80gb", 1),
        Arc::new(ManualClock::default()),
    )
    .unwrap();
    MigManager::new(&other, MigConfig::new(dir.path()))
        .apply(0, &layout("7g.80gb"))
        .unwrap();
    let report = mgr.recover().unwrap();
    assert_eq!(report.failed.len(), 1);
    assert!(matches!(report.failed[0], MigError::GpuGone { .. }));
    assert!(journal_path(dir.path(), 0).exists());
}
