//! Telemetry points and their InfluxDB line-protocol encoding.
//!
//! Every sink (InfluxDB 2.x, InfluxDB 1.x, VictoriaMetrics, gzip files) stores the same thing: a
//! [`Point`] written as one line of line protocol. This module is pure — no I/O — so the encoding
//! can be tested exhaustively (property tests round-trip arbitrary names and values through a
//! decoder in `point/tests.rs`).
//!
//! Decisions a reader of the stored data should know:
//! - **Non-finite floats** (NaN, ±∞) cannot be written in line protocol. The field is *skipped*, the
//!   rest of the point is kept, and the skip is counted in [`SkippedFields`] so that the sink can
//!   report it (`tracing::warn!` and a metric): one NaN sensor must not cost a whole sample.
//!   A point left with no field at all is rejected with [`EncodeError::NoFields`], also counted.
//! - **String fields with a line break** are skipped the same way (counted as `unrepresentable`):
//!   VictoriaMetrics splits on `\n` before parsing and would silently drop the broken halves.
//! - **Names** (measurement, tag keys, tag values, field keys) with a line break reject the point
//!   ([`EncodeError::LineBreak`]): an identity cannot be altered quietly.
//! - **Empty tag values** are left out: line protocol cannot carry them and InfluxDB reads an absent
//!   tag as the empty string, so nothing is lost.
//! - **Backslashes** in names are doubled only where a reader would otherwise take them for an
//!   escape (before `,` `=` space `\` or at the end). InfluxDB 2.x and VictoriaMetrics read that back
//!   exactly; InfluxDB 1.x (measured on 1.6) keeps such doubled backslashes literally and cannot
//!   parse a name that ends with a backslash, so [`Dialect::V1`] rejects those names.
//! - **Unsigned integers** are written `123u` ([`Dialect::V2`]); InfluxDB 1.x rejects that suffix,
//!   so [`Dialect::V1`] writes them as signed `123i` and skips (counted, `out_of_range`) the rare
//!   value above `i64::MAX`.
//! - **Floats** use Rust's shortest round-trip form (`1.5`, `1e300`, `-0.0`): the value read back is
//!   bit-for-bit the value written.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;

#[cfg(test)]
pub(crate) mod decode;
#[cfg(test)]
mod tests;

/// Measurement names of wattsweep telemetry (DESIGN §4).
pub mod measurement {
    /// NVML GPU samples.
    pub const GPU: &str = "gpu";
    /// IPMI platform sensors.
    pub const PLATFORM: &str = "platform";
    /// Host and per-workload CPU figures.
    pub const CPU: &str = "cpu";
    /// One point per finished task.
    pub const TASK_SUMMARY: &str = "task_summary";
}

/// Tag keys of wattsweep telemetry (DESIGN §4).
pub mod tag {
    /// Node id of the agent.
    pub const NODE: &str = "node";
    /// NVML UUID of the GPU (or MIG device).
    pub const GPU_UUID: &str = "gpu_uuid";
    /// GPU model id, e.g. `h100-80gb`.
    pub const GPU_MODEL: &str = "gpu_model";
    /// Campaign id.
    pub const CAMPAIGN: &str = "campaign";
    /// Task id.
    pub const TASK: &str = "task";
    /// Sharing configuration label.
    pub const CONFIG: &str = "config";
    /// Task phase (idle, warmup, run, cooldown…).
    pub const PHASE: &str = "phase";
}

/// The value of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A 64-bit float; non-finite values are skipped when encoded.
    Float(f64),
    /// A signed integer (`123i`).
    Int(i64),
    /// An unsigned integer (`123u`, or `123i` for InfluxDB 1.x).
    UInt(u64),
    /// A boolean.
    Bool(bool),
    /// A string; one with a line break is skipped when encoded.
    Str(String),
}

impl From<f64> for FieldValue {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}
impl From<i64> for FieldValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<u64> for FieldValue {
    fn from(v: u64) -> Self {
        Self::UInt(v)
    }
}
impl From<bool> for FieldValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<String> for FieldValue {
    fn from(v: String) -> Self {
        Self::Str(v)
    }
}
impl From<&str> for FieldValue {
    fn from(v: &str) -> Self {
        Self::Str(v.to_owned())
    }
}

/// One telemetry sample: a measurement, its tags and fields, at an absolute time.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name, e.g. [`measurement::GPU`].
    pub measurement: String,
    /// Tags (indexed identity: node, GPU, task…). Sorted, as line protocol prefers.
    pub tags: BTreeMap<String, String>,
    /// Fields (the values). At least one must be encodable.
    pub fields: BTreeMap<String, FieldValue>,
    /// Nanoseconds since the Unix epoch (UTC).
    pub timestamp_ns: i64,
}

