//! Discovery from the BMC's sensor data record (SDR) repository, as raw bytes (`ipmitool sdr dump`
//! writes the records back to back, exactly as the BMC stores them). Parsing the bytes ourselves, instead
//! of ipmitool's text, gives the owner, LUN, entity, sensor type and unit of every sensor exactly, which
//! the stable keys need. Pure functions: bytes in, sensors out.

use std::collections::HashMap;

use super::model::{Entity, Sensor, SensorKey, SensorKind, SensorOwner, Unit};

/// Record type of a full sensor record (IPMI 2.0 §43.1).
pub const FULL_SENSOR_RECORD: u8 = 0x01;
/// Record type of a compact sensor record (IPMI 2.0 §43.2).
pub const COMPACT_SENSOR_RECORD: u8 = 0x02;

/// Length of the common record header (record id, version, type, length).
const HEADER_LEN: usize = 5;
/// Offset of the id string type/length byte in a full record.
const FULL_ID_OFFSET: usize = 47;
/// Offset of the id string type/length byte in a compact record.
const COMPACT_ID_OFFSET: usize = 31;

/// Why an SDR repository dump cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdrError {
    /// The dump ends inside a record: it is cut short or not an SDR dump.
    #[error(
        "SDR dump is truncated: the record at byte {offset} needs {needed} bytes but only {available} remain"
    )]
    Truncated {
        /// Byte offset of the record.
        offset: usize,
        /// Bytes the record header says it has.
        needed: usize,
        /// Bytes left in the dump.
        available: usize,
    },
}

/// One record of the repository, borrowed from the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// Record id (as stored in the dump).
    pub record_id: u16,
    /// Record type (0x01 full, 0x02 compact, 0x11 FRU locator…).
    pub record_type: u8,
    /// The whole record, header included.
    pub bytes: &'a [u8],
}

/// Splits a dump into its records, using each header's length byte.
pub fn split_records(dump: &[u8]) -> Result<Vec<RawRecord<'_>>, SdrError> {
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < dump.len() {
        let available = dump.len() - offset;
        let needed = match dump.get(offset + 4) {
            Some(&len) => HEADER_LEN + usize::from(len),
            None => HEADER_LEN,
        };
        let Some(bytes) = dump.get(offset..offset + needed) else {
            return Err(SdrError::Truncated {
                offset,
                needed,
                available,
            });
        };
        records.push(RawRecord {
            record_id: u16::from_le_bytes([bytes[0], bytes[1]]),
            record_type: bytes[3],
            bytes,
        });
        offset += needed;
    }
    Ok(records)
}

/// The fields of a full or compact sensor record that discovery needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorRecord {
    /// Record id.
    pub record_id: u16,
    /// Whether it is a compact record.
    pub compact: bool,
    /// Owner controller.
    pub owner: SensorOwner,
    /// Sensor number.
    pub number: u8,
    /// Entity.
    pub entity: Entity,
    /// IPMI sensor type code.
    pub sensor_type: u8,
    /// Event/reading type code (0x01 threshold, 0x6f sensor-specific…).
    pub event_reading_type: u8,
    /// Analog data format (bits 7:6 of units 1): 0 unsigned, 1 and 2 signed, 3 no analog reading.
    pub analog_format: u8,
    /// Unit of the reading.
    pub unit: Unit,
    /// Decoded id string.
    pub name: String,
}

/// Reads a full or compact sensor record; `None` for other record types and for records too short to
/// hold the fixed fields (those are skipped rather than failing discovery of the rest).
pub fn parse_sensor_record(record: &RawRecord<'_>) -> Option<SensorRecord> {
    let (compact, id_offset) = match record.record_type {
        FULL_SENSOR_RECORD => (false, FULL_ID_OFFSET),
        COMPACT_SENSOR_RECORD => (true, COMPACT_ID_OFFSET),
        _ => return None,
    };
    let b = record.bytes;
    let type_length = *b.get(id_offset)?;
    let id_bytes = b.get(id_offset + 1..).unwrap_or_default();
    let units1 = b[20];
    Some(SensorRecord {
        record_id: record.record_id,
        compact,
        owner: SensorOwner::from_sdr(b[5], b[6]),
        number: b[7],
        entity: Entity::from_sdr(b[8], b[9]),
        sensor_type: b[12],
        event_reading_type: b[13],
        analog_format: units1 >> 6,
        unit: Unit::from_sdr(units1, b[21]),
        name: decode_id_string(type_length, id_bytes),
    })
}

