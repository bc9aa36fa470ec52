//! Tests of the line-protocol encoder: golden lines for each rule, and property tests that encode
//! arbitrary points and read them back with the decoder in `decode.rs`.

use super::decode::decode_line;
use super::*;
use proptest::prelude::*;

fn encode(point: &Point, dialect: Dialect) -> Result<(String, SkippedFields), EncodeError> {
    let mut out = String::new();
    encode_point(point, dialect, &mut out).map(|s| (out, s))
}

#[test]
fn golden_line_with_every_field_type() {
    let p = Point::new(measurement::GPU, 1_700_000_000_123_456_789)
        .tag(tag::NODE, "n1")
        .tag(tag::GPU_UUID, "GPU-1")
        .field("power_w", 250.5)
        .field("energy_mj", 123_u64)
        .field("util", 87_i64)
        .field("throttled", true)
        .field("note", "a \"b\" c\\d");
    let (line, skipped) = encode(&p, Dialect::V2).unwrap();
    assert_eq!(
        line,
        "gpu,gpu_uuid=GPU-1,node=n1 energy_mj=123u,note=\"a \\\"b\\\" c\\\\d\",power_w=250.5,\
         throttled=true,util=87i 1700000000123456789\n"
    );
    assert_eq!(skipped, SkippedFields::default());
}

#[test]
fn names_escape_their_special_characters() {
    let p = Point::new("my meas,x=y", -5)
        .tag("k ey", "v=a,l ue")
        .field("f,=k", 1.0);
    let (line, _) = encode(&p, Dialect::V2).unwrap();
    assert_eq!(
        line,
        "my\\ meas\\,x=y,k\\ ey=v\\=a\\,l\\ ue f\\,\\=k=1.0 -5\n"
    );
}

#[test]
fn backslashes_are_doubled_only_where_they_would_read_as_escapes() {
    let p = Point::new("m", 1).tag("t", "a\\b\\,c\\").field("f", 1_i64);
    let (line, _) = encode(&p, Dialect::V2).unwrap();
    assert_eq!(line, "m,t=a\\b\\\\\\,c\\\\ f=1i 1\n");
    // InfluxDB 1.x cannot parse a name ending with a backslash.
    assert!(matches!(
        encode(&p, Dialect::V1),
        Err(EncodeError::TrailingBackslash {
            part: NamePart::TagValue,
            ..
        })
    ));
}

#[test]
fn non_finite_floats_are_skipped_and_counted() {
    let p = Point::new("m", 1)
        .field("a", f64::NAN)
        .field("b", f64::INFINITY)
        .field("c", 2.0);
    let (line, skipped) = encode(&p, Dialect::V2).unwrap();
    assert_eq!(line, "m c=2.0 1\n");
    assert_eq!(skipped.non_finite, 2);
    assert_eq!(skipped.total(), 2);
}

#[test]
fn a_point_left_without_fields_is_rejected_and_nothing_is_written() {
    let p = Point::new("m", 1).field("a", f64::NEG_INFINITY);
    let mut out = String::from("before\n");
    let err = encode_point(&p, Dialect::V2, &mut out).unwrap_err();
    assert_eq!(out, "before\n");
    assert_eq!(
        err,
        EncodeError::NoFields {
            measurement: "m".into(),
            skipped: SkippedFields {
                non_finite: 1,
                ..SkippedFields::default()
            }
        }
    );
    assert!(err.to_string().contains("1 non-finite"), "{err}");
}

#[test]
fn unsigned_values_follow_the_dialect() {
    let p = Point::new("m", 1)
        .field("small", 7_u64)
        .field("huge", u64::MAX);
    assert_eq!(
        encode(&p, Dialect::V2).unwrap().0,
        format!("m huge={}u,small=7u 1\n", u64::MAX)
    );
    let (line, skipped) = encode(&p, Dialect::V1).unwrap();
    assert_eq!(line, "m small=7i 1\n");
    assert_eq!(skipped.out_of_range, 1);
}

