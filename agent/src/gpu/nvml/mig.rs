//! MIG on the real driver: reading the profile table and the instances that exist (with their MIG
//! device UUIDs), and creating or destroying instances at exact placements. Raw calls are in
//! [`super::ffi`]; this module turns their answers and errors into wattsweep's types.

use nvml_wrapper::Device;
use nvml_wrapper::error::NvmlError;

use super::{
    CI_PROFILE_INDEXES, DriverGiProfile, GI_PROFILE_INDEXES, NvmlBackend, describe, driver, ffi,
    refused,
};
use crate::gpu::{ExistingComputeInstance, ExistingGpuInstance, GpuError};

/// What NVML says about MIG on one GPU: its profiles and the instances that exist.
#[derive(Debug, Default)]
pub(super) struct MigState {
    pub(super) profiles: Vec<DriverGiProfile>,
    pub(super) instances: Vec<ExistingGpuInstance>,
}

impl NvmlBackend {
    /// MIG profiles and instances of a GPU. With MIG disabled the driver may refuse profile queries
    /// (`NOT_SUPPORTED`): then the profile list is empty and the reason is logged.
    pub(super) fn mig_state(
        &self,
        dev: &Device<'_>,
        gpu: u32,
        mig_enabled: bool,
    ) -> Result<MigState, GpuError> {
        let mut infos = Vec::new();
        let mut last_refusal = None;
        for index in 0..GI_PROFILE_INDEXES {
            match ffi::gi_profile_info(dev, index) {
                Ok(info) if !infos.iter().any(|i: &ffi::RawGiProfile| i.id == info.id) => {
                    infos.push(info)
                }
                Ok(_) => {}
                Err(
                    e @ (NvmlError::NotSupported
                    | NvmlError::InvalidArg
                    | NvmlError::NotFound
                    | NvmlError::UnexpectedVariant(_)),
                ) => last_refusal = Some(e),
                Err(e) => return Err(driver(gpu, "nvmlDeviceGetGpuInstanceProfileInfoV", e)),
            }
        }
        if infos.is_empty() {
            tracing::info!(
                gpu,
                mig_enabled,
                "the driver reports no MIG GPU-instance profile (last answer: {}); no driver profile table",
                last_refusal
                    .as_ref()
                    .map(describe)
                    .unwrap_or_else(|| "none".into())
            );
        }
        let mut state = MigState::default();
        for info in infos {
            let placements = ffi::gi_possible_placements(dev, info.id)
                .map_err(|e| driver(gpu, "nvmlDeviceGetGpuInstancePossiblePlacements_v2", e))?;
            let mut compute_profiles = Vec::new();
            if mig_enabled {
                let gis = ffi::gpu_instances(dev, info.id, info.instance_count)
                    .map_err(|e| driver(gpu, "nvmlDeviceGetGpuInstances", e))?;
                for gi in gis {
                    let cips = ffi::ci_profiles(dev, gi.id, CI_PROFILE_INDEXES).map_err(|e| {
                        driver(gpu, "nvmlGpuInstanceGetComputeInstanceProfileInfoV", e)
                    })?;
                    let ids: Vec<(u32, u32)> =
                        cips.iter().map(|c| (c.id, c.instance_count)).collect();
                    let cis = ffi::compute_instances(dev, gi.id, &ids)
                        .map_err(|e| driver(gpu, "nvmlGpuInstanceGetComputeInstances", e))?;
                    state.instances.push(ExistingGpuInstance {
                        gi_id: gi.id,
                        profile_id: gi.profile_id,
                        start: u8::try_from(gi.placement.start).unwrap_or(u8::MAX),
                        size: u8::try_from(gi.placement.size).unwrap_or(u8::MAX),
                        compute_instances: cis
                            .into_iter()
                            .map(|ci| ExistingComputeInstance {
                                ci_id: ci.id,
                                profile_id: ci.profile_id,
                                start: u8::try_from(ci.placement.start).unwrap_or(u8::MAX),
                                uuid: String::new(),
                            })
                            .collect(),
                    });
                    if compute_profiles.is_empty() {
                        compute_profiles = cips;
                    }
                }
            }
            state.profiles.push(DriverGiProfile {
                info,
                placements,
                compute_profiles,
            });
        }
        if !state.instances.is_empty() {
            self.fill_mig_uuids(dev, gpu, &mut state.instances)?;
        }
        state.instances.sort_by_key(|g| g.start);
        Ok(state)
    }

