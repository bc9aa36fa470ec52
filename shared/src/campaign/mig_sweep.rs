//! The two shapes of a `sharing = "mig"` sweep.
//!
//! Layout sweeps (`layouts`, or `gpu_instance` + `compute_instances`, the compute-instance split of
//! the seed's exp-perf-mig-ci) run each layout with its instances filled; neighbour sweeps
//! (`protagonist` + `neighbours`) grow the load around one GPU instance. Every layout and profile is
//! parsed here and placed on each targeted model.

use serde_spanned::Spanned;

use super::check::{self, Ctx};
use super::error::ErrorKind;
use super::mig_check;
use super::raw::{RawNeighbours, RawSweep, SpannedList};
use super::sweep::{SweepEnv, concurrency, workload_ref};
use super::{Fill, LayoutEntry, NeighbourProfile, SweepKind};
use crate::model::Runtime;

/// `layouts = [..]` or `gpu_instance` + `compute_instances`, with `fill` or `neighbours = "NAME"`.
pub(crate) fn layouts_form(
    ctx: &mut Ctx<'_, '_>,
    raw: &RawSweep,
    runtime: Option<Runtime>,
    env: &SweepEnv<'_>,
) -> Option<SweepKind> {
    let layouts = match &raw.layouts {
        Some(list) => listed_layouts(ctx, list, env),
        None => compute_splits(ctx, raw, env),
    };
    let fill = fill(ctx, raw, runtime, env);
    let concurrency = concurrency(ctx, raw, "mig", Some(vec![1]));
    Some(SweepKind::MigLayouts {
        layouts: layouts?,
        fill: fill?,
        concurrency: concurrency?,
    })
}

fn listed_layouts(
    ctx: &mut Ctx<'_, '_>,
    list: &SpannedList<String>,
    env: &SweepEnv<'_>,
) -> Option<Vec<LayoutEntry>> {
    let items = check::string_list(ctx, list, "layouts", 1);
    let mut ok = items.is_some();
    let mut out = Vec::new();
    for item in items.into_iter().flatten() {
        let text = item.get_ref();
        let Some(spec) = mig_check::parse_at(ctx, text, text, item.span(), 0) else {
            ok = false;
            continue;
        };
        ok &= mig_check::check_fits(ctx, text, &spec, item.span(), env.models);
        out.push(LayoutEntry {
            text: text.clone(),
            spec,
        });
    }
    ok.then_some(out)
}

/// `gpu_instance = "7g.80gb"`, `compute_instances = ["1c", "2c x3 + 1c"]` → `7g.80gb(1c)`, ...
fn compute_splits(
    ctx: &mut Ctx<'_, '_>,
    raw: &RawSweep,
    env: &SweepEnv<'_>,
) -> Option<Vec<LayoutEntry>> {
    let (gi, cis) = match (&raw.gpu_instance, &raw.compute_instances) {
        (Some(gi), Some(cis)) => (gi, cis),
        (Some(gi), None) => {
            ctx.err(
                ErrorKind::Schema,
                gi.span(),
                "`gpu_instance` needs `compute_instances`, e.g. compute_instances = [\"1c\", \"2c x3 + 1c\"]",
            );
            return None;
        }
        (None, Some(cis)) => {
            ctx.err(
                ErrorKind::Schema,
                cis.span(),
                "`compute_instances` needs `gpu_instance`, e.g. gpu_instance = \"7g.80gb\"",
            );
            return None;
        }
        (None, None) => return None,
    };
    let gi_ok = mig_check::profile(ctx, gi, "gpu_instance", env.models).is_some();
    let items = check::string_list(ctx, cis, "compute_instances", 1);
    if !gi_ok {
        return None;
    }
    let mut ok = items.is_some();
    let mut out = Vec::new();
    let prefix_chars = gi.get_ref().chars().count() + 1;
    for ci in items.into_iter().flatten() {
        let text = format!("{}({})", gi.get_ref(), ci.get_ref());
        let Some(spec) = mig_check::parse_at(ctx, &text, ci.get_ref(), ci.span(), prefix_chars)
        else {
            ok = false;
            continue;
        };
        ok &= mig_check::check_fits(ctx, &text, &spec, ci.span(), env.models);
        out.push(LayoutEntry { text, spec });
    }
    ok.then_some(out)
}

