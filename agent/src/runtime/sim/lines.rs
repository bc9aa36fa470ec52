//! Log lines a simulated workload prints so that the workload's OWN patterns read them: the
//! readiness regex and the metric regex of its catalog entry, whatever they look like.
//!
//! The regex is parsed (`regex-syntax`) and walked to build the shortest line it matches: literals
//! as written, one representative character per class (a space where the class has one), the
//! minimum number of repetitions, the first branch of an alternation, nothing for anchors. For the
//! metric regex the first capture group is left as the hole the value goes in. The template is then
//! checked by running the real regex on a line built from it, and the number format (three decimals,
//! or a whole number where the capture takes digits only) is chosen by that check, so a template
//! that is returned is known to round-trip. A regex this cannot serve is refused with the reason,
//! never guessed at.

use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Why no line can be built for a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The pattern does not parse.
    #[error("pattern `{regex}` does not parse: {reason}")]
    Parse {
        /// The pattern.
        regex: String,
        /// The parser's reason.
        reason: String,
    },
    /// The built line is not read back as intended.
    #[error("pattern `{regex}`: the line `{line}` built from it is not read back as {expected}")]
    NoRoundTrip {
        /// The pattern.
        regex: String,
        /// The line built.
        line: String,
        /// What should have been read.
        expected: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Value,
}

/// How the value is written into the hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberFormat {
    ThreeDecimals,
    Whole,
}

/// A metric line with a hole for the value: `before` + value + `after`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricTemplate {
    before: String,
    after: String,
    format: NumberFormat,
}

impl MetricTemplate {
    /// A template for `regex`, whose first capture group reads the number.
    pub fn new(regex: &str) -> Result<Self, LineError> {
        let pieces = pieces(regex, true)?;
        let hole = pieces.iter().position(|p| *p == Piece::Value);
        let text = |ps: &[Piece]| -> String {
            ps.iter()
                .filter_map(|p| match p {
                    Piece::Text(t) => Some(t.as_str()),
                    Piece::Value => None,
                })
                .collect()
        };
        let (before, after) = match hole {
            Some(i) => (text(&pieces[..i]), text(&pieces[i + 1..])),
            None => (text(&pieces), String::new()),
        };
        let compiled = compile(regex)?;
        let probe = 1234.567;
        for format in [NumberFormat::ThreeDecimals, NumberFormat::Whole] {
            let t = MetricTemplate {
                before: before.clone(),
                after: after.clone(),
                format,
            };
            let line = t.line(probe);
            let read = compiled
                .captures(&line)
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<f64>().ok());
            let want = t.written(probe);
            if read.is_some_and(|r| (r - want).abs() < 1e-9) {
                return Ok(t);
            }
        }
        Err(LineError::NoRoundTrip {
            regex: regex.to_string(),
            line: format!("{before}{probe}{after}"),
            expected: format!("the value {probe} in capture group 1"),
        })
    }

    /// The value as the line carries it.
    fn written(&self, value: f64) -> f64 {
        match self.format {
            NumberFormat::ThreeDecimals => (value * 1000.0).round() / 1000.0,
            NumberFormat::Whole => value.round(),
        }
    }

    /// The line reporting `value` (negative values are written as 0: the catalog's patterns read
    /// unsigned numbers).
    pub fn line(&self, value: f64) -> String {
        let v = if value.is_finite() {
            value.max(0.0)
        } else {
            0.0
        };
        match self.format {
            NumberFormat::ThreeDecimals => format!("{}{v:.3}{}", self.before, self.after),
            NumberFormat::Whole => format!("{}{v:.0}{}", self.before, self.after),
        }
    }
}

/// The shortest line `regex` matches (for readiness patterns), checked against the regex.
pub fn matching_line(regex: &str) -> Result<String, LineError> {
    let line: String = pieces(regex, false)?
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => t,
            Piece::Value => "1".to_string(),
        })
        .collect();
    if compile(regex)?.is_match(&line) {
        Ok(line)
    } else {
        Err(LineError::NoRoundTrip {
            regex: regex.to_string(),
            line,
            expected: "a match".into(),
        })
    }
}

fn compile(regex: &str) -> Result<Regex, LineError> {
    Regex::new(regex).map_err(|e| LineError::Parse {
        regex: regex.to_string(),
        reason: e.to_string(),
    })
}

