//! Parsing of ipmitool's text output: `sdr elist` rows (the readings) and `dcmi power reading`. Pure
//! functions that never panic on any input; lines that do not fit are skipped, not guessed at.

use super::model::{DcmiPower, Sensor, SensorValue};

/// One row of `ipmitool sdr elist`: `name | 21h | ok | 11.2 | 67 degrees C`.
#[derive(Debug, Clone, PartialEq)]
pub struct ElistRow {
    /// Sensor name (the SDR id string, at most 16 characters).
    pub name: String,
    /// Sensor number.
    pub number: u8,
    /// Status column (`ok`, `ns`, `cr`, `nc`, `nr`…).
    pub status: String,
    /// Entity id.
    pub entity_id: u8,
    /// Entity instance.
    pub entity_instance: u8,
    /// The reading text, e.g. `67 degrees C`, `No Reading`, `Disabled`, empty.
    pub reading: String,
    /// The number at the start of the reading, when there is one.
    pub value: Option<f64>,
}

/// Parses `sdr elist` output; lines that are not rows (blank lines, messages) are skipped.
pub fn parse_elist(text: &str) -> Vec<ElistRow> {
    text.lines().filter_map(parse_elist_line).collect()
}

/// Parses one `sdr elist` row. The name may itself contain `|`, so the four fixed columns are split
/// from the right.
pub fn parse_elist_line(line: &str) -> Option<ElistRow> {
    let mut cols = line.rsplitn(5, '|');
    let reading = cols.next()?.trim();
    let entity = cols.next()?.trim();
    let status = cols.next()?.trim();
    let number = cols.next()?.trim();
    let name = cols.next()?.trim();
    let number = u8::from_str_radix(number.strip_suffix(['h', 'H'])?, 16).ok()?;
    let (entity_id, entity_instance) = entity.split_once('.')?;
    let entity_id = entity_id.trim().parse().ok()?;
    let entity_instance = entity_instance.trim().parse().ok()?;
    Some(ElistRow {
        name: name.to_string(),
        number,
        status: status.to_string(),
        entity_id,
        entity_instance,
        value: leading_number(reading),
        reading: reading.to_string(),
    })
}

/// The finite decimal number that starts `text` and is followed by a unit or nothing (`0x01` and
/// `Presence detected` are not numbers).
fn leading_number(text: &str) -> Option<f64> {
    let first = text.split_whitespace().next()?;
    if !first.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
        return None;
    }
    first.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Pairs `sdr elist` rows with discovered sensors and returns one value per sensor, in sensor order.
///
/// Rows are matched on sensor number and entity; among several candidates the one with the same name
/// wins, then the first not yet matched (ipmitool prints rows in the order of its SDR cache, which is
/// discovery order). Sensors without a row get `None`. Also returns how many rows matched.
pub fn match_rows(sensors: &[Sensor], rows: &[ElistRow]) -> (Vec<SensorValue>, usize) {
    let mut taken = vec![false; sensors.len()];
    let mut values: Vec<Option<f64>> = vec![None; sensors.len()];
    let mut matched = 0;
    for row in rows {
        let candidates = sensors.iter().enumerate().filter(|(i, s)| {
            !taken[*i]
                && s.number == row.number
                && s.entity.id == row.entity_id
                && s.entity.instance == row.entity_instance
        });
        let mut first = None;
        let mut by_name = None;
        for (i, s) in candidates {
            first.get_or_insert(i);
            if s.name == row.name {
                by_name = Some(i);
                break;
            }
        }
        if let Some(i) = by_name.or(first) {
            taken[i] = true;
            values[i] = row.value;
            matched += 1;
        }
    }
    let values = sensors
        .iter()
        .zip(values)
        .map(|(s, value)| SensorValue {
            key: s.key.clone(),
            value,
        })
        .collect();
    (values, matched)
}

/// Why a `dcmi power reading` output cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DcmiParseError {
    /// The output has no "Instantaneous power reading: N Watts" line.
    #[error("no \"Instantaneous power reading: <N> Watts\" in the output of `dcmi power reading`")]
    MissingInstantaneous,
}

/// Parses `ipmitool dcmi power reading`. Labels are searched anywhere in a line because some
/// ipmitool versions print the timestamp and the sampling period on one line.
pub fn parse_dcmi_power(text: &str) -> Result<DcmiPower, DcmiParseError> {
    let watts = |label: &str| value_after(text, label).and_then(leading_number);
    Ok(DcmiPower {
        watts: watts("Instantaneous power reading:").ok_or(DcmiParseError::MissingInstantaneous)?,
        min_watts: watts("Minimum during sampling period:"),
        max_watts: watts("Maximum during sampling period:"),
        avg_watts: watts("Average power reading over sample period:"),
        sampling_period_s: value_after(text, "Sampling period:")
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok()),
        active: value_after(text, "Power reading state is:").and_then(|v| {
            match v.split_whitespace().next() {
                Some("activated") => Some(true),
                Some("deactivated") => Some(false),
                _ => None,
            }
        }),
    })
}