/// `fill = "all" | "first"` or `neighbours = "WORKLOAD"`.
fn fill(
    ctx: &mut Ctx<'_, '_>,
    raw: &RawSweep,
    runtime: Option<Runtime>,
    env: &SweepEnv<'_>,
) -> Option<Fill> {
    let neighbours = match &raw.neighbours {
        None => None,
        Some(n) => match n.get_ref() {
            RawNeighbours::Workload(w) => Some((w, n.span())),
            RawNeighbours::Table(_) => {
                ctx.err(
                    ErrorKind::Conflict,
                    n.span(),
                    "with `layouts`, `neighbours` names the workload of the other instances (neighbours = \"burn\"); \
                     the table form { profile, workload, max } goes with `protagonist`",
                );
                return None;
            }
        },
    };
    match (&raw.fill, neighbours) {
        (Some(_), Some((_, span))) => {
            ctx.err(
                ErrorKind::Conflict,
                span,
                "`neighbours` cannot be combined with `fill`: `neighbours = \"NAME\"` already says how the other instances are filled",
            );
            None
        }
        (Some(f), None) => check::choice(
            ctx,
            f,
            "fill",
            &[("all", Fill::All), ("first", Fill::First)],
        ),
        (None, Some((w, span))) => {
            workload_ref(ctx, w, span, runtime, env).then(|| Fill::Neighbours(w.clone()))
        }
        (None, None) => Some(Fill::All),
    }
}

/// `protagonist = [..]` + `neighbours = { profile, workload, max }`.
pub(crate) fn neighbours_form(
    ctx: &mut Ctx<'_, '_>,
    raw: &RawSweep,
    runtime: Option<Runtime>,
    env: &SweepEnv<'_>,
) -> Option<SweepKind> {
    let mut ok = true;
    for (key, span) in [
        ("fill", raw.fill.as_ref().map(Spanned::span)),
        ("concurrency", raw.concurrency.as_ref().map(Spanned::span)),
    ] {
        if let Some(span) = span {
            ctx.err(
                ErrorKind::Conflict,
                span,
                format!("`{key}` is not used with `protagonist`: each protagonist runs one workload instance"),
            );
            ok = false;
        }
    }
    let mut protagonists = Vec::new();
    if let Some(list) = &raw.protagonist {
        let items = check::string_list(ctx, list, "protagonist", 1);
        ok &= items.is_some();
        for p in items.into_iter().flatten() {
            match mig_check::profile(ctx, p, "protagonist", env.models) {
                Some(p) => protagonists.push(p),
                None => ok = false,
            }
        }
    }
    let table = match &raw.neighbours {
        Some(n) => match n.get_ref() {
            RawNeighbours::Table(t) => Some(t),
            RawNeighbours::Workload(_) => {
                ctx.err(
                    ErrorKind::Conflict,
                    n.span(),
                    "with `protagonist`, `neighbours` is a table { profile, workload, max }, \
                     e.g. neighbours = { profile = \"smallest\", workload = \"burn\" }",
                );
                None
            }
        },
        None => {
            let at = raw
                .protagonist
                .as_ref()
                .map_or(raw.sharing.span(), Spanned::span);
            ctx.err(
                ErrorKind::Schema,
                at,
                "`protagonist` needs `neighbours = { profile = \"smallest\", workload = \"NAME\" }`",
            );
            None
        }
    };
    let table = table?;
    let profile = match &table.profile {
        Some(v) if v.get_ref() != "smallest" => {
            mig_check::profile(ctx, v, "neighbours.profile", env.models)
                .map(NeighbourProfile::Profile)
        }
        _ => Some(NeighbourProfile::Smallest),
    };
    let workload = table.workload.get_ref();
    ok &= workload_ref(ctx, workload, table.workload.span(), runtime, env);
    let max = match &table.max {
        Some(m) => check::int_in(ctx, m, "neighbours.max", 1, i64::from(u32::MAX)).map(Some),
        None => Some(None),
    };
    if !ok {
        return None;
    }
    Some(SweepKind::MigNeighbours {
        protagonists,
        neighbour_profile: profile?,
        neighbour_workload: workload.clone(),
        max_neighbours: max?,
    })
}
