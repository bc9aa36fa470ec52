//! One GPU's evolving physical state (power, temperature, energy, the driver's power sample
//! buffer) advanced through simulated time in closed form. Pure: time is passed in, never read.

use std::collections::VecDeque;

use super::physics::{ThermalStep, first_order, first_order_energy_j, rc_temperature};
use crate::gpu::PowerSample;

/// Constants of the response, per GPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Response {
    /// Power time constant, s.
    pub power_tau_s: f64,
    /// Thermal resistance, °C/W.
    pub thermal_r_c_per_w: f64,
    /// Thermal time constant, s.
    pub thermal_tau_s: f64,
    /// Inlet (ambient) temperature, °C.
    pub ambient_c: f64,
    /// Sample period of the driver's power buffer, µs.
    pub sample_period_us: u64,
    /// Samples the buffer keeps.
    pub sample_capacity: usize,
}

/// Power, temperature and energy at a time, with the target they move towards.
#[derive(Debug, Clone, PartialEq)]
pub struct Dynamics {
    /// Time of the state, µs since the epoch.
    pub t_us: u64,
    /// Power now, W.
    pub power_w: f64,
    /// GPU temperature now, °C.
    pub temp_c: f64,
    /// Energy since this state was created, J (exact integral of the power).
    pub energy_j: f64,
    /// Power target until the next event, W.
    pub target_w: f64,
    samples: VecDeque<PowerSample>,
}

impl Dynamics {
    /// A GPU at rest at `power_w` (its steady temperature) at time `t_us`.
    pub fn at_rest(t_us: u64, power_w: f64, response: &Response) -> Self {
        Self {
            t_us,
            power_w,
            temp_c: response.ambient_c + response.thermal_r_c_per_w * power_w,
            energy_j: 0.0,
            target_w: power_w,
            samples: VecDeque::with_capacity(response.sample_capacity),
        }
    }

    /// Advance to `now_us` (no-op if not later), filling the sample buffer at every multiple of the
    /// sample period in `(t, now]` (only the last `capacity` of them after a long jump).
    pub fn advance(&mut self, now_us: u64, r: &Response) {
        if now_us <= self.t_us {
            return;
        }
        let (p0, t0_us) = (self.power_w, self.t_us);
        let period = r.sample_period_us.max(1);
        let last = now_us / period;
        let mut first = t0_us / period + 1;
        let cap = u64::try_from(r.sample_capacity).unwrap_or(u64::MAX);
        if cap == 0 {
            first = last + 1;
        } else if last >= first && last - first + 1 > cap {
            first = last + 1 - cap;
        }
        for k in first..=last {
            let at = k * period;
            let dt = (at - t0_us) as f64 / 1e6;
            self.samples.push_back(PowerSample {
                timestamp_us: at,
                watts: first_order(p0, self.target_w, r.power_tau_s, dt),
            });
            while self.samples.len() > r.sample_capacity {
                self.samples.pop_front();
            }
        }
        let dt = (now_us - t0_us) as f64 / 1e6;
        self.temp_c = rc_temperature(
            &ThermalStep {
                temp0_c: self.temp_c,
                ambient_c: r.ambient_c,
                r_c_per_w: r.thermal_r_c_per_w,
                tau_th_s: r.thermal_tau_s,
                power0_w: p0,
                target_w: self.target_w,
                tau_p_s: r.power_tau_s,
            },
            dt,
        );
        self.energy_j += first_order_energy_j(p0, self.target_w, r.power_tau_s, dt);
        self.power_w = first_order(p0, self.target_w, r.power_tau_s, dt);
        self.t_us = now_us;
    }

    /// Samples newer than `since_us`, oldest first.
    pub fn samples_since(&self, since_us: u64) -> Vec<PowerSample> {
        self.samples
            .iter()
            .filter(|s| s.timestamp_us > since_us)
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Response = Response {
        power_tau_s: 0.3,
        thermal_r_c_per_w: 0.08,
        thermal_tau_s: 30.0,
        ambient_c: 24.0,
        sample_period_us: 20_000,
        sample_capacity: 100,
    };

    #[test]
    fn converges_with_the_time_constant_whatever_the_step() {
        let mut coarse = Dynamics::at_rest(0, 70.0, &R);
        let mut fine = coarse.clone();
        coarse.target_w = 700.0;
        fine.target_w = 700.0;
        coarse.advance(300_000, &R);
        for k in 1..=300 {
            fine.advance(k * 1_000, &R);
        }
        let expected = 700.0 - 630.0 * (-1.0f64).exp();
        assert!((coarse.power_w - expected).abs() < 1e-9);
        assert!((fine.power_w - expected).abs() < 1e-9);
        assert!((coarse.energy_j - fine.energy_j).abs() < 1e-9);
        assert!((coarse.temp_c - fine.temp_c).abs() < 1e-9);
    }

    #[test]
    fn buffer_keeps_the_last_samples_on_the_period_grid() {
        let mut d = Dynamics::at_rest(5_000, 70.0, &R);
        d.advance(65_000, &R);
        let s = d.samples_since(0);
        assert_eq!(
            s.iter().map(|x| x.timestamp_us).collect::<Vec<_>>(),
            vec![20_000, 40_000, 60_000]
        );
        d.advance(100_000_000, &R);
        let s = d.samples_since(0);
        assert_eq!(s.len(), 100);
        assert_eq!(s.last().map(|x| x.timestamp_us), Some(100_000_000));
        assert_eq!(s.first().map(|x| x.timestamp_us), Some(98_020_000));
        assert_eq!(d.samples_since(99_960_000).len(), 2);
    }

    #[test]
    fn going_back_in_time_changes_nothing() {
        let mut d = Dynamics::at_rest(1_000_000, 70.0, &R);
        d.target_w = 500.0;
        d.advance(999_000, &R);
        assert_eq!(d.power_w, 70.0);
        assert_eq!(d.energy_j, 0.0);
    }
}
