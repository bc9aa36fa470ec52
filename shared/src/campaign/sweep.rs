//! One `[[sweep]]`: its sharing mode, the keys that mode takes, and the values it sweeps.
//!
//! Every sweep table may hold the keys of every mode (one serde struct), so this module decides which
//! keys belong to the sweep's `sharing` and reports the others by name, and checks each mode's values:
//! concurrency and percentage ranges, MIG layouts placed on the targeted models, usage-grid levels.

use std::collections::BTreeMap;
use std::ops::Range;

use serde_spanned::Spanned;

use super::check::{self, Ctx};
use super::error::ErrorKind;
use super::mig_sweep;
use super::raw::RawSweep;
use super::sections::SCOPES;
use super::{Design, Sweep, SweepKind};
use crate::gpu_model::GpuModel;
use crate::model::{Runtime, Scope, SharingKind, WorkloadSpec};

/// Most workload instances sharing one GPU or MIG device.
const MAX_CONCURRENCY: i64 = 64;

/// What a sweep is checked against: the campaign's defaults, targeted models and workloads.
pub(crate) struct SweepEnv<'a> {
    /// `[targets] scope`, used when the sweep has none.
    pub default_scope: Scope,
    /// Built-in models the campaign targets (empty: MIG placement is left to planning).
    pub models: &'a [&'static GpuModel],
    /// Every defined workload; `None` when its definition is invalid (already reported).
    pub workloads: &'a BTreeMap<String, Option<WorkloadSpec>>,
}

/// Keys only some sharing modes take, with the modes that take them.
const MODE_KEYS: &[(&str, &[SharingKind])] = &[
    (
        "concurrency",
        &[SharingKind::TimeSlicing, SharingKind::Mps, SharingKind::Mig],
    ),
    ("active_thread_percentage", &[SharingKind::Mps]),
    ("layouts", &[SharingKind::Mig]),
    ("fill", &[SharingKind::Mig]),
    ("neighbours", &[SharingKind::Mig]),
    ("gpu_instance", &[SharingKind::Mig]),
    ("compute_instances", &[SharingKind::Mig]),
    ("protagonist", &[SharingKind::Mig]),
    ("levels", &[SharingKind::UsageGrid]),
    ("design", &[SharingKind::UsageGrid]),
];

fn present_keys(raw: &RawSweep) -> Vec<(&'static str, Range<usize>)> {
    let spans = [
        raw.concurrency.as_ref().map(Spanned::span),
        raw.active_thread_percentage.as_ref().map(Spanned::span),
        raw.layouts.as_ref().map(Spanned::span),
        raw.fill.as_ref().map(Spanned::span),
        raw.neighbours.as_ref().map(Spanned::span),
        raw.gpu_instance.as_ref().map(Spanned::span),
        raw.compute_instances.as_ref().map(Spanned::span),
        raw.protagonist.as_ref().map(Spanned::span),
        raw.levels.as_ref().map(Spanned::span),
        raw.design.as_ref().map(Spanned::span),
    ];
    MODE_KEYS
        .iter()
        .zip(spans)
        .filter_map(|((key, _), span)| span.map(|s| (*key, s)))
        .collect()
}

/// Report keys that do not belong to `kind`; false if there were any.
fn foreign_keys(ctx: &mut Ctx<'_, '_>, raw: &RawSweep, kind: SharingKind) -> bool {
    let mut ok = true;
    for (key, span) in present_keys(raw) {
        let Some((_, modes)) = MODE_KEYS.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        if modes.contains(&kind) {
            continue;
        }
        ok = false;
        if kind == SharingKind::Mps && modes == &[SharingKind::Mig] {
            ctx.err(
                ErrorKind::Conflict,
                span,
                format!(
                    "MPS on MIG is not supported: `{key}` belongs to sharing = \"mig\", this sweep has sharing = \"mps\""
                ),
            );
        } else {
            let users: Vec<String> = modes.iter().map(|m| format!("\"{m}\"")).collect();
            ctx.err(
                ErrorKind::Conflict,
                span,
                format!(
                    "`{key}` is not used by sharing = \"{kind}\" (only by sharing = {})",
                    users.join(" or ")
                ),
            );
        }
    }
    ok
}

