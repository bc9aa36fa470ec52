//! The pure physics of a simulated GPU: closed-form solutions, so that simulated time can jump by
//! any amount and the energy counter is the exact integral of the power, not a sum of steps.
//!
//! Between two events (a load change, a power-limit change) the power target is constant and the
//! power follows `P(t) = T + (P0 − T)·e^(−t/τ)`; the temperature follows the RC equation
//! `dθ/dt = (θ_in + R·P(t) − θ)/τ_th` driven by that power, which also has a closed form.

/// Power after `dt_s` of a first-order response from `p0` towards `target` with time constant `tau_s`.
pub fn first_order(p0: f64, target: f64, tau_s: f64, dt_s: f64) -> f64 {
    if tau_s <= 0.0 {
        return target;
    }
    target + (p0 - target) * (-dt_s / tau_s).exp()
}

/// Energy (joules) of that response over `dt_s`: `∫ P dt = T·Δ + (P0 − T)·τ·(1 − e^(−Δ/τ))`.
pub fn first_order_energy_j(p0: f64, target: f64, tau_s: f64, dt_s: f64) -> f64 {
    if tau_s <= 0.0 {
        return target * dt_s;
    }
    target * dt_s + (p0 - target) * tau_s * -(-dt_s / tau_s).exp_m1()
}

/// The RC thermal model's inputs over one interval of constant power target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThermalStep {
    /// Temperature at the start, °C.
    pub temp0_c: f64,
    /// Inlet (ambient) temperature, °C.
    pub ambient_c: f64,
    /// Thermal resistance, °C/W.
    pub r_c_per_w: f64,
    /// Thermal time constant, s.
    pub tau_th_s: f64,
    /// Power at the start, W.
    pub power0_w: f64,
    /// Power target, W.
    pub target_w: f64,
    /// Power time constant, s.
    pub tau_p_s: f64,
}

/// Temperature after `dt_s`, exactly, for a power following [`first_order`].
///
/// With `u = θ − θ_in − R·T` and `a = P0 − T`:
/// `u(t) = u0·e^(−t/τ_th) + R·a·τ_p/(τ_p − τ_th)·(e^(−t/τ_p) − e^(−t/τ_th))`
/// (and `R·a·(t/τ_th)·e^(−t/τ_th)` for the last term when the time constants are equal).
pub fn rc_temperature(s: &ThermalStep, dt_s: f64) -> f64 {
    let steady = s.ambient_c + s.r_c_per_w * s.target_w;
    if s.tau_th_s <= 0.0 {
        return s.ambient_c + s.r_c_per_w * first_order(s.power0_w, s.target_w, s.tau_p_s, dt_s);
    }
    let u0 = s.temp0_c - steady;
    let a = s.power0_w - s.target_w;
    let e_th = (-dt_s / s.tau_th_s).exp();
    let forced = if s.tau_p_s <= 0.0 {
        0.0
    } else if (s.tau_p_s - s.tau_th_s).abs() < 1e-9 * s.tau_th_s {
        s.r_c_per_w * a * (dt_s / s.tau_th_s) * e_th
    } else {
        let e_p = (-dt_s / s.tau_p_s).exp();
        s.r_c_per_w * a * s.tau_p_s / (s.tau_p_s - s.tau_th_s) * (e_p - e_th)
    };
    steady + u0 * e_th + forced
}

/// Power target of a whole (non-MIG) GPU: idle plus the dynamic range times the load (0–1).
pub fn full_gpu_target_w(idle_w: f64, tdp_w: f64, load: f64) -> f64 {
    idle_w + (tdp_w - idle_w) * load.clamp(0.0, 1.0)
}

/// Power target of a GPU in MIG mode: idle, plus a static part as soon as any compute instance is
/// active, plus a per-slice part for each active compute instance (`(compute slices, intensity)`).
pub fn mig_target_w(
    idle_w: f64,
    static_w: f64,
    per_slice_w: f64,
    active: impl IntoIterator<Item = (u8, f64)>,
) -> f64 {
    let mut any = false;
    let mut dynamic = 0.0;
    for (slices, intensity) in active {
        let intensity = intensity.clamp(0.0, 1.0);
        if intensity > 0.0 {
            any = true;
            dynamic += per_slice_w * f64::from(slices) * intensity;
        }
    }
    if any {
        idle_w + static_w + dynamic
    } else {
        idle_w
    }
}

/// The load of a device shared by time-slicing: clients take turns, so the device runs at the
/// mean of their intensities (0 with no client).
pub fn time_sliced_load(intensities: &[f64]) -> f64 {
    if intensities.is_empty() {
        return 0.0;
    }
    let sum: f64 = intensities.iter().map(|i| i.clamp(0.0, 1.0)).sum();
    sum / intensities.len() as f64
}

/// Throughput of each of `n` clients time-slicing one device, as a fraction of what one client
/// alone gets: `(1 − p·(n−1)/n)/n`. One client keeps everything; the context-switch loss grows
/// towards `p` as clients are added. Zero clients: 0.
pub fn time_slice_fraction(n: usize, penalty: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    (1.0 - penalty.clamp(0.0, 1.0) * (n - 1.0) / n) / n
}

