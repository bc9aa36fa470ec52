//! A minimal InfluxDB line-protocol writer for `sample --format lp`. The telemetry sink has the
//! complete encoder (`telemetry/point.rs` on the sink branch); this local one exists because that
//! module is not on this branch yet, and follows the same rules: non-finite floats and empty tag
//! values are left out, names are escaped, a line without fields is not written.

use std::fmt::Write as _;

/// A field value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    /// Float.
    F(f64),
    /// Signed integer (`123i`).
    I(i64),
    /// String.
    S(&'a str),
}

fn escape(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        match c {
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// One line (without the newline), or `None` when no field is writable.
pub fn line(
    measurement: &str,
    tags: &[(&str, &str)],
    fields: &[(&str, Field<'_>)],
    t_ns: u64,
) -> Option<String> {
    let mut out = String::with_capacity(160);
    escape(&mut out, measurement, &[',', ' ']);
    for (k, v) in tags.iter().filter(|(_, v)| !v.is_empty()) {
        out.push(',');
        escape(&mut out, k, &[',', '=', ' ']);
        out.push('=');
        escape(&mut out, v, &[',', '=', ' ']);
    }
    let mut first = true;
    for (k, v) in fields {
        if matches!(v, Field::F(x) if !x.is_finite()) {
            continue;
        }
        out.push(if first { ' ' } else { ',' });
        first = false;
        escape(&mut out, k, &[',', '=', ' ']);
        out.push('=');
        match v {
            Field::F(x) => {
                let _ = write!(out, "{x:?}");
            }
            Field::I(x) => {
                let _ = write!(out, "{x}i");
            }
            Field::S(s) => {
                out.push('"');
                escape(&mut out, s, &['"', '\\']);
                out.push('"');
            }
        }
    }
    if first {
        return None;
    }
    let _ = write!(out, " {t_ns}");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_skips() {
        let l = line(
            "gpu",
            &[("node", "n 1"), ("gpu_model", ""), ("phase", "a,b=c")],
            &[
                ("power_w", Field::F(312.5)),
                ("bad", Field::F(f64::NAN)),
                ("n", Field::I(-3)),
                ("msg", Field::S("say \"hi\"\\")),
            ],
            1_700_000_000_000_000_000,
        )
        .unwrap();
        assert_eq!(
            l,
            r#"gpu,node=n\ 1,phase=a\,b\=c power_w=312.5,n=-3i,msg="say \"hi\"\\" 1700000000000000000"#
        );
        assert_eq!(line("gpu", &[], &[("x", Field::F(f64::INFINITY))], 1), None);
        assert_eq!(
            line("gpu", &[], &[("x", Field::F(1.0))], 1).unwrap(),
            "gpu x=1.0 1"
        );
    }
}
