//! Simulated IPMI-like platform sensors: inlet temperature, one exhaust temperature per GPU that
//! also sees its neighbours' heat, and PSU input power. The wiring is public so that sensor → GPU
//! analyses (which exhaust sensor belongs to which GPU, the platform's base power, the PSU
//! efficiency) can be checked against the truth.

use serde::{Deserialize, Serialize};

/// How the platform's sensors depend on the GPUs' power.
///
/// * inlet: constant `inlet_c` (also the GPUs' ambient in the thermal model);
/// * exhaust of GPU `i`: `inlet_c + exhaust_c_per_w · Σ_j M[i][j]·P_j` where `M` is
///   [`PlatformWiring::mixing`]: 1 on the diagonal, `neighbour_mix` for the GPUs at index `i ± 1`;
/// * PSU input: `(Σ_j P_j + base_w) / psu_efficiency`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlatformWiring {
    /// Inlet air temperature, °C.
    pub inlet_c: f64,
    /// Exhaust temperature rise per watt of (mixed) GPU power, °C/W.
    pub exhaust_c_per_w: f64,
    /// Share of a neighbouring GPU's heat that reaches an exhaust sensor.
    pub neighbour_mix: f64,
    /// Power of everything but the GPUs (CPUs, fans, memory), W.
    pub base_w: f64,
    /// PSU efficiency, 0–1.
    pub psu_efficiency: f64,
}

impl Default for PlatformWiring {
    fn default() -> Self {
        Self {
            inlet_c: 24.0,
            exhaust_c_per_w: 0.04,
            neighbour_mix: 0.25,
            base_w: 450.0,
            psu_efficiency: 0.94,
        }
    }
}

/// One reading of the platform sensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformReading {
    /// When, µs since the epoch.
    pub timestamp_us: u64,
    /// Inlet temperature, °C.
    pub inlet_c: f64,
    /// Exhaust temperature behind each GPU, in GPU index order, °C.
    pub exhaust_c: Vec<f64>,
    /// PSU input power, W.
    pub psu_input_w: f64,
}

impl PlatformWiring {
    /// The `n × n` mixing matrix `M` of the exhaust sensors.
    pub fn mixing(&self, n: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        if i == j {
                            1.0
                        } else if i.abs_diff(j) == 1 {
                            self.neighbour_mix
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Exhaust temperatures for the GPUs' powers (index order).
    pub fn exhaust_c(&self, powers_w: &[f64]) -> Vec<f64> {
        self.mixing(powers_w.len())
            .iter()
            .map(|row| {
                let mixed: f64 = row.iter().zip(powers_w).map(|(m, p)| m * p).sum();
                self.inlet_c + self.exhaust_c_per_w * mixed
            })
            .collect()
    }

    /// PSU input power for the GPUs' powers.
    pub fn psu_input_w(&self, powers_w: &[f64]) -> f64 {
        (powers_w.iter().sum::<f64>() + self.base_w) / self.psu_efficiency
    }

    /// A reading at `timestamp_us` for the GPUs' powers.
    pub fn reading(&self, timestamp_us: u64, powers_w: &[f64]) -> PlatformReading {
        PlatformReading {
            timestamp_us,
            inlet_c: self.inlet_c,
            exhaust_c: self.exhaust_c(powers_w),
            psu_input_w: self.psu_input_w(powers_w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_is_tridiagonal() {
        let w = PlatformWiring::default();
        let m = w.mixing(3);
        assert_eq!(
            m,
            vec![
                vec![1.0, 0.25, 0.0],
                vec![0.25, 1.0, 0.25],
                vec![0.0, 0.25, 1.0]
            ]
        );
        assert!(w.mixing(0).is_empty());
    }

    #[test]
    fn exhaust_follows_own_power_and_neighbours() {
        let w = PlatformWiring::default();
        let e = w.exhaust_c(&[100.0, 0.0, 0.0, 0.0]);
        assert!((e[0] - (24.0 + 4.0)).abs() < 1e-12);
        assert!((e[1] - (24.0 + 1.0)).abs() < 1e-12);
        assert_eq!(e[2], 24.0);
        assert_eq!(e[3], 24.0);
    }

    #[test]
    fn psu_power_includes_base_and_efficiency() {
        let w = PlatformWiring::default();
        let p = w.psu_input_w(&[70.0, 700.0]);
        assert!((p - (770.0 + 450.0) / 0.94).abs() < 1e-9);
        let r = w.reading(7, &[70.0]);
        assert_eq!(r.timestamp_us, 7);
        assert_eq!(r.exhaust_c.len(), 1);
    }
}
