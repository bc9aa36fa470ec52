//! Platform power source choice, summed sensors, and per-sensor temperatures.

use super::*;
use crate::summary::platform::{is_psu_input, is_system_power, words};

fn power_reading(key: &str, s: f64, watts: f64) -> PlatformReading {
    PlatformReading {
        key: key.to_string(),
        kind: PlatformSensorKind::Power,
        value: watts,
        unix_ns: ns(s),
    }
}

fn temp_reading(key: &str, s: f64, c: f64) -> PlatformReading {
    PlatformReading {
        key: key.to_string(),
        kind: PlatformSensorKind::Temperature,
        value: c,
        unix_ns: ns(s),
    }
}

/// A sensor read every second over 0–20 s with `f(t)` watts.
fn sensor(key: &str, f: impl Fn(f64) -> f64) -> Vec<PlatformReading> {
    sampled(0.0, 20.0, 1.0, f)
        .into_iter()
        .map(|(t, w)| power_reading(key, t, w))
        .collect()
}

fn dcmi(f: impl Fn(f64) -> f64) -> Vec<DcmiSample> {
    sampled(0.0, 20.0, 1.0, f)
        .into_iter()
        .map(|(t, watts)| DcmiSample {
            unix_ns: ns(t),
            watts,
        })
        .collect()
}

/// Platform summary and diagnostics over a 5–15 s window.
fn platform(p: PlatformInputs) -> (crate::wire::PlatformSummary, PlatformDiagnostics) {
    let mut i = inputs(5.0, 15.0, vec![]);
    i.platform = Some(p);
    let r = report(&i);
    match (r.summary.platform, r.platform) {
        (Some(s), Some(d)) => (s, d),
        other => panic!("no platform figures: {other:?}"),
    }
}

#[test]
fn sensor_words_split_on_punctuation_and_digits() {
    assert_eq!(words("PS1 Input Power"), ["ps", "1", "input", "power"]);
    assert_eq!(words("PSU0_PIN"), ["psu", "0", "pin"]);
    assert_eq!(
        words("ps2_in_power@10.2#20"),
        ["ps", "2", "in", "power", "10", "2", "20"]
    );
}

#[test]
fn psu_input_and_system_sensors_are_recognised_by_name() {
    for key in [
        "PS1 Input Power",
        "PSU0_PIN",
        "ps2_in_power@10.2#20:0:0:5f",
        "Power Supply 1 In",
    ] {
        assert!(is_psu_input(key), "{key} is a PSU input");
    }
    for key in [
        "PSU1 POUT",
        "PS1 Output Power",
        "CPU Power",
        "Pwr Consumption",
        "PIN_Total",
    ] {
        assert!(!is_psu_input(key), "{key} is not a PSU input");
    }
    for key in ["Pwr Consumption", "Total_Power", "Sys Power", "Power Meter"] {
        assert!(is_system_power(key), "{key} is whole-system power");
    }
    for key in [
        "Total CPU Power",
        "GPU Total Power",
        "Mem Power",
        "PS1 Input Power",
    ] {
        assert!(!is_system_power(key), "{key} is not whole-system power");
    }
}

#[test]
fn dcmi_comes_first() {
    let (s, d) = platform(PlatformInputs {
        readings: sensor("PS1 Input Power", |_| 900.0),
        dcmi: dcmi(|t| 1_000.0 + 10.0 * t),
        power_sensor_keys: vec![],
    });
    assert_eq!(s.power_source, "dcmi");
    assert_eq!(d.source, PowerSource::Dcmi);
    close(s.power_mean_w, 1_100.0, 1e-12);
    close(s.power_peak_w, 1_150.0, 1e-12);
    assert_eq!(s.samples, 10);
}

