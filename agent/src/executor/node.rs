//! What the executor asks of the node, besides the MIG manager, to put GPUs into a sharing mode:
//! the right MIG mode and MPS control daemons. A small trait with a host implementation (MIG mode
//! left as found, daemons from [`MpsControl`]) and one for simulated GPUs, so the driver is the
//! same for both.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::BoxFuture;
use wattsweep_shared::model::GpuInventory;

use super::launch::MpsDirs;
use crate::gpu::sim::SimulatedGpus;
use crate::runtime::GpuBinding;
use crate::runtime::mps::{MpsControl, MpsDaemon, MpsError};

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
    /// Start the MPS control daemon serving `gpu` and wait until it is ready.
    fn start_mps<'a>(&'a self, gpu: &'a GpuInventory) -> BoxFuture<'a, Result<MpsDirs, NodeError>>;
    /// Stop the MPS control daemon of GPU `gpu` (a no-op when none runs).
    fn stop_mps(&self, gpu: u32) -> BoxFuture<'_, Result<(), NodeError>>;
}

/// A real node: MIG mode is left as found (a task needing the other mode fails deterministically);
/// MPS daemons come from the MPS manager, one per GPU, held until stopped (dropping this stops
/// the ones still running).
#[derive(Debug, Default)]
pub struct HostNodeControl {
    mps: Option<MpsControl>,
    daemons: Mutex<BTreeMap<u32, MpsDaemon>>,
}

impl HostNodeControl {
    /// Controls starting MPS daemons through `mps` (`None`: MPS is not available on this node).
    pub fn new(mps: Option<MpsControl>) -> Self {
        Self {
            mps,
            daemons: Mutex::new(BTreeMap::new()),
        }
    }
}

fn mps_error(gpu: u32, e: &MpsError) -> NodeError {
    if e.is_deterministic() {
        NodeError::MpsUnavailable {
            gpu,
            reason: e.to_string(),
        }
    } else {
        NodeError::Mps {
            gpu,
            reason: e.to_string(),
        }
    }
}

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

    fn start_mps<'a>(&'a self, gpu: &'a GpuInventory) -> BoxFuture<'a, Result<MpsDirs, NodeError>> {
        Box::pin(async move {
            let Some(mps) = &self.mps else {
                return Err(NodeError::MpsUnavailable {
                    gpu: gpu.index,
                    reason: "no MPS control binary is configured on this node".into(),
                });
            };
            let binding = GpuBinding::Gpus {
                uuids: vec![gpu.uuid.clone()],
                indices: vec![gpu.index],
            };
            let daemon = mps
                .start(&binding)
                .await
                .map_err(|e| mps_error(gpu.index, &e))?;
            let dirs = MpsDirs {
                pipe_dir: daemon.pipe_dir().display().to_string(),
                log_dir: daemon.log_dir().display().to_string(),
            };
            let previous = self
                .daemons
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(gpu.index, daemon);
            if let Some(old) = previous {
                // Not expected (one task per GPU); never leave it running unowned.
                if let Err(e) = old.shutdown().await {
                    tracing::warn!(gpu = gpu.index, error = %e, "cannot stop a replaced MPS daemon");
                }
            }
            Ok(dirs)
        })
    }

    fn stop_mps(&self, gpu: u32) -> BoxFuture<'_, Result<(), NodeError>> {
        Box::pin(async move {
            let daemon = self
                .daemons
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&gpu);
            match daemon {
                Some(d) => d.shutdown().await.map_err(|e| mps_error(gpu, &e)),
                None => Ok(()),
            }
        })
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

    fn start_mps<'a>(&'a self, gpu: &'a GpuInventory) -> BoxFuture<'a, Result<MpsDirs, NodeError>> {
        let dir = self.root.join(format!("mps-gpu{}", gpu.index));
        Box::pin(std::future::ready(Ok(MpsDirs {
            pipe_dir: dir.join("pipe").display().to_string(),
            log_dir: dir.join("log").display().to_string(),
        })))
    }

    fn stop_mps(&self, _gpu: u32) -> BoxFuture<'_, Result<(), NodeError>> {
        Box::pin(std::future::ready(Ok(())))
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
        let host = HostNodeControl::new(None);
        assert_eq!(host.prepare_mig_mode(&g, true), Ok(()));
        let e = host.prepare_mig_mode(&g, false).unwrap_err();
        assert!(e.is_deterministic());
        assert!(e.to_string().contains("nvidia-smi -i 2 -mig 0"), "{e}");
    }

    #[tokio::test]
    async fn host_without_mps_refuses_deterministically_and_stops_nothing() {
        let host = HostNodeControl::new(None);
        let g = GpuInventory::default();
        assert!(host.start_mps(&g).await.unwrap_err().is_deterministic());
        assert_eq!(host.stop_mps(0).await, Ok(()));
    }

    #[tokio::test]
    async fn simulated_gpus_switch_mode_when_idle() {
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
            ctl.start_mps(&inv).await.unwrap().pipe_dir,
            "/run/ws/mps-gpu0/pipe"
        );
    }
}