impl Point {
    /// A point without tags or fields.
    pub fn new(measurement: impl Into<String>, timestamp_ns: i64) -> Self {
        Self {
            measurement: measurement.into(),
            tags: BTreeMap::new(),
            fields: BTreeMap::new(),
            timestamp_ns,
        }
    }

    /// Adds (or replaces) a tag.
    #[must_use]
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Adds (or replaces) a field.
    #[must_use]
    pub fn field(mut self, key: impl Into<String>, value: impl Into<FieldValue>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }
}

/// Which servers the encoded lines must parse on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// InfluxDB 2.x/3.x, VictoriaMetrics and other current readers: `u` integers allowed.
    #[default]
    V2,
    /// InfluxDB 1.x: unsigned integers as signed, names ending with a backslash rejected.
    V1,
}

/// Fields left out of an encoded point, by reason. Sinks add these up into their metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SkippedFields {
    /// NaN or infinite floats.
    pub non_finite: u64,
    /// Unsigned values above `i64::MAX` in [`Dialect::V1`].
    pub out_of_range: u64,
    /// String values containing a line break.
    pub unrepresentable: u64,
}

impl SkippedFields {
    /// All skipped fields.
    pub fn total(&self) -> u64 {
        self.non_finite + self.out_of_range + self.unrepresentable
    }

    /// Adds another count to this one.
    pub fn add(&mut self, other: SkippedFields) {
        self.non_finite += other.non_finite;
        self.out_of_range += other.out_of_range;
        self.unrepresentable += other.unrepresentable;
    }
}

impl fmt::Display for SkippedFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} non-finite, {} out of range, {} with a line break",
            self.non_finite, self.out_of_range, self.unrepresentable
        )
    }
}

/// Which name of a point an [`EncodeError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePart {
    /// The measurement name.
    Measurement,
    /// A tag key.
    TagKey,
    /// A tag value.
    TagValue,
    /// A field key.
    FieldKey,
}

impl fmt::Display for NamePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Measurement => "measurement name",
            Self::TagKey => "tag key",
            Self::TagValue => "tag value",
            Self::FieldKey => "field key",
        })
    }
}

/// Why a point cannot be written as line protocol. The point is not written; sinks count it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A name that line protocol requires is empty.
    #[error(
        "{part} is empty in a point of measurement {measurement:?}; line protocol needs a non-empty name"
    )]
    EmptyName {
        /// The point's measurement.
        measurement: String,
        /// Which name.
        part: NamePart,
    },
    /// The measurement starts with `#`, which readers take for a comment line.
    #[error(
        "measurement {measurement:?} starts with '#', which line protocol reads as a comment; use a name starting with another character"
    )]
    CommentMeasurement {
        /// The point's measurement.
        measurement: String,
    },
    /// A name contains `\n` or `\r`, which line protocol cannot carry.
    #[error(
        "{part} {value:?} in measurement {measurement:?} contains a line break, which line protocol cannot carry"
    )]
    LineBreak {
        /// The point's measurement.
        measurement: String,
        /// Which name.
        part: NamePart,
        /// The offending name.
        value: String,
    },
    /// [`Dialect::V1`]: a name ends with a backslash, which InfluxDB 1.x cannot parse.
    #[error(
        "{part} {value:?} in measurement {measurement:?} ends with a backslash, which InfluxDB 1.x cannot parse"
    )]
    TrailingBackslash {
        /// The point's measurement.
        measurement: String,
        /// Which name.
        part: NamePart,
        /// The offending name.
        value: String,
    },
    /// No field is left to write (none given, or all skipped).
    #[error(
        "point of measurement {measurement:?} has no field line protocol can carry (skipped: {skipped}); a line needs at least one field"
    )]
    NoFields {
        /// The point's measurement.
        measurement: String,
        /// The fields that were skipped.
        skipped: SkippedFields,
    },
}

/// What encoding a batch of points produced (besides the text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchEncoding {
    /// Lines written (one per point that could be encoded).
    pub lines: u64,
    /// Fields skipped in the written lines.
    pub skipped_fields: SkippedFields,
    /// Points that could not be written, with the reason.
    pub rejected: Vec<EncodeError>,
}

/// Characters that make a preceding backslash read as an escape by InfluxDB 2.x and VictoriaMetrics.
const BACKSLASH_SENSITIVE: [char; 4] = [',', '=', ' ', '\\'];
/// Characters escaped in a measurement name.
const MEASUREMENT_SPECIAL: [char; 2] = [',', ' '];
/// Characters escaped in tag keys, tag values and field keys.
const KEY_SPECIAL: [char; 3] = [',', '=', ' '];

