//! Errors of the simulation's own operations (loads, power limits, MIG mode, state file).

use crate::gpu::GpuError;

/// Errors of the simulation's own (non-trait) operations.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The model id is not one wattsweep can simulate.
    #[error("cannot simulate GPU model `{model}`: known models are {known}")]
    UnknownModel {
        /// The model asked for.
        model: String,
        /// Known model ids.
        known: String,
    },
    /// No built-in MIG profile table for the model.
    #[error("GPU model `{model}` has no built-in MIG profile table to simulate")]
    NoProfileTable {
        /// The model.
        model: String,
    },
    /// A workload intensity outside 0–1.
    #[error("load intensity {value} is outside 0..=1")]
    InvalidIntensity {
        /// The intensity given.
        value: f64,
    },
    /// A power limit outside what the model accepts.
    #[error("GPU {gpu}: power limit {watts} W is outside the allowed {min} W..={max} W")]
    InvalidPowerLimit {
        /// GPU index.
        gpu: u32,
        /// Limit asked for.
        watts: f64,
        /// Lowest allowed.
        min: f64,
        /// Highest allowed (TDP).
        max: f64,
    },
    /// No such MIG device.
    #[error("GPU {gpu}: no MIG device with GPU instance {gi_id} and compute instance {ci_id}")]
    NoSuchDevice {
        /// GPU index.
        gpu: u32,
        /// GPU-instance id.
        gi_id: u32,
        /// Compute-instance id.
        ci_id: u32,
    },
    /// A whole-GPU load while MIG is enabled, or a MIG-device load while it is disabled.
    #[error("GPU {gpu}: {reason}")]
    WrongMode {
        /// GPU index.
        gpu: u32,
        /// What does not fit the mode.
        reason: String,
    },
    /// The state file describes other GPUs than the configuration.
    #[error(
        "simulated GPU state {path} does not match the configuration: {reason}; remove it or fix the configuration"
    )]
    StateMismatch {
        /// The state file.
        path: String,
        /// What differs.
        reason: String,
    },
    /// A GPU backend error (including state file I/O).
    #[error(transparent)]
    Gpu(#[from] GpuError),
}
