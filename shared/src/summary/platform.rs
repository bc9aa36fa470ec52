//! Platform (IPMI) figures over the measured window: power and the highest temperature per sensor.
//!
//! Platform power comes from the first source in this order that has a reading inside the window:
//!
//! 1. the DCMI power reading (whole-system input power, what the BMC itself reports), unless every
//!    DCMI reading in the window is 0 W (BMCs with DCMI deactivated answer 0);
//! 2. the power sensors configured for the node (`power_sensor_keys`), summed;
//! 3. the PSU input sensors found by name, summed: power sensors whose key has a supply word (`ps`,
//!    `psu`, `pws`, `supply`) and an input word (`in`, `input`, `pin`) and no output word (`out`,
//!    `output`, `pout`); words are the key's runs of letters or digits, lower-cased, so
//!    `PS1 Input Power`, `PSU0_PIN` and `ps2_in_power@10.2` match and `PSU1 POUT` does not;
//! 4. one whole-system power sensor found by name: a power sensor with a word `total`, `consumption`,
//!    `system`, `sys`, `platform`, `chassis` or `meter` and no component word (`cpu`, `gpu`, `mem`,
//!    `memory`, `dimm`, `fan`, `disk`, `hdd`, `ssd`, `nic`, `pcie`, `vr`, `soc`); with several, the
//!    smallest key;
//! 5. none: power figures 0, `power_source = "none"`, temperatures still reported.
//!
//! Every series is the same piecewise-linear signal as GPU power (see `signal`). The mean of summed
//! sensors is the sum of their means (exact, the integral being linear); the peak is the highest sum
//! at any sensor's reading time inside the window or at its edges, which is the exact maximum of the
//! summed signal. `samples` counts readings of the source inside the window (distinct reading times
//! for summed sensors). Temperatures are the highest finite reading of each temperature sensor inside
//! the window, keyed by the sensor's key (unique, where names such as `GPU Temp` repeat).

use std::collections::{BTreeMap, BTreeSet};

use crate::wire::PlatformSummary;

use super::inputs::{PlatformInputs, PlatformReading, PlatformSensorKind};
use super::report::{PlatformDiagnostics, PowerSource};
use super::signal::{Ns, Polyline, Series, clean};
use super::window::Window;

const SUPPLY: &[&str] = &["ps", "psu", "pws", "supply"];
const INPUT: &[&str] = &["in", "input", "pin"];
const OUTPUT: &[&str] = &["out", "output", "pout"];
const SYSTEM: &[&str] = &[
    "total",
    "consumption",
    "system",
    "sys",
    "platform",
    "chassis",
    "meter",
];
const COMPONENT: &[&str] = &[
    "cpu", "gpu", "mem", "memory", "dimm", "fan", "disk", "hdd", "ssd", "nic", "pcie", "vr", "soc",
];

/// The words of a sensor key: runs of letters or of digits, lower-cased.
pub(crate) fn words(key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut digits = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() && c.is_ascii_digit() != digits {
            out.push(std::mem::take(&mut current));
        }
        digits = c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn has_any(words: &[String], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(&w.as_str()))
}

/// Whether the key names a PSU input power sensor (rule 3).
pub(crate) fn is_psu_input(key: &str) -> bool {
    let w = words(key);
    has_any(&w, SUPPLY) && has_any(&w, INPUT) && !has_any(&w, OUTPUT)
}

/// Whether the key names a whole-system power sensor (rule 4).
pub(crate) fn is_system_power(key: &str) -> bool {
    let w = words(key);
    has_any(&w, SYSTEM) && !has_any(&w, COMPONENT)
}