#[test]
fn strings_with_line_breaks_are_skipped_and_names_with_them_rejected() {
    let p = Point::new("m", 1).field("s", "a\nb").field("f", 1.5);
    let (line, skipped) = encode(&p, Dialect::V2).unwrap();
    assert_eq!(line, "m f=1.5 1\n");
    assert_eq!(skipped.unrepresentable, 1);

    let p = Point::new("m", 1).tag("t", "a\rb").field("f", 1.5);
    assert!(matches!(
        encode(&p, Dialect::V2),
        Err(EncodeError::LineBreak {
            part: NamePart::TagValue,
            ..
        })
    ));
}

#[test]
fn empty_tag_values_are_left_out_and_empty_names_rejected() {
    let p = Point::new("m", 1).tag("t", "").field("f", 1_i64);
    assert_eq!(encode(&p, Dialect::V2).unwrap().0, "m f=1i 1\n");
    let p = Point::new("m", 1).tag("", "v").field("f", 1_i64);
    assert!(matches!(
        encode(&p, Dialect::V2),
        Err(EncodeError::EmptyName {
            part: NamePart::TagKey,
            ..
        })
    ));
    let p = Point::new("", 1).field("f", 1_i64);
    assert!(encode(&p, Dialect::V2).is_err());
}

#[test]
fn a_measurement_starting_with_hash_is_rejected() {
    let p = Point::new("#m", 1).field("f", 1_i64);
    assert!(matches!(
        encode(&p, Dialect::V2),
        Err(EncodeError::CommentMeasurement { .. })
    ));
}

#[test]
fn batch_encoding_counts_lines_skips_and_rejections() {
    let points = [
        Point::new("m", 1).field("f", 1.0).field("n", f64::NAN),
        Point::new("m", 2).field("n", f64::NAN),
        Point::new("m", 3).field("f", 3.0),
    ];
    let mut out = String::new();
    let report = encode_points(&points, Dialect::V2, &mut out);
    assert_eq!(out, "m f=1.0 1\nm f=3.0 3\n");
    assert_eq!(report.lines, 2);
    assert_eq!(report.skipped_fields.non_finite, 1);
    assert_eq!(report.rejected.len(), 1);
}

#[test]
fn extreme_floats_read_back_bit_for_bit() {
    for v in [
        0.1,
        -0.0,
        1e300,
        -1e-300,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        123_456_789.123,
    ] {
        let (line, _) = encode(&Point::new("m", 1).field("f", v), Dialect::V2).unwrap();
        let back = decode_line(line.trim_end_matches('\n')).unwrap();
        match back.fields.get("f") {
            Some(FieldValue::Float(b)) => assert_eq!(b.to_bits(), v.to_bits(), "{line}"),
            other => panic!("{line}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- property tests

/// Characters that stress the escaping rules, plus anything at all.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![',', '=', ' ', '\\', '"', '#', '\n', '\r', '\t', 'é']),
        4 => prop::char::range('a', 'z'),
        1 => any::<char>(),
    ]
}

fn tricky_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<f64>().prop_map(FieldValue::Float),
        prop::num::f64::ANY.prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Int),
        any::<u64>().prop_map(FieldValue::UInt),
        (0..=u64::from(u32::MAX)).prop_map(FieldValue::UInt),
        any::<bool>().prop_map(FieldValue::Bool),
        tricky_string(12).prop_map(FieldValue::Str),
    ]
}

fn point() -> impl Strategy<Value = Point> {
    (
        tricky_string(10),
        prop::collection::btree_map(tricky_string(8), tricky_string(8), 0..4),
        prop::collection::btree_map(tricky_string(8), field_value(), 0..5),
        any::<i64>(),
    )
        .prop_map(|(measurement, tags, fields, timestamp_ns)| Point {
            measurement,
            tags,
            fields,
            timestamp_ns,
        })
}

fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![Just(Dialect::V2), Just(Dialect::V1)]
}

/// The reason (if any) the encoder must refuse `p`, judged independently of the encoder.
fn must_reject(p: &Point, dialect: Dialect) -> bool {
    let mut names: Vec<&str> = vec![&p.measurement];
    names.extend(p.tags.keys().map(String::as_str));
    names.extend(
        p.tags
            .values()
            .filter(|v| !v.is_empty())
            .map(String::as_str),
    );
    names.extend(p.fields.keys().map(String::as_str));
    let bad_name = names.iter().any(|n| {
        n.is_empty()
            || n.contains('\n')
            || n.contains('\r')
            || (dialect == Dialect::V1 && n.ends_with('\\'))
    });
    bad_name || p.measurement.starts_with('#') || expected(p, dialect).0.fields.is_empty()
}

/// The point the decoder must read back, and the skips the encoder must report.
fn expected(p: &Point, dialect: Dialect) -> (Point, SkippedFields) {
    let mut skipped = SkippedFields::default();
    let mut want = p.clone();
    want.tags.retain(|_, v| !v.is_empty());
    want.fields = p
        .fields
        .iter()
        .filter_map(|(k, v)| {
            let v = match v {
                FieldValue::Float(f) if !f.is_finite() => {
                    skipped.non_finite += 1;
                    return None;
                }
                FieldValue::Str(s) if s.contains(['\n', '\r']) => {
                    skipped.unrepresentable += 1;
                    return None;
                }
                FieldValue::UInt(u) if dialect == Dialect::V1 => match i64::try_from(*u) {
                    Ok(i) => FieldValue::Int(i),
                    Err(_) => {
                        skipped.out_of_range += 1;
                        return None;
                    }
                },
                other => other.clone(),
            };
            Some((k.clone(), v))
        })
        .collect();
    (want, skipped)
}

/// Equality with floats compared bit for bit (so `-0.0` and `0.0` differ).
fn same(a: &Point, b: &Point) -> bool {
    let fields_same = a.fields.len() == b.fields.len()
        && a.fields.iter().zip(&b.fields).all(|((ka, va), (kb, vb))| {
            ka == kb
                && match (va, vb) {
                    (FieldValue::Float(x), FieldValue::Float(y)) => x.to_bits() == y.to_bits(),
                    _ => va == vb,
                }
        });
    a.measurement == b.measurement
        && a.tags == b.tags
        && a.timestamp_ns == b.timestamp_ns
        && fields_same
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encoded_points_read_back_identically(p in point(), dialect in dialect()) {
        let mut out = String::new();
        match encode_point(&p, dialect, &mut out) {
            Ok(skipped) => {
                prop_assert!(!must_reject(&p, dialect), "accepted {p:?} as {out:?}");
                prop_assert!(out.ends_with('\n'));
                prop_assert_eq!(out.matches('\n').count(), 1, "{:?}", out);
                let back = decode_line(&out[..out.len() - 1])
                    .map_err(|e| TestCaseError::fail(format!("{e}: {out:?}")))?;
                let (want, want_skipped) = expected(&p, dialect);
                prop_assert!(same(&back, &want), "{out:?} read back as {back:?}, want {want:?}");
                prop_assert_eq!(skipped, want_skipped);
            }
            Err(e) => {
                prop_assert!(must_reject(&p, dialect), "rejected {p:?}: {e}");
                prop_assert!(out.is_empty());
            }
        }
    }

    #[test]
    fn encoding_never_panics_on_any_strings(
        m in any::<String>(),
        k in any::<String>(),
        v in any::<String>(),
        s in any::<String>(),
        ts in any::<i64>(),
    ) {
        let p = Point::new(m, ts).tag(k.clone(), v).field(k, s);
        let mut out = String::new();
        let _ = encode_point(&p, Dialect::V2, &mut out);
        let _ = encode_point(&p, Dialect::V1, &mut out);
    }
}
