//! What `execute` prints per task (a table: phases, energy counter against the integral, power
//! statistics, figures of merit, energy per unit of work, outcome) and writes (`results.json`).

use std::io::Write;
use std::path::Path;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use wattsweep_shared::model::TaskSpec;
use wattsweep_shared::wire::{FailureClass, Outcome, TaskSummary};

use crate::executor::TaskOutcome;
use crate::executor::run::now_ms;

/// The outcome of a task whose runtime could not even be set up.
pub(super) fn not_run(task: &TaskSpec, reason: String) -> TaskOutcome {
    let now = now_ms();
    TaskOutcome {
        task_id: task.id,
        attempt: 1,
        configuration: task.configuration.name.clone(),
        outcome: Outcome::Failed {
            reason,
            class: FailureClass::Transient,
        },
        summary: None,
        summary_error: None,
        phases: Vec::new(),
        instances: Vec::new(),
        energy_reads: 0,
        notices: Vec::new(),
        started_at_ms: now,
        finished_at_ms: now,
    }
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Succeeded => "succeeded".into(),
        Outcome::Failed { reason, class } => {
            let class = match class {
                FailureClass::Deterministic => "deterministic",
                FailureClass::Transient => "transient",
                FailureClass::Unknown => "unknown",
            };
            format!("failed ({class}): {reason}")
        }
        Outcome::Cancelled => "cancelled".into(),
        Outcome::Unknown => "unknown".into(),
    }
}

/// The rows of one task's table.
pub(super) fn rows(task: &TaskSpec, o: &TaskOutcome) -> Vec<(String, String)> {
    let mut rows = vec![
        ("configuration".to_string(), task.configuration.name.clone()),
        (
            "target".to_string(),
            format!("{} (repetition {})", task.target, task.repetition),
        ),
    ];
    let phases: Vec<String> = o
        .phases
        .iter()
        .map(|p| {
            format!(
                "{} {:.1} s",
                serde_json::to_value(p.phase)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                (p.end_ms.saturating_sub(p.start_ms)) as f64 / 1000.0
            )
        })
        .collect();
    rows.push(("phases".into(), phases.join(", ")));
    if let Some(s) = &o.summary {
        summary_rows(s, &mut rows);
    } else if let Some(e) = &o.summary_error {
        rows.push(("summary".into(), format!("none: {e}")));
    }
    for i in &o.instances {
        rows.push((
            format!("instance {}", i.instance),
            format!(
                "{} on {}{}; log {}",
                i.workload,
                i.binding,
                i.exit
                    .as_ref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default(),
                i.log_path.display()
            ),
        ));
    }
    for n in &o.notices {
        rows.push(("notice".into(), n.clone()));
    }
    rows.push(("outcome".into(), outcome_text(&o.outcome)));
    rows
}

fn summary_rows(s: &TaskSummary, rows: &mut Vec<(String, String)>) {
    for g in &s.gpus {
        let counter = g
            .energy_counter_j
            .map(|c| {
                let diff = if c > 0.0 {
                    format!(" ({:+.2} %)", (g.energy_integral_j - c) / c * 100.0)
                } else {
                    String::new()
                };
                format!(
                    "counter {c:.1} J, integral {:.1} J{diff}",
                    g.energy_integral_j
                )
            })
            .unwrap_or_else(|| format!("integral {:.1} J (no counter)", g.energy_integral_j));
        rows.push((format!("GPU {} energy", g.index), counter));
        rows.push((
            format!("GPU {} power", g.index),
            format!(
                "mean {:.1} W, p99 {:.1} W, peak {:.1} W; {} samples, {:.1} % covered",
                g.power.mean_w,
                g.power.p99_w,
                g.power.peak_w,
                g.coverage.samples,
                g.coverage.covered_fraction * 100.0
            ),
        ));
    }
    for f in &s.figures_of_merit {
        rows.push((
            format!("figure of merit #{}", f.instance),
            format!("{} {:.3} {}", f.workload, f.value, f.unit),
        ));
    }
    for e in &s.energy_per_work {
        rows.push((
            "energy per work".into(),
            format!("{} {:.6} J/{}", e.workload, e.joules_per_unit, e.work_unit),
        ));
    }
}

/// Print one task's table.
pub(super) fn print_task(
    out: &mut dyn Write,
    task: &TaskSpec,
    o: &TaskOutcome,
) -> std::io::Result<()> {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(["task", &task.id.to_string()]);
    for (k, v) in rows(task, o) {
        t.add_row([k, v]);
    }
    writeln!(out, "{t}")
}

/// One entry of `results.json`.
#[derive(Debug, Serialize)]
struct ResultEntry<'a> {
    task: &'a TaskSpec,
    outcome: &'a Outcome,
    summary: Option<&'a TaskSummary>,
    /// The run's details (phases, instances, notices), its summary left out (it is above).
    run: serde_json::Value,
}

/// Write `results.json`: an array of `{task, outcome, summary, run}`.
pub(super) fn write_results(
    path: &Path,
    results: &[(TaskSpec, TaskOutcome)],
) -> std::io::Result<()> {
    let mut entries: Vec<ResultEntry<'_>> = Vec::with_capacity(results.len());
    for (task, o) in results {
        let mut run = serde_json::to_value(o).map_err(std::io::Error::other)?;
        if let Some(map) = run.as_object_mut() {
            map.remove("summary");
        }
        entries.push(ResultEntry {
            task,
            outcome: &o.outcome,
            summary: o.summary.as_ref(),
            run,
        });
    }
    let text = serde_json::to_string_pretty(&entries).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, path)
}
