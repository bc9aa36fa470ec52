//! The simulated GPUs' physics seen through the backend trait, with a manual clock: power response,
//! energy counter against the sample buffer, thermal model, MIG power, time-slicing, power cap,
//! utilisation and clocks, platform sensors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use wattsweep_agent::gpu::GpuBackend;
use wattsweep_agent::gpu::sim::{
    Clock, ManualClock, SimConfig, SimulatedGpus, THROTTLE_GPU_IDLE, THROTTLE_SW_POWER_CAP,
    sim_model,
};

const MS: u64 = 1_000;

fn sim(model: &str, n: u32) -> (Arc<ManualClock>, SimulatedGpus) {
    let clock = Arc::new(ManualClock::default());
    let gpus = SimulatedGpus::new(SimConfig::new("node-a", model, n), clock.clone()).unwrap();
    (clock, gpus)
}

fn sim_no_mig(model: &str, n: u32) -> (Arc<ManualClock>, SimulatedGpus) {
    let (clock, gpus) = sim(model, n);
    for i in 0..n {
        gpus.set_mig_enabled(i, false).unwrap();
    }
    (clock, gpus)
}

#[test]
fn power_converges_to_the_target_with_the_time_constant() {
    let (clock, gpus) = sim_no_mig("h100-80gb", 1);
    let m = sim_model("h100-80gb").unwrap();
    let (idle, tdp, tau_us) = (m.gpu.idle_w, m.gpu.tdp_w, m.params.power_tau_s * 1e6);
    assert_eq!(gpus.instant_power_w(0).unwrap(), idle);
    gpus.set_load(0, None, "burn", 0.5).unwrap();
    let target = idle + 0.5 * (tdp - idle);
    clock.advance_us(tau_us as u64);
    let p = gpus.instant_power_w(0).unwrap();
    let reached = (p - idle) / (target - idle);
    assert!(
        (reached - (1.0 - (-1.0f64).exp())).abs() < 1e-6,
        "after one tau: {reached}"
    );
    clock.advance_us(4 * tau_us as u64);
    let p = gpus.instant_power_w(0).unwrap();
    assert!(
        (target - p) / (target - idle) < 0.0068,
        "after five tau: {p}"
    );
    clock.advance_us(10_000_000);
    assert!((gpus.instant_power_w(0).unwrap() - target).abs() < 1e-6);
    gpus.clear_load(0, None, "burn").unwrap();
    clock.advance_us(10_000_000);
    assert!((gpus.instant_power_w(0).unwrap() - idle).abs() < 1e-6);
}

#[test]
fn energy_counter_equals_the_trapezoidal_integral_of_the_samples() {
    let (clock, gpus) = sim_no_mig("a100-80gb", 1);
    let start_mj = gpus.energy_mj(0).unwrap();
    let start_us = clock.now_us();
    let mut samples = Vec::new();
    // Load changes at times off the 20 ms grid, reads every 2 s (the buffer holds 10 s).
    let steps: &[(u64, Option<f64>)] = &[
        (1_013 * MS, Some(1.0)),
        (2_007 * MS, Some(0.3)),
        (1_501 * MS, None),
        (777 * MS, Some(0.8)),
        (2_000 * MS, Some(0.0)),
        (1_702 * MS, None),
    ];
    let mut since = start_us - 1;
    for (dt, load) in steps {
        let mut left = *dt;
        while left > 0 {
            let step = left.min(2_000 * MS);
            clock.advance_us(step);
            left -= step;
            let new = gpus.power_samples(0, since).unwrap();
            if let Some(last) = new.last() {
                since = last.timestamp_us;
            }
            samples.extend(new);
        }
        match load {
            Some(l) => gpus.set_load(0, None, "w", *l).unwrap(),
            None => {
                gpus.clear_load(0, None, "w").unwrap();
            }
        }
    }
    // End on the grid so the samples span exactly the counted interval.
    let end_us = (clock.now_us() / (20 * MS) + 1) * 20 * MS;
    clock.set_us(end_us);
    samples.extend(gpus.power_samples(0, since).unwrap());
    let energy_j = (gpus.energy_mj(0).unwrap() - start_mj) as f64 / 1000.0;

    assert_eq!(samples.first().unwrap().timestamp_us, start_us + 20 * MS);
    assert_eq!(samples.last().unwrap().timestamp_us, end_us);
    for w in samples.windows(2) {
        assert_eq!(
            w[1].timestamp_us - w[0].timestamp_us,
            20 * MS,
            "gap in the buffer"
        );
    }
    // The interval starts at rest at idle: prepend that point.
    let idle = sim_model("a100-80gb").unwrap().gpu.idle_w;
    let mut trapezoid = 0.02 * (idle + samples[0].watts) / 2.0;
    for w in samples.windows(2) {
        trapezoid +=
            (w[1].timestamp_us - w[0].timestamp_us) as f64 / 1e6 * (w[0].watts + w[1].watts) / 2.0;
    }
    let rel = (energy_j - trapezoid).abs() / energy_j;
    assert!(
        rel < 0.001,
        "counter {energy_j} J, samples {trapezoid} J, {rel}"
    );
    assert!(
        energy_j > 1000.0,
        "the profile should have used real energy: {energy_j}"
    );
}