/// Decodes an SDR id string (IPMI 2.0 §43.15): 8-bit ASCII/Latin-1, 6-bit packed ASCII or BCD plus.
/// Stops at the stated length, the end of the record or a NUL; trims surrounding blanks.
pub fn decode_id_string(type_length: u8, bytes: &[u8]) -> String {
    let len = usize::from(type_length & 0x1f).min(bytes.len());
    let bytes = &bytes[..len];
    let text: String = match type_length >> 6 {
        0b01 => bytes
            .iter()
            .flat_map(|b| [b & 0x0f, b >> 4])
            .map(|n| match n {
                0..=9 => char::from(b'0' + n),
                0x0a => ' ',
                0x0b => '-',
                0x0c => '.',
                0x0d => ':',
                0x0e => ',',
                _ => '_',
            })
            .collect(),
        0b10 => {
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let mut word = 0u32;
                for (i, byte) in chunk.iter().enumerate() {
                    word |= u32::from(*byte) << (8 * i);
                }
                for i in 0..(chunk.len() * 8 / 6) {
                    let six = ((word >> (6 * i)) & 0x3f) as u8;
                    out.push(char::from(0x20 + six));
                }
            }
            out
        }
        _ => bytes
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| char::from(b))
            .collect(),
    };
    text.trim().to_string()
}

/// What a sensor measures, or `None` when it is not sampled: discrete sensors (no numeric reading) and
/// numeric sensors of other kinds. The unit decides when it is a known one, the sensor type otherwise.
pub fn classify(record: &SensorRecord) -> Option<SensorKind> {
    let numeric = if record.compact {
        record.event_reading_type == 0x01
    } else {
        record.analog_format != 0b11
    };
    if !numeric {
        return None;
    }
    match record.unit {
        Unit::Celsius | Unit::Fahrenheit | Unit::Kelvin => Some(SensorKind::Temperature),
        Unit::Watts => Some(SensorKind::Power),
        Unit::Amps => Some(SensorKind::Current),
        Unit::Volts => Some(SensorKind::Voltage),
        Unit::Rpm => Some(SensorKind::Fan),
        Unit::Percent | Unit::Unspecified | Unit::Other(_) => match record.sensor_type {
            0x01 => Some(SensorKind::Temperature),
            0x02 => Some(SensorKind::Voltage),
            0x03 => Some(SensorKind::Current),
            0x04 => Some(SensorKind::Fan),
            _ => None,
        },
        Unit::Joules => None,
    }
}

/// A sensor chosen for sampling with the raw record it came from (kept for ipmitool's SDR cache).
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// The sensor.
    pub sensor: Sensor,
    /// Its raw SDR, header included.
    pub raw: Vec<u8>,
}

