//! Simulated GPUs (DESIGN.md §6): N GPUs of known models that follow the real MIG profile tables and
//! placement rules and a physical model, for tests, demos and fleet-scale rehearsal. Never a hidden
//! fallback: the inventory marks them `simulated`.
//!
//! Workloads are simulated as loads set through [`SimulatedGpus::set_load`]; the power, energy,
//! temperature, utilisation and clocks follow from them (see [`physics`]); the platform sensors
//! ([`SimulatedGpus::platform_reading`]) follow from the GPUs' power through a known wiring. Time
//! comes from an injectable [`Clock`], so tests move it by hand. MIG instances, MIG mode, power
//! limits and the energy counter survive a restart through an optional state file.

mod backend;
pub mod clock;
mod config;
mod device;
pub mod dynamics;
mod error;
pub mod mig;
pub mod params;
pub mod physics;
pub mod platform;
pub mod state;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use clock::{Clock, ManualClock, RealClock};
pub use config::{DEFAULT_SAMPLE_BUFFER_LEN, DEFAULT_SAMPLE_PERIOD_US, SimConfig};
pub use device::{CLIENT_MEMORY_MIB, Device, THROTTLE_GPU_IDLE, THROTTLE_SW_POWER_CAP};
pub use error::SimError;
pub use params::{SIM_PARAMS, SimModel, SimModelParams, sim_model};
pub use platform::{PlatformReading, PlatformWiring};
pub use state::{SimGpuState, SimStateFile, read_state_file};
use wattsweep_shared::gpu_model;
use wattsweep_shared::mig::builtin_table;

use self::device::SimGpu;
use self::dynamics::{Dynamics, Response};
use self::state::{STATE_VERSION, write_state_file};
use super::GpuError;

/// Ground truth of one simulated GPU, for checking analyses.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTruth {
    /// The model with its physical parameters.
    pub model: SimModel,
    /// Power now, W.
    pub power_w: f64,
    /// Power the GPU moves towards (after the cap), W.
    pub target_w: f64,
    /// Power it would move towards without the cap, W.
    pub uncapped_target_w: f64,
    /// Temperature now, °C.
    pub temperature_c: f64,
    /// Load, 0–1 (share of busy compute slices in MIG mode).
    pub load: f64,
}

/// N simulated GPUs of one node.
pub struct SimulatedGpus {
    config: SimConfig,
    clock: Arc<dyn Clock>,
    gpus: Mutex<Vec<SimGpu>>,
    /// Serialises state-file writes so that a newer snapshot is never overwritten by an older one.
    persist_lock: Mutex<()>,
}

