//! The small sections of a campaign file: `[campaign]`, `[targets]` and `[timing]`.

use std::ops::Range;

use serde_spanned::Spanned;
use wildmatch::WildMatch;

use super::check::{self, Ctx};
use super::error::ErrorKind;
use super::raw::{RawCampaign, RawTargets, RawTiming, SpannedList};
use super::{Order, Targets};
use crate::gpu_model::{GpuModel, MODELS};
use crate::model::{Scope, Timing};

/// Longest a single task may take, cool-down included: 7 days.
pub(crate) const MAX_TASK_S: u64 = 7 * 24 * 3600;

/// `[campaign]` once validated.
pub(crate) struct CampaignHeader {
    pub name: String,
    pub repetitions: u32,
    pub order: Order,
    pub seed: u64,
    pub power_budget_w: Option<f64>,
}

/// The `scope` words.
pub(crate) const SCOPES: &[(&str, Scope)] = &[
    ("gpu", Scope::Gpu),
    ("node", Scope::Node),
    ("any", Scope::Any),
];

/// Validate `[campaign]`.
pub(crate) fn campaign(ctx: &mut Ctx<'_, '_>, raw: &RawCampaign) -> Option<CampaignHeader> {
    let name = raw.name.get_ref();
    let name_ok = check::name(ctx, "campaign name", name, raw.name.span());
    let repetitions = match &raw.repetitions {
        Some(r) => check::int_in(ctx, r, "repetitions", 1, i64::from(u32::MAX)),
        None => Some(1),
    };
    let order = match &raw.order {
        Some(o) => check::choice(
            ctx,
            o,
            "order",
            &[
                ("sequential", Order::Sequential),
                ("shuffled", Order::Shuffled),
            ],
        ),
        None => Some(Order::Sequential),
    };
    let power_budget_w = raw
        .power_budget_w
        .as_ref()
        .map(|p| check::positive(ctx, p, "power_budget_w"));
    let catalog_ok = raw
        .catalog
        .as_ref()
        .is_none_or(|c| check::string_list(ctx, c, "catalog", 0).is_some());
    let power_budget_ok = !matches!(power_budget_w, Some(None));
    if !(name_ok && catalog_ok && power_budget_ok) {
        return None;
    }
    Some(CampaignHeader {
        name: name.clone(),
        repetitions: repetitions?,
        order: order?,
        seed: raw.seed.as_ref().map_or(0, |s| *s.get_ref()),
        power_budget_w: power_budget_w.flatten(),
    })
}

/// Validate `[targets]`; `None` (the section absent) targets every node and GPU.
pub(crate) fn targets(ctx: &mut Ctx<'_, '_>, raw: Option<&RawTargets>) -> Option<Targets> {
    let Some(raw) = raw else {
        return Some(Targets {
            nodes: vec!["*".to_owned()],
            gpu_models: vec!["*".to_owned()],
            scope: Scope::Gpu,
        });
    };
    let nodes = globs(ctx, raw.nodes.as_ref(), "nodes");
    let gpu_models = globs(ctx, raw.gpu_models.as_ref(), "gpu_models");
    let scope = match &raw.scope {
        Some(s) => check::choice(ctx, s, "scope", SCOPES),
        None => Some(Scope::Gpu),
    };
    Some(Targets {
        nodes: nodes?,
        gpu_models: gpu_models?,
        scope: scope?,
    })
}

fn globs(
    ctx: &mut Ctx<'_, '_>,
    list: Option<&SpannedList<String>>,
    key: &str,
) -> Option<Vec<String>> {
    match list {
        Some(list) => check::string_list(ctx, list, key, 1)
            .map(|v| v.into_iter().map(|s| s.get_ref().clone()).collect()),
        None => Some(vec!["*".to_owned()]),
    }
}

/// The built-in GPU models whose NVML name matches one of the globs (case-insensitive).
pub(crate) fn targeted_models(gpu_models: &[String]) -> Vec<&'static GpuModel> {
    let globs: Vec<WildMatch> = gpu_models
        .iter()
        .map(|g| WildMatch::new_case_insensitive(g))
        .collect();
    MODELS
        .iter()
        .filter(|m| globs.iter().any(|g| g.matches(m.nvml_name)))
        .collect()
}

/// Validate `[timing]`; `span` is the section's (for the whole-task limit). `None` → defaults.
pub(crate) fn timing(
    ctx: &mut Ctx<'_, '_>,
    raw: Option<&RawTiming>,
    span: Range<usize>,
) -> Option<Timing> {
    let mut t = Timing::default();
    let Some(raw) = raw else {
        return Some(t);
    };
    let max = i64::from(u32::MAX);
    let mut ok = true;
    let mut set =
        |ctx: &mut Ctx<'_, '_>, v: &Option<Spanned<i64>>, key, min, max, slot: &mut u32| {
            if let Some(v) = v {
                match check::int_in(ctx, v, key, min, max) {
                    Some(x) => *slot = x,
                    None => ok = false,
                }
            }
        };
    set(
        ctx,
        &raw.idle_baseline_s,
        "idle_baseline_s",
        0,
        max,
        &mut t.idle_baseline_s,
    );
    set(ctx, &raw.warmup_s, "warmup_s", 0, max, &mut t.warmup_s);
    set(ctx, &raw.measure_s, "measure_s", 1, max, &mut t.measure_s);
    set(
        ctx,
        &raw.cooldown_max_s,
        "cooldown_max_s",
        0,
        max,
        &mut t.cooldown_max_s,
    );
    set(
        ctx,
        &raw.sample_ms,
        "sample_ms",
        1,
        60_000,
        &mut t.sample_ms,
    );
    if let Some(d) = &raw.cooldown_temp_delta_c {
        match check::positive(ctx, d, "cooldown_temp_delta_c") {
            Some(d) => t.cooldown_temp_delta_c = d,
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    if u64::from(t.sample_ms) > u64::from(t.measure_s) * 1000 {
        let at = raw.sample_ms.as_ref().map_or(span.clone(), Spanned::span);
        ctx.err(
            ErrorKind::Value,
            at,
            format!(
                "`sample_ms` = {} is longer than the measured window (`measure_s` = {} s)",
                t.sample_ms, t.measure_s
            ),
        );
        ok = false;
    }
    if t.max_duration_s() > MAX_TASK_S {
        ctx.err(
            ErrorKind::Value,
            span,
            format!(
                "a task would take up to {} s (idle_baseline_s + warmup_s + measure_s + cooldown_max_s); \
                 the limit is {MAX_TASK_S} s (7 days)",
                t.max_duration_s()
            ),
        );
        ok = false;
    }
    ok.then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_nvml_names_case_insensitively() {
        let ids = |g: &[&str]| -> Vec<&str> {
            let g: Vec<String> = g.iter().map(|s| (*s).to_owned()).collect();
            targeted_models(&g).into_iter().map(|m| m.id).collect()
        };
        assert_eq!(ids(&["*h100*"]), vec!["h100-80gb", "h100-94gb"]);
        assert_eq!(ids(&["NVIDIA H200"]), vec!["h200-141gb"]);
        assert_eq!(ids(&["*A100*80GB"]), vec!["a100-80gb"]);
        assert!(ids(&["*RTX*"]).is_empty());
        assert_eq!(ids(&["*"]).len(), MODELS.len());
    }
}
