//! Small value checks shared by every section: choices, integer ranges, lists, names.
//!
//! Each check reports at the value's own span and returns `None` when the value is unusable, so that
//! validation goes on and every problem in a file is reported in one run.

use std::fmt::Display;
use std::ops::Range;

use serde::de::DeserializeOwned;
use serde_spanned::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::error::{CampaignError, ErrorKind, Source};
use super::raw::SpannedList;

/// Where errors go while one file is validated.
pub(crate) struct Ctx<'s, 'e> {
    /// The file being validated.
    pub src: &'s Source,
    errors: &'e mut Vec<CampaignError>,
}

impl<'s, 'e> Ctx<'s, 'e> {
    /// Errors about `src` go to `errors`.
    pub fn new(src: &'s Source, errors: &'e mut Vec<CampaignError>) -> Self {
        Self { src, errors }
    }

    /// The same file with a shorter borrow of the error list.
    pub fn reborrow(&mut self) -> Ctx<'s, '_> {
        Ctx {
            src: self.src,
            errors: self.errors,
        }
    }

    /// A context for another file that reports into the same list.
    pub fn for_source<'t>(&mut self, src: &'t Source) -> Ctx<'t, '_> {
        Ctx {
            src,
            errors: self.errors,
        }
    }

    /// Record an error at the start of `span`.
    pub fn err(&mut self, kind: ErrorKind, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(self.src.error(kind, span, message));
    }

    /// Deserialize a raw section, recording serde's error (unknown key, wrong type, missing key) at
    /// its span, or at `value`'s span when it has none.
    pub fn deserialize<T: DeserializeOwned>(&mut self, value: Spanned<DeValue<'_>>) -> Option<T> {
        let span = value.span();
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(v),
            Err(e) => {
                let at = e.span().unwrap_or(span);
                self.err(ErrorKind::Schema, at, schema_message(e.message()));
                None
            }
        }
    }
}

/// serde's messages name Rust types (`expected struct RawSweep`); say what the file should hold.
fn schema_message(message: &str) -> String {
    let message = message.trim_end();
    for (rust, toml) in [
        ("struct RawCampaign", "a table"),
        ("struct RawTargets", "a table"),
        ("struct RawTiming", "a table"),
        ("struct RawWorkload", "a table"),
        (
            "struct RawMetric",
            "a table { regex, unit, higher_is_better }",
        ),
        ("struct RawReady", "a table { log_regex, timeout_s }"),
        ("struct RawSim", "a table { intensity, fom }"),
        ("struct RawSweep", "a table"),
        (
            "struct RawNeighbourTable",
            "a table { profile, workload, max }",
        ),
        ("i64", "an integer"),
        ("u64", "a non-negative integer"),
        ("f64", "a number"),
        ("a sequence", "an array"),
        ("a map", "a table"),
    ] {
        if let Some(rest) = message.strip_suffix(rust) {
            return format!("{rest}{toml}");
        }
    }
    message.to_owned()
}

/// One of a fixed set of words (`order`, `sharing`, `runtime`, ...).
pub(crate) fn choice<T: Clone>(
    ctx: &mut Ctx<'_, '_>,
    value: &Spanned<String>,
    key: &str,
    options: &[(&str, T)],
) -> Option<T> {
    if let Some((_, v)) = options.iter().find(|(name, _)| *name == value.get_ref()) {
        return Some(v.clone());
    }
    let allowed: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    ctx.err(
        ErrorKind::Value,
        value.span(),
        format!(
            "unknown {key} \"{}\"; allowed: {}",
            value.get_ref(),
            allowed.join(", ")
        ),
    );
    None
}

/// An integer in `min..=max`.
pub(crate) fn int_in(
    ctx: &mut Ctx<'_, '_>,
    value: &Spanned<i64>,
    key: &str,
    min: i64,
    max: i64,
) -> Option<u32> {
    let v = *value.get_ref();
    if (min..=max).contains(&v)
        && let Ok(v) = u32::try_from(v)
    {
        return Some(v);
    }
    ctx.err(
        ErrorKind::Value,
        value.span(),
        format!("`{key}` must be {}, got {v}", range_text(min, max)),
    );
    None
}

