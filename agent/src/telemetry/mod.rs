//! Telemetry: samplers that read the node (NVML, IPMI, CPU) and sinks that store what they read.

pub mod ipmi;
pub mod point;
pub mod sink;
