//! Why a task summary cannot be computed: only structural faults of the inputs are errors (no measured
//! window, a phase that ends before it starts, the same GPU twice); missing or dirty telemetry is not an
//! error but shows in the summary's coverage and in the report's diagnostics.

use crate::wire::Phase;

/// Why [`summarize`](super::summarize) refused its inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SummaryError {
    /// No phase timing is the measured window.
    #[error(
        "no `measure` phase among the {count} phase timings; the summary needs the measured window's start and end"
    )]
    NoMeasurePhase {
        /// Phase timings given.
        count: usize,
    },
    /// A known phase appears more than once.
    #[error(
        "phase `{phase}` appears {count} times among the phase timings; each phase may appear once"
    )]
    DuplicatePhase {
        /// The phase.
        phase: Phase,
        /// How often it appears.
        count: usize,
    },
    /// A phase ends before it starts.
    #[error(
        "phase `{phase}` ends at {end_ms} before it starts at {start_ms} (unix ms); a phase must end at or after its start"
    )]
    InvertedPhase {
        /// The phase.
        phase: Phase,
        /// Its start, unix milliseconds.
        start_ms: u64,
        /// Its end, unix milliseconds.
        end_ms: u64,
    },
    /// The measured window lasts no time.
    #[error(
        "the measured window is empty: `measure` starts and ends at {at_ms} (unix ms); it must last at least 1 ms"
    )]
    EmptyWindow {
        /// Its start and end, unix milliseconds.
        at_ms: u64,
    },
    /// The nominal power sample period is zero.
    #[error(
        "the nominal power sample period is 0 ms; it must be at least 1 ms (the campaign's `sample_ms`)"
    )]
    ZeroSamplePeriod,
    /// Two GPU inputs carry the same index.
    #[error("GPU index {index} appears {count} times among the GPU inputs; give each GPU once")]
    DuplicateGpu {
        /// The NVML index.
        index: u32,
        /// How often it appears.
        count: usize,
    },
    /// CPU inputs without a logical CPU.
    #[error(
        "the CPU inputs give 0 logical CPUs; utilisation in percent of all CPUs needs at least 1"
    )]
    ZeroLogicalCpus,
    /// The plausibility limit for counter energy is not usable.
    #[error(
        "`max_plausible_gpu_w` is {watts} W; it must be a finite number above 0 (it separates a counter wrap from a reset)"
    )]
    InvalidPlausiblePower {
        /// The value given.
        watts: f64,
    },
}
