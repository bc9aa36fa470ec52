//! What to simulate: the node, the GPU models, the state file, sampling and the platform wiring.

use std::path::PathBuf;

use super::PlatformWiring;

/// Default period of the power sample buffer, µs (20 ms, as the driver's).
pub const DEFAULT_SAMPLE_PERIOD_US: u64 = 20_000;
/// Default number of samples the buffer keeps (10 s at 20 ms).
pub const DEFAULT_SAMPLE_BUFFER_LEN: usize = 500;

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Node id: simulated UUIDs derive from it and the GPU index.
    pub node_id: String,
    /// Model id of each GPU, in index order.
    pub models: Vec<String>,
    /// State file (MIG instances, MIG mode, power limits, energy counter) kept across restarts.
    pub state_file: Option<PathBuf>,
    /// Power sample period, µs.
    pub sample_period_us: u64,
    /// Power samples kept.
    pub sample_buffer_len: usize,
    /// Platform sensors; its inlet temperature is also the GPUs' ambient.
    pub wiring: PlatformWiring,
}

impl SimConfig {
    /// `count` GPUs of `model` on node `node_id`, no state file, default sampling and wiring.
    pub fn new(node_id: impl Into<String>, model: &str, count: u32) -> Self {
        Self {
            node_id: node_id.into(),
            models: (0..count).map(|_| model.to_string()).collect(),
            state_file: None,
            sample_period_us: DEFAULT_SAMPLE_PERIOD_US,
            sample_buffer_len: DEFAULT_SAMPLE_BUFFER_LEN,
            wiring: PlatformWiring::default(),
        }
    }

    /// The same with a state file.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }
}
