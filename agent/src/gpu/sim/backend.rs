//! [`GpuBackend`] for [`SimulatedGpus`]: readings from the physical model, MIG operations checked
//! by the MIG engine and saved to the state file before they are reported done.

use wattsweep_shared::model::GpuInventory;

use super::SimulatedGpus;
use super::device::SimGpu;
use super::mig::{self, SimCi, SimGi};
use crate::gpu::{
    BackendKind, DriverInfo, ExistingGpuInstance, GpuBackend, GpuError, GpuStatus, PowerSample,
};

/// Driver version simulated GPUs report.
pub const SIM_DRIVER_VERSION: &str = concat!("sim-", env!("CARGO_PKG_VERSION"));
/// CUDA version simulated GPUs report.
pub const SIM_CUDA_VERSION: &str = "13.0";

fn refused(gpu: u32, operation: String, reason: impl Into<String>) -> GpuError {
    GpuError::MigRefused {
        gpu,
        operation,
        reason: reason.into(),
    }
}

impl SimulatedGpus {
    fn read<T>(&self, gpu: u32, f: impl FnOnce(&SimGpu) -> T) -> Result<T, GpuError> {
        let (gpus, _) = self.lock_now();
        let g = gpus
            .get(usize::try_from(gpu).unwrap_or(usize::MAX))
            .ok_or(GpuError::NoSuchGpu(gpu))?;
        Ok(f(g))
    }

    /// Run a MIG change, then save the state; undo the change if it cannot be saved, so that
    /// what was reported done survives a restart.
    fn mig_change<T>(
        &self,
        gpu: u32,
        change: impl FnOnce(&mut SimGpu) -> Result<T, GpuError>,
    ) -> Result<T, GpuError> {
        let before = {
            let (mut gpus, _) = self.lock_now();
            let g = gpus
                .get_mut(usize::try_from(gpu).unwrap_or(usize::MAX))
                .ok_or(GpuError::NoSuchGpu(gpu))?;
            let before = g.instances.clone();
            let out = change(g)?;
            g.retarget();
            (before, out)
        };
        let (before, out) = before;
        if let Err(e) = self.persist() {
            let (mut gpus, _) = self.lock_now();
            if let Some(g) = gpus.get_mut(usize::try_from(gpu).unwrap_or(usize::MAX)) {
                g.instances = before;
                g.retarget();
            }
            return Err(e);
        }
        Ok(out)
    }
}

impl GpuBackend for SimulatedGpus {
    fn kind(&self) -> BackendKind {
        BackendKind::Simulated
    }

    fn driver_info(&self) -> Result<DriverInfo, GpuError> {
        Ok(DriverInfo {
            driver_version: SIM_DRIVER_VERSION.to_string(),
            cuda_version: SIM_CUDA_VERSION.to_string(),
            nvml_version: "simulated".to_string(),
        })
    }

    fn inventory(&self) -> Result<Vec<GpuInventory>, GpuError> {
        let (gpus, _) = self.lock_now();
        Ok(gpus
            .iter()
            .map(|g| GpuInventory {
                index: g.index,
                uuid: g.uuid.clone(),
                name: g.model.gpu.nvml_name.to_string(),
                model_id: Some(g.model.gpu.id.to_string()),
                memory_mib: g.model.gpu.memory_mib,
                driver_version: SIM_DRIVER_VERSION.to_string(),
                cuda_version: SIM_CUDA_VERSION.to_string(),
                power_limit_w: g.power_limit_w,
                mig_capable: true,
                mig_enabled: g.mig_enabled,
                profile_table: Some(g.table.clone()),
                current_layout: g
                    .mig_enabled
                    .then(|| mig::to_placed(&g.table, &g.instances)),
                mps_capable: true,
                simulated: true,
            })
            .collect())
    }

    fn power_samples(&self, gpu: u32, since_us: u64) -> Result<Vec<PowerSample>, GpuError> {
        self.read(gpu, |g| g.dynamics.samples_since(since_us))
    }

    fn instant_power_w(&self, gpu: u32) -> Result<f64, GpuError> {
        self.read(gpu, |g| g.dynamics.power_w)
    }

    fn energy_mj(&self, gpu: u32) -> Result<u64, GpuError> {
        let energy = self.read(gpu, SimGpu::energy_mj)?;
        self.persist()?;
        Ok(energy)
    }

    fn status(&self, gpu: u32) -> Result<GpuStatus, GpuError> {
        self.read(gpu, SimGpu::status)
    }