#[test]
fn dcmi_reading_only_zero_falls_back_to_psu_inputs_summed() {
    let mut readings = sensor("PS1 Input Power", |t| if t < 10.0 { 400.0 } else { 600.0 });
    readings.extend(sensor("PS2 Input Power", |t| {
        if t < 12.0 { 500.0 } else { 300.0 }
    }));
    readings.extend(sensor("PS1 Output Power", |_| 5_000.0));
    readings.extend(sensor("Pwr Consumption", |_| 7_000.0));
    let (s, d) = platform(PlatformInputs {
        readings,
        dcmi: dcmi(|_| 0.0),
        power_sensor_keys: vec![],
    });
    assert_eq!(s.power_source, "psu:PS1 Input Power+PS2 Input Power");
    assert_eq!(
        d.source,
        PowerSource::Sensors(vec!["PS1 Input Power".into(), "PS2 Input Power".into()])
    );
    // PS1: 5–9 s 400 W, ramp 9–10 s, 10–15 s 600 W: 1,600 + 500 + 3,000 = 5,100 J.
    // PS2: 5–11 s 500 W, ramp 11–12 s, 12–15 s 300 W: 3,000 + 400 + 900 = 4,300 J.
    close(s.power_mean_w, (5_100.0 + 4_300.0) / 10.0, 1e-12);
    // The sum peaks at 10–11 s: 600 + 500 W.
    close(s.power_peak_w, 1_100.0, 1e-12);
    assert_eq!(s.samples, 10);
}

#[test]
fn configured_sensors_take_precedence_over_the_naming_rule() {
    let mut readings = sensor("PS1 Input Power", |_| 400.0);
    readings.extend(sensor("Node Power A", |_| 700.0));
    readings.extend(sensor("Node Power B", |_| 50.0));
    let (s, _) = platform(PlatformInputs {
        readings,
        dcmi: vec![],
        power_sensor_keys: vec![
            "Node Power B".into(),
            "Node Power A".into(),
            "absent".into(),
        ],
    });
    assert_eq!(s.power_source, "psu:Node Power A+Node Power B");
    close(s.power_mean_w, 750.0, 1e-12);
}

#[test]
fn a_whole_system_sensor_is_the_last_resort() {
    let mut readings = sensor("Total_Power", |_| 1_500.0);
    readings.extend(sensor("CPU Power", |_| 300.0));
    readings.extend(sensor("Sys Power", |_| 1_450.0));
    let (s, d) = platform(PlatformInputs {
        readings,
        ..PlatformInputs::default()
    });
    // Both "Sys Power" and "Total_Power" qualify: the smallest key wins.
    assert_eq!(s.power_source, "sensor:Sys Power");
    assert_eq!(d.source, PowerSource::SystemSensor("Sys Power".into()));
    close(s.power_mean_w, 1_450.0, 1e-12);
}

#[test]
fn without_a_power_source_temperatures_are_still_reported() {
    let readings = vec![
        temp_reading("inlet@55.1", 4.0, 35.0), // before the window
        temp_reading("inlet@55.1", 6.0, 24.5),
        temp_reading("inlet@55.1", 14.0, 25.5),
        temp_reading("exhaust@55.2", 7.0, 41.0),
        temp_reading("exhaust@55.2", 8.0, f64::NAN),
        temp_reading("gpu_temp@11.1", 16.0, 70.0), // after
        power_reading("CPU Power", 8.0, 200.0),
    ];
    let (s, d) = platform(PlatformInputs {
        readings,
        ..PlatformInputs::default()
    });
    assert_eq!(s.power_source, "none");
    assert_eq!((s.power_mean_w, s.power_peak_w, s.samples), (0.0, 0.0, 0));
    let temps: Vec<(&str, f64)> = s
        .max_temps_c
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(temps, [("exhaust@55.2", 41.0), ("inlet@55.1", 25.5)]);
    assert_eq!(d.rejected, 1);
}

#[test]
fn no_platform_inputs_means_no_platform_summary() {
    let r = report(&inputs(5.0, 15.0, vec![]));
    assert_eq!(r.summary.platform, None);
    assert_eq!(r.platform, None);
}