/// Discovery: every full/compact record of a sampled kind, in repository order, with unique keys.
pub fn discover(dump: &[u8]) -> Result<Vec<Discovered>, SdrError> {
    let mut seen: HashMap<SensorKey, usize> = HashMap::new();
    let mut out = Vec::new();
    for raw in split_records(dump)? {
        let Some(record) = parse_sensor_record(&raw) else {
            continue;
        };
        let Some(kind) = classify(&record) else {
            continue;
        };
        let base = SensorKey::new(&record.name, record.entity, record.owner, record.number, 1);
        let count = seen.entry(base).or_insert(0);
        *count += 1;
        let key = SensorKey::new(
            &record.name,
            record.entity,
            record.owner,
            record.number,
            *count,
        );
        let name = if record.name.is_empty() {
            format!("sensor 0x{:02x}", record.number)
        } else {
            record.name
        };
        out.push(Discovered {
            sensor: Sensor {
                key,
                name,
                kind,
                unit: record.unit,
                entity: record.entity,
                owner: record.owner,
                number: record.number,
                sensor_type: record.sensor_type,
                compact: record.compact,
            },
            raw: raw.bytes.to_vec(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `ipmitool sdr dump` of the ipmi_sim BMC used by the integration tests.
    const SIM_DUMP: &[u8] = include_bytes!("../../../tests/fixtures/ipmi/ipmi_sim_sdr_dump.bin");

    #[test]
    fn discovers_the_simulated_bmc() {
        let found = discover(SIM_DUMP).unwrap();
        let summary: Vec<(String, SensorKind, Unit, String)> = found
            .iter()
            .map(|d| {
                (
                    d.sensor.name.clone(),
                    d.sensor.kind,
                    d.sensor.unit,
                    d.sensor.key.to_string(),
                )
            })
            .collect();
        use SensorKind::*;
        let expected = [
            (
                "Inlet Temp",
                Temperature,
                Unit::Celsius,
                "inlet_temp@55.1#20:0:0:10",
            ),
            (
                "GPU Temp",
                Temperature,
                Unit::Celsius,
                "gpu_temp@11.1#20:0:0:20",
            ),
            (
                "GPU Temp",
                Temperature,
                Unit::Celsius,
                "gpu_temp@11.2#20:0:0:21",
            ),
            (
                "Exhaust Temp",
                Temperature,
                Unit::Celsius,
                "exhaust_temp@7.2#20:0:0:30",
            ),
            (
                "PSU1 Input",
                Power,
                Unit::Watts,
                "psu1_input@10.1#20:0:0:40",
            ),
            ("12V", Voltage, Unit::Volts, "12v@7.1#20:0:0:50"),
            (
                "PSU1 Current",
                Current,
                Unit::Amps,
                "psu1_current@10.1#20:0:0:51",
            ),
            ("FAN1", Fan, Unit::Rpm, "fan1@29.1#20:0:0:60"),
            (
                "DIMM Temp",
                Temperature,
                Unit::Celsius,
                "dimm_temp@32.1#20:0:0:70",
            ),
        ];
        let expected: Vec<(String, SensorKind, Unit, String)> = expected
            .iter()
            .map(|(n, k, u, key)| (n.to_string(), *k, *u, key.to_string()))
            .collect();
        assert_eq!(summary, expected);
        assert!(found[8].sensor.compact);
        assert_eq!(found[1].sensor.entity.name(), Some("add-in card"));
        // The raw bytes are the records as dumped, header included.
        assert_eq!(found[0].raw[3], FULL_SENSOR_RECORD);
        assert_eq!(found[0].raw.len(), 5 + usize::from(found[0].raw[4]));
    }

    #[test]
    fn the_discrete_psu_status_sensor_is_left_out() {
        let records = split_records(SIM_DUMP).unwrap();
        assert_eq!(records.len(), 10);
        let status = parse_sensor_record(&records[9]).unwrap();
        assert_eq!(status.name, "PSU1 Status");
        assert_eq!(status.analog_format, 0b11);
        assert_eq!(classify(&status), None);
    }

    #[test]
    fn truncated_dump_is_an_error_naming_the_offset() {
        let cut = &SIM_DUMP[..SIM_DUMP.len() - 3];
        let err = split_records(cut).unwrap_err();
        let SdrError::Truncated {
            offset,
            needed,
            available,
        } = err;
        assert_eq!(available + 3, needed);
        assert!(offset > 0);
        assert!(matches!(
            split_records(&[1, 0, 0x51]),
            Err(SdrError::Truncated { offset: 0, .. })
        ));
    }

    #[test]
    fn duplicate_records_get_distinct_keys() {
        let records = split_records(SIM_DUMP).unwrap();
        let twice: Vec<u8> = [records[1].bytes, records[1].bytes].concat();
        let found = discover(&twice).unwrap();
        assert_eq!(found[0].sensor.key.as_str(), "gpu_temp@11.1#20:0:0:20");
        assert_eq!(found[1].sensor.key.as_str(), "gpu_temp@11.1#20:0:0:20~2");
    }

    #[test]
    fn id_strings_in_every_encoding() {
        assert_eq!(decode_id_string(0xc5, b"CPU1 Temp"), "CPU1");
        assert_eq!(decode_id_string(0xcf, b"short"), "short");
        assert_eq!(decode_id_string(0xc8, b"Fan\0junk"), "Fan");
        // BCD plus: digits low nibble first, 0xb is '-'.
        assert_eq!(decode_id_string(0x42, &[0x21, 0xb3]), "123-");
        // 6-bit packed ASCII: "ABCD" = 0x21 0x22 0x23 0x24 packed into 3 bytes.
        let word: u32 = 0x21 | (0x22 << 6) | (0x23 << 12) | (0x24 << 18);
        let packed = [word as u8, (word >> 8) as u8, (word >> 16) as u8];
        assert_eq!(decode_id_string(0x83, &packed), "ABCD");
    }

    #[test]
    fn classification_prefers_the_unit_then_the_sensor_type() {
        let records = split_records(SIM_DUMP).unwrap();
        let mut r = parse_sensor_record(&records[0]).unwrap();
        r.unit = Unit::Percent;
        r.sensor_type = 0x04;
        assert_eq!(classify(&r), Some(SensorKind::Fan));
        r.sensor_type = 0x08;
        assert_eq!(classify(&r), None);
        r.unit = Unit::Watts;
        assert_eq!(classify(&r), Some(SensorKind::Power));
        r.compact = true;
        r.event_reading_type = 0x6f;
        assert_eq!(classify(&r), None);
    }

    proptest! {
        #[test]
        fn discovery_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = discover(&bytes);
        }

        #[test]
        fn records_with_any_body_never_panic(
            rtype in prop_oneof![Just(1u8), Just(2u8), any::<u8>()],
            body in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let len = u8::try_from(body.len()).unwrap();
            let mut rec = vec![1, 0, 0x51, rtype, len];
            rec.extend(body);
            let found = discover(&rec).unwrap();
            prop_assert!(found.len() <= 1);
        }
    }
}
