//! Live telemetry: about one summary a second per node, for progress displays.
//!
//! Sent on core NATS (not stored), so a display can subscribe and draw without touching the database.
//! It is a glance, not a measurement: envelopes never use it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Phase, WireMessage};
use crate::subjects::{self, NodeId};

/// A node's live sample, published on `wattsweep.v1.live.<node>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSample {
    /// The node.
    pub node: NodeId,
    /// When it was taken, unix milliseconds.
    pub at_ms: u64,
    /// One entry per GPU, in index order.
    #[serde(default)]
    pub gpus: Vec<LiveGpu>,
    /// Platform power, watts, when a BMC reports it.
    #[serde(default)]
    pub platform_power_w: Option<f64>,
}

impl WireMessage for LiveSample {
    const KIND: &'static str = "live-sample";
}

impl LiveSample {
    /// The subject this sample is published on.
    pub fn subject(&self) -> String {
        subjects::live_subject(&self.node)
    }
}

/// One GPU's live figures (means over the last second).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveGpu {
    /// NVML index.
    pub index: u32,
    /// Power, watts.
    pub power_w: f64,
    /// GPU temperature, °C.
    pub temp_c: f64,
    /// SM utilisation, percent.
    pub util_pct: f64,
    /// Memory used, MiB.
    pub mem_used_mib: u64,
    /// Total memory, MiB.
    #[serde(default)]
    pub mem_total_mib: u64,
    /// The task attempt running on this GPU, if any.
    #[serde(default)]
    pub task_id: Option<Uuid>,
    /// Its current phase.
    #[serde(default)]
    pub phase: Option<Phase>,
}