impl std::fmt::Debug for SimulatedGpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedGpus")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SimulatedGpus {
    /// Simulated GPUs as configured, continuing from the state file when it exists (and writing
    /// it when it does not).
    pub fn new(config: SimConfig, clock: Arc<dyn Clock>) -> Result<Self, SimError> {
        let now = clock.now_us();
        let saved = match &config.state_file {
            Some(path) => read_state_file(path)?,
            None => None,
        };
        if let (Some(saved), Some(path)) = (&saved, &config.state_file) {
            check_matches(&config, saved, &path.display().to_string())?;
        }
        let mut gpus = Vec::with_capacity(config.models.len());
        for (i, model_id) in config.models.iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let model = sim_model(model_id).ok_or_else(|| SimError::UnknownModel {
                model: model_id.clone(),
                known: gpu_model::known_ids(),
            })?;
            let table = builtin_table(model.gpu.id).ok_or_else(|| SimError::NoProfileTable {
                model: model.gpu.id.to_string(),
            })?;
            let response = Response {
                power_tau_s: model.params.power_tau_s,
                thermal_r_c_per_w: model.params.thermal_r_c_per_w,
                thermal_tau_s: model.params.thermal_tau_s,
                ambient_c: config.wiring.inlet_c,
                sample_period_us: config.sample_period_us,
                sample_capacity: config.sample_buffer_len,
            };
            let saved_gpu = saved.as_ref().and_then(|s| s.gpus.get(i));
            let mut gpu = SimGpu {
                index,
                uuid: mig::gpu_uuid(&config.node_id, index),
                model,
                table,
                mig_enabled: saved_gpu.is_none_or(|g| g.mig_enabled),
                power_limit_w: saved_gpu.map_or(model.gpu.tdp_w, |g| g.power_limit_w),
                instances: saved_gpu.map(|g| g.instances.clone()).unwrap_or_default(),
                loads: BTreeMap::new(),
                dynamics: Dynamics::at_rest(now, model.gpu.idle_w, &response),
                response,
                energy_offset_mj: saved_gpu.map_or(0, |g| g.energy_mj),
                uncapped_target_w: model.gpu.idle_w,
            };
            gpu.retarget();
            gpus.push(gpu);
        }
        let sim = Self {
            config,
            clock,
            gpus: Mutex::new(gpus),
            persist_lock: Mutex::new(()),
        };
        if saved.is_none() {
            sim.persist()?;
        }
        Ok(sim)
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The clock the simulation reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The platform sensors' wiring (the truth sensor analyses should find).
    pub fn wiring(&self) -> &PlatformWiring {
        &self.config.wiring
    }

    /// Lock the GPUs, advanced to now.
    fn lock_now(&self) -> (MutexGuard<'_, Vec<SimGpu>>, u64) {
        let now = self.clock.now_us();
        let mut gpus = self.gpus.lock().unwrap_or_else(PoisonError::into_inner);
        for g in gpus.iter_mut() {
            let response = g.response;
            g.dynamics.advance(now, &response);
        }
        (gpus, now)
    }

    fn with_gpu<T>(
        &self,
        gpu: u32,
        f: impl FnOnce(&mut SimGpu) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        let (mut gpus, _) = self.lock_now();
        let g = gpus
            .get_mut(usize::try_from(gpu).unwrap_or(usize::MAX))
            .ok_or(GpuError::NoSuchGpu(gpu))?;
        f(g)
    }

    /// Start (or change) a simulated workload `client` on the whole GPU (`device` `None`) or on a
    /// MIG device `(gi_id, ci_id)`, at `intensity` (0–1, the share of the dynamic power range it
    /// drives). Several clients on one device time-slice it.
    pub fn set_load(
        &self,
        gpu: u32,
        device: Device,
        client: &str,
        intensity: f64,
    ) -> Result<(), SimError> {
        if !(0.0..=1.0).contains(&intensity) {
            return Err(SimError::InvalidIntensity { value: intensity });
        }
        self.with_gpu(gpu, |g| {
            match device {
                None if g.mig_enabled => {
                    return Err(SimError::WrongMode {
                        gpu,
                        reason: "MIG is enabled: a workload must run on a MIG device (gi, ci)"
                            .into(),
                    });
                }
                Some(_) if !g.mig_enabled => {
                    return Err(SimError::WrongMode {
                        gpu,
                        reason: "MIG is disabled: a workload runs on the whole GPU (no device)"
                            .into(),
                    });
                }
                Some((gi_id, ci_id)) if g.device_slices(gi_id, ci_id).is_none() => {
                    return Err(SimError::NoSuchDevice { gpu, gi_id, ci_id });
                }
                _ => {}
            }
            g.loads
                .entry(device)
                .or_default()
                .insert(client.to_string(), intensity);
            g.retarget();
            Ok(())
        })
    }

    /// Stop a simulated workload; returns whether it was running.
    pub fn clear_load(&self, gpu: u32, device: Device, client: &str) -> Result<bool, SimError> {
        self.with_gpu(gpu, |g| {
            let removed = g
                .loads
                .get_mut(&device)
                .is_some_and(|c| c.remove(client).is_some());
            g.loads.retain(|_, c| !c.is_empty());
            g.retarget();
            Ok(removed)
        })
    }

    /// Stop every simulated workload on a GPU.
    pub fn clear_all_loads(&self, gpu: u32) -> Result<(), SimError> {
        self.with_gpu(gpu, |g| {
            g.loads.clear();
            g.retarget();
            Ok(())
        })
    }

    /// Throughput of `client` on `device` as a fraction of what it gets alone on a whole, uncapped
    /// GPU: its MIG device's share of compute slices × its time-slicing share (with the
    /// context-switch penalty) × what the power cap leaves. `None` if it does not run there.
    pub fn throughput_fraction(
        &self,
        gpu: u32,
        device: Device,
        client: &str,
    ) -> Result<Option<f64>, SimError> {
        self.with_gpu(gpu, |g| Ok(g.throughput_fraction(device, client)))
    }

    /// Set the power limit (between the model's minimum and its TDP).
    pub fn set_power_limit(&self, gpu: u32, watts: f64) -> Result<(), SimError> {
        self.with_gpu(gpu, |g| {
            let (min, max) = (g.model.params.min_power_limit_w, g.model.gpu.tdp_w);
            if !(min..=max).contains(&watts) {
                return Err(SimError::InvalidPowerLimit {
                    gpu,
                    watts,
                    min,
                    max,
                });
            }
            g.power_limit_w = watts;
            g.retarget();
            Ok(())
        })?;
        Ok(self.persist()?)
    }

    /// Enable or disable MIG mode (as an administrator would, outside wattsweep). Refused while
    /// MIG instances or workloads exist.
    pub fn set_mig_enabled(&self, gpu: u32, enabled: bool) -> Result<(), SimError> {
        self.with_gpu(gpu, |g| {
            if g.mig_enabled != enabled && (!g.instances.is_empty() || !g.loads.is_empty()) {
                return Err(SimError::WrongMode {
                    gpu,
                    reason: "MIG mode cannot change while MIG instances or workloads exist".into(),
                });
            }
            g.mig_enabled = enabled;
            g.retarget();
            Ok(())
        })?;
        Ok(self.persist()?)
    }

    /// Ground truth of a GPU now.
    pub fn truth(&self, gpu: u32) -> Result<SimTruth, SimError> {
        self.with_gpu(gpu, |g| {
            Ok(SimTruth {
                model: g.model,
                power_w: g.dynamics.power_w,
                target_w: g.dynamics.target_w,
                uncapped_target_w: g.uncapped_target_w,
                temperature_c: g.dynamics.temp_c,
                load: g.load(),
            })
        })
    }

    /// The simulated IPMI-like platform sensors now (see [`PlatformWiring`] for how they depend on
    /// the GPUs' power).
    pub fn platform_reading(&self) -> PlatformReading {
        let (gpus, now) = self.lock_now();
        let powers: Vec<f64> = gpus.iter().map(|g| g.dynamics.power_w).collect();
        self.config.wiring.reading(now, &powers)
    }

    /// Write the state file now (no-op without one). Done after every MIG, mode or limit change
    /// and at every energy-counter read, so the counter never goes back below a value read.
    pub fn persist(&self) -> Result<(), GpuError> {
        let Some(path) = &self.config.state_file else {
            return Ok(());
        };
        let _writing = self
            .persist_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (gpus, now) = self.lock_now();
        let state = SimStateFile {
            version: STATE_VERSION,
            node_id: self.config.node_id.clone(),
            saved_at_us: now,
            gpus: gpus.iter().map(SimGpu::persistent).collect(),
        };
        drop(gpus);
        write_state_file(path, &state)
    }
}

impl Drop for SimulatedGpus {
    fn drop(&mut self) {
        if let Err(e) = self.persist() {
            tracing::warn!(error = %e, "could not save the simulated GPU state");
        }
    }
}

fn check_matches(config: &SimConfig, saved: &SimStateFile, path: &str) -> Result<(), SimError> {
    let mismatch = |reason: String| SimError::StateMismatch {
        path: path.to_string(),
        reason,
    };
    if saved.node_id != config.node_id {
        return Err(mismatch(format!(
            "it is for node `{}`, not `{}`",
            saved.node_id, config.node_id
        )));
    }
    let saved_models: Vec<&str> = saved.gpus.iter().map(|g| g.model.as_str()).collect();
    let models: Vec<String> = config
        .models
        .iter()
        .map(|m| sim_model(m).map_or_else(|| m.clone(), |s| s.gpu.id.to_string()))
        .collect();
    if saved_models != models {
        return Err(mismatch(format!(
            "it holds GPUs [{}], the configuration asks for [{}]",
            saved_models.join(", "),
            models.join(", ")
        )));
    }
    Ok(())
}
