//! One simulated GPU: its model, MIG instances, workloads (loads) and physical state, and how the
//! loads turn into a power target, utilisation, clocks and throughput.

use std::collections::BTreeMap;

use wattsweep_shared::mig::ProfileTable;

use super::dynamics::{Dynamics, Response};
use super::mig::SimGi;
use super::params::SimModel;
use super::physics::{
    cap_factor, capped, full_gpu_target_w, mig_target_w, time_slice_fraction, time_sliced_load,
};
use super::state::SimGpuState;
use crate::gpu::GpuStatus;

/// `nvmlClocksEventReasonGpuIdle`.
pub const THROTTLE_GPU_IDLE: u64 = 0x1;
/// `nvmlClocksEventReasonSwPowerCap`.
pub const THROTTLE_SW_POWER_CAP: u64 = 0x4;
/// Memory a simulated workload holds on its device, MiB.
pub const CLIENT_MEMORY_MIB: u64 = 2048;
/// Memory-controller utilisation relative to SM utilisation.
pub const MEM_UTIL_RATIO: f64 = 0.6;

/// Where a workload runs: the whole GPU (`None`) or a MIG device `(gi_id, ci_id)`.
pub type Device = Option<(u32, u32)>;

/// A simulated GPU.
#[derive(Debug)]
pub struct SimGpu {
    pub index: u32,
    pub uuid: String,
    pub model: SimModel,
    pub table: ProfileTable,
    pub mig_enabled: bool,
    pub power_limit_w: f64,
    pub instances: Vec<SimGi>,
    /// Clients (name → intensity 0–1) per device.
    pub loads: BTreeMap<Device, BTreeMap<String, f64>>,
    pub dynamics: Dynamics,
    pub response: Response,
    /// Energy counter at start-up (from the state file), mJ.
    pub energy_offset_mj: u64,
    /// Target before the power cap, W.
    pub uncapped_target_w: f64,
}

impl SimGpu {
    /// Compute slices of a MIG device, if it exists.
    pub fn device_slices(&self, gi_id: u32, ci_id: u32) -> Option<u8> {
        self.instances
            .iter()
            .find(|g| g.gi_id == gi_id)?
            .compute_instances
            .iter()
            .find(|c| c.ci_id == ci_id)
            .map(|c| c.compute_slices)
    }

    fn intensities(clients: &BTreeMap<String, f64>) -> Vec<f64> {
        clients.values().copied().collect()
    }

    /// Active MIG devices as `(compute slices, time-sliced load)`.
    fn active_mig(&self) -> Vec<(u8, f64)> {
        self.loads
            .iter()
            .filter_map(|(dev, clients)| {
                let (gi, ci) = (*dev)?;
                let slices = self.device_slices(gi, ci)?;
                Some((slices, time_sliced_load(&Self::intensities(clients))))
            })
            .collect()
    }

    /// Load of the GPU as a whole, 0–1: the time-sliced load on a full GPU, the share of compute
    /// slices kept busy in MIG mode.
    pub fn load(&self) -> f64 {
        if self.mig_enabled {
            let busy: f64 = self
                .active_mig()
                .iter()
                .map(|(s, l)| f64::from(*s) * l)
                .sum();
            busy / f64::from(self.table.compute_slices.max(1))
        } else {
            self.loads
                .get(&None)
                .map_or(0.0, |c| time_sliced_load(&Self::intensities(c)))
        }
    }

    /// Recompute the power target after a change of load, MIG instances or power limit.
    pub fn retarget(&mut self) {
        let (idle, tdp) = (self.model.gpu.idle_w, self.model.gpu.tdp_w);
        self.uncapped_target_w = if self.mig_enabled {
            let p = self.model.params;
            mig_target_w(idle, p.mig_static_w, p.mig_per_slice_w, self.active_mig())
        } else {
            full_gpu_target_w(idle, tdp, self.load())
        };
        self.dynamics.target_w = capped(self.uncapped_target_w, self.power_limit_w).0;
    }

    /// Whether the power limit holds the target down.
    pub fn is_capped(&self) -> bool {
        capped(self.uncapped_target_w, self.power_limit_w).1
    }

    /// Share of the requested dynamic power the cap leaves.
    pub fn cap_factor(&self) -> f64 {
        cap_factor(
            self.model.gpu.idle_w,
            self.uncapped_target_w,
            self.dynamics.target_w,
        )
    }

    /// Energy counter, mJ.
    pub fn energy_mj(&self) -> u64 {
        let since_start = (self.dynamics.energy_j * 1000.0).round().max(0.0) as u64;
        self.energy_offset_mj.saturating_add(since_start)
    }

    /// Throughput fraction of `client` on `device` (relative to running alone on a full,
    /// uncapped GPU), or `None` if no such client runs there.
    pub fn throughput_fraction(&self, device: Device, client: &str) -> Option<f64> {
        let clients = self.loads.get(&device)?;
        clients.get(client)?;
        let share = match device {
            None => 1.0,
            Some((gi, ci)) => {
                f64::from(self.device_slices(gi, ci)?) / f64::from(self.table.compute_slices.max(1))
            }
        };
        let p = self.model.params;
        Some(time_slice_fraction(clients.len(), p.ctx_switch_penalty) * share * self.cap_factor())
    }

    /// Temperatures, utilisation, memory, clocks and throttle reasons now.
    pub fn status(&self) -> GpuStatus {
        let p = self.model.params;
        let load = self.load();
        let clients: usize = self.loads.values().map(|c| c.len()).sum();
        let busy = load > 0.0;
        let clock = if busy {
            let span = f64::from(p.max_sm_clock_mhz - p.idle_sm_clock_mhz);
            p.idle_sm_clock_mhz + (span * self.cap_factor()).round() as u32
        } else {
            p.idle_sm_clock_mhz
        };
        let mut throttle = 0;
        if !busy {
            throttle |= THROTTLE_GPU_IDLE;
        }
        if self.is_capped() {
            throttle |= THROTTLE_SW_POWER_CAP;
        }
        GpuStatus {
            temperature_c: Some(self.dynamics.temp_c),
            memory_temperature_c: Some(self.dynamics.temp_c + p.memory_temp_offset_c),
            sm_util_pct: Some(100.0 * load),
            mem_util_pct: Some(100.0 * load * MEM_UTIL_RATIO),
            memory_used_mib: Some(
                (clients as u64 * CLIENT_MEMORY_MIB).min(self.model.gpu.memory_mib),
            ),
            sm_clock_mhz: Some(clock),
            mem_clock_mhz: Some(p.mem_clock_mhz),
            throttle_reasons: Some(throttle),
        }
    }

    /// What the state file keeps of this GPU.
    pub fn persistent(&self) -> SimGpuState {
        SimGpuState {
            index: self.index,
            uuid: self.uuid.clone(),
            model: self.model.gpu.id.to_string(),
            mig_enabled: self.mig_enabled,
            power_limit_w: self.power_limit_w,
            energy_mj: self.energy_mj(),
            instances: self.instances.clone(),
        }
    }
}