/// `between 1 and 64`, or `at least 1` when `max` is only the type's limit.
pub(crate) fn range_text(min: impl Display, max: impl Display) -> String {
    let max = max.to_string();
    if max == u32::MAX.to_string() {
        format!("at least {min}")
    } else {
        format!("between {min} and {max}")
    }
}

/// A list of integers, each in `min..=max`, no value twice, at least `min_len` values.
pub(crate) fn int_list(
    ctx: &mut Ctx<'_, '_>,
    list: &SpannedList<i64>,
    key: &str,
    min: i64,
    max: i64,
    min_len: usize,
) -> Option<Vec<u32>> {
    let mut ok = non_empty(ctx, list, key, min_len);
    let mut out = Vec::with_capacity(list.get_ref().len());
    for (i, item) in list.get_ref().iter().enumerate() {
        let v = *item.get_ref();
        if list.get_ref()[..i].iter().any(|p| *p.get_ref() == v) {
            ctx.err(
                ErrorKind::Duplicate,
                item.span(),
                format!("`{key}` lists {v} twice"),
            );
            ok = false;
            continue;
        }
        match int_in(ctx, item, key, min, max) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A list of strings with no value twice and at least `min_len` values.
pub(crate) fn string_list<'a>(
    ctx: &mut Ctx<'_, '_>,
    list: &'a SpannedList<String>,
    key: &str,
    min_len: usize,
) -> Option<Vec<&'a Spanned<String>>> {
    let mut ok = non_empty(ctx, list, key, min_len);
    let mut out = Vec::with_capacity(list.get_ref().len());
    for (i, item) in list.get_ref().iter().enumerate() {
        if list.get_ref()[..i]
            .iter()
            .any(|p| p.get_ref() == item.get_ref())
        {
            ctx.err(
                ErrorKind::Duplicate,
                item.span(),
                format!("`{key}` lists \"{}\" twice", item.get_ref()),
            );
            ok = false;
        } else if item.get_ref().trim().is_empty() {
            ctx.err(
                ErrorKind::Value,
                item.span(),
                format!("`{key}` holds an empty string"),
            );
            ok = false;
        } else {
            out.push(item);
        }
    }
    ok.then_some(out)
}

fn non_empty<T>(ctx: &mut Ctx<'_, '_>, list: &SpannedList<T>, key: &str, min_len: usize) -> bool {
    let len = list.get_ref().len();
    if len >= min_len {
        return true;
    }
    let need = if min_len == 1 {
        "at least one value".to_owned()
    } else {
        format!("at least {min_len} values")
    };
    ctx.err(
        ErrorKind::Value,
        list.span(),
        format!("`{key}` needs {need}, got {len}"),
    );
    false
}

/// A name used in configuration names, subjects and file names: letters, digits, `-`, `_`, `.`.
pub(crate) fn name(ctx: &mut Ctx<'_, '_>, what: &str, value: &str, span: Range<usize>) -> bool {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        ctx.err(
            ErrorKind::Value,
            span,
            format!(
                "{what} \"{value}\" must be 1 to 64 characters among letters, digits, `-`, `_` and `.`"
            ),
        );
    }
    ok
}

/// A finite number `> 0`.
pub(crate) fn positive(ctx: &mut Ctx<'_, '_>, value: &Spanned<f64>, key: &str) -> Option<f64> {
    let v = *value.get_ref();
    if v.is_finite() && v > 0.0 {
        Some(v)
    } else {
        ctx.err(
            ErrorKind::Value,
            value.span(),
            format!("`{key}` must be a number greater than 0, got {v}"),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_messages_name_toml_types() {
        assert_eq!(
            schema_message("invalid type: string \"x\", expected i64"),
            "invalid type: string \"x\", expected an integer"
        );
        assert_eq!(
            schema_message("missing field `name`"),
            "missing field `name`"
        );
    }

    #[test]
    fn range_text_hides_the_type_limit() {
        assert_eq!(range_text(1, u32::MAX), "at least 1");
        assert_eq!(range_text(1, 64), "between 1 and 64");
    }
}