/// Validate one sweep; `span` is its table's (the `[[sweep]]` header).
pub(crate) fn sweep(
    ctx: &mut Ctx<'_, '_>,
    raw: &RawSweep,
    span: Range<usize>,
    env: &SweepEnv<'_>,
) -> Option<Sweep> {
    let name_ok = check::name(ctx, "sweep name", raw.name.get_ref(), raw.name.span());
    let sharing: Vec<(&str, SharingKind)> =
        SharingKind::ALL.iter().map(|k| (k.as_str(), *k)).collect();
    let kind = check::choice(ctx, &raw.sharing, "sharing", &sharing);
    let runtimes: Vec<(&str, Runtime)> = Runtime::ALL.iter().map(|r| (r.as_str(), *r)).collect();
    let runtime = match &raw.runtime {
        Some(r) => check::choice(ctx, r, "runtime", &runtimes),
        None => Some(Runtime::Docker),
    };
    let scope = match &raw.scope {
        Some(s) => check::choice(ctx, s, "scope", SCOPES),
        None => Some(env.default_scope),
    };
    let workloads = check::string_list(ctx, &raw.workloads, "workloads", 1);
    let mut refs_ok = true;
    for w in workloads.iter().flatten() {
        refs_ok &= workload_ref(ctx, w.get_ref(), w.span(), runtime, env);
    }
    let kind = kind?;
    let keys_ok = foreign_keys(ctx, raw, kind);
    let sweep_kind = match kind {
        SharingKind::Exclusive => Some(SweepKind::Exclusive),
        SharingKind::TimeSlicing => concurrency(ctx, raw, "time-slicing", None)
            .map(|c| SweepKind::TimeSlicing { concurrency: c }),
        SharingKind::Mps => mps(ctx, raw),
        SharingKind::Mig => mig(ctx, raw, span, runtime, env),
        SharingKind::UsageGrid => usage_grid(ctx, raw, span),
    };
    if !(name_ok && refs_ok && keys_ok) {
        return None;
    }
    Some(Sweep {
        name: raw.name.get_ref().clone(),
        scope: scope?,
        runtime: runtime?,
        workloads: workloads?
            .into_iter()
            .map(|w| w.get_ref().clone())
            .collect(),
        mix: raw.mix.as_ref().is_some_and(|m| *m.get_ref()),
        kind: sweep_kind?,
    })
}

/// A workload named by a sweep exists and has what the sweep's runtime needs to start it.
pub(crate) fn workload_ref(
    ctx: &mut Ctx<'_, '_>,
    name: &str,
    span: Range<usize>,
    runtime: Option<Runtime>,
    env: &SweepEnv<'_>,
) -> bool {
    let Some(def) = env.workloads.get(name) else {
        const SHOWN: usize = 12;
        let mut known: Vec<&str> = env
            .workloads
            .keys()
            .map(String::as_str)
            .take(SHOWN)
            .collect();
        if env.workloads.len() > SHOWN {
            known.push("…");
        }
        let known = if known.is_empty() {
            "none is defined".to_owned()
        } else {
            format!("defined: {}", known.join(", "))
        };
        ctx.err(
            ErrorKind::Reference,
            span,
            format!(
                "unknown workload \"{name}\" ({known}; add a [workloads.{name}] table or a catalog)"
            ),
        );
        return false;
    };
    // An invalid definition has been reported where it is written.
    let (Some(spec), Some(runtime)) = (def, runtime) else {
        return true;
    };
    let missing = match runtime {
        Runtime::Docker | Runtime::Kubernetes if spec.image.is_none() => Some("`image`"),
        Runtime::Process if spec.command.is_empty() => Some("`command`"),
        _ => None,
    };
    if let Some(missing) = missing {
        ctx.err(
            ErrorKind::Value,
            span,
            format!("workload \"{name}\" has no {missing}, which runtime = \"{runtime}\" needs"),
        );
        return false;
    }
    true
}

