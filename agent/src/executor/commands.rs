//! Executing the phase machine's commands: set-up (MIG mode and layout, MPS daemons, the launch
//! decisions), phase changes with their energy reads, starting and stopping instances, and the
//! clean-up. Every result goes back to the machine as an event; clean-up errors are collected and
//! reported once the clean-up commands have all run.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use wattsweep_shared::model::Sharing;
use wattsweep_shared::wire::{EventKind, FailureClass, PhaseTiming};

use super::instances::{Instance, follow_log};
use super::launch::{self, LaunchContext};
use super::outcome::InstanceReport;
use super::phases::{Command, Event};
use super::run::{Run, now_ms, wire_phase};
use crate::mig::{MigError, MigManager};
use crate::runtime::logwatch::LogWatch;
use crate::runtime::{GpuBinding, WorkloadRuntime};
use crate::telemetry::sampler::Phase;

/// Extra time an instance may run past the end of the measured window before its runtime kills
/// it (the executor stops it long before, this only bounds a lost stop).
const DEADLINE_SLACK: Duration = Duration::from_secs(300);

fn class(deterministic: bool) -> FailureClass {
    if deterministic {
        FailureClass::Deterministic
    } else {
        FailureClass::Transient
    }
}

/// Whether a MIG manager error comes back on every attempt on this GPU.
pub fn mig_error_is_deterministic(e: &MigError) -> bool {
    matches!(
        e,
        MigError::NotMigCapable { .. }
            | MigError::MigDisabled { .. }
            | MigError::MigModeChangeNotImplemented { .. }
            | MigError::InvalidLayout { .. }
            | MigError::ConflictsWithBaseline { .. }
    )
}

fn describe(binding: &GpuBinding) -> String {
    match binding {
        GpuBinding::Gpus { uuids, indices } => format!(
            "GPU {} ({})",
            indices
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
            uuids.join(",")
        ),
        GpuBinding::MigDevice { uuid, profile } => format!("MIG {profile} {uuid}"),
        GpuBinding::None => "no GPU".into(),
    }
}

