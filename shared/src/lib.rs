//! wattsweep's pure core.
//!
//! Everything here is a decision or a data type: the wire protocol and its subject names, the campaign
//! model with its parser and planner, the MIG profile tables and placement solver, and (later) the
//! envelope maths. No NATS, Docker, NVML or HTTP client lives in this crate, so every decision can be
//! tested without a server and reused by the coordinator, the agent and offline tools alike.
#![warn(missing_docs)]

pub mod campaign;
pub mod gpu_model;
pub mod mig;
pub mod model;
pub mod plan;
pub mod subjects;
pub mod summary;
pub mod wire;
