//! The end of a run: the telemetry still held is sent, the summary built from what was collected
//! (only when the measured window completed), the outcome assembled and the final event told.

use wattsweep_shared::model::TaskSpec;
use wattsweep_shared::summary::summarize;
use wattsweep_shared::wire::{EventKind, FailureClass, Outcome, TaskSummary};

use super::outcome::TaskOutcome;
use super::phases::Machine;
use super::run::{Run, now_ms};
use crate::runtime::WorkloadRuntime;
use crate::telemetry::point::{Point, measurement, tag};

impl<R> Run<'_, R>
where
    R: WorkloadRuntime + 'static,
    R::Handle: 'static,
{
    /// Send the telemetry points kept so far (all of them with `all`, else once a batch is full).
    pub(super) async fn flush_points(&mut self, all: bool) {
        if self.points.is_empty() || (!all && self.points.len() < self.exec.config.telemetry_batch)
        {
            return;
        }
        let batch = std::mem::take(&mut self.points);
        if let Some(tx) = &self.telemetry
            && tx.send(batch).await.is_err()
        {
            tracing::warn!("the telemetry sink has gone; points of this task are not stored");
            self.telemetry = None;
        }
    }

    /// Build the outcome once the machine has ended.
    pub(super) async fn finish(
        mut self,
        machine: Machine,
        mut outcome: TaskOutcome,
    ) -> TaskOutcome {
        outcome.outcome = machine.outcome().unwrap_or(Outcome::Unknown);
        outcome.phases = self.phases.clone();
        outcome.energy_reads = self.collector.energy_reads();
        outcome.notices = self.collector.notices().to_vec();
        if self.window_complete {
            let logical = std::thread::available_parallelism()
                .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
                .unwrap_or(1);
            let inputs = self.collector.summary_inputs(
                &self.phases,
                self.task.timing.sample_ms,
                &self.specs,
                logical,
            );
            match summarize(&inputs) {
                Ok(s) => {
                    self.points
                        .push(summary_point(&self.exec.config.node, self.task, &s));
                    outcome.summary = Some(s);
                }
                Err(e) => outcome.summary_error = Some(e.to_string()),
            }
        }
        for (i, r) in self.reports.iter_mut().enumerate() {
            r.fom_samples = self
                .collector
                .fom_count(u32::try_from(i).unwrap_or(u32::MAX));
        }
        outcome.instances = std::mem::take(&mut self.reports);
        self.flush_points(true).await;
        outcome.finished_at_ms = now_ms();
        let event = match &outcome.outcome {
            Outcome::Succeeded => EventKind::Finished,
            Outcome::Failed { reason, class } => EventKind::Failed {
                reason: reason.clone(),
                class: *class,
            },
            Outcome::Cancelled => EventKind::Failed {
                reason: "cancelled".into(),
                class: FailureClass::Transient,
            },
            Outcome::Unknown => EventKind::Unknown,
        };
        self.events.event(outcome.finished_at_ms, &event);
        outcome
    }
}

/// The `task_summary` point of a finished task.
fn summary_point(node: &str, task: &TaskSpec, s: &TaskSummary) -> Point {
    let at = s
        .phases
        .iter()
        .map(|p| p.end_ms)
        .max()
        .unwrap_or_else(now_ms);
    let mut p = Point::new(
        measurement::TASK_SUMMARY,
        i64::try_from(at.saturating_mul(1_000_000)).unwrap_or(i64::MAX),
    )
    .tag(tag::NODE, node)
    .tag(tag::CAMPAIGN, task.campaign_id.to_string())
    .tag(tag::TASK, task.id.to_string())
    .tag(tag::CONFIG, task.configuration.name.as_str());
    let energy: f64 = s
        .gpus
        .iter()
        .map(|g| g.energy_counter_j.unwrap_or(g.energy_integral_j))
        .sum();
    let mean: f64 = s.gpus.iter().map(|g| g.power.mean_w).sum();
    let peak = s.gpus.iter().map(|g| g.power.peak_w).fold(0.0, f64::max);
    p = p
        .field("energy_j", energy)
        .field("power_mean_w", mean)
        .field("power_peak_w", peak);
    for f in &s.figures_of_merit {
        p = p.field(format!("fom_{}_{}", f.workload, f.instance), f.value);
    }
    p
}
