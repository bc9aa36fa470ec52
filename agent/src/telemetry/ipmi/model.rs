//! What the IPMI source hands to the rest of the agent: discovered sensors, their readings and the DCMI
//! power reading. These types are independent of the transport so that the sampler, the fake BMC and the
//! sinks share one vocabulary.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a sensor measures; only these kinds are sampled (discrete sensors carry no number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SensorKind {
    /// Temperatures (inlet, exhaust, GPU, CPU, DIMM…).
    Temperature,
    /// Electrical power, e.g. PSU input watts.
    Power,
    /// Electrical current.
    Current,
    /// Voltage rails.
    Voltage,
    /// Fan speed (RPM or percent).
    Fan,
}

impl SensorKind {
    /// Lower-case name used in logs and as a tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Temperature => "temperature",
            Self::Power => "power",
            Self::Current => "current",
            Self::Voltage => "voltage",
            Self::Fan => "fan",
        }
    }
}

impl fmt::Display for SensorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit of a sensor's value, from the SDR's base unit (IPMI 2.0 table 43-15) and percentage flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Degrees Celsius.
    Celsius,
    /// Degrees Fahrenheit.
    Fahrenheit,
    /// Kelvin.
    Kelvin,
    /// Volts.
    Volts,
    /// Amperes.
    Amps,
    /// Watts.
    Watts,
    /// Joules.
    Joules,
    /// Revolutions per minute.
    Rpm,
    /// Percent (the SDR's percentage flag).
    Percent,
    /// The SDR says "unspecified".
    Unspecified,
    /// Any other IPMI base unit code.
    Other(u8),
}

impl Unit {
    /// Decodes the SDR's "sensor units 1" byte (for the percentage bit) and base unit code.
    pub fn from_sdr(units1: u8, base: u8) -> Self {
        if units1 & 0x01 != 0 {
            return Self::Percent;
        }
        match base {
            0 => Self::Unspecified,
            1 => Self::Celsius,
            2 => Self::Fahrenheit,
            3 => Self::Kelvin,
            4 => Self::Volts,
            5 => Self::Amps,
            6 => Self::Watts,
            7 => Self::Joules,
            18 => Self::Rpm,
            other => Self::Other(other),
        }
    }

    /// Short symbol: `C`, `F`, `K`, `V`, `A`, `W`, `J`, `RPM`, `%`, `` (unspecified), `unit#N`.
    pub fn symbol(self) -> String {
        match self {
            Self::Celsius => "C".into(),
            Self::Fahrenheit => "F".into(),
            Self::Kelvin => "K".into(),
            Self::Volts => "V".into(),
            Self::Amps => "A".into(),
            Self::Watts => "W".into(),
            Self::Joules => "J".into(),
            Self::Rpm => "RPM".into(),
            Self::Percent => "%".into(),
            Self::Unspecified => String::new(),
            Self::Other(code) => format!("unit#{code}"),
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbol())
    }
}

/// The physical entity a sensor sits on (IPMI entity id and instance, e.g. 11.2 = second add-in card).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entity {
    /// IPMI entity id (table 43-13).
    pub id: u8,
    /// Entity instance (7 bits).
    pub instance: u8,
    /// Whether the instance is a logical container rather than a physical entity.
    pub logical: bool,
}

impl Entity {
    /// Builds an entity from the SDR's entity id and raw instance byte (bit 7: logical).
    pub fn from_sdr(id: u8, instance_byte: u8) -> Self {
        Self {
            id,
            instance: instance_byte & 0x7f,
            logical: instance_byte & 0x80 != 0,
        }
    }

