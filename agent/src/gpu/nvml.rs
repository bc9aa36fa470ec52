//! The real GPU backend: NVIDIA's driver through NVML.
//!
//! `libnvidia-ml.so.1` is loaded at run time (`nvml-wrapper`), so the agent starts on machines
//! without a GPU and says clearly that NVML is missing. Safe wrapper calls are used where they exist;
//! MIG calls the wrapper lacks go through [`ffi`], the agent's one `unsafe` module. Every failing
//! NVML call is reported with its name; nothing is unwrapped.
//!
//! Power for envelopes comes from the driver's power sample buffer (`nvmlDeviceGetSamples` with
//! `NVML_TOTAL_POWER_SAMPLES`) and `NVML_FI_DEV_POWER_INSTANT`; `nvmlDeviceGetPowerUsage` is a
//! one-second average on Ampere and newer and is deliberately not used. Energy is the driver's
//! counter (`nvmlDeviceGetTotalEnergyConsumption`).

mod ffi;
mod mig;
mod probe;
mod raw;
mod table;

use nvml_wrapper::enum_wrappers::device::{Clock, ComputeMode, Sampling, TemperatureSensor};
use nvml_wrapper::enums::device::SampleValue;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::structs::device::FieldId;
use nvml_wrapper::sys_exports::field_id::{NVML_FI_DEV_MEMORY_TEMP, NVML_FI_DEV_POWER_INSTANT};
use nvml_wrapper::{Device, Nvml};
use wattsweep_shared::gpu_model;
use wattsweep_shared::model::GpuInventory;

pub use probe::CallCost;
pub use table::{DriverGiProfile, placed_layout, profile_table};

use super::{
    BackendKind, DriverInfo, ExistingGpuInstance, GpuBackend, GpuError, GpuStatus, PowerSample,
};

/// GPU-instance profile indexes probed (`NVML_GPU_INSTANCE_PROFILE_*`; 17 known today, newer drivers
/// may add more: unknown indexes are skipped).
const GI_PROFILE_INDEXES: u32 = 32;
/// Compute-instance profile indexes probed (`NVML_COMPUTE_INSTANCE_PROFILE_*`; 8 known today).
const CI_PROFILE_INDEXES: u32 = 16;
const MIB: u64 = 1024 * 1024;

/// NVML as a [`GpuBackend`].
#[derive(Debug)]
pub struct NvmlBackend {
    nvml: Nvml,
}

/// A readable reason for an NVML error, naming codes the wrapper does not know.
fn describe(e: &NvmlError) -> String {
    match e {
        NvmlError::UnexpectedVariant(23) => {
            "insufficient resources (NVML_ERROR_INSUFFICIENT_RESOURCES)".into()
        }
        NvmlError::UnexpectedVariant(25) => {
            "struct version not supported by this driver (NVML_ERROR_ARGUMENT_VERSION_MISMATCH)"
                .into()
        }
        NvmlError::UnexpectedVariant(29) => "invalid state (NVML_ERROR_INVALID_STATE)".into(),
        NvmlError::UnexpectedVariant(code) => format!("NVML error code {code}"),
        other => other.to_string(),
    }
}

/// An NVML error of `call` on GPU `gpu` as a [`GpuError`].
fn driver(gpu: u32, call: &'static str, e: NvmlError) -> GpuError {
    match e {
        NvmlError::NotSupported => GpuError::NotSupported {
            gpu,
            what: call.to_string(),
        },
        e => GpuError::Driver {
            gpu,
            call,
            reason: describe(&e),
        },
    }
}

/// A refused MIG operation.
fn refused(gpu: u32, operation: String, call: &'static str, e: NvmlError) -> GpuError {
    GpuError::MigRefused {
        gpu,
        operation,
        reason: format!("{call}: {}", describe(&e)),
    }
}

/// `Ok(None)` for "not supported on this GPU", the value otherwise.
fn optional<T>(
    gpu: u32,
    call: &'static str,
    r: Result<T, NvmlError>,
) -> Result<Option<T>, GpuError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(NvmlError::NotSupported) => Ok(None),
        Err(e) => Err(driver(gpu, call, e)),
    }
}

fn sample_value_f64(v: &SampleValue) -> f64 {
    match *v {
        SampleValue::F64(x) => x,
        SampleValue::U32(x) => f64::from(x),
        SampleValue::U64(x) => x as f64,
        SampleValue::I64(x) => x as f64,
    }
}

