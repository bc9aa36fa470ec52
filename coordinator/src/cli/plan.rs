//! `wattsweep plan FILE`: expand a campaign into its tasks without running anything, against a
//! hypothetical fleet built from `--gpu` (or from the campaign's own GPU globs).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use wattsweep_shared::campaign::{self, Campaign};
use wattsweep_shared::gpu_model;
use wattsweep_shared::model::{NodeInventory, Sharing, TaskSpec};
use wattsweep_shared::plan::{self, Plan};
use wildmatch::WildMatch;

use super::{CliError, Outcome};
use crate::output::{Format, table, write_json};

/// `wattsweep plan FILE [--gpu MODEL[:COUNT]]…`
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The campaign file (TOML).
    pub file: PathBuf,
    /// GPUs of the hypothetical node to plan for, as MODEL or MODEL:COUNT (repeatable), e.g.
    /// `--gpu h100-80gb:8`. Without it, one node per built-in model the campaign's `gpu_models` globs
    /// match, with `--gpus-per-node` GPUs each.
    #[arg(
        long = "gpu",
        value_name = "MODEL[:COUNT]",
        env = "WATTSWEEP_PLAN_GPUS",
        value_delimiter = ','
    )]
    pub gpus: Vec<String>,
    /// GPUs per node when `--gpu` is not given.
    #[arg(long, default_value_t = 4, env = "WATTSWEEP_PLAN_GPUS_PER_NODE")]
    pub gpus_per_node: u32,
    /// Workload catalog folders (`*.toml` with `[workloads.NAME]` tables), besides the ones the campaign
    /// names in `[campaign] catalog`.
    #[arg(
        long = "catalog",
        value_name = "DIR",
        env = "WATTSWEEP_CATALOG",
        value_delimiter = ','
    )]
    pub catalogs: Vec<PathBuf>,
}

/// Run `wattsweep plan`.
pub fn run(args: &PlanArgs, format: Format, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let campaign = load_campaign(&args.file, &args.catalogs)?;
    let fleet = planning_fleet(&campaign, &args.gpus, args.gpus_per_node)?;
    let id = plan::campaign_id_for(&campaign.name);
    let planned = plan::plan(&campaign, id, &fleet)?;
    match format {
        Format::Json => write_json(out, &PlanReport::new(&campaign, &fleet, &planned))?,
        Format::Table => print_table(&campaign, &fleet, &planned, out)?,
    }
    Ok(Outcome::Success)
}

/// Read a campaign file and every catalog file it (or the command line) names, and parse them.
pub fn load_campaign(file: &Path, extra_catalogs: &[PathBuf]) -> Result<Campaign, CliError> {
    Ok(campaign::load_campaign(file, extra_catalogs)?)
}

/// The hypothetical fleet a campaign is planned against offline.
fn planning_fleet(
    campaign: &Campaign,
    gpus: &[String],
    gpus_per_node: u32,
) -> Result<Vec<NodeInventory>, CliError> {
    if gpus_per_node == 0 {
        return Err(CliError::Usage("--gpus-per-node must be at least 1".into()));
    }
    if !gpus.is_empty() {
        let mut spec: Vec<(String, u32)> = Vec::new();
        for g in gpus {
            let (model, count) = parse_gpu_arg(g)?;
            spec.push((model, count));
        }
        let refs: Vec<(&str, u32)> = spec.iter().map(|(m, c)| (m.as_str(), *c)).collect();
        return Ok(vec![plan::hypothetical_node("plan-node", &refs)?]);
    }
    let globs: Vec<WildMatch> = campaign
        .targets
        .gpu_models
        .iter()
        .map(|g| WildMatch::new_case_insensitive(g))
        .collect();
    let mut fleet = Vec::new();
    for m in gpu_model::MODELS {
        if globs.iter().any(|g| g.matches(m.nvml_name)) {
            let node = format!("plan-{}", m.id);
            fleet.push(plan::hypothetical_node(&node, &[(m.id, gpus_per_node)])?);
        }
    }
    if fleet.is_empty() {
        return Err(CliError::Usage(format!(
            "no built-in GPU model matches the campaign's gpu_models {:?}; name the GPUs with --gpu \
             MODEL[:COUNT] (models: {})",
            campaign.targets.gpu_models,
            gpu_model::known_ids()
        )));
    }
    Ok(fleet)
}

/// `h100-80gb` or `h100-80gb:8`.
fn parse_gpu_arg(arg: &str) -> Result<(String, u32), CliError> {
    let (model, count) = match arg.split_once(':') {
        Some((m, c)) => {
            let n = c.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                CliError::Usage(format!(
                    "--gpu {arg}: the count after `:` must be a whole number ≥ 1"
                ))
            })?;
            (m, n)
        }
        None => (arg, 1),
    };
    let known = gpu_model::by_id(model).ok_or_else(|| CliError::UnknownModel {
        given: model.to_string(),
        known: gpu_model::known_ids(),
    })?;
    Ok((known.id.to_string(), count))
}