/// The text after the first occurrence of `label`, up to the end of its line.
fn value_after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.find(label).map(|at| line[at + label.len()..].trim()))
}

#[cfg(test)]
mod tests {
    use super::super::model::{Entity, SensorKey, SensorKind, SensorOwner, Unit};
    use super::super::sdr;
    use super::*;
    use proptest::prelude::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ipmi/");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap()
    }

    fn sim_sensors() -> Vec<Sensor> {
        let dump = std::fs::read(format!("{FIXTURES}ipmi_sim_sdr_dump.bin")).unwrap();
        sdr::discover(&dump)
            .unwrap()
            .into_iter()
            .map(|d| d.sensor)
            .collect()
    }

    #[test]
    fn ipmi_sim_rows() {
        let rows = parse_elist(&fixture("ipmi_sim_elist_all.txt"));
        assert_eq!(rows.len(), 10);
        assert_eq!(
            rows[2],
            ElistRow {
                name: "GPU Temp".into(),
                number: 0x21,
                status: "ok".into(),
                entity_id: 11,
                entity_instance: 2,
                reading: "67 degrees C".into(),
                value: Some(67.0),
            }
        );
        let values: Vec<Option<f64>> = rows.iter().map(|r| r.value).collect();
        let expected = [23.0, 61.0, 67.0, 41.0, 1850.0, 12.0, 7.5, 8500.0];
        assert_eq!(values[..8], expected.map(Some));
        assert_eq!(rows[8].reading, "");
        assert_eq!(rows[8].value, None);
        assert_eq!(rows[9].value, None, "\"Presence detected\" is not a number");
    }

    #[test]
    fn supermicro_rows_with_wide_entity_and_no_reading() {
        let rows = parse_elist(&fixture("supermicro_elist_full.txt"));
        assert_eq!(rows.len(), 9);
        assert_eq!(
            (rows[7].number, rows[7].entity_id, rows[7].entity_instance),
            (0xb0, 32, 64)
        );
        assert_eq!(rows[7].status, "ns");
        assert_eq!(rows[7].value, None);
        assert_eq!(rows[8].value, Some(40.0));
        assert_eq!(rows[6].name, "VmemP2EVRMTemp");
    }

    #[test]
    fn dell_rows_with_disabled_blank_discrete_and_fractions() {
        let rows = parse_elist(&fixture("dell_elist_all.txt"));
        assert_eq!(rows.len(), 10);
        let by_name = |n: &str| rows.iter().find(|r| r.name == n).unwrap();
        assert_eq!(by_name("Planar Temp").value, None);
        assert_eq!(by_name("CMOS Battery").reading, "");
        assert_eq!(by_name("VCORE PG").value, None);
        assert_eq!(by_name("Current 1").value, Some(0.40));
        assert_eq!(by_name("Current 2").value, Some(0.0));
        assert_eq!(by_name("Pwr Consumption").value, Some(98.0));
        assert_eq!(by_name("Ambient Temp").entity_id, 10);
    }

    #[test]
    fn non_rows_are_skipped() {
        let text = "Dumping Sensor Data Repository\nError: Unable to establish IPMI v2 / RMCP+ session\n\
                    a | b | c\nx | zzh | ok | 1.1 | 3 Volts\nx | 0x12 | ok | 1.1 | 3 Volts\n\
                    odd|name | 05h | ok | 7.1 | 1.5 Volts\n";
        let rows = parse_elist(text);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "odd|name");
        assert_eq!(rows[0].value, Some(1.5));
    }

    #[test]
    fn leading_numbers() {
        assert_eq!(leading_number("-5 degrees C"), Some(-5.0));
        assert_eq!(leading_number("12.10 Volts"), Some(12.1));
        assert_eq!(leading_number("0x01"), None);
        assert_eq!(leading_number("NaN"), None);
        assert_eq!(leading_number("inf Watts"), None);
        assert_eq!(leading_number("Transition to OK"), None);
        assert_eq!(leading_number(""), None);
    }

    #[test]
    fn rows_match_same_named_sensors_by_number_and_entity() {
        let sensors = sim_sensors();
        // Rows in a different order than the sensors: matching does not rely on position.
        let mut rows = parse_elist(&fixture("ipmi_sim_elist_all.txt"));
        rows.reverse();
        let (values, matched) = match_rows(&sensors, &rows);
        assert_eq!(
            matched, 9,
            "the discrete PSU1 Status row matches no sampled sensor"
        );
        let get = |key: &str| values.iter().find(|v| v.key.as_str() == key).unwrap().value;
        assert_eq!(get("gpu_temp@11.1#20:0:0:20"), Some(61.0));
        assert_eq!(get("gpu_temp@11.2#20:0:0:21"), Some(67.0));
        assert_eq!(get("psu1_input@10.1#20:0:0:40"), Some(1850.0));
        assert_eq!(get("dimm_temp@32.1#20:0:0:70"), None);
        assert_eq!(values.len(), sensors.len());
    }

    #[test]
    fn identical_rows_fill_duplicate_sensors_in_order_and_missing_rows_read_none() {
        let owner = SensorOwner::from_sdr(0x20, 0);
        let sensor = |owner: SensorOwner, dup| Sensor {
            key: SensorKey::new("T", Entity::from_sdr(7, 1), owner, 1, dup),
            name: "T".into(),
            kind: SensorKind::Temperature,
            unit: Unit::Celsius,
            entity: Entity::from_sdr(7, 1),
            owner,
            number: 1,
            sensor_type: 1,
            compact: false,
        };
        let other_owner = SensorOwner::from_sdr(0x2c, 0);
        let sensors = [sensor(owner, 1), sensor(other_owner, 1), sensor(owner, 2)];
        let rows =
            parse_elist("T | 01h | ok | 7.1 | 10 degrees C\nT | 01h | ok | 7.1 | 20 degrees C\n");
        let (values, matched) = match_rows(&sensors, &rows);
        assert_eq!(matched, 2);
        let v: Vec<Option<f64>> = values.iter().map(|v| v.value).collect();
        assert_eq!(v, [Some(10.0), Some(20.0), None]);
    }

    #[test]
    fn dcmi_activated() {
        let p = parse_dcmi_power(&fixture("dcmi_activated.txt")).unwrap();
        assert_eq!(
            p,
            DcmiPower {
                watts: 215.0,
                min_watts: Some(162.0),
                max_watts: Some(276.0),
                avg_watts: Some(176.0),
                sampling_period_s: Some(1_131_466),
                active: Some(true),
            }
        );
    }

    #[test]
    fn dcmi_deactivated_keeps_the_value() {
        let p = parse_dcmi_power(&fixture("dcmi_deactivated.txt")).unwrap();
        assert_eq!(
            (p.watts, p.active, p.sampling_period_s),
            (319.0, Some(false), Some(0))
        );
    }

    #[test]
    fn dcmi_with_period_on_the_timestamp_line() {
        let p = parse_dcmi_power(&fixture("dcmi_supermicro_joined.txt")).unwrap();
        assert_eq!(
            (p.watts, p.min_watts, p.sampling_period_s),
            (109.0, Some(38.0), Some(65530))
        );
        assert_eq!(p.active, Some(true));
    }

    #[test]
    fn dcmi_without_a_reading_is_an_error() {
        let err = parse_dcmi_power("    DCMI request failed because: Invalid command (c1)\n");
        assert_eq!(err, Err(DcmiParseError::MissingInstantaneous));
        let partial = parse_dcmi_power("Instantaneous power reading: 42 Watts").unwrap();
        assert_eq!(
            (partial.watts, partial.min_watts, partial.active),
            (42.0, None, None)
        );
    }

    proptest! {
        #[test]
        fn elist_parsing_never_panics(text in "\\PC*") {
            let rows = parse_elist(&text);
            prop_assert!(rows.len() <= text.lines().count());
        }

        #[test]
        fn elist_like_lines_never_panic(
            name in "[ -~]{0,20}", num in "[0-9A-Fa-fxh]{0,4}", ent in "[0-9. ]{0,7}", reading in "[ -~]{0,20}",
        ) {
            let line = format!("{name} | {num} | ok | {ent} | {reading}");
            let _ = parse_elist_line(&line);
        }

        #[test]
        fn dcmi_parsing_never_panics(text in "\\PC*") {
            let _ = parse_dcmi_power(&text);
        }

        #[test]
        fn dcmi_labels_with_arbitrary_values_never_panic(v in "\\PC{0,30}") {
            let text = format!("Instantaneous power reading: {v}\nSampling period: {v}\nPower reading state is: {v}");
            let _ = parse_dcmi_power(&text);
        }
    }
}
