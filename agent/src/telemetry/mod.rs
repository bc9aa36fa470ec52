//! Telemetry: samplers that read the node (NVML, IPMI, CPU) and sinks that store what they read.

pub mod cpu;
pub mod gpu_points;
pub mod ipmi;
pub mod point;
pub mod sampler;
pub mod sink;