/// `concurrency` of time-slicing, MPS or MIG; `default` when it may be left out.
pub(crate) fn concurrency(
    ctx: &mut Ctx<'_, '_>,
    raw: &RawSweep,
    mode: &str,
    default: Option<Vec<u32>>,
) -> Option<Vec<u32>> {
    match (&raw.concurrency, default) {
        (Some(c), _) => check::int_list(ctx, c, "concurrency", 1, MAX_CONCURRENCY, 1),
        (None, Some(d)) => Some(d),
        (None, None) => {
            ctx.err(
                ErrorKind::Schema,
                raw.sharing.span(),
                format!("sharing = \"{mode}\" needs `concurrency`, e.g. concurrency = [1, 2, 4]"),
            );
            None
        }
    }
}

fn mps(ctx: &mut Ctx<'_, '_>, raw: &RawSweep) -> Option<SweepKind> {
    let concurrency = concurrency(ctx, raw, "mps", None);
    let atp = match &raw.active_thread_percentage {
        Some(p) => check::int_list(ctx, p, "active_thread_percentage", 1, 100, 1),
        None => Some(vec![100]),
    };
    Some(SweepKind::Mps {
        concurrency: concurrency?,
        active_thread_percentage: atp?,
    })
}

fn usage_grid(ctx: &mut Ctx<'_, '_>, raw: &RawSweep, span: Range<usize>) -> Option<SweepKind> {
    let levels = match &raw.levels {
        Some(l) => check::int_list(ctx, l, "levels", 0, 100, 2),
        None => {
            ctx.err(
                ErrorKind::Schema,
                span,
                "sharing = \"usage-grid\" needs `levels`, e.g. levels = [0, 50, 100]",
            );
            None
        }
    };
    let design = match &raw.design {
        Some(d) => check::choice(
            ctx,
            d,
            "design",
            &[("full", Design::Full), ("fractional", Design::Fractional)],
        ),
        None => Some(Design::Full),
    };
    Some(SweepKind::UsageGrid {
        levels: levels?,
        design: design?,
    })
}

/// The three ways to write a MIG sweep.
fn mig(
    ctx: &mut Ctx<'_, '_>,
    raw: &RawSweep,
    span: Range<usize>,
    runtime: Option<Runtime>,
    env: &SweepEnv<'_>,
) -> Option<SweepKind> {
    let forms = [
        ("layouts", raw.layouts.as_ref().map(Spanned::span)),
        (
            "gpu_instance",
            raw.gpu_instance
                .as_ref()
                .map(Spanned::span)
                .or_else(|| raw.compute_instances.as_ref().map(Spanned::span)),
        ),
        ("protagonist", raw.protagonist.as_ref().map(Spanned::span)),
    ];
    let used: Vec<(&str, Range<usize>)> = forms
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
    match used.as_slice() {
        [] => {
            ctx.err(
                ErrorKind::Schema,
                span,
                "sharing = \"mig\" needs `layouts`, `gpu_instance` + `compute_instances`, or `protagonist` + `neighbours`",
            );
            None
        }
        [(first, _), (second, at), ..] => {
            ctx.err(
                ErrorKind::Conflict,
                at.clone(),
                format!("`{second}` cannot be combined with `{first}` in one MIG sweep: use one of `layouts`, `gpu_instance` + `compute_instances`, `protagonist` + `neighbours`"),
            );
            None
        }
        [("protagonist", _)] => mig_sweep::neighbours_form(ctx, raw, runtime, env),
        [_] => mig_sweep::layouts_form(ctx, raw, runtime, env),
    }
}
