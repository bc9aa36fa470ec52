//! What the executor asks of the node, besides the MIG manager, to put GPUs into a sharing mode:
//! the right MIG mode and MPS control daemons. A small trait with a host implementation and one for
//! simulated GPUs, so the driver is the same for both.

use std::path::PathBuf;
use std::sync::Arc;

use wattsweep_shared::model::GpuInventory;

use super::launch::MpsDaemon;
use crate::gpu::sim::SimulatedGpus;

/// Why a GPU cannot be put into the sharing mode a task needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The GPU's MIG mode is not the one the task needs and wattsweep does not change it.
    #[error(
        "GPU {gpu}: the task needs MIG mode {wanted}, the GPU has it {found}; wattsweep does not \
         change MIG mode: run `nvidia-smi -i {gpu} -mig {flag}` while the GPU is idle, or plan this \
         sweep for GPUs in that mode"
    )]
    MigMode {
        /// GPU index.
        gpu: u32,
        /// `enabled` or `disabled`.
        wanted: &'static str,
        /// The mode found.
        found: &'static str,
        /// `1` or `0`.
        flag: u8,
    },
    /// The mode could not be changed (simulated GPUs: instances or loads exist).
    #[error("GPU {gpu}: cannot switch MIG mode: {reason}")]
    MigModeChange {
        /// GPU index.
        gpu: u32,
        /// Why.
        reason: String,
    },
    /// MPS cannot run on this node or GPU.
    #[error("GPU {gpu}: MPS is not available: {reason}")]
    MpsUnavailable {
        /// GPU index.
        gpu: u32,
        /// Why.
        reason: String,
    },
    /// Starting or stopping a daemon failed.
    #[error("GPU {gpu}: MPS control daemon: {reason}")]
    Mps {
        /// GPU index.
        gpu: u32,
        /// Why.
        reason: String,
    },
}

impl NodeError {
    /// Whether the same task fails the same way on every attempt on this node.
    pub fn is_deterministic(&self) -> bool {
        matches!(
            self,
            NodeError::MigMode { .. } | NodeError::MpsUnavailable { .. }
        )
    }
}

fn mode(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}

/// Node-level sharing controls.
pub trait NodeControl: Send + Sync {
    /// Make sure `gpu` is in MIG mode (`enabled`) or not, or say why it cannot be.
    fn prepare_mig_mode(&self, gpu: &GpuInventory, enabled: bool) -> Result<(), NodeError>;
    /// Start the MPS control daemon serving `gpu`.
    fn start_mps(&self, gpu: &GpuInventory) -> Result<MpsDaemon, NodeError>;
    /// Stop the MPS control daemon of GPU `gpu` (a no-op when none runs).
    fn stop_mps(&self, gpu: u32) -> Result<(), NodeError>;
}

/// A real node: MIG mode is left as found (a task needing the other mode fails deterministically);
/// MPS daemons come from the MPS manager when this build has one.
#[derive(Debug, Clone, Default)]
pub struct HostNodeControl;

impl NodeControl for HostNodeControl {
    fn prepare_mig_mode(&self, gpu: &GpuInventory, enabled: bool) -> Result<(), NodeError> {
        if gpu.mig_enabled == enabled {
            return Ok(());
        }
        Err(NodeError::MigMode {
            gpu: gpu.index,
            wanted: mode(enabled),
            found: mode(gpu.mig_enabled),
            flag: u8::from(enabled),
        })
    }

    fn start_mps(&self, gpu: &GpuInventory) -> Result<MpsDaemon, NodeError> {
        Err(NodeError::MpsUnavailable {
            gpu: gpu.index,
            reason: "this agent build has no MPS daemon manager".into(),
        })
    }

    fn stop_mps(&self, _gpu: u32) -> Result<(), NodeError> {
        Ok(())
    }
}

/// Simulated GPUs: MIG mode is switched as an administrator would (the simulation refuses while
/// instances or loads exist); MPS daemons are directories under `root` that nothing reads.
#[derive(Debug, Clone)]
pub struct SimNodeControl {
    gpus: Arc<SimulatedGpus>,
    root: PathBuf,
}

impl SimNodeControl {
    /// Controls over `gpus`, naming MPS directories under `root`.
    pub fn new(gpus: Arc<SimulatedGpus>, root: impl Into<PathBuf>) -> Self {
        Self {
            gpus,
            root: root.into(),
        }
    }
}

impl NodeControl for SimNodeControl {
    fn prepare_mig_mode(&self, gpu: &GpuInventory, enabled: bool) -> Result<(), NodeError> {
        self.gpus
            .set_mig_enabled(gpu.index, enabled)
            .map_err(|e| NodeError::MigModeChange {
                gpu: gpu.index,
                reason: e.to_string(),
            })
    }

    fn start_mps(&self, gpu: &GpuInventory) -> Result<MpsDaemon, NodeError> {
        let dir = self.root.join(format!("mps-gpu{}", gpu.index));
        Ok(MpsDaemon {
            pipe_dir: dir.join("pipe").display().to_string(),
            log_dir: dir.join("log").display().to_string(),
        })
    }

    fn stop_mps(&self, _gpu: u32) -> Result<(), NodeError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::GpuBackend;
    use crate::gpu::sim::{RealClock, SimConfig};

    #[test]
    fn host_leaves_mig_mode_as_found_and_says_how_to_change_it() {
        let g = GpuInventory {
            index: 2,
            mig_enabled: true,
            ..GpuInventory::default()
        };
        assert_eq!(HostNodeControl.prepare_mig_mode(&g, true), Ok(()));
        let e = HostNodeControl.prepare_mig_mode(&g, false).unwrap_err();
        assert!(e.is_deterministic());
        assert!(e.to_string().contains("nvidia-smi -i 2 -mig 0"), "{e}");
        assert!(
            HostNodeControl
                .start_mps(&g)
                .unwrap_err()
                .is_deterministic()
        );
    }

    #[test]
    fn simulated_gpus_switch_mode_when_idle() {
        let sim = Arc::new(
            SimulatedGpus::new(SimConfig::new("n", "a100-40gb", 1), Arc::new(RealClock)).unwrap(),
        );
        let ctl = SimNodeControl::new(sim.clone(), "/run/ws");
        let inv = sim.inventory().unwrap().remove(0);
        ctl.prepare_mig_mode(&inv, false).unwrap();
        assert!(!sim.inventory().unwrap()[0].mig_enabled);
        ctl.prepare_mig_mode(&inv, true).unwrap();
        sim.create_gpu_instance(0, 9, 0).unwrap();
        let e = ctl.prepare_mig_mode(&inv, false).unwrap_err();
        assert!(!e.is_deterministic(), "{e}");
        assert_eq!(
            ctl.start_mps(&inv).unwrap().pipe_dir,
            "/run/ws/mps-gpu0/pipe"
        );
    }
}