/// The pieces of the shortest line `regex` matches; with `hole`, capture group 1 is left open.
fn pieces(regex: &str, hole: bool) -> Result<Vec<Piece>, LineError> {
    let hir = regex_syntax::parse(regex).map_err(|e| LineError::Parse {
        regex: regex.to_string(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    walk(&hir, hole, &mut out);
    Ok(out)
}

fn push_text(out: &mut Vec<Piece>, s: &str) {
    if let Some(Piece::Text(t)) = out.last_mut() {
        t.push_str(s);
    } else {
        out.push(Piece::Text(s.to_string()));
    }
}

fn walk(hir: &Hir, hole: bool, out: &mut Vec<Piece>) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => push_text(out, &String::from_utf8_lossy(&lit.0)),
        HirKind::Class(class) => {
            if let Some(c) = representative(class) {
                push_text(out, c.encode_utf8(&mut [0; 4]));
            }
        }
        HirKind::Repetition(rep) => {
            for _ in 0..rep.min {
                walk(&rep.sub, hole, out);
            }
        }
        HirKind::Capture(cap) if hole && cap.index == 1 => out.push(Piece::Value),
        HirKind::Capture(cap) => walk(&cap.sub, hole, out),
        HirKind::Concat(parts) => parts.iter().for_each(|p| walk(p, hole, out)),
        HirKind::Alternation(alts) => {
            if let Some(first) = alts.first() {
                walk(first, hole, out);
            }
        }
    }
}

/// One character of a class: a space if it has one, else its first printable character, else its
/// first character.
fn representative(class: &Class) -> Option<char> {
    let chars: Vec<(char, char)> = match class {
        Class::Unicode(u) => u.ranges().iter().map(|r| (r.start(), r.end())).collect(),
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .map(|r| (char::from(r.start()), char::from(r.end())))
            .collect(),
    };
    if chars.iter().any(|(a, b)| (*a..=*b).contains(&' ')) {
        return Some(' ');
    }
    chars
        .iter()
        .find_map(|(a, b)| {
            let lo = (*a).max('!');
            (lo <= *b && lo <= '~').then_some(lo)
        })
        .or_else(|| chars.first().map(|(a, _)| *a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_lines_the_pattern_reads_back() {
        let t = MetricTemplate::new(r"(\d+(?:\.\d+)?) Gflop/s").unwrap();
        assert_eq!(t.line(52341.5), "52341.500 Gflop/s");
        let t = MetricTemplate::new(r#""samples_per_minute":\s*(\d+(?:\.\d+)?)"#).unwrap();
        assert_eq!(t.line(3000.0), "\"samples_per_minute\":3000.000");
        let t = MetricTemplate::new(r"tg128\s*\|\s*(\d+(?:\.\d+)?)").unwrap();
        assert_eq!(t.line(1.0), "tg128|1.000");
        let t = MetricTemplate::new(r"^\s+loss=[a-z]+ rate=(\d+)\s+it/s$").unwrap();
        assert_eq!(t.line(7.6), " loss=a rate=8 it/s");
    }

    #[test]
    fn alternations_take_the_first_branch_and_classes_prefer_a_space() {
        let t = MetricTemplate::new(r"(?:speed|rate)[:=\s]+(\d+\.\d+)").unwrap();
        assert_eq!(t.line(2.5), "speed 2.500");
        assert_eq!(
            matching_line("Initialized (device|GPU)").unwrap(),
            "Initialized device"
        );
        assert_eq!(matching_line(r"^ready\b").unwrap(), "ready");
    }

    #[test]
    fn unusable_patterns_are_refused_with_the_reason() {
        assert!(matches!(
            MetricTemplate::new("(").unwrap_err(),
            LineError::Parse { .. }
        ));
        // The capture reads letters: no number can be written into it.
        let e = MetricTemplate::new(r"fom=([a-z]+)").unwrap_err();
        assert!(matches!(e, LineError::NoRoundTrip { .. }), "{e}");
        // No capture at all.
        assert!(MetricTemplate::new(r"\d+ Gflop/s").is_err());
    }

    #[test]
    fn negative_and_non_finite_values_are_written_as_zero() {
        let t = MetricTemplate::new(r"qps=(\d+(?:\.\d+)?)").unwrap();
        assert_eq!(t.line(-3.0), "qps=0.000");
        assert_eq!(t.line(f64::NAN), "qps=0.000");
    }
}
