//! Why the duty burn could not start or stopped: each case says what is wrong and what to check.

use cudarc::driver::DriverError;

use super::duty::DutyError;

/// A failure of the duty burn. The binary prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum BurnError {
    /// The level or period cannot be scheduled.
    #[error(transparent)]
    Duty(#[from] DutyError),
    /// libcuda could not be loaded: no NVIDIA driver, or a container without the driver mounted.
    #[error(
        "NVIDIA driver not found: could not load libcuda.so (searched the dynamic loader's paths); \
         install the NVIDIA driver, or run the container with the NVIDIA runtime (`--gpus`)"
    )]
    NoDriver,
    /// `cuInit` or the device count failed.
    #[error(
        "the NVIDIA driver could not initialise CUDA (CUDA_VISIBLE_DEVICES={visible}): {source}"
    )]
    Init {
        /// The value of `CUDA_VISIBLE_DEVICES`, or `(unset)`.
        visible: String,
        /// The driver's error.
        source: DriverError,
    },
    /// The driver works but shows no device.
    #[error(
        "no CUDA device is visible (CUDA_VISIBLE_DEVICES={visible}); check nvidia-smi, and that the \
         GPU or MIG UUID given is one this node has"
    )]
    NoDevice {
        /// The value of `CUDA_VISIBLE_DEVICES`, or `(unset)`.
        visible: String,
    },
    /// `--device` names a device that is not there.
    #[error(
        "--device {index} does not exist: {count} CUDA device(s) visible, allowed indices 0 to {max} \
         (CUDA_VISIBLE_DEVICES={visible})",
        max = .count.saturating_sub(1)
    )]
    DeviceOutOfRange {
        /// The index asked for.
        index: usize,
        /// How many devices are visible.
        count: usize,
        /// The value of `CUDA_VISIBLE_DEVICES`, or `(unset)`.
        visible: String,
    },
    /// The driver rejected the embedded PTX.
    #[error(
        "the driver could not JIT-compile the burn kernel (PTX .version 7.0, .target sm_70) for \
         device {device}: {source}\nJIT log:\n{log}"
    )]
    Jit {
        /// The device index.
        device: usize,
        /// The driver's error.
        source: DriverError,
        /// The JIT compiler's error and info log.
        log: String,
    },
    /// Any other driver call failed.
    #[error("CUDA call {call} failed on device {device}: {source}")]
    Cuda {
        /// What was being done (`cuCtxCreate`, `cuLaunchKernel`, ...).
        call: &'static str,
        /// The device index.
        device: usize,
        /// The driver's error.
        source: DriverError,
    },
}

/// `CUDA_VISIBLE_DEVICES` for messages.
pub(crate) fn visible_devices() -> String {
    std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_else(|_| "(unset)".to_owned())
}
