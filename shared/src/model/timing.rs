//! Phase durations of one task run.

use serde::{Deserialize, Serialize};

/// How long each phase of a task lasts (DESIGN.md §3 `[timing]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Idle capture before the workload starts, seconds.
    #[serde(default)]
    pub idle_baseline_s: u32,
    /// Workload runs but telemetry is tagged `warmup`, seconds.
    #[serde(default)]
    pub warmup_s: u32,
    /// The measured window, seconds.
    pub measure_s: u32,
    /// Longest idle cool-down after the workload, seconds.
    #[serde(default)]
    pub cooldown_max_s: u32,
    /// Cool-down ends early once the GPU is within this many °C of its idle baseline.
    #[serde(default)]
    pub cooldown_temp_delta_c: f64,
    /// Telemetry sample period, milliseconds.
    pub sample_ms: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            idle_baseline_s: 60,
            warmup_s: 30,
            measure_s: 300,
            cooldown_max_s: 120,
            cooldown_temp_delta_c: 2.0,
            sample_ms: 20,
        }
    }
}

impl Timing {
    /// Longest wall time the task can take, cool-down included, seconds.
    pub fn max_duration_s(&self) -> u64 {
        u64::from(self.idle_baseline_s)
            + u64::from(self.warmup_s)
            + u64::from(self.measure_s)
            + u64::from(self.cooldown_max_s)
    }
}
