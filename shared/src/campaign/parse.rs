//! Entry points: campaign text (and catalog texts) in, a validated [`Campaign`] or every error out.
//!
//! The document is parsed once into spanned TOML values, then each section (and each workload and
//! sweep) is deserialized on its own, so a mistake in one sweep does not hide the mistakes in the
//! next: all of them come back together, each with `path:line:col`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use super::check::{self, Ctx};
use super::error::{CampaignError, CampaignErrors, ErrorKind, Source};
use super::raw::{self, RawCampaign, RawSweep, RawTargets, RawTiming, RawWorkload, SpannedList};
use super::sweep::{self, SweepEnv};
use super::{Campaign, Fill, SweepKind, sections, workload};
use crate::model::{Scope, WorkloadSpec};

/// Parse and validate a campaign file; `catalog` holds the workload catalog files it may draw on
/// (read by the caller from [`catalog_dirs`] and the usual `deploy/workloads/`).
///
/// Inline `[workloads.NAME]` override catalog entries; a name defined in two catalog files is an
/// error. Returns every error found, or the TOML syntax errors alone when a file does not parse.
pub fn parse_campaign(source: &Source, catalog: &[Source]) -> Result<Campaign, CampaignErrors> {
    let paths: Vec<&str> = std::iter::once(source.path.as_str())
        .chain(catalog.iter().map(|c| c.path.as_str()))
        .collect();
    let mut errors = Vec::new();
    let doc = parse_document(source, &mut errors);
    let catalog_docs: Vec<_> = catalog
        .iter()
        .map(|c| parse_document(c, &mut errors))
        .collect();
    let Some(doc) = doc.filter(|_| errors.is_empty()) else {
        return Err(CampaignErrors::sorted(errors, &paths));
    };
    let catalog_docs: Vec<_> = catalog
        .iter()
        .zip(catalog_docs)
        .filter_map(|(src, doc)| doc.map(|doc| (src, doc)))
        .collect();
    let campaign = validate(source, doc, catalog_docs, &mut errors);
    match campaign {
        Some(c) if errors.is_empty() => Ok(c),
        _ => {
            // Every check that gives up reports why; this keeps an `Err` from ever being empty.
            if errors.is_empty() {
                errors.push(source.error(ErrorKind::Schema, 0..0, "invalid campaign"));
            }
            Err(CampaignErrors::sorted(errors, &paths))
        }
    }
}

/// The catalog folders a campaign names (`[campaign] catalog = ["../workloads"]`), resolved against
/// the campaign file's folder. Reads only that key, so the caller can load the catalogs before
/// calling [`parse_campaign`]; the rest of the file is validated there.
pub fn catalog_dirs(source: &Source) -> Result<Vec<PathBuf>, CampaignErrors> {
    #[derive(Deserialize)]
    struct OnlyCatalog {
        catalog: Option<SpannedList<String>>,
    }
    let paths = [source.path.as_str()];
    let mut errors = Vec::new();
    let Some(doc) = parse_document(source, &mut errors) else {
        return Err(CampaignErrors::sorted(errors, &paths));
    };
    let mut ctx = Ctx::new(source, &mut errors);
    let mut dirs = Vec::new();
    for (key, value) in doc.into_inner() {
        if key.get_ref() != "campaign" {
            continue;
        }
        let Some(only) = ctx.deserialize::<OnlyCatalog>(value) else {
            continue;
        };
        let Some(list) = only.catalog else { continue };
        let Some(items) = check::string_list(&mut ctx, &list, "catalog", 0) else {
            continue;
        };
        let base = Path::new(&source.path).parent().unwrap_or(Path::new(""));
        dirs.extend(items.into_iter().map(|d| base.join(d.get_ref())));
    }
    if errors.is_empty() {
        Ok(dirs)
    } else {
        Err(CampaignErrors::sorted(errors, &paths))
    }
}

/// The top-level table of a file, or its syntax error.
fn parse_document<'i>(
    src: &'i Source,
    errors: &mut Vec<CampaignError>,
) -> Option<Spanned<DeTable<'i>>> {
    match DeTable::parse(&src.text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let mut message = e.message().trim_end().to_owned();
            // Some messages do not say what they refer to ("duplicate key"): quote the source.
            if let Some(found) = src.text.get(span.clone()) {
                let short = !found.is_empty() && found.len() <= 40 && !found.contains('\n');
                if short && !message.contains(found) {
                    message = format!("{message}: `{found}`");
                }
            }
            errors.push(src.error(ErrorKind::Syntax, span, message));
            None
        }
    }
}

