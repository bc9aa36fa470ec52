//! How NVML sampler records become `gpu` telemetry points (DESIGN.md §4): one mapping, used by
//! `wattsweep-agent sample --format lp` and by the sinks that write to InfluxDB, so what a person
//! sees on the terminal is exactly what the database stores.

use super::point::{Point, measurement, tag};
use super::sampler::Record;

/// The tags that identify one GPU's series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuTags {
    /// Node id.
    pub node: String,
    /// GPU (or MIG device) UUID.
    pub uuid: String,
    /// Model id (`h100-80gb`) or the NVML name for unknown models.
    pub model: String,
}

/// The `gpu` point of one sampler record. Missing readings become absent fields; integers stay
/// integers (`memory_used_mib`, clocks, throttle reasons, `energy_mj`).
pub fn record_point(r: &Record, tags: &GpuTags) -> Point {
    let base = |t_ns: u64, phase: &str| {
        Point::new(measurement::GPU, i64::try_from(t_ns).unwrap_or(i64::MAX))
            .tag(tag::NODE, tags.node.as_str())
            .tag(tag::GPU_UUID, tags.uuid.as_str())
            .tag(tag::GPU_MODEL, tags.model.as_str())
            .tag(tag::PHASE, phase)
    };
    match r {
        Record::Power {
            t_ns,
            watts,
            source,
            phase,
            ..
        } => base(*t_ns, phase.as_str())
            .tag("power_source", source.as_str())
            .field("power_w", *watts),
        Record::Status {
            t_ns,
            status,
            phase,
            ..
        } => {
            let mut p = base(*t_ns, phase.as_str());
            let floats = [
                ("temperature_c", status.temperature_c),
                ("memory_temperature_c", status.memory_temperature_c),
                ("sm_util_pct", status.sm_util_pct),
                ("mem_util_pct", status.mem_util_pct),
            ];
            for (k, v) in floats {
                if let Some(v) = v {
                    p = p.field(k, v);
                }
            }
            let ints = [
                ("memory_used_mib", status.memory_used_mib),
                ("sm_clock_mhz", status.sm_clock_mhz.map(u64::from)),
                ("mem_clock_mhz", status.mem_clock_mhz.map(u64::from)),
                ("throttle_reasons", status.throttle_reasons),
            ];
            for (k, v) in ints {
                if let Some(v) = v {
                    p = p.field(k, i64::try_from(v).unwrap_or(i64::MAX));
                }
            }
            p
        }
        Record::Energy {
            t_ns, mj, phase, ..
        } => base(*t_ns, phase.as_str()).field("energy_mj", i64::try_from(*mj).unwrap_or(i64::MAX)),
        Record::Notice { t_ns, message, .. } => {
            base(*t_ns, "none").field("notice", message.as_str())
        }
    }
}