/// Platform figures over `window`.
pub(crate) fn summarize_platform(
    inputs: &PlatformInputs,
    window: Window,
) -> (PlatformSummary, PlatformDiagnostics) {
    let (start, end) = (window.start, window.end);
    let mut rejected = 0;

    let (dcmi, h) = clean(inputs.dcmi.iter().map(|d| (Ns::from(d.unix_ns), d.watts)));
    rejected += h.non_finite + h.negative;

    let mut power: BTreeMap<&str, Vec<&PlatformReading>> = BTreeMap::new();
    let mut max_temps_c: BTreeMap<String, f64> = BTreeMap::new();
    for r in &inputs.readings {
        match r.kind {
            PlatformSensorKind::Power => power.entry(r.key.as_str()).or_default().push(r),
            PlatformSensorKind::Temperature if !r.value.is_finite() => rejected += 1,
            PlatformSensorKind::Temperature => {
                if (start..=end).contains(&Ns::from(r.unix_ns)) {
                    let max = max_temps_c.entry(r.key.clone()).or_insert(r.value);
                    *max = max.max(r.value);
                }
            }
            PlatformSensorKind::Other => {}
        }
    }
    let mut sensors: BTreeMap<&str, Series> = BTreeMap::new();
    for (key, readings) in power {
        let (series, h) = clean(readings.iter().map(|r| (Ns::from(r.unix_ns), r.value)));
        rejected += h.non_finite + h.negative;
        if series.count_in(start, end) > 0 {
            sensors.insert(key, series);
        }
    }

    let dcmi_usable = dcmi
        .points()
        .iter()
        .any(|p| (start..end).contains(&p.0) && p.1 > 0.0);
    let configured: Vec<&str> = inputs
        .power_sensor_keys
        .iter()
        .map(String::as_str)
        .filter(|k| sensors.contains_key(k))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let psu: Vec<&str> = sensors
        .keys()
        .copied()
        .filter(|k| is_psu_input(k))
        .collect();
    let system = sensors.keys().copied().find(|k| is_system_power(k));

    let (source, chosen): (PowerSource, Vec<&Series>) = if dcmi_usable {
        (PowerSource::Dcmi, vec![&dcmi])
    } else if !configured.is_empty() || !psu.is_empty() {
        let keys = if configured.is_empty() {
            psu
        } else {
            configured
        };
        let chosen = keys.iter().filter_map(|k| sensors.get(k)).collect();
        let keys = keys.into_iter().map(str::to_string).collect();
        (PowerSource::Sensors(keys), chosen)
    } else if let Some(key) = system {
        let chosen = sensors.get(key).into_iter().collect();
        (PowerSource::SystemSensor(key.to_string()), chosen)
    } else {
        (PowerSource::None, Vec::new())
    };

    let (power_mean_w, power_peak_w, samples) = summed_power(&chosen, window);
    let summary = PlatformSummary {
        power_mean_w,
        power_peak_w,
        power_source: source.label(),
        samples,
        max_temps_c,
    };
    (summary, PlatformDiagnostics { source, rejected })
}

/// Mean, peak and reading count of the sum of `series` over `window`; zeros without any.
fn summed_power(series: &[&Series], window: Window) -> (f64, f64, u64) {
    let clipped: Vec<Polyline> = series
        .iter()
        .filter_map(|s| s.clip(window.start, window.end))
        .collect();
    if clipped.is_empty() {
        return (0.0, 0.0, 0);
    }
    let mean: f64 = clipped.iter().map(Polyline::mean).sum();
    let times: BTreeSet<Ns> = clipped
        .iter()
        .flat_map(|p| p.vertices().iter().map(|v| v.0))
        .collect();
    let peak = times
        .iter()
        .map(|&t| series.iter().filter_map(|s| s.value_at(t)).sum::<f64>())
        .fold(0.0, f64::max);
    let readings: BTreeSet<Ns> = series
        .iter()
        .flat_map(|s| s.points().iter().map(|p| p.0))
        .filter(|t| (window.start..window.end).contains(t))
        .collect();
    // The sum of means equals the summed signal's mean, which cannot exceed its peak.
    (mean.min(peak), peak, readings.len() as u64)
}