#[test]
fn temperature_rises_monotonically_and_stays_bounded() {
    let (clock, gpus) = sim_no_mig("h100-80gb", 1);
    let m = sim_model("h100-80gb").unwrap();
    let inlet = gpus.wiring().inlet_c;
    let t_idle = gpus.status(0).unwrap().temperature_c.unwrap();
    assert!((t_idle - (inlet + m.params.thermal_r_c_per_w * m.gpu.idle_w)).abs() < 1e-9);
    gpus.set_load(0, None, "burn", 1.0).unwrap();
    let ceiling = inlet + m.params.thermal_r_c_per_w * m.gpu.tdp_w;
    let mut last = t_idle;
    for _ in 0..600 {
        clock.advance_us(500 * MS);
        let t = gpus.status(0).unwrap().temperature_c.unwrap();
        assert!(
            t >= last - 1e-12,
            "temperature fell under load: {last} -> {t}"
        );
        assert!(
            t <= ceiling + 1e-9,
            "temperature {t} above steady {ceiling}"
        );
        last = t;
    }
    assert!(ceiling - last < 0.01, "not converged: {last} vs {ceiling}");
    let thermal_tau = m.params.thermal_tau_s;
    gpus.clear_load(0, None, "burn").unwrap();
    clock.advance_us((thermal_tau * 1e6) as u64);
    let t = gpus.status(0).unwrap().temperature_c.unwrap();
    // After one thermal time constant about 63 % of the way back (the power lag adds a little).
    let back = (ceiling - t) / (ceiling - t_idle);
    assert!((back - 0.632).abs() < 0.01, "{back}");
    let mem = gpus.status(0).unwrap().memory_temperature_c.unwrap();
    assert!((mem - t - m.params.memory_temp_offset_c).abs() < 1e-9);
}

#[test]
fn mig_power_grows_with_active_compute_slices() {
    let (clock, gpus) = sim("h100-80gb", 1);
    let m = sim_model("h100-80gb").unwrap();
    let mut devices = Vec::new();
    for start in 0..7u8 {
        let gi = gpus.create_gpu_instance(0, 19, start).unwrap();
        let ci = gpus.create_compute_instance(0, gi, 0, 0).unwrap();
        devices.push((gi, ci));
    }
    clock.advance_us(10_000_000);
    let mut last = gpus.instant_power_w(0).unwrap();
    assert!(
        (last - m.gpu.idle_w).abs() < 1e-6,
        "idle MIG GPU at {last} W"
    );
    for (k, dev) in devices.iter().enumerate() {
        gpus.set_load(0, Some(*dev), "burn", 1.0).unwrap();
        clock.advance_us(10_000_000);
        let p = gpus.instant_power_w(0).unwrap();
        let expected =
            m.gpu.idle_w + m.params.mig_static_w + (k + 1) as f64 * m.params.mig_per_slice_w;
        assert!(
            (p - expected).abs() < 1e-6,
            "{} slices: {p} W, expected {expected}",
            k + 1
        );
        assert!(p > last);
        last = p;
        let util = gpus.status(0).unwrap().sm_util_pct.unwrap();
        assert!((util - 100.0 * (k + 1) as f64 / 7.0).abs() < 1e-9);
    }
    assert!(last <= m.gpu.tdp_w);
}

