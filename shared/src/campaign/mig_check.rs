//! MIG layouts and profiles of a campaign, parsed and placed on every targeted GPU model.
//!
//! A layout that cannot exist on a targeted GPU would fail on the agent hours into a campaign; here
//! it fails at submission, pointing at the layout string, naming the model and the solver's reason.
//! When no built-in model matches `[targets] gpu_models`, placement waits for planning, which sees
//! the fleet's own profile tables. Profile names differ between models, so a layout only has to fit
//! the targeted models that know its profiles (and at least one must).

use std::ops::Range;

use serde_spanned::Spanned;

use super::check::Ctx;
use super::error::ErrorKind;
use crate::gpu_model::GpuModel;
use crate::mig::{LayoutSpec, PlacementError, ProfileRef, builtin_table, parse_layout, place};

/// Parse `text` (the value of the string at `span`), reporting a grammar error at its column.
///
/// `offset` is the number of characters of `text` that come before the string's own value (for
/// layouts composed from `gpu_instance` and a `compute_instances` entry); columns before it point at
/// the string's start.
pub(crate) fn parse_at(
    ctx: &mut Ctx<'_, '_>,
    text: &str,
    value: &str,
    span: Range<usize>,
    offset: usize,
) -> Option<LayoutSpec> {
    match parse_layout(text) {
        Ok(spec) => Some(spec),
        Err(e) => {
            let col_in_value = e.column.saturating_sub(offset + 1);
            let at = column_span(&ctx.src.text, span, value, col_in_value);
            ctx.err(
                ErrorKind::Layout,
                at,
                format!("invalid MIG layout \"{text}\": {}", e.message),
            );
            None
        }
    }
}

/// The span of character `col` (0-based) of a TOML string whose value is `value`, when the string is
/// written without escapes so columns map one to one; otherwise the string's start.
fn column_span(doc: &str, span: Range<usize>, value: &str, col: usize) -> Range<usize> {
    let Some(raw) = doc.get(span.clone()) else {
        return span;
    };
    let unescaped = [("\"", "\""), ("'", "'")].iter().any(|(open, close)| {
        raw.len() >= 2
            && raw.starts_with(open)
            && raw.ends_with(close)
            && !raw.starts_with("\"\"\"")
            && !raw.starts_with("'''")
            && raw[1..raw.len() - 1] == *value
    });
    if !unescaped {
        return span;
    }
    let byte = value
        .char_indices()
        .nth(col)
        .map_or(value.len(), |(i, _)| i);
    let start = span.start + 1 + byte;
    start..span.end.max(start)
}

/// Place `spec` on every targeted model with a built-in table; report each refusal at `span`.
///
/// Profile names are model-specific (`3g.40gb` on an H100 80GB is `3g.47gb` on an H100 NVL), so a
/// layout applies to the targeted models whose tables know its profiles: it must place on each of
/// those, and must be known to at least one; a model that lacks one of its profiles simply does not
/// run it. With no targeted built-in model, placement waits for planning.
pub(crate) fn check_fits(
    ctx: &mut Ctx<'_, '_>,
    text: &str,
    spec: &LayoutSpec,
    span: Range<usize>,
    models: &[&GpuModel],
) -> bool {
    let mut ok = true;
    let mut applies_somewhere = false;
    let mut unknown = Vec::new();
    for model in models {
        let Some(table) = builtin_table(model.id) else {
            continue;
        };
        match place(&table, spec) {
            Ok(_) => applies_somewhere = true,
            Err(e @ PlacementError::UnknownProfile { .. }) => unknown.push((model, e)),
            Err(e) => {
                applies_somewhere = true;
                ctx.err(ErrorKind::Layout, span.clone(), refusal(text, model, &e));
                ok = false;
            }
        }
    }
    if !applies_somewhere {
        for (model, e) in unknown {
            ctx.err(ErrorKind::Layout, span.clone(), refusal(text, model, &e));
            ok = false;
        }
    }
    ok
}

fn refusal(text: &str, model: &GpuModel, e: &PlacementError) -> String {
    format!(
        "MIG layout \"{text}\" does not fit {} ({}): {e}",
        model.id, model.nvml_name
    )
}

/// A single GPU-instance profile (`3g.40gb`, `1g.10gb+me`, `9`), parsed with the layout grammar and
/// placed alone on every targeted model.
pub(crate) fn profile(
    ctx: &mut Ctx<'_, '_>,
    value: &Spanned<String>,
    key: &str,
    models: &[&GpuModel],
) -> Option<ProfileRef> {
    let text = value.get_ref();
    let spec = parse_at(ctx, text, text, value.span(), 0)?;
    let single = match spec.terms.as_slice() {
        [t] if t.count == 1 && t.start.is_none() && t.compute.is_none() => Some(t.profile.clone()),
        _ => None,
    };
    let Some(profile) = single else {
        ctx.err(
            ErrorKind::Layout,
            value.span(),
            format!(
                "`{key}` takes one GPU-instance profile such as \"3g.40gb\", without count, start or compute instances; got \"{text}\""
            ),
        );
        return None;
    };
    check_fits(ctx, text, &spec, value.span(), models).then_some(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_map_into_plain_strings_only() {
        let doc = r#"x = "3g.40gb x9""#;
        // `x9` starts at character 8 of the value; the value starts after the quote at byte 5.
        assert_eq!(column_span(doc, 4..16, "3g.40gb x9", 8).start, 13);
        let doc = r#"x = "3g.40gb\u0020x9""#;
        assert_eq!(column_span(doc, 4..21, "3g.40gb x9", 8), 4..21);
    }
}
