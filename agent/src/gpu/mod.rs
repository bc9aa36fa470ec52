//! GPU backends: the one trait through which the agent reads and reconfigures GPUs, with the real
//! NVML implementation and a simulated one for tests, demos and fleet-scale rehearsal.
//!
//! The trait is synchronous because NVML is: samplers call it from a blocking thread. Simulated GPUs
//! follow the same profile tables and placement rules as the MIG engine, and are always marked
//! `simulated` in the inventory — never a hidden fallback.

pub mod nvml;
pub mod sim;

use wattsweep_shared::model::GpuInventory;

/// Which implementation a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The NVIDIA driver through NVML.
    Nvml,
    /// Simulated GPUs.
    Simulated,
}

/// Errors of a GPU backend.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// The NVML library could not be loaded or initialised (no driver on this machine).
    #[error("NVML is not available: {0}")]
    NvmlUnavailable(String),
    /// No GPU with this index.
    #[error("no GPU with index {0}")]
    NoSuchGpu(u32),
    /// The GPU does not support what was asked (e.g. the power sample buffer, MIG).
    #[error("GPU {gpu}: {what} is not supported")]
    NotSupported {
        /// GPU index.
        gpu: u32,
        /// What was asked.
        what: String,
    },
    /// The driver refused a MIG operation (invalid placement, insufficient resources, in use).
    #[error("GPU {gpu}: MIG {operation} refused: {reason}")]
    MigRefused {
        /// GPU index.
        gpu: u32,
        /// The operation (`create GPU instance 9@4`).
        operation: String,
        /// The driver's reason.
        reason: String,
    },
    /// Any other driver error, with the call that failed.
    #[error("GPU {gpu}: {call} failed: {reason}")]
    Driver {
        /// GPU index.
        gpu: u32,
        /// The NVML call.
        call: &'static str,
        /// The driver's reason.
        reason: String,
    },
    /// The simulated GPUs' state file could not be read or written.
    #[error("simulated GPU state {path}: {reason}")]
    SimState {
        /// The state file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Versions of the driver stack.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DriverInfo {
    /// Driver version (`580.65.06`).
    pub driver_version: String,
    /// CUDA driver API version (`13.0`).
    pub cuda_version: String,
    /// NVML library version.
    pub nvml_version: String,
}

/// One power sample from the driver's sample buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerSample {
    /// Absolute time, microseconds since the Unix epoch (as the driver stamps it).
    pub timestamp_us: u64,
    /// Power, watts.
    pub watts: f64,
}

/// The slow-changing readings of a GPU (~10 Hz).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuStatus {
    /// GPU temperature, °C.
    pub temperature_c: Option<f64>,
    /// HBM temperature, °C.
    pub memory_temperature_c: Option<f64>,
    /// SM utilisation, percent.
    pub sm_util_pct: Option<f64>,
    /// Memory-controller utilisation, percent.
    pub mem_util_pct: Option<f64>,
    /// Memory used, MiB.
    pub memory_used_mib: Option<u64>,
    /// SM clock, MHz.
    pub sm_clock_mhz: Option<u32>,
    /// Memory clock, MHz.
    pub mem_clock_mhz: Option<u32>,
    /// Active clock-throttle reasons bitmask (`nvmlClocksEventReasons`).
    pub throttle_reasons: Option<u64>,
}

/// A MIG GPU instance that exists on a GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingGpuInstance {
    /// Driver's GPU-instance id.
    pub gi_id: u32,
    /// GPU-instance profile id.
    pub profile_id: u32,
    /// Placement start slot.
    pub start: u8,
    /// Placement size in slots.
    pub size: u8,
    /// Its compute instances.
    pub compute_instances: Vec<ExistingComputeInstance>,
}

/// A MIG compute instance that exists inside a GPU instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingComputeInstance {
    /// Driver's compute-instance id.
    pub ci_id: u32,
    /// Compute-instance profile id.
    pub profile_id: u32,
    /// First compute slice inside the GPU instance.
    pub start: u8,
    /// MIG device UUID (`MIG-…`) workloads are bound to.
    pub uuid: String,
}

/// Everything the agent asks of GPUs.
pub trait GpuBackend: Send + Sync {
    /// Which implementation this is.
    fn kind(&self) -> BackendKind;
    /// Driver stack versions.
    fn driver_info(&self) -> Result<DriverInfo, GpuError>;
    /// Every GPU with its inventory (MIG profile table as the driver reports it, current layout).
    fn inventory(&self) -> Result<Vec<GpuInventory>, GpuError>;
    /// Power samples from the driver's buffer newer than `since_us` (absolute, µs), oldest first.
    fn power_samples(&self, gpu: u32, since_us: u64) -> Result<Vec<PowerSample>, GpuError>;
    /// Instantaneous power, watts.
    fn instant_power_w(&self, gpu: u32) -> Result<f64, GpuError>;
    /// Total energy since the driver was loaded, millijoules (read at phase boundaries only).
    fn energy_mj(&self, gpu: u32) -> Result<u64, GpuError>;
    /// Temperatures, utilisation, memory, clocks, throttle reasons.
    fn status(&self, gpu: u32) -> Result<GpuStatus, GpuError>;
    /// MIG instances that exist now.
    fn mig_instances(&self, gpu: u32) -> Result<Vec<ExistingGpuInstance>, GpuError>;
    /// Create a GPU instance at a placement; returns its GI id.
    fn create_gpu_instance(&self, gpu: u32, profile_id: u32, start: u8) -> Result<u32, GpuError>;
    /// Create a compute instance inside a GPU instance at a placement; returns its CI id.
    fn create_compute_instance(
        &self,
        gpu: u32,
        gi_id: u32,
        ci_profile_id: u32,
        start: u8,
    ) -> Result<u32, GpuError>;
    /// Destroy a compute instance.
    fn destroy_compute_instance(&self, gpu: u32, gi_id: u32, ci_id: u32) -> Result<(), GpuError>;
    /// Destroy a GPU instance (its compute instances must be gone).
    fn destroy_gpu_instance(&self, gpu: u32, gi_id: u32) -> Result<(), GpuError>;
}
