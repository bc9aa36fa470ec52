//! What a workload is: how to start it, how to read its figure of merit, how to tell it is ready.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One workload, self-contained so that a task carries everything an agent needs to run it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WorkloadSpec {
    /// Catalog name (`burn`, `hpcg`, ...).
    pub name: String,
    /// Container image for the docker and kubernetes runtimes.
    #[serde(default)]
    pub image: Option<String>,
    /// Command and arguments. Substituted at launch: `{measure_s}`, `{warmup_s}`, `{run_s}`
    /// (warm-up plus measure, seconds) and `{level}` (usage-grid load, percent).
    #[serde(default)]
    pub command: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How to read the figure of merit from the workload's output.
    #[serde(default)]
    pub metric: Option<MetricSpec>,
    /// How to tell that the workload has finished loading and real work begins.
    #[serde(default)]
    pub ready: Option<ReadySpec>,
    /// Shared memory size for containers, MiB.
    #[serde(default)]
    pub shm_size_mb: Option<u64>,
    /// Container IPC mode (`host`, `private`, `shareable`).
    #[serde(default)]
    pub ipc: Option<String>,
    /// Container ulimits, name → value (soft = hard).
    #[serde(default)]
    pub ulimits: BTreeMap<String, i64>,
    /// Behaviour on simulated GPUs.
    #[serde(default)]
    pub sim: SimProfile,
}

/// A figure of merit parsed from the workload's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSpec {
    /// Regular expression whose first capture group is the number.
    pub regex: String,
    /// Unit of the number (`GFLOP/s`, `samples/s`, `s/epoch`).
    pub unit: String,
    /// Whether larger is better (throughput) or smaller is (latency, seconds per epoch).
    #[serde(default = "default_true")]
    pub higher_is_better: bool,
}

fn default_true() -> bool {
    true
}

/// The signal that a workload is ready, so model loading never falls inside the measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadySpec {
    /// A log line matching this regular expression marks the workload ready.
    #[serde(default)]
    pub log_regex: Option<String>,
    /// Longest time to wait for readiness before the task fails, seconds.
    #[serde(default = "default_ready_timeout")]
    pub timeout_s: u32,
}

fn default_ready_timeout() -> u32 {
    600
}

/// How a workload behaves on a simulated GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimProfile {
    /// Fraction of the GPU's dynamic power range the workload drives, 0–1.
    pub intensity: f64,
    /// Figure of merit the workload reaches alone on a full GPU.
    pub fom: f64,
}

impl Default for SimProfile {
    fn default() -> Self {
        Self {
            intensity: 1.0,
            fom: 1.0,
        }
    }
}