/// The top-level tables of a campaign file, each with the span of its header.
#[derive(Default)]
struct Sections<'i> {
    campaign: Option<Spanned<DeValue<'i>>>,
    targets: Option<Spanned<DeValue<'i>>>,
    timing: Option<Spanned<DeValue<'i>>>,
    workloads: Option<Spanned<DeValue<'i>>>,
    sweep: Option<Spanned<DeValue<'i>>>,
}

fn split<'i>(ctx: &mut Ctx<'_, '_>, doc: Spanned<DeTable<'i>>) -> Sections<'i> {
    let mut s = Sections::default();
    for (key, value) in doc.into_inner() {
        let slot = match key.get_ref().as_ref() {
            "campaign" => &mut s.campaign,
            "targets" => &mut s.targets,
            "timing" => &mut s.timing,
            "workloads" => &mut s.workloads,
            "sweep" => &mut s.sweep,
            other => {
                ctx.err(
                    ErrorKind::Schema,
                    key.span(),
                    unknown_key(other, raw::CAMPAIGN_KEYS),
                );
                continue;
            }
        };
        *slot = Some(value);
    }
    s
}

fn unknown_key(key: &str, allowed: &[&str]) -> String {
    let allowed: Vec<String> = allowed.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "unknown table `{key}`, expected one of {}",
        allowed.join(", ")
    )
}

