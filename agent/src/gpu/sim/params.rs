//! The simulated physics of each GPU model, as public constants, so that analyses run on simulated
//! GPUs (MIG power per slice, thermal resistance, time-slicing penalty) can be checked against the
//! truth they are meant to find.
//!
//! Idle power and TDP come from [`wattsweep_shared::gpu_model::MODELS`]; everything else is here.
//! The numbers are plausible for each part, not measured: they exist to give analyses a known answer.

use wattsweep_shared::gpu_model::{self, GpuModel};

/// Physical parameters of one simulated GPU model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimModelParams {
    /// Model id (`h100-80gb`), as in [`gpu_model::MODELS`].
    pub model_id: &'static str,
    /// Time constant of the first-order power response, seconds.
    pub power_tau_s: f64,
    /// MIG: power drawn on top of idle as soon as any compute instance runs a workload, watts.
    pub mig_static_w: f64,
    /// MIG: power per active compute slice at intensity 1, watts.
    pub mig_per_slice_w: f64,
    /// Time-slicing: fraction of throughput lost to context switches once two or more clients share
    /// a device (reached as the number of clients grows; see [`super::physics::time_slice_fraction`]).
    pub ctx_switch_penalty: f64,
    /// Thermal resistance GPU → inlet air, °C per watt: steady temperature = inlet + R·P.
    pub thermal_r_c_per_w: f64,
    /// Thermal time constant, seconds.
    pub thermal_tau_s: f64,
    /// HBM runs this much warmer than the GPU die, °C.
    pub memory_temp_offset_c: f64,
    /// SM clock when idle, MHz.
    pub idle_sm_clock_mhz: u32,
    /// SM clock under load without a power cap, MHz.
    pub max_sm_clock_mhz: u32,
    /// Memory clock, MHz.
    pub mem_clock_mhz: u32,
    /// Lowest power limit the simulated driver accepts, watts.
    pub min_power_limit_w: f64,
}

const fn p(
    model_id: &'static str,
    mig_static_w: f64,
    mig_per_slice_w: f64,
    thermal_r_c_per_w: f64,
    max_sm_clock_mhz: u32,
    mem_clock_mhz: u32,
    min_power_limit_w: f64,
) -> SimModelParams {
    SimModelParams {
        model_id,
        power_tau_s: 0.3,
        mig_static_w,
        mig_per_slice_w,
        ctx_switch_penalty: 0.08,
        thermal_r_c_per_w,
        thermal_tau_s: 30.0,
        memory_temp_offset_c: 4.0,
        idle_sm_clock_mhz: 210,
        max_sm_clock_mhz,
        mem_clock_mhz,
        min_power_limit_w,
    }
}

/// Parameters of every model in [`gpu_model::MODELS`].
pub const SIM_PARAMS: &[SimModelParams] = &[
    p("a100-40gb", 45.0, 42.0, 0.135, 1410, 1215, 150.0),
    p("a100-80gb", 45.0, 41.0, 0.135, 1410, 1593, 150.0),
    p("h100-80gb", 84.0, 76.0, 0.08, 1980, 2619, 200.0),
    p("h100-94gb", 45.0, 41.0, 0.135, 1785, 2619, 200.0),
    p("h200-141gb", 84.0, 75.0, 0.08, 1980, 3201, 200.0),
];

/// A model with its simulation parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimModel {
    /// Name, memory, idle power and TDP.
    pub gpu: &'static GpuModel,
    /// Simulated physics.
    pub params: &'static SimModelParams,
}

/// The simulated model with this id (case-insensitive).
pub fn sim_model(model_id: &str) -> Option<SimModel> {
    let gpu = gpu_model::by_id(model_id)?;
    let params = SIM_PARAMS.iter().find(|p| p.model_id == gpu.id)?;
    Some(SimModel { gpu, params })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_model_can_be_simulated() {
        for m in gpu_model::MODELS {
            assert!(
                sim_model(m.id).is_some(),
                "{} has no simulation parameters",
                m.id
            );
        }
        assert!(sim_model("H100-80GB").is_some());
        assert!(sim_model("rtx-4090").is_none());
    }

    #[test]
    fn mig_power_at_full_load_stays_within_tdp() {
        for m in gpu_model::MODELS {
            let s = sim_model(m.id).unwrap_or_else(|| unreachable!());
            let full = m.idle_w + s.params.mig_static_w + 7.0 * s.params.mig_per_slice_w;
            assert!(full <= m.tdp_w, "{}: {full} W > {} W", m.id, m.tdp_w);
            assert!(full > m.idle_w + 0.9 * (m.tdp_w - m.idle_w), "{}", m.id);
            assert!(s.params.min_power_limit_w > m.idle_w);
            assert!(s.params.min_power_limit_w < m.tdp_w);
        }
    }
}
