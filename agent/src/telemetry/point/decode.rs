//! A small line-protocol reader for tests: the inverse of the encoder, following the escaping rules
//! of InfluxDB 2.x and VictoriaMetrics. It exists so that property tests and the file-sink tests can
//! check that what was written reads back as the same point.

use super::{FieldValue, Point};
use std::collections::BTreeMap;

/// After a backslash, these characters are taken literally (the backslash is an escape).
const ESCAPABLE: [char; 4] = [',', '=', ' ', '\\'];

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Reader<'_> {
    /// Reads a name up to (not including) an unescaped character of `stops`.
    fn name(&mut self, stops: &[char]) -> String {
        let mut out = String::new();
        while let Some(&c) = self.chars.peek() {
            if stops.contains(&c) {
                break;
            }
            self.chars.next();
            if c == '\\' {
                match self.chars.peek() {
                    Some(&n) if ESCAPABLE.contains(&n) => {
                        out.push(n);
                        self.chars.next();
                    }
                    _ => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    fn expect(&mut self, want: char) -> Result<(), String> {
        match self.chars.next() {
            Some(c) if c == want => Ok(()),
            other => Err(format!("expected {want:?}, found {other:?}")),
        }
    }

    fn value(&mut self) -> Result<FieldValue, String> {
        if self.chars.peek() == Some(&'"') {
            self.chars.next();
            let mut s = String::new();
            loop {
                match self.chars.next() {
                    None => return Err("unterminated string".into()),
                    Some('"') => return Ok(FieldValue::Str(s)),
                    Some('\\') => match self.chars.next() {
                        Some(c @ ('"' | '\\')) => s.push(c),
                        other => return Err(format!("bad string escape {other:?}")),
                    },
                    Some(c) => s.push(c),
                }
            }
        }
        let mut raw = String::new();
        while let Some(&c) = self.chars.peek() {
            if c == ',' || c == ' ' {
                break;
            }
            raw.push(c);
            self.chars.next();
        }
        let parsed = if let Some(i) = raw.strip_suffix('i') {
            i.parse().map(FieldValue::Int).map_err(|e| e.to_string())
        } else if let Some(u) = raw.strip_suffix('u') {
            u.parse().map(FieldValue::UInt).map_err(|e| e.to_string())
        } else if raw == "true" || raw == "false" {
            Ok(FieldValue::Bool(raw == "true"))
        } else {
            raw.parse()
                .map(FieldValue::Float)
                .map_err(|e| e.to_string())
        };
        parsed.map_err(|e| format!("bad value {raw:?}: {e}"))
    }
}

/// Parses one line (without its `\n`) back into a point.
pub(crate) fn decode_line(line: &str) -> Result<Point, String> {
    let mut r = Reader {
        chars: line.chars().peekable(),
    };
    let measurement = r.name(&[',', ' ']);
    let mut tags = BTreeMap::new();
    while r.chars.peek() == Some(&',') {
        r.chars.next();
        let k = r.name(&['=']);
        r.expect('=')?;
        let v = r.name(&[',', ' ']);
        tags.insert(k, v);
    }
    r.expect(' ')?;
    let mut fields = BTreeMap::new();
    loop {
        let k = r.name(&['=']);
        r.expect('=')?;
        fields.insert(k, r.value()?);
        match r.chars.next() {
            Some(',') => continue,
            Some(' ') => break,
            other => {
                return Err(format!(
                    "expected ',' or ' ' after a field, found {other:?}"
                ));
            }
        }
    }
    let ts: String = r.chars.collect();
    let timestamp_ns = ts
        .parse()
        .map_err(|e| format!("bad timestamp {ts:?}: {e}"))?;
    Ok(Point {
        measurement,
        tags,
        fields,
        timestamp_ns,
    })
}

/// Parses a whole line-protocol text (lines ending in `\n`, `#` comments allowed).
pub(crate) fn decode_text(text: &str) -> Result<Vec<Point>, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(decode_line)
        .collect()
}