    /// The IPMI name of common entity ids, `None` for the rest.
    pub fn name(&self) -> Option<&'static str> {
        Some(match self.id {
            0x03 => "processor",
            0x04 => "disk or disk bay",
            0x06 => "system management module",
            0x07 => "system board",
            0x08 => "memory module",
            0x09 => "processor module",
            0x0a => "power supply",
            0x0b => "add-in card",
            0x0c => "front panel board",
            0x0d => "back panel board",
            0x0e => "power system board",
            0x0f => "drive backplane",
            0x10 => "system internal expansion board",
            0x11 => "other system board",
            0x12 => "processor board",
            0x13 => "power unit",
            0x14 => "power module",
            0x15 => "power management board",
            0x17 => "system chassis",
            0x1d => "fan",
            0x1e => "cooling unit",
            0x20 => "memory device",
            0x27 => "external environment",
            0x28 => "battery",
            0x2e => "management controller firmware",
            0x37 | 0x40 => "air inlet",
            0x41 => "processor",
            0x42 => "baseboard",
            _ => return None,
        })
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.id, self.instance)
    }
}

/// Which controller owns the sensor and where (a sensor number is unique only per owner, channel and LUN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensorOwner {
    /// Owner id byte from the SDR (IPMB slave address, e.g. 0x20 for the BMC, 0x2c for an Intel ME).
    pub id: u8,
    /// Channel number (upper nibble of the owner LUN byte).
    pub channel: u8,
    /// LUN (lowest two bits of the owner LUN byte).
    pub lun: u8,
}

impl SensorOwner {
    /// Builds the owner from the SDR's owner id and owner LUN bytes.
    pub fn from_sdr(id: u8, lun_byte: u8) -> Self {
        Self {
            id,
            channel: lun_byte >> 4,
            lun: lun_byte & 0x03,
        }
    }
}

/// A stable identifier for one sensor across samples and restarts of the agent.
///
/// It is built from the name (as a slug), the entity, the owner and the sensor number, so two sensors
/// both called "GPU Temp" stay apart: `gpu_temp@11.1#20:0:0:20` and `gpu_temp@11.2#20:0:0:21`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SensorKey(String);

impl SensorKey {
    /// Builds the key of a sensor; `duplicate` > 1 marks the n-th record with an identical key
    /// (a faulty SDR repository that lists one sensor twice).
    pub fn new(
        name: &str,
        entity: Entity,
        owner: SensorOwner,
        number: u8,
        duplicate: usize,
    ) -> Self {
        let mut key = format!(
            "{}@{}#{:02x}:{:x}:{}:{:02x}",
            slug(name),
            entity,
            owner.id,
            owner.channel,
            owner.lun,
            number
        );
        if duplicate > 1 {
            key.push_str(&format!("~{duplicate}"));
        }
        Self(key)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SensorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lower-case ASCII letters and digits, every other run of characters becomes one `_`.
fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        "sensor".to_string()
    } else {
        trimmed.to_string()
    }
}

/// A sensor found in the BMC's sensor data record (SDR) repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensor {
    /// Stable key (see [`SensorKey`]).
    pub key: SensorKey,
    /// The SDR's id string, e.g. "GPU Temp".
    pub name: String,
    /// What it measures.
    pub kind: SensorKind,
    /// Unit of its value.
    pub unit: Unit,
    /// Entity it sits on.
    pub entity: Entity,
    /// Owner controller.
    pub owner: SensorOwner,
    /// Sensor number (unique per owner, channel and LUN).
    pub number: u8,
    /// IPMI sensor type code (0x01 temperature, 0x02 voltage…).
    pub sensor_type: u8,
    /// Whether the sensor is described by a compact record (no conversion factors: ipmitool cannot
    /// turn its raw reading into a number, so its value stays `None`).
    pub compact: bool,
}

/// One value read from a sensor, as returned by a [`super::BmcClient`].
#[derive(Debug, Clone, PartialEq)]
pub struct SensorValue {
    /// Which sensor.
    pub key: SensorKey,
    /// The converted value in the sensor's unit; `None` when the BMC has no reading (sensor absent,
    /// disabled, not yet scanned).
    pub value: Option<f64>,
}