/// The power limit applied to a target: `(limited target, whether the limit bites)`.
pub fn capped(target_w: f64, limit_w: f64) -> (f64, bool) {
    if target_w > limit_w {
        (limit_w, true)
    } else {
        (target_w, false)
    }
}

/// Share of the requested dynamic power a power cap leaves (1 when not capped): the factor by
/// which clocks and throughput drop under the cap.
pub fn cap_factor(idle_w: f64, uncapped_w: f64, capped_w: f64) -> f64 {
    let wanted = uncapped_w - idle_w;
    if wanted <= 0.0 {
        return 1.0;
    }
    ((capped_w - idle_w) / wanted).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_order_reaches_63_percent_after_one_tau() {
        let p = first_order(100.0, 700.0, 0.3, 0.3);
        let frac = (p - 100.0) / 600.0;
        assert!((frac - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        assert!((first_order(100.0, 700.0, 0.3, 10.0) - 700.0).abs() < 1e-9);
        assert_eq!(first_order(100.0, 700.0, 0.0, 0.001), 700.0);
    }

    #[test]
    fn energy_is_the_integral_of_the_response() {
        // Compare with a fine midpoint integration.
        let (p0, t, tau, dt) = (650.0, 80.0, 0.3, 1.7);
        let n = 200_000;
        let h = dt / n as f64;
        let numeric: f64 = (0..n)
            .map(|k| first_order(p0, t, tau, (k as f64 + 0.5) * h) * h)
            .sum();
        let exact = first_order_energy_j(p0, t, tau, dt);
        assert!((numeric - exact).abs() < 1e-6, "{numeric} vs {exact}");
    }

    #[test]
    fn rc_temperature_matches_a_numeric_integration() {
        for tau_p in [0.3, 30.0] {
            let s = ThermalStep {
                temp0_c: 35.0,
                ambient_c: 24.0,
                r_c_per_w: 0.08,
                tau_th_s: 30.0,
                power0_w: 70.0,
                target_w: 700.0,
                tau_p_s: tau_p,
            };
            let dt = 45.0;
            let n = 450_000;
            let h = dt / n as f64;
            let mut theta = s.temp0_c;
            for k in 0..n {
                let pw = first_order(s.power0_w, s.target_w, tau_p, (k as f64 + 0.5) * h);
                theta += h * (s.ambient_c + s.r_c_per_w * pw - theta) / s.tau_th_s;
            }
            let exact = rc_temperature(&s, dt);
            assert!(
                (theta - exact).abs() < 1e-3,
                "tau_p {tau_p}: {theta} vs {exact}"
            );
        }
    }

    #[test]
    fn mig_power_grows_with_active_slices() {
        let idle = mig_target_w(70.0, 84.0, 76.0, []);
        assert_eq!(idle, 70.0);
        assert_eq!(mig_target_w(70.0, 84.0, 76.0, [(3, 0.0)]), 70.0);
        let one = mig_target_w(70.0, 84.0, 76.0, [(1, 1.0)]);
        let three = mig_target_w(70.0, 84.0, 76.0, [(1, 1.0), (2, 1.0)]);
        let seven = mig_target_w(70.0, 84.0, 76.0, [(4, 1.0), (3, 1.0)]);
        assert_eq!(one, 70.0 + 84.0 + 76.0);
        assert_eq!(three, 70.0 + 84.0 + 3.0 * 76.0);
        assert_eq!(seven, 70.0 + 84.0 + 7.0 * 76.0);
        assert_eq!(
            mig_target_w(70.0, 84.0, 76.0, [(2, 0.5)]),
            70.0 + 84.0 + 76.0
        );
    }

    #[test]
    fn time_slicing_shares_throughput_with_a_penalty() {
        assert_eq!(time_slice_fraction(0, 0.08), 0.0);
        assert_eq!(time_slice_fraction(1, 0.08), 1.0);
        let two = time_slice_fraction(2, 0.08);
        assert!((two - 0.48).abs() < 1e-12);
        let mut previous_total = 1.0;
        for n in 2..16 {
            let total = n as f64 * time_slice_fraction(n, 0.08);
            assert!(
                total < previous_total && total > 0.92 - 1e-12,
                "n {n}: {total}"
            );
            previous_total = total;
        }
        assert_eq!(time_sliced_load(&[]), 0.0);
        assert_eq!(time_sliced_load(&[1.0, 0.5]), 0.75);
    }

    #[test]
    fn caps_and_cap_factor() {
        assert_eq!(capped(650.0, 400.0), (400.0, true));
        assert_eq!(capped(350.0, 400.0), (350.0, false));
        assert!((cap_factor(70.0, 700.0, 385.0) - 0.5).abs() < 1e-12);
        assert_eq!(cap_factor(70.0, 70.0, 70.0), 1.0);
        assert_eq!(full_gpu_target_w(70.0, 700.0, 0.5), 385.0);
        assert_eq!(full_gpu_target_w(70.0, 700.0, 3.0), 700.0);
    }
}