/// Short description of a task's sharing parameters for the table.
fn sharing_summary(t: &TaskSpec) -> String {
    match &t.configuration.sharing {
        Sharing::Exclusive => "exclusive".into(),
        Sharing::TimeSlicing { concurrency } => format!("time-slicing ×{concurrency}"),
        Sharing::Mps {
            concurrency,
            active_thread_percentage,
        } => format!("mps ×{concurrency} @{active_thread_percentage}%"),
        Sharing::Mig {
            layout,
            assignments,
        } => format!("mig {layout} ({} loaded)", assignments.len()),
        Sharing::UsageGrid { levels } => {
            let l: Vec<String> = levels.iter().map(|l| format!("{l}%")).collect();
            format!("usage-grid {}", l.join(" "))
        }
        Sharing::Unknown => "unknown".into(),
    }
}

fn print_table(
    campaign: &Campaign,
    fleet: &[NodeInventory],
    planned: &Plan,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut tab = table(&[
        "seq",
        "task",
        "rep",
        "configuration",
        "target",
        "sharing",
        "runtime",
    ]);
    for t in &planned.tasks {
        let id = t.id.simple().to_string();
        tab.add_row(vec![
            t.seq.to_string(),
            id.chars().take(8).collect(),
            t.repetition.to_string(),
            t.configuration.name.clone(),
            t.target.to_string(),
            sharing_summary(t),
            t.configuration.runtime.to_string(),
        ]);
    }
    let gpus: usize = fleet.iter().map(|n| n.gpus.len()).sum();
    writeln!(
        out,
        "campaign {} — planned against {} hypothetical node(s), {gpus} GPU(s)",
        campaign.name,
        fleet.len()
    )?;
    writeln!(out, "{tab}")?;
    for (what, reason, targets) in grouped_skips(planned) {
        writeln!(
            out,
            "skipped: {what} on {} target(s) ({}): {reason}",
            targets.len(),
            targets.join(" ")
        )?;
    }
    let summary = PlanSummary::of(planned);
    writeln!(
        out,
        "{} task(s), {} configuration(s), {} skipped; longest GPU queue {} (sequential per GPU)",
        summary.tasks,
        summary.configurations,
        summary.skipped,
        human_duration(summary.longest_queue_s)
    )?;
    Ok(())
}

/// Skips grouped by (configuration or sweep, reason), each with the targets it applies to, in plan order.
fn grouped_skips(planned: &Plan) -> Vec<(&str, &str, Vec<String>)> {
    let mut groups: Vec<(&str, &str, Vec<String>)> = Vec::new();
    for s in &planned.skipped {
        let what = s.configuration.as_deref().unwrap_or(&s.sweep);
        match groups
            .iter_mut()
            .find(|(w, r, _)| *w == what && *r == s.reason)
        {
            Some((_, _, targets)) => targets.push(s.target.to_string()),
            None => groups.push((what, &s.reason, vec![s.target.to_string()])),
        }
    }
    groups
}

fn human_duration(s: u64) -> String {
    let (h, m) = (s / 3600, (s % 3600) / 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else {
        format!("{m} min {:02} s", s % 60)
    }
}

/// Counts shown under the table and in JSON.
#[derive(Debug, Serialize)]
struct PlanSummary {
    tasks: usize,
    configurations: usize,
    skipped: usize,
    /// Longest sum of task durations queued on one GPU (node-scope tasks count on every GPU they hold).
    longest_queue_s: u64,
}

impl PlanSummary {
    fn of(planned: &Plan) -> Self {
        use std::collections::{BTreeMap, BTreeSet};
        let configurations: BTreeSet<&str> = planned
            .tasks
            .iter()
            .map(|t| t.configuration.name.as_str())
            .collect();
        let mut queues: BTreeMap<String, u64> = BTreeMap::new();
        for t in &planned.tasks {
            let d = t.timing.max_duration_s();
            for lane in lanes(t) {
                *queues.entry(lane).or_default() += d;
            }
        }
        Self {
            tasks: planned.tasks.len(),
            configurations: configurations.len(),
            skipped: planned.skipped.len(),
            longest_queue_s: queues.values().copied().max().unwrap_or(0),
        }
    }
}

/// The GPUs a task occupies, as queue names.
fn lanes(t: &TaskSpec) -> Vec<String> {
    use wattsweep_shared::model::Target;
    match &t.target {
        Target::Gpu { node, gpu } => vec![format!("{node}/{}", gpu.index)],
        Target::Node { node, gpus } => gpus.iter().map(|g| format!("{node}/{}", g.index)).collect(),
        Target::Any { model } => vec![format!("any/{model}")],
        Target::Unknown => vec![],
    }
}

/// The JSON answer of `wattsweep plan`.
#[derive(Serialize)]
struct PlanReport<'a> {
    campaign: &'a str,
    fleet: Vec<FleetNode<'a>>,
    summary: PlanSummary,
    plan: &'a Plan,
}

#[derive(Serialize)]
struct FleetNode<'a> {
    node: &'a str,
    gpus: Vec<&'a str>,
}

impl<'a> PlanReport<'a> {
    fn new(c: &'a Campaign, fleet: &'a [NodeInventory], planned: &'a Plan) -> Self {
        Self {
            campaign: &c.name,
            fleet: fleet
                .iter()
                .map(|n| FleetNode {
                    node: &n.node_id,
                    gpus: n.gpus.iter().map(|g| g.model_key()).collect(),
                })
                .collect(),
            summary: PlanSummary::of(planned),
            plan: planned,
        }
    }
}