/// One timestamped sensor reading produced by the sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Stable key of the sensor.
    pub key: SensorKey,
    /// Sensor name as the BMC reports it.
    pub name: String,
    /// What it measures.
    pub kind: SensorKind,
    /// Unit of `value`.
    pub unit: Unit,
    /// The value, `None` when the BMC had no reading for it.
    pub value: Option<f64>,
    /// When it was read, unix nanoseconds (the midpoint of the read: one read covers all sensors).
    pub at: i64,
}

/// The figures of a DCMI "Get Power Reading" answer (whole-system input power).
#[derive(Debug, Clone, PartialEq)]
pub struct DcmiPower {
    /// Instantaneous power, watts.
    pub watts: f64,
    /// Minimum over the BMC's sampling period, watts.
    pub min_watts: Option<f64>,
    /// Maximum over the BMC's sampling period, watts.
    pub max_watts: Option<f64>,
    /// Average over the BMC's sampling period, watts.
    pub avg_watts: Option<f64>,
    /// The BMC's statistics period, seconds.
    pub sampling_period_s: Option<u64>,
    /// Whether the BMC says power measurement is active (several BMCs answer "deactivated" yet
    /// report a live value, so the value is kept either way).
    pub active: Option<bool>,
}

/// A DCMI power reading stamped by the sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct DcmiReading {
    /// The BMC's figures.
    pub power: DcmiPower,
    /// When it was read, unix nanoseconds.
    pub at: i64,
}

/// Everything read in one sampling period.
#[derive(Debug, Clone, PartialEq)]
pub struct IpmiSample {
    /// One reading per discovered sensor, in discovery order.
    pub readings: Vec<Reading>,
    /// The DCMI power reading, when the BMC supports it and answered.
    pub dcmi: Option<DcmiReading>,
}

/// Unix nanoseconds of a wall-clock time; 0 before the epoch, `i64::MAX` after year 2262.
pub fn unix_ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_same_named_sensors_apart() {
        let owner = SensorOwner::from_sdr(0x20, 0x00);
        let a = SensorKey::new("GPU Temp", Entity::from_sdr(0x0b, 1), owner, 0x20, 1);
        let b = SensorKey::new("GPU Temp", Entity::from_sdr(0x0b, 2), owner, 0x21, 1);
        assert_ne!(a, b);
        assert_eq!(a.as_str(), "gpu_temp@11.1#20:0:0:20");
        assert_eq!(b.as_str(), "gpu_temp@11.2#20:0:0:21");
    }

    #[test]
    fn key_marks_duplicates_and_odd_names() {
        let owner = SensorOwner::from_sdr(0x2c, 0x31);
        assert_eq!(
            owner,
            SensorOwner {
                id: 0x2c,
                channel: 3,
                lun: 1
            }
        );
        let k = SensorKey::new("  --  ", Entity::from_sdr(7, 0x81), owner, 5, 2);
        assert_eq!(k.as_str(), "sensor@7.1#2c:3:1:05~2");
        let k = SensorKey::new("P1-DIMMA1 Temp", Entity::from_sdr(32, 64), owner, 0xb0, 1);
        assert_eq!(k.as_str(), "p1_dimma1_temp@32.64#2c:3:1:b0");
    }

    #[test]
    fn units_decode_from_sdr_codes() {
        assert_eq!(Unit::from_sdr(0x00, 1), Unit::Celsius);
        assert_eq!(Unit::from_sdr(0x80, 6), Unit::Watts);
        assert_eq!(Unit::from_sdr(0x01, 18), Unit::Percent);
        assert_eq!(Unit::from_sdr(0x00, 18), Unit::Rpm);
        assert_eq!(Unit::from_sdr(0x00, 42).symbol(), "unit#42");
    }

    #[test]
    fn unix_ns_of_epoch_and_later() {
        assert_eq!(unix_ns(UNIX_EPOCH), 0);
        let t = UNIX_EPOCH + std::time::Duration::from_secs(2);
        assert_eq!(unix_ns(t), 2_000_000_000);
    }
}