#[test]
fn time_slicing_splits_throughput_with_a_context_switch_penalty() {
    let (_clock, gpus) = sim_no_mig("a100-40gb", 1);
    let penalty = sim_model("a100-40gb").unwrap().params.ctx_switch_penalty;
    gpus.set_load(0, None, "a", 1.0).unwrap();
    assert_eq!(gpus.throughput_fraction(0, None, "a").unwrap(), Some(1.0));
    assert_eq!(gpus.throughput_fraction(0, None, "zz").unwrap(), None);
    for (n, name) in ["b", "c", "d"].iter().enumerate() {
        gpus.set_load(0, None, name, 1.0).unwrap();
        let clients = n + 2;
        let each = gpus.throughput_fraction(0, None, "a").unwrap().unwrap();
        let total = each * clients as f64;
        let expected = 1.0 - penalty * (clients as f64 - 1.0) / clients as f64;
        assert!(
            (total - expected).abs() < 1e-12,
            "{clients} clients: {total}"
        );
        assert!(total < 1.0);
    }
}

#[test]
fn mig_device_throughput_is_its_share_of_slices() {
    let (_clock, gpus) = sim("a100-40gb", 1);
    let gi = gpus.create_gpu_instance(0, 9, 4).unwrap();
    let ci = gpus.create_compute_instance(0, gi, 2, 0).unwrap();
    gpus.set_load(0, Some((gi, ci)), "a", 1.0).unwrap();
    let f = gpus
        .throughput_fraction(0, Some((gi, ci)), "a")
        .unwrap()
        .unwrap();
    assert!((f - 3.0 / 7.0).abs() < 1e-12);
    assert!(gpus.set_load(0, None, "whole", 1.0).is_err());
    assert!(gpus.set_load(0, Some((gi, 9)), "x", 1.0).is_err());
    assert!(gpus.set_load(0, Some((gi, ci)), "x", 1.5).is_err());
}

#[test]
fn power_cap_holds_the_target_and_lowers_clocks() {
    let (clock, gpus) = sim_no_mig("h100-80gb", 1);
    let m = sim_model("h100-80gb").unwrap();
    let s = gpus.status(0).unwrap();
    assert_eq!(s.throttle_reasons, Some(THROTTLE_GPU_IDLE));
    assert_eq!(s.sm_clock_mhz, Some(m.params.idle_sm_clock_mhz));
    assert_eq!(s.sm_util_pct, Some(0.0));
    gpus.set_load(0, None, "burn", 1.0).unwrap();
    clock.advance_us(10_000_000);
    let s = gpus.status(0).unwrap();
    assert_eq!(s.throttle_reasons, Some(0));
    assert_eq!(s.sm_clock_mhz, Some(m.params.max_sm_clock_mhz));
    assert_eq!(s.sm_util_pct, Some(100.0));
    assert!(s.memory_used_mib.unwrap() > 0);
    gpus.set_power_limit(0, 385.0).unwrap();
    clock.advance_us(10_000_000);
    assert!((gpus.instant_power_w(0).unwrap() - 385.0).abs() < 1e-6);
    let s = gpus.status(0).unwrap();
    assert_eq!(s.throttle_reasons, Some(THROTTLE_SW_POWER_CAP));
    let half =
        m.params.idle_sm_clock_mhz + (m.params.max_sm_clock_mhz - m.params.idle_sm_clock_mhz) / 2;
    assert_eq!(s.sm_clock_mhz, Some(half));
    let f = gpus.throughput_fraction(0, None, "burn").unwrap().unwrap();
    assert!((f - 0.5).abs() < 1e-12);
    let truth = gpus.truth(0).unwrap();
    assert_eq!(truth.uncapped_target_w, m.gpu.tdp_w);
    assert_eq!(truth.target_w, 385.0);
    assert_eq!(truth.load, 1.0);
    assert_eq!(truth.model, m);
    assert_eq!(gpus.inventory().unwrap()[0].power_limit_w, 385.0);
    let err = gpus.set_power_limit(0, 900.0).unwrap_err().to_string();
    assert!(err.contains("900") && err.contains("700"), "{err}");
}