fn validate(
    source: &Source,
    doc: Spanned<DeTable<'_>>,
    catalog: Vec<(&Source, Spanned<DeTable<'_>>)>,
    errors: &mut Vec<CampaignError>,
) -> Option<Campaign> {
    let mut ctx = Ctx::new(source, errors);
    let doc_span = doc.span();
    let s = split(&mut ctx, doc);

    let header = match s.campaign {
        Some(v) => ctx
            .deserialize::<RawCampaign>(v)
            .and_then(|raw| sections::campaign(&mut ctx, &raw)),
        None => {
            ctx.err(
                ErrorKind::Schema,
                doc_span.start..doc_span.start,
                "missing table [campaign] (it needs at least `name = \"...\"`)",
            );
            None
        }
    };
    let targets = match s.targets {
        Some(v) => ctx
            .deserialize::<RawTargets>(v)
            .and_then(|raw| sections::targets(&mut ctx, Some(&raw))),
        None => sections::targets(&mut ctx, None),
    };
    let timing = match s.timing {
        Some(v) => {
            let span = v.span();
            ctx.deserialize::<RawTiming>(v)
                .and_then(|raw| sections::timing(&mut ctx, Some(&raw), span))
        }
        None => sections::timing(&mut ctx, None, 0..0),
    };

    let defs = workloads(ctx.reborrow(), s.workloads, catalog);

    let models = targets
        .as_ref()
        .map(|t| sections::targeted_models(&t.gpu_models))
        .unwrap_or_default();
    let env = SweepEnv {
        default_scope: targets.as_ref().map_or(Scope::Gpu, |t| t.scope),
        models: &models,
        workloads: &defs,
    };
    let sweeps = sweeps(&mut ctx, s.sweep, doc_span, &env);

    let sweeps = sweeps?;
    let mut used: BTreeMap<String, WorkloadSpec> = BTreeMap::new();
    for sw in &sweeps {
        let mut names: Vec<&String> = sw.workloads.iter().collect();
        match &sw.kind {
            SweepKind::MigLayouts {
                fill: Fill::Neighbours(w),
                ..
            } => names.push(w),
            SweepKind::MigNeighbours {
                neighbour_workload, ..
            } => names.push(neighbour_workload),
            _ => {}
        }
        for n in names {
            let spec = defs.get(n).cloned().flatten()?;
            used.insert(n.clone(), spec);
        }
    }
    let header = header?;
    Some(Campaign {
        name: header.name,
        repetitions: header.repetitions,
        order: header.order,
        seed: header.seed,
        targets: targets?,
        timing: timing?,
        power_budget_w: header.power_budget_w,
        workloads: used,
        sweeps,
    })
}

/// Every workload definition, catalog first and inline over it; `None` marks an invalid one.
fn workloads(
    mut ctx: Ctx<'_, '_>,
    inline: Option<Spanned<DeValue<'_>>>,
    catalog: Vec<(&Source, Spanned<DeTable<'_>>)>,
) -> BTreeMap<String, Option<WorkloadSpec>> {
    let mut defs = BTreeMap::new();
    // Where each catalog name was first defined: path, line, column.
    let mut origin: BTreeMap<String, (String, usize, usize)> = BTreeMap::new();
    for (src, doc) in catalog {
        let mut cctx = ctx.for_source(src);
        for (key, value) in doc.into_inner() {
            if key.get_ref() != "workloads" {
                cctx.err(
                    ErrorKind::Schema,
                    key.span(),
                    unknown_key(key.get_ref(), raw::CATALOG_KEYS),
                );
                continue;
            }
            for (name, span, spec) in workload_table(&mut cctx, value) {
                let (line, col) = src.line_col(span.start);
                if let Some((path, l, c)) = origin.get(&name) {
                    cctx.err(
                        ErrorKind::Duplicate,
                        span,
                        format!(
                            "workload \"{name}\" is also defined in {path}:{l}:{c}; a name may be defined in only one catalog file"
                        ),
                    );
                    continue;
                }
                origin.insert(name.clone(), (src.path.clone(), line, col));
                defs.insert(name, spec);
            }
        }
    }
    if let Some(value) = inline {
        for (name, _, spec) in workload_table(&mut ctx, value) {
            defs.insert(name, spec);
        }
    }
    defs
}

/// The entries of a `workloads` table, validated: name, span of the name, spec (`None` if invalid).
fn workload_table(
    ctx: &mut Ctx<'_, '_>,
    value: Spanned<DeValue<'_>>,
) -> Vec<(String, Range<usize>, Option<WorkloadSpec>)> {
    let span = value.span();
    let DeValue::Table(table) = value.into_inner() else {
        ctx.err(
            ErrorKind::Schema,
            span,
            "`workloads` must be a table of [workloads.NAME] tables",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in table {
        let name = key.get_ref().to_string();
        let name_ok = check::name(ctx, "workload name", &name, key.span());
        let spec = ctx
            .deserialize::<RawWorkload>(value)
            .and_then(|raw| workload::workload(ctx, &name, &raw))
            .filter(|_| name_ok);
        out.push((name, key.span(), spec));
    }
    out
}

/// Every `[[sweep]]`, validated; `None` if any is invalid or there are none.
fn sweeps(
    ctx: &mut Ctx<'_, '_>,
    value: Option<Spanned<DeValue<'_>>>,
    doc_span: Range<usize>,
    env: &SweepEnv<'_>,
) -> Option<Vec<super::Sweep>> {
    let Some(value) = value else {
        ctx.err(
            ErrorKind::Schema,
            doc_span.start..doc_span.start,
            "no [[sweep]]: a campaign needs at least one sweep",
        );
        return None;
    };
    let span = value.span();
    let DeValue::Array(items) = value.into_inner() else {
        ctx.err(
            ErrorKind::Schema,
            span,
            "`sweep` must be an array of tables: write each one as [[sweep]]",
        );
        return None;
    };
    if items.is_empty() {
        ctx.err(
            ErrorKind::Schema,
            span,
            "`sweep` is empty: a campaign needs at least one sweep",
        );
        return None;
    }
    let mut ok = true;
    let mut out = Vec::new();
    let mut names: Vec<Spanned<String>> = Vec::new();
    for item in items {
        let span = item.span();
        let Some(raw) = ctx.deserialize::<RawSweep>(item) else {
            ok = false;
            continue;
        };
        if let Some(first) = names.iter().find(|n| n.get_ref() == raw.name.get_ref()) {
            let (line, _) = ctx.src.line_col(first.span().start);
            ctx.err(
                ErrorKind::Duplicate,
                raw.name.span(),
                format!(
                    "duplicate sweep name \"{}\" (first used on line {line}); sweep names must be unique",
                    raw.name.get_ref()
                ),
            );
            ok = false;
        }
        names.push(raw.name.clone());
        match sweep::sweep(ctx, &raw, span, env) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}