    fn mig_instances(&self, gpu: u32) -> Result<Vec<ExistingGpuInstance>, GpuError> {
        self.read(gpu, |g| mig::to_existing(&g.instances))
    }

    fn create_gpu_instance(&self, gpu: u32, profile_id: u32, start: u8) -> Result<u32, GpuError> {
        let operation = format!("create GPU instance {profile_id}@{start}");
        self.mig_change(gpu, |g| {
            if !g.mig_enabled {
                return Err(refused(gpu, operation, "MIG mode is disabled on this GPU"));
            }
            let profile = mig::check_new_gi(&g.table, &g.instances, profile_id, start)
                .map_err(|reason| refused(gpu, operation.clone(), reason))?;
            let gi_id = mig::next_gi_id(&g.instances);
            g.instances.push(SimGi {
                gi_id,
                profile_id,
                start,
                size: profile.placement_size,
                compute_slices: profile.compute_slices,
                compute_instances: Vec::new(),
            });
            g.instances.sort_by_key(|gi| gi.start);
            Ok(gi_id)
        })
    }

    fn create_compute_instance(
        &self,
        gpu: u32,
        gi_id: u32,
        ci_profile_id: u32,
        start: u8,
    ) -> Result<u32, GpuError> {
        let operation =
            format!("create compute instance {ci_profile_id}@{start} in GPU instance {gi_id}");
        self.mig_change(gpu, |g| {
            let pos = g
                .instances
                .iter()
                .position(|gi| gi.gi_id == gi_id)
                .ok_or_else(|| {
                    refused(
                        gpu,
                        operation.clone(),
                        format!("no GPU instance with id {gi_id}"),
                    )
                })?;
            let compute_slices =
                mig::check_new_ci(&g.table, &g.instances, pos, ci_profile_id, start)
                    .map_err(|reason| refused(gpu, operation.clone(), reason))?;
            let gpu_uuid = g.uuid.clone();
            let gi = g
                .instances
                .get_mut(pos)
                .ok_or_else(|| refused(gpu, operation.clone(), "GPU instance vanished"))?;
            let ci_id = mig::next_ci_id(gi);
            gi.compute_instances.push(SimCi {
                ci_id,
                profile_id: ci_profile_id,
                compute_slices,
                start,
                uuid: mig::mig_uuid(&gpu_uuid, gi.profile_id, gi.start, ci_profile_id, start),
            });
            gi.compute_instances.sort_by_key(|c| c.start);
            Ok(ci_id)
        })
    }

    fn destroy_compute_instance(&self, gpu: u32, gi_id: u32, ci_id: u32) -> Result<(), GpuError> {
        let operation = format!("destroy compute instance {ci_id} in GPU instance {gi_id}");
        self.mig_change(gpu, |g| {
            let clients: Vec<String> = g
                .loads
                .get(&Some((gi_id, ci_id)))
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default();
            if !clients.is_empty() {
                return Err(refused(
                    gpu,
                    operation,
                    format!(
                        "in use by {} process(es): {}",
                        clients.len(),
                        clients.join(", ")
                    ),
                ));
            }
            let gi = g
                .instances
                .iter_mut()
                .find(|gi| gi.gi_id == gi_id)
                .ok_or_else(|| {
                    refused(
                        gpu,
                        operation.clone(),
                        format!("no GPU instance with id {gi_id}"),
                    )
                })?;
            let before = gi.compute_instances.len();
            gi.compute_instances.retain(|c| c.ci_id != ci_id);
            if gi.compute_instances.len() == before {
                return Err(refused(
                    gpu,
                    operation,
                    format!("GPU instance {gi_id} has no compute instance {ci_id}"),
                ));
            }
            Ok(())
        })
    }

    fn destroy_gpu_instance(&self, gpu: u32, gi_id: u32) -> Result<(), GpuError> {
        let operation = format!("destroy GPU instance {gi_id}");
        self.mig_change(gpu, |g| {
            let pos = g
                .instances
                .iter()
                .position(|gi| gi.gi_id == gi_id)
                .ok_or_else(|| {
                    refused(
                        gpu,
                        operation.clone(),
                        format!("no GPU instance with id {gi_id}"),
                    )
                })?;
            let cis = g
                .instances
                .get(pos)
                .map_or(0, |gi| gi.compute_instances.len());
            if cis > 0 {
                return Err(refused(
                    gpu,
                    operation,
                    format!("it still has {cis} compute instance(s); destroy them first"),
                ));
            }
            g.instances.remove(pos);
            Ok(())
        })
    }
}