#[test]
fn platform_sensors_follow_the_published_wiring() {
    let (clock, gpus) = sim_no_mig("h100-80gb", 4);
    gpus.set_load(2, None, "burn", 1.0).unwrap();
    clock.advance_us(20_000_000);
    let powers: Vec<f64> = (0..4).map(|i| gpus.instant_power_w(i).unwrap()).collect();
    let r = gpus.platform_reading();
    let w = gpus.wiring();
    let m = w.mixing(4);
    for (i, exhaust) in r.exhaust_c.iter().enumerate() {
        let mixed: f64 = (0..4).map(|j| m[i][j] * powers[j]).sum();
        assert!((exhaust - (w.inlet_c + w.exhaust_c_per_w * mixed)).abs() < 1e-9);
    }
    // The loaded GPU's own sensor is hottest, its neighbours next, the far one coolest.
    assert!(r.exhaust_c[2] > r.exhaust_c[1] && r.exhaust_c[2] > r.exhaust_c[3]);
    assert!(r.exhaust_c[1] > r.exhaust_c[0]);
    let psu = (powers.iter().sum::<f64>() + w.base_w) / w.psu_efficiency;
    assert!((r.psu_input_w - psu).abs() < 1e-9);
    assert_eq!(r.inlet_c, w.inlet_c);
}

#[test]
fn inventory_marks_simulated_gpus() {
    let (_clock, gpus) = sim("h200-141gb", 2);
    let inv = gpus.inventory().unwrap();
    assert_eq!(inv.len(), 2);
    for (i, g) in inv.iter().enumerate() {
        assert!(g.simulated);
        assert!(g.mig_capable && g.mig_enabled);
        assert_eq!(g.index, i as u32);
        assert_eq!(g.model_id.as_deref(), Some("h200-141gb"));
        assert_eq!(g.name, "NVIDIA H200");
        let table = g.profile_table.as_ref().unwrap();
        assert_eq!(
            Some(table),
            wattsweep_shared::mig::builtin_table("h200-141gb").as_ref()
        );
        assert_eq!(table.source, wattsweep_shared::mig::TableSource::BuiltIn);
        assert_eq!(
            g.current_layout.as_ref().map(|l| l.instances.len()),
            Some(0)
        );
    }
    assert_ne!(inv[0].uuid, inv[1].uuid);
    let (_c2, again) = sim("h200-141gb", 2);
    assert_eq!(again.inventory().unwrap()[1].uuid, inv[1].uuid);
    assert!(matches!(
        gpus.kind(),
        wattsweep_agent::gpu::BackendKind::Simulated
    ));
    assert!(
        gpus.driver_info()
            .unwrap()
            .driver_version
            .starts_with("sim-")
    );
    assert!(matches!(
        gpus.status(5),
        Err(wattsweep_agent::gpu::GpuError::NoSuchGpu(5))
    ));
    let err = SimulatedGpus::new(
        SimConfig::new("n", "rtx-4090", 1),
        Arc::new(ManualClock::default()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("rtx-4090") && err.contains("h100-80gb"),
        "{err}"
    );
}