/// Why `Nvml::init` failed, with what to do about it.
pub fn unavailable_message(e: &NvmlError) -> String {
    let hint = "is the NVIDIA driver installed? Use --simulate N to run with simulated GPUs";
    match e {
        NvmlError::LibloadingError(le) => {
            format!("libnvidia-ml.so.1 could not be loaded ({le}): {hint}")
        }
        NvmlError::DriverNotLoaded => {
            format!("libnvidia-ml.so.1 loaded but the NVIDIA kernel driver is not running: {hint}")
        }
        NvmlError::NoPermission => format!(
            "nvmlInit_v2: no permission to talk to the NVIDIA driver: run as a user allowed to open /dev/nvidia*, or {hint}"
        ),
        other => format!("nvmlInit_v2 failed ({}): {hint}", describe(other)),
    }
}

impl NvmlBackend {
    /// Load `libnvidia-ml.so.1` and initialise NVML.
    pub fn new() -> Result<Self, GpuError> {
        Nvml::init()
            .map(|nvml| NvmlBackend { nvml })
            .map_err(|e| GpuError::NvmlUnavailable(unavailable_message(&e)))
    }

    fn device(&self, gpu: u32) -> Result<Device<'_>, GpuError> {
        match self.nvml.device_by_index(gpu) {
            Ok(d) => Ok(d),
            Err(NvmlError::InvalidArg | NvmlError::NotFound) => Err(GpuError::NoSuchGpu(gpu)),
            Err(e) => Err(driver(gpu, "nvmlDeviceGetHandleByIndex_v2", e)),
        }
    }

    /// How many more GPU instances of `profile_id` fit on GPU `gpu` now (`nvidia-smi mig -lgip`'s
    /// "Free"); not part of [`GpuBackend`] because only diagnostics need it.
    pub fn gi_remaining_capacity(&self, gpu: u32, profile_id: u32) -> Result<u32, GpuError> {
        let dev = self.device(gpu)?;
        ffi::gi_remaining_capacity(&dev, profile_id)
            .map_err(|e| driver(gpu, "nvmlDeviceGetGpuInstanceRemainingCapacity", e))
    }

    fn system(call: &'static str, e: NvmlError) -> GpuError {
        GpuError::NvmlUnavailable(format!("{call} failed: {}", describe(&e)))
    }

    fn gpu_inventory(&self, gpu: u32, drv: &DriverInfo) -> Result<GpuInventory, GpuError> {
        let dev = self.device(gpu)?;
        let uuid = dev
            .uuid()
            .map_err(|e| driver(gpu, "nvmlDeviceGetUUID", e))?;
        let name = dev
            .name()
            .map_err(|e| driver(gpu, "nvmlDeviceGetName", e))?;
        let memory_mib = dev
            .memory_info()
            .map_err(|e| driver(gpu, "nvmlDeviceGetMemoryInfo", e))?
            .total
            / MIB;
        let model_id = gpu_model::from_nvml(&name, memory_mib).map(|m| m.id.to_string());
        let power_limit_w = optional(
            gpu,
            "nvmlDeviceGetEnforcedPowerLimit",
            dev.enforced_power_limit(),
        )?
        .map(|mw| f64::from(mw) / 1000.0)
        .unwrap_or(0.0);
        let mig = optional(gpu, "nvmlDeviceGetMigMode", dev.mig_mode())?;
        let mig_capable = mig.is_some();
        let mig_enabled =
            mig.is_some_and(|m| m.current == nvml_wrapper_sys::bindings::NVML_DEVICE_MIG_ENABLE);
        let (profile_table, current_layout) = if mig_capable {
            let model_key = model_id.clone().unwrap_or_else(|| name.clone());
            match self.mig_state(&dev, gpu, mig_enabled) {
                Ok(state) => {
                    let table = table::profile_table(&model_key, &state.profiles);
                    let layout =
                        mig_enabled.then(|| table::placed_layout(&state.instances, table.as_ref()));
                    (table, layout)
                }
                Err(e) => {
                    tracing::warn!(gpu, "MIG profile table not read: {e}");
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        let compute_mode = optional(gpu, "nvmlDeviceGetComputeMode", dev.compute_mode())?;
        Ok(GpuInventory {
            index: gpu,
            uuid,
            name,
            model_id,
            memory_mib,
            driver_version: drv.driver_version.clone(),
            cuda_version: drv.cuda_version.clone(),
            power_limit_w,
            mig_capable,
            mig_enabled,
            profile_table,
            current_layout,
            mps_capable: compute_mode.is_some_and(|m| m != ComputeMode::Prohibited),
            simulated: false,
        })
    }
}

impl GpuBackend for NvmlBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Nvml
    }

    fn driver_info(&self) -> Result<DriverInfo, GpuError> {
        let driver_version = self
            .nvml
            .sys_driver_version()
            .map_err(|e| Self::system("nvmlSystemGetDriverVersion", e))?;
        let cuda = self
            .nvml
            .sys_cuda_driver_version()
            .map_err(|e| Self::system("nvmlSystemGetCudaDriverVersion_v2", e))?;
        let nvml_version = self
            .nvml
            .sys_nvml_version()
            .map_err(|e| Self::system("nvmlSystemGetNVMLVersion", e))?;
        Ok(DriverInfo {
            driver_version,
            cuda_version: format!(
                "{}.{}",
                nvml_wrapper::cuda_driver_version_major(cuda),
                nvml_wrapper::cuda_driver_version_minor(cuda)
            ),
            nvml_version,
        })
    }

    fn inventory(&self) -> Result<Vec<GpuInventory>, GpuError> {
        let drv = self.driver_info()?;
        let count = self
            .nvml
            .device_count()
            .map_err(|e| Self::system("nvmlDeviceGetCount_v2", e))?;
        (0..count).map(|i| self.gpu_inventory(i, &drv)).collect()
    }

    fn power_samples(&self, gpu: u32, since_us: u64) -> Result<Vec<PowerSample>, GpuError> {
        const CALL: &str = "nvmlDeviceGetSamples(NVML_TOTAL_POWER_SAMPLES)";
        let dev = self.device(gpu)?;
        let raw = match ffi::power_samples(&dev, since_us) {
            Ok(Some(raw)) => raw,
            Ok(None) => match dev.samples(Sampling::Power, since_us) {
                Ok(samples) => samples
                    .iter()
                    .map(|s| (s.timestamp, sample_value_f64(&s.value)))
                    .collect(),
                Err(NvmlError::NotFound) => Vec::new(),
                Err(e) => return Err(driver(gpu, CALL, e)),
            },
            Err(e) => return Err(driver(gpu, CALL, e)),
        };
        Ok(raw
            .into_iter()
            .filter(|(t, _)| *t > since_us)
            .map(|(timestamp_us, mw)| PowerSample {
                timestamp_us,
                watts: mw / 1000.0,
            })
            .collect())
    }

    fn instant_power_w(&self, gpu: u32) -> Result<f64, GpuError> {
        const CALL: &str = "nvmlDeviceGetFieldValues(NVML_FI_DEV_POWER_INSTANT)";
        let dev = self.device(gpu)?;
        let values = dev
            .field_values_for(&[FieldId(NVML_FI_DEV_POWER_INSTANT)])
            .map_err(|e| driver(gpu, CALL, e))?;
        match values.into_iter().next() {
            Some(Ok(sample)) => match sample.value {
                Ok(v) => Ok(sample_value_f64(&v) / 1000.0),
                Err(e) => Err(driver(gpu, CALL, e)),
            },
            Some(Err(e)) => Err(driver(gpu, CALL, e)),
            None => Err(driver(gpu, CALL, NvmlError::NoData)),
        }
    }

    fn energy_mj(&self, gpu: u32) -> Result<u64, GpuError> {
        self.device(gpu)?
            .total_energy_consumption()
            .map_err(|e| driver(gpu, "nvmlDeviceGetTotalEnergyConsumption", e))
    }

    fn status(&self, gpu: u32) -> Result<GpuStatus, GpuError> {
        let dev = self.device(gpu)?;
        let temperature_c = optional(
            gpu,
            "nvmlDeviceGetTemperature(GPU)",
            dev.temperature(TemperatureSensor::Gpu),
        )?
        .map(f64::from);
        let memory_temperature_c = match dev.field_values_for(&[FieldId(NVML_FI_DEV_MEMORY_TEMP)]) {
            Ok(values) => values
                .into_iter()
                .next()
                .and_then(Result::ok)
                .and_then(|s| s.value.ok())
                .map(|v| sample_value_f64(&v))
                .filter(|t| *t > 0.0),
            Err(NvmlError::NotSupported) => None,
            Err(e) => {
                return Err(driver(
                    gpu,
                    "nvmlDeviceGetFieldValues(NVML_FI_DEV_MEMORY_TEMP)",
                    e,
                ));
            }
        };
        let util = optional(
            gpu,
            "nvmlDeviceGetUtilizationRates",
            dev.utilization_rates(),
        )?;
        let memory_used_mib =
            optional(gpu, "nvmlDeviceGetMemoryInfo", dev.memory_info())?.map(|m| m.used / MIB);
        let sm_clock_mhz = optional(gpu, "nvmlDeviceGetClockInfo(SM)", dev.clock_info(Clock::SM))?;
        let mem_clock_mhz = optional(
            gpu,
            "nvmlDeviceGetClockInfo(MEM)",
            dev.clock_info(Clock::Memory),
        )?;
        let throttle_reasons = optional(
            gpu,
            "nvmlDeviceGetCurrentClocksEventReasons",
            dev.current_throttle_reasons(),
        )?
        .map(|r| r.bits());
        Ok(GpuStatus {
            temperature_c,
            memory_temperature_c,
            sm_util_pct: util.as_ref().map(|u| f64::from(u.gpu)),
            mem_util_pct: util.as_ref().map(|u| f64::from(u.memory)),
            memory_used_mib,
            sm_clock_mhz,
            mem_clock_mhz,
            throttle_reasons,
        })
    }

    fn mig_instances(&self, gpu: u32) -> Result<Vec<ExistingGpuInstance>, GpuError> {
        let dev = self.device(gpu)?;
        let enabled = match dev.mig_mode() {
            Ok(m) => m.current == nvml_wrapper_sys::bindings::NVML_DEVICE_MIG_ENABLE,
            Err(NvmlError::NotSupported) => false,
            Err(e) => return Err(driver(gpu, "nvmlDeviceGetMigMode", e)),
        };
        if !enabled {
            return Ok(Vec::new());
        }
        Ok(self.mig_state(&dev, gpu, true)?.instances)
    }

    fn create_gpu_instance(&self, gpu: u32, profile_id: u32, start: u8) -> Result<u32, GpuError> {
        self.create_gi(gpu, profile_id, start)
    }

    fn create_compute_instance(
        &self,
        gpu: u32,
        gi_id: u32,
        ci_profile_id: u32,
        start: u8,
    ) -> Result<u32, GpuError> {
        self.create_ci(gpu, gi_id, ci_profile_id, start)
    }

    fn destroy_compute_instance(&self, gpu: u32, gi_id: u32, ci_id: u32) -> Result<(), GpuError> {
        self.destroy_ci(gpu, gi_id, ci_id)
    }

    fn destroy_gpu_instance(&self, gpu: u32, gi_id: u32) -> Result<(), GpuError> {
        self.destroy_gi(gpu, gi_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_failure_message_says_what_to_do() {
        let msg = unavailable_message(&NvmlError::DriverNotLoaded);
        assert!(msg.contains("driver"), "{msg}");
        assert!(msg.contains("--simulate N"), "{msg}");
        let msg = unavailable_message(&NvmlError::UnexpectedVariant(999));
        assert!(msg.contains("nvmlInit_v2") && msg.contains("999"), "{msg}");
    }

    #[test]
    fn not_supported_is_not_a_driver_failure() {
        assert!(matches!(
            driver(1, "x", NvmlError::NotSupported),
            GpuError::NotSupported { gpu: 1, .. }
        ));
        let e = driver(0, "nvmlDeviceGetSamples", NvmlError::UnexpectedVariant(23));
        assert!(
            e.to_string().contains("nvmlDeviceGetSamples")
                && e.to_string().contains("INSUFFICIENT_RESOURCES")
        );
    }

    #[test]
    fn new_without_a_driver_is_nvml_unavailable() {
        // On machines with the driver this constructs a backend; without it, the error must be the
        // dedicated variant with the hint.
        if let Err(e) = NvmlBackend::new() {
            assert!(matches!(e, GpuError::NvmlUnavailable(_)));
            assert!(e.to_string().contains("--simulate"));
        }
    }
}