    /// Set the MIG device UUID of every compute instance.
    fn fill_mig_uuids(
        &self,
        dev: &Device<'_>,
        gpu: u32,
        gis: &mut [ExistingGpuInstance],
    ) -> Result<(), GpuError> {
        let max = dev
            .mig_device_count()
            .map_err(|e| driver(gpu, "nvmlDeviceGetMaxMigDeviceCount", e))?;
        for i in 0..max {
            let mig = match dev.mig_device_by_index(i) {
                Ok(m) => m,
                Err(NvmlError::NotFound | NvmlError::InvalidArg) => continue,
                Err(e) => return Err(driver(gpu, "nvmlDeviceGetMigDeviceHandleByIndex", e)),
            };
            let (gi_id, ci_id) = ffi::mig_device_ids(&mig)
                .map_err(|e| driver(gpu, "nvmlDeviceGetGpuInstanceId/ComputeInstanceId", e))?;
            let uuid = mig
                .uuid()
                .map_err(|e| driver(gpu, "nvmlDeviceGetUUID (MIG device)", e))?;
            if let Some(ci) = gis
                .iter_mut()
                .filter(|g| g.gi_id == gi_id)
                .flat_map(|g| g.compute_instances.iter_mut())
                .find(|c| c.ci_id == ci_id)
            {
                ci.uuid = uuid;
            }
        }
        Ok(())
    }

    pub(super) fn create_gi(&self, gpu: u32, profile_id: u32, start: u8) -> Result<u32, GpuError> {
        let op = format!("create GPU instance {profile_id}@{start}");
        let dev = self.device(gpu)?;
        let placements = ffi::gi_possible_placements(&dev, profile_id).map_err(|e| {
            refused(
                gpu,
                op.clone(),
                "nvmlDeviceGetGpuInstancePossiblePlacements_v2",
                e,
            )
        })?;
        let Some(placement) = placements
            .iter()
            .find(|p| p.start == u32::from(start))
            .copied()
        else {
            let allowed: Vec<String> = placements.iter().map(|p| p.start.to_string()).collect();
            return Err(GpuError::MigRefused {
                gpu,
                operation: op,
                reason: format!(
                    "start slot {start} is not a placement of profile {profile_id}; allowed starts: {{{}}}",
                    allowed.join(",")
                ),
            });
        };
        ffi::create_gpu_instance(&dev, profile_id, placement)
            .map_err(|e| refused(gpu, op, "nvmlDeviceCreateGpuInstanceWithPlacement", e))
    }

    pub(super) fn create_ci(
        &self,
        gpu: u32,
        gi_id: u32,
        ci_profile_id: u32,
        start: u8,
    ) -> Result<u32, GpuError> {
        let op = format!("create compute instance {ci_profile_id}@{start} in GPU instance {gi_id}");
        let dev = self.device(gpu)?;
        let placements = ffi::ci_placements_in(&dev, gi_id, ci_profile_id).map_err(|e| {
            refused(
                gpu,
                op.clone(),
                "nvmlGpuInstanceGetComputeInstancePossiblePlacements",
                e,
            )
        })?;
        let Some(placement) = placements
            .iter()
            .find(|p| p.start == u32::from(start))
            .copied()
        else {
            let allowed: Vec<String> = placements.iter().map(|p| p.start.to_string()).collect();
            return Err(GpuError::MigRefused {
                gpu,
                operation: op,
                reason: format!(
                    "start slice {start} is not a placement of compute profile {ci_profile_id}; allowed starts: {{{}}}",
                    allowed.join(",")
                ),
            });
        };
        ffi::create_compute_instance(&dev, gi_id, ci_profile_id, placement).map_err(|e| {
            refused(
                gpu,
                op,
                "nvmlGpuInstanceCreateComputeInstanceWithPlacement",
                e,
            )
        })
    }

    pub(super) fn destroy_ci(&self, gpu: u32, gi_id: u32, ci_id: u32) -> Result<(), GpuError> {
        let dev = self.device(gpu)?;
        ffi::destroy_compute_instance(&dev, gi_id, ci_id).map_err(|e| {
            refused(
                gpu,
                format!("destroy compute instance {ci_id} of GPU instance {gi_id}"),
                "nvmlComputeInstanceDestroy",
                e,
            )
        })
    }

    pub(super) fn destroy_gi(&self, gpu: u32, gi_id: u32) -> Result<(), GpuError> {
        let dev = self.device(gpu)?;
        ffi::destroy_gpu_instance(&dev, gi_id).map_err(|e| {
            refused(
                gpu,
                format!("destroy GPU instance {gi_id}"),
                "nvmlGpuInstanceDestroy",
                e,
            )
        })
    }
}