/// Appends `point` as one line (with its `\n`) to `out`.
///
/// Returns the fields that were skipped; on error nothing is appended.
pub fn encode_point(
    point: &Point,
    dialect: Dialect,
    out: &mut String,
) -> Result<SkippedFields, EncodeError> {
    let m = &point.measurement;
    check_name(m, m, NamePart::Measurement, dialect)?;
    if m.starts_with('#') {
        return Err(EncodeError::CommentMeasurement {
            measurement: m.clone(),
        });
    }
    for (k, v) in &point.tags {
        check_name(m, k, NamePart::TagKey, dialect)?;
        if !v.is_empty() {
            check_name(m, v, NamePart::TagValue, dialect)?;
        }
    }
    for k in point.fields.keys() {
        check_name(m, k, NamePart::FieldKey, dialect)?;
    }

    let start = out.len();
    escape_name(m, &MEASUREMENT_SPECIAL, out);
    for (k, v) in point.tags.iter().filter(|(_, v)| !v.is_empty()) {
        out.push(',');
        escape_name(k, &KEY_SPECIAL, out);
        out.push('=');
        escape_name(v, &KEY_SPECIAL, out);
    }
    let mut skipped = SkippedFields::default();
    let mut separator = ' ';
    for (k, v) in &point.fields {
        if let Some(reason) = skip_reason(v, dialect) {
            match reason {
                Skip::NonFinite => skipped.non_finite += 1,
                Skip::OutOfRange => skipped.out_of_range += 1,
                Skip::LineBreak => skipped.unrepresentable += 1,
            }
            continue;
        }
        out.push(separator);
        separator = ',';
        escape_name(k, &KEY_SPECIAL, out);
        out.push('=');
        write_value(v, dialect, out);
    }
    if separator == ' ' {
        out.truncate(start);
        return Err(EncodeError::NoFields {
            measurement: m.clone(),
            skipped,
        });
    }
    // Writing to a String cannot fail.
    let _ = writeln!(out, " {}", point.timestamp_ns);
    Ok(skipped)
}

/// Appends every encodable point of `points` to `out`, collecting what was skipped or rejected.
pub fn encode_points<'a>(
    points: impl IntoIterator<Item = &'a Point>,
    dialect: Dialect,
    out: &mut String,
) -> BatchEncoding {
    let mut report = BatchEncoding::default();
    for point in points {
        match encode_point(point, dialect, out) {
            Ok(skipped) => {
                report.lines += 1;
                report.skipped_fields.add(skipped);
            }
            Err(e) => report.rejected.push(e),
        }
    }
    report
}

fn check_name(
    measurement: &str,
    name: &str,
    part: NamePart,
    dialect: Dialect,
) -> Result<(), EncodeError> {
    if name.is_empty() {
        return Err(EncodeError::EmptyName {
            measurement: measurement.to_owned(),
            part,
        });
    }
    if name.contains(['\n', '\r']) {
        return Err(EncodeError::LineBreak {
            measurement: measurement.to_owned(),
            part,
            value: name.to_owned(),
        });
    }
    if dialect == Dialect::V1 && name.ends_with('\\') {
        return Err(EncodeError::TrailingBackslash {
            measurement: measurement.to_owned(),
            part,
            value: name.to_owned(),
        });
    }
    Ok(())
}

/// Escapes `special` with a backslash, and doubles a backslash where a reader would take it for an
/// escape: before one of [`BACKSLASH_SENSITIVE`] or at the end of the name.
fn escape_name(name: &str, special: &[char], out: &mut String) {
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push('\\');
            if chars.peek().is_none_or(|n| BACKSLASH_SENSITIVE.contains(n)) {
                out.push('\\');
            }
        } else {
            if special.contains(&c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
}

enum Skip {
    NonFinite,
    OutOfRange,
    LineBreak,
}

fn skip_reason(value: &FieldValue, dialect: Dialect) -> Option<Skip> {
    match value {
        FieldValue::Float(f) if !f.is_finite() => Some(Skip::NonFinite),
        FieldValue::UInt(u) if dialect == Dialect::V1 && i64::try_from(*u).is_err() => {
            Some(Skip::OutOfRange)
        }
        FieldValue::Str(s) if s.contains(['\n', '\r']) => Some(Skip::LineBreak),
        _ => None,
    }
}

/// Writes a value that [`skip_reason`] accepted.
fn write_value(value: &FieldValue, dialect: Dialect, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = match value {
        FieldValue::Float(f) => write!(out, "{f:?}"),
        FieldValue::Int(i) => write!(out, "{i}i"),
        FieldValue::UInt(u) => match dialect {
            Dialect::V2 => write!(out, "{u}u"),
            Dialect::V1 => write!(out, "{u}i"),
        },
        FieldValue::Bool(b) => write!(out, "{b}"),
        FieldValue::Str(s) => {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            Ok(())
        }
    };
}