impl<R> Run<'_, R>
where
    R: WorkloadRuntime + 'static,
    R::Handle: 'static,
{
    /// Execute `cmds` in order; what happened is pushed onto `queue`.
    pub(super) async fn execute(&mut self, cmds: Vec<Command>, queue: &mut VecDeque<Event>) {
        for c in cmds {
            match c {
                Command::Setup => queue.push_back(self.setup().await),
                Command::EnterPhase(p) => self.enter_phase(p, queue).await,
                Command::StartTimer(t, d) => {
                    self.timers.insert(t, Instant::now() + d);
                }
                Command::StartInstances => self.start_instances(queue).await,
                Command::StopInstances => {
                    self.stop_instances().await;
                    queue.push_back(Event::InstancesStopped);
                }
                Command::RemoveInstances => self.remove_instances().await,
                Command::StopMps => self.stop_mps().await,
                Command::RestoreMig => self.restore_mig().await,
            }
        }
    }

    async fn setup(&mut self) -> Event {
        match self.try_setup().await {
            Ok(()) => {
                self.events.event(now_ms(), &EventKind::Started);
                Event::SetupDone {
                    needs_ready_signal: self
                        .watches
                        .iter()
                        .map(|w| !w.ready_without_signal())
                        .collect(),
                    ready_timeout: self.ready_timeout,
                }
            }
            Err((reason, class)) => Event::SetupFailed { reason, class },
        }
    }

    async fn try_setup(&mut self) -> Result<(), (String, FailureClass)> {
        let sharing = &self.task.configuration.sharing;
        let is_mig = matches!(sharing, Sharing::Mig { .. });
        let node = self.exec.node.clone();
        for g in &self.gpus {
            node.prepare_mig_mode(g, is_mig)
                .map_err(|e| (e.to_string(), class(e.is_deterministic())))?;
        }
        // The mode may have changed: read the GPUs again.
        let all = self.exec.backend.inventory().map_err(|e| {
            (
                format!("cannot read the GPU inventory: {e}"),
                FailureClass::Transient,
            )
        })?;
        for g in &mut self.gpus {
            if let Some(now) = all.iter().find(|a| a.index == g.index) {
                *g = now.clone();
            }
        }
        if let Sharing::Mig { layout, .. } = sharing {
            for g in self.gpus.clone() {
                let backend = self.exec.backend.clone();
                let config = self.exec.config.mig.clone();
                let layout = layout.clone();
                let applied = tokio::task::spawn_blocking(move || {
                    MigManager::new(&*backend, config).apply(g.index, &layout)
                })
                .await
                .map_err(|e| {
                    (
                        format!("the MIG set-up thread failed: {e}"),
                        FailureClass::Transient,
                    )
                })?
                .map_err(|e| (e.to_string(), class(mig_error_is_deterministic(&e))))?;
                self.mig.insert(g.index, applied);
            }
        }
        if matches!(sharing, Sharing::Mps { .. }) {
            for g in &self.gpus {
                let d = node
                    .start_mps(g)
                    .await
                    .map_err(|e| (e.to_string(), class(e.is_deterministic())))?;
                self.mps.insert(g.index, d);
            }
        }
        let ctx = LaunchContext {
            gpus: &self.gpus,
            mig: &self.mig,
            mps: &self.mps,
        };
        self.specs = launch::launch_specs(self.task, self.attempt, &ctx)
            .map_err(|e| (e.to_string(), class(e.is_deterministic())))?;
        self.watches = self
            .specs
            .iter()
            .map(|s| LogWatch::new(&s.workload))
            .collect::<Result<_, _>>()
            .map_err(|e| (e.to_string(), class(e.is_deterministic())))?;
        self.ready_timeout = Duration::from_secs(u64::from(
            self.specs
                .iter()
                .map(|s| launch::ready_allowance_s(&s.workload))
                .max()
                .unwrap_or(0),
        ));
        self.reports = self
            .specs
            .iter()
            .map(|s| InstanceReport {
                instance: s.instance,
                workload: s.workload.name.clone(),
                name: None,
                binding: describe(&s.gpu),
                exit: None,
                exit_code: None,
                log_path: self.log_path(s),
                fom_samples: 0,
            })
            .collect();
        Ok(())
    }

    async fn enter_phase(&mut self, p: Phase, queue: &mut VecDeque<Event>) {
        let now = now_ms();
        let leaving = self.open_phase.take();
        if let Some((phase, start_ms)) = leaving {
            self.phases.push(PhaseTiming {
                phase,
                start_ms,
                end_ms: now.max(start_ms),
            });
        }
        if let Some(sampler) = &self.sampler
            && let Err(e) = sampler.set_phase(p)
        {
            queue.push_back(Event::Failure {
                reason: format!("cannot switch the GPU sampler to phase {}: {e}", p.as_str()),
                class: FailureClass::Transient,
            });
        }
        let leaving_measure =
            leaving.is_some_and(|(phase, _)| phase == wattsweep_shared::wire::Phase::Measure);
        if leaving_measure {
            self.window_complete = p == Phase::Cooldown;
            self.read_instance_cpu(false).await;
        }
        if let Some(w) = wire_phase(p) {
            self.open_phase = Some((w, now));
            self.events.event(now, &EventKind::Phase { phase: w });
        }
        if p == Phase::Measure {
            self.read_instance_cpu(true).await;
        }
        self.flush_points(false).await;
    }

    async fn read_instance_cpu(&mut self, start: bool) {
        for (i, inst) in self.instances.iter().enumerate() {
            let Some(inst) = inst else { continue };
            if let Ok(u) = inst.cpu_usage().await {
                let at = i64::try_from(crate::telemetry::sampler::unix_ns()).unwrap_or(i64::MAX);
                self.collector
                    .instance_cpu(u32::try_from(i).unwrap_or(u32::MAX), at, u, start);
            }
        }
    }

    async fn start_instances(&mut self, queue: &mut VecDeque<Event>) {
        let t = &self.task.timing;
        let run_for = self.ready_timeout
            + Duration::from_secs(u64::from(t.warmup_s) + u64::from(t.measure_s))
            + DEADLINE_SLACK;
        let deadline = Instant::now() + run_for;
        for i in 0..self.specs.len() {
            let spec = self.specs[i].clone();
            let (tx, rx) = mpsc::channel(256);
            let path = self.log_path(&spec);
            self.log_tasks
                .push(follow_log(spec.instance, path, rx, self.log_tx.clone()));
            match self.exec.runtime.start(&spec, tx).await {
                Ok(handle) => {
                    let inst =
                        Instance::spawn(spec.instance, handle, deadline, self.exit_tx.clone());
                    if let Some(r) = self.reports.get_mut(i) {
                        r.name = Some(inst.name.clone());
                    }
                    self.instances.push(Some(inst));
                    queue.push_back(Event::Started {
                        instance: spec.instance,
                    });
                }
                Err(e) => {
                    queue.push_back(Event::LaunchFailed {
                        reason: format!("instance {} ({}): {e}", spec.instance, spec.workload.name),
                        class: class(e.is_deterministic()),
                    });
                    return;
                }
            }
        }
    }

    async fn stop_instances(&mut self) {
        let grace = self.exec.config.stop_grace;
        let stops = self
            .instances
            .iter()
            .flatten()
            .map(|inst| async move { (inst.name.clone(), inst.stop(grace).await) });
        for (name, r) in futures_util::future::join_all(stops).await {
            if let Err(e) = r {
                tracing::warn!(instance = %name, error = %e, "cannot stop an instance; it is removed next");
            }
        }
    }

    async fn remove_instances(&mut self) {
        let all: Vec<Instance> = self.instances.iter_mut().filter_map(Option::take).collect();
        let removals = all.into_iter().map(|inst| async move {
            let name = inst.name.clone();
            (name, inst.remove().await)
        });
        for (name, r) in futures_util::future::join_all(removals).await {
            if let Err(e) = r {
                self.cleanup_errors
                    .push(format!("removing instance {name}: {e}"));
            }
        }
    }

    async fn stop_mps(&mut self) {
        let gpus: Vec<u32> = self.mps.keys().copied().collect();
        for gpu in gpus {
            match self.exec.node.stop_mps(gpu).await {
                Ok(()) => {
                    self.mps.remove(&gpu);
                }
                Err(e) => self.cleanup_errors.push(e.to_string()),
            }
        }
    }

    async fn restore_mig(&mut self) {
        if !matches!(self.task.configuration.sharing, Sharing::Mig { .. }) {
            return;
        }
        // Every target GPU: a layout that failed halfway restored itself, and a GPU without a
        // journal has nothing to restore.
        for g in self.gpus.clone() {
            let backend = self.exec.backend.clone();
            let config = self.exec.config.mig.clone();
            let r = tokio::task::spawn_blocking(move || {
                MigManager::new(&*backend, config).restore(g.index)
            })
            .await;
            match r {
                Ok(Ok(_)) => {
                    self.mig.remove(&g.index);
                }
                Ok(Err(e)) => self.cleanup_errors.push(e.to_string()),
                Err(e) => self.cleanup_errors.push(format!(
                    "GPU {}: the MIG restore thread failed: {e}",
                    g.index
                )),
            }
        }
    }
}
