//! The driver: runs one task with the real pieces. It feeds the [`Machine`] events (timers, log
//! lines, instance exits, temperatures, cancel) and executes its commands (in `commands.rs`); it
//! collects the telemetry, and at the end (`wrapup.rs`) builds the task summary with
//! `wattsweep_shared::summary::summarize`. Timers are tokio timers; the GPU sampler is its own
//! thread, whose records are forwarded into the loop.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use wattsweep_shared::model::{GpuInventory, TaskSpec};
use wattsweep_shared::summary::HostCpuSample;
use wattsweep_shared::wire::{FailureClass, Outcome, PhaseTiming};

use super::collect::{Collector, SampledGpu};
use super::instances::{Exit, Instance};
use super::launch::{self, MpsDirs, short_id};
use super::node::NodeControl;
use super::outcome::{InstanceReport, TaskEvents, TaskOutcome};
use super::phases::{Event, Machine, MachineConfig, State, Timer};
use crate::gpu::GpuBackend;
use crate::mig::{AppliedLayout, MigConfig};
use crate::runtime::logwatch::LogWatch;
use crate::runtime::{LaunchSpec, LogLine, WorkloadRuntime};
use crate::telemetry::cpu::CpuSampler;
use crate::telemetry::point::Point;
use crate::telemetry::sampler::{self, Phase, Record, Sampler, SamplerConfig};

/// How the executor runs tasks on this node.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Node id (telemetry tags).
    pub node: String,
    /// Instance logs go to `<log_dir>/<task8>-a<attempt>/<instance name>.log`.
    pub log_dir: PathBuf,
    /// The MIG manager's journals.
    pub mig: MigConfig,
    /// How often the driver's power buffer is drained, ms.
    pub drain_ms: u64,
    /// How often GPU status (temperatures) is read, ms.
    pub status_ms: u64,
    /// Host CPU sampling period.
    pub cpu_period: Duration,
    /// How long a stopped instance may take to end before it is killed.
    pub stop_grace: Duration,
    /// Points per telemetry batch sent.
    pub telemetry_batch: usize,
}

impl ExecutorConfig {
    /// Defaults: drain every second, status every 100 ms, CPU every second, 10 s stop grace.
    pub fn new(node: impl Into<String>, log_dir: impl Into<PathBuf>, mig: MigConfig) -> Self {
        Self {
            node: node.into(),
            log_dir: log_dir.into(),
            mig,
            drain_ms: 1_000,
            status_ms: 100,
            cpu_period: Duration::from_secs(1),
            stop_grace: Duration::from_secs(10),
            telemetry_batch: 2_000,
        }
    }
}

/// Runs tasks one at a time through a workload runtime.
pub struct Executor<R> {
    pub(super) runtime: Arc<R>,
    pub(super) backend: Arc<dyn GpuBackend>,
    pub(super) node: Arc<dyn NodeControl>,
    pub(super) config: ExecutorConfig,
}

impl<R> std::fmt::Debug for Executor<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Per-run options.
pub struct RunOptions<'a> {
    /// Attempt number.
    pub attempt: u32,
    /// Where events go.
    pub events: &'a dyn TaskEvents,
    /// Where telemetry points go (batched); `None` to keep none.
    pub telemetry: Option<mpsc::Sender<Vec<Point>>>,
    /// Set to `true` to cancel the run.
    pub cancel: Option<watch::Receiver<bool>>,
}

/// Now, unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn now_ns() -> i64 {
    i64::try_from(sampler::unix_ns()).unwrap_or(i64::MAX)
}

/// The wire name of a telemetry phase.
pub fn wire_phase(p: Phase) -> Option<wattsweep_shared::wire::Phase> {
    use wattsweep_shared::wire::Phase as W;
    match p {
        Phase::None => None,
        Phase::IdleBaseline => Some(W::IdleBaseline),
        Phase::Warmup => Some(W::Warmup),
        Phase::Measure => Some(W::Measure),
        Phase::Cooldown => Some(W::Cooldown),
    }
}

/// The state of one run, shared by the loop and the command execution.
pub(super) struct Run<'e, R: WorkloadRuntime> {
    pub exec: &'e Executor<R>,
    pub task: &'e TaskSpec,
    pub attempt: u32,
    pub events: &'e dyn TaskEvents,
    pub gpus: Vec<GpuInventory>,
    pub sampler: Option<Sampler>,
    pub collector: Collector,
    pub specs: Vec<LaunchSpec>,
    pub watches: Vec<LogWatch>,
    pub reports: Vec<InstanceReport>,
    pub instances: Vec<Option<Instance>>,
    pub log_tasks: Vec<JoinHandle<u64>>,
    pub log_tx: mpsc::UnboundedSender<(u32, LogLine)>,
    pub exit_tx: mpsc::UnboundedSender<Exit>,
    pub mig: BTreeMap<u32, AppliedLayout>,
    pub mps: BTreeMap<u32, MpsDirs>,
    pub timers: BTreeMap<Timer, Instant>,
    pub phases: Vec<PhaseTiming>,
    pub open_phase: Option<(wattsweep_shared::wire::Phase, u64)>,
    pub window_complete: bool,
    pub cleanup_errors: Vec<String>,
    pub ready_timeout: Duration,
    pub points: Vec<Point>,
    pub telemetry: Option<mpsc::Sender<Vec<Point>>>,
}

impl<R> Executor<R>
where
    R: WorkloadRuntime + 'static,
    R::Handle: 'static,
{
    /// An executor starting instances through `runtime`, reading and reconfiguring GPUs through
    /// `backend`, and preparing sharing modes through `node`.
    pub fn new(
        runtime: Arc<R>,
        backend: Arc<dyn GpuBackend>,
        node: Arc<dyn NodeControl>,
        config: ExecutorConfig,
    ) -> Self {
        Self {
            runtime,
            backend,
            node,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// Run `task` end to end. Never fails: every failure is in the outcome, and clean-up has run
    /// whatever happened.
    pub async fn run(&self, task: &TaskSpec, opts: RunOptions<'_>) -> TaskOutcome {
        let started_at_ms = now_ms();
        let mut outcome = TaskOutcome {
            task_id: task.id,
            attempt: opts.attempt,
            configuration: task.configuration.name.clone(),
            outcome: Outcome::Succeeded,
            summary: None,
            summary_error: None,
            phases: Vec::new(),
            instances: Vec::new(),
            energy_reads: 0,
            notices: Vec::new(),
            started_at_ms,
            finished_at_ms: started_at_ms,
        };
        let early = |outcome: &mut TaskOutcome, reason: String, class: FailureClass| {
            outcome.outcome = Outcome::Failed { reason, class };
            outcome.finished_at_ms = now_ms();
        };
        let gpus = match self.target_inventory(task) {
            Ok(g) => g,
            Err((reason, class)) => {
                early(&mut outcome, reason, class);
                return outcome;
            }
        };
        let sampled: Vec<SampledGpu> = gpus
            .iter()
            .map(|g| SampledGpu {
                index: g.index,
                uuid: g.uuid.clone(),
                model: g.model_key().to_string(),
            })
            .collect();
        let sampler_config = SamplerConfig {
            gpus: gpus.iter().map(|g| g.index).collect(),
            power_ms: u64::from(task.timing.sample_ms.max(1)),
            drain_ms: self.config.drain_ms.max(1),
            status_ms: self.config.status_ms,
            ..SamplerConfig::default()
        };
        let (sampler, records) = match sampler::spawn(self.backend.clone(), sampler_config) {
            Ok(s) => s,
            Err(e) => {
                early(
                    &mut outcome,
                    format!("cannot start the GPU sampler: {e}"),
                    FailureClass::Transient,
                );
                return outcome;
            }
        };
        let (rec_tx, mut rec_rx) = mpsc::unbounded_channel::<Record>();
        let forwarder = std::thread::Builder::new()
            .name("gpu-records".into())
            .spawn(move || {
                while let Ok(r) = records.recv() {
                    if rec_tx.send(r).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = forwarder {
            early(
                &mut outcome,
                format!("cannot start the record forwarder thread: {e}"),
                FailureClass::Transient,
            );
            return outcome;
        }
        let (log_tx, mut log_rx) = mpsc::unbounded_channel();
        let (exit_tx, mut exit_rx) = mpsc::unbounded_channel();
        let mut run = Run {
            exec: self,
            task,
            attempt: opts.attempt,
            events: opts.events,
            gpus,
            sampler: Some(sampler),
            collector: Collector::new(&self.config.node, task, &sampled),
            specs: Vec::new(),
            watches: Vec::new(),
            reports: Vec::new(),
            instances: Vec::new(),
            log_tasks: Vec::new(),
            log_tx,
            exit_tx,
            mig: BTreeMap::new(),
            mps: BTreeMap::new(),
            timers: BTreeMap::new(),
            phases: Vec::new(),
            open_phase: None,
            window_complete: false,
            cleanup_errors: Vec::new(),
            ready_timeout: Duration::ZERO,
            points: Vec::new(),
            telemetry: opts.telemetry,
        };

        let (mut machine, first) = Machine::new(MachineConfig::from_timing(&task.timing));
        let mut queue: VecDeque<Event> = VecDeque::new();
        run.execute(first, &mut queue).await;
        let mut cancel = opts.cancel;
        let mut cancel_seen = cancel.is_none();
        let mut records_open = true;
        let mut cpu = CpuSampler::new();
        let _ = cpu.sample(&[]);
        let mut cpu_prev_ns = now_ns();
        let mut cpu_tick =
            tokio::time::interval(self.config.cpu_period.max(Duration::from_millis(10)));
        cpu_tick.tick().await;
        loop {
            run.step(&mut machine, &mut queue).await;
            if machine.state().is_terminal() {
                break;
            }
            let next_timer = run
                .timers
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(t, at)| (*t, *at));
            let far = Instant::now() + Duration::from_secs(86_400);
            tokio::select! {
                _ = tokio::time::sleep_until(next_timer.map_or(far, |(_, at)| at)), if next_timer.is_some() => {
                    if let Some((t, _)) = next_timer {
                        run.timers.remove(&t);
                        queue.push_back(Event::TimerElapsed(t));
                    }
                }
                r = rec_rx.recv(), if records_open => match r {
                    Some(r) => run.record(&r, &mut queue),
                    None => {
                        records_open = false;
                        queue.push_back(Event::Failure {
                            reason: "the GPU sampler stopped".into(),
                            class: FailureClass::Transient,
                        });
                    }
                },
                Some((i, line)) = log_rx.recv() => run.log_line(i, &line, &mut queue),
                Some((i, r)) = exit_rx.recv() => run.exited(i, r, &mut queue),
                _ = cancelled(&mut cancel), if !cancel_seen => {
                    cancel_seen = true;
                    queue.push_back(Event::Cancel);
                }
                _ = cpu_tick.tick() => {
                    let now = now_ns();
                    if let Ok(s) = cpu.sample(&[])
                        && let Some(h) = s.host
                    {
                        let sample = HostCpuSample {
                            start_ns: cpu_prev_ns,
                            end_ns: now,
                            utilisation_pct: h.util_pct,
                            context_switches_per_s: h.ctxt_per_s,
                        };
                        let p = run.collector.host_cpu(sample, machine.phase().as_str());
                        run.points.push(p);
                    }
                    cpu_prev_ns = now;
                    run.flush_points(false).await;
                }
            }
        }

        // The sampler drains and reads the counters a last time; its records end the channel.
        if let Some(s) = run.sampler.take() {
            s.request_stop();
            while let Some(r) = rec_rx.recv().await {
                run.record(&r, &mut VecDeque::new());
            }
            let _ = tokio::task::spawn_blocking(move || s.stop()).await;
        }
        for t in run.log_tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        while let Ok((i, line)) = log_rx.try_recv() {
            run.log_line(i, &line, &mut VecDeque::new());
        }
        run.finish(machine, outcome).await
    }

    /// The inventory of the GPUs `task` targets, checked.
    fn target_inventory(
        &self,
        task: &TaskSpec,
    ) -> Result<Vec<GpuInventory>, (String, FailureClass)> {
        let all = self.backend.inventory().map_err(|e| {
            (
                format!("cannot read the GPU inventory: {e}"),
                FailureClass::Transient,
            )
        })?;
        let class = |e: &launch::LaunchError| {
            if e.is_deterministic() {
                FailureClass::Deterministic
            } else {
                FailureClass::Transient
            }
        };
        let targets = launch::target_gpus(task).map_err(|e| (e.to_string(), class(&e)))?;
        targets
            .iter()
            .map(|t| {
                launch::resolve_gpu(&all, t)
                    .cloned()
                    .map_err(|e| (e.to_string(), class(&e)))
            })
            .collect()
    }
}

async fn cancelled(cancel: &mut Option<watch::Receiver<bool>>) {
    match cancel {
        Some(rx) => {
            if rx.wait_for(|c| *c).await.is_err() {
                // The sender is gone without cancelling: never cancelled.
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

impl<R> Run<'_, R>
where
    R: WorkloadRuntime + 'static,
    R::Handle: 'static,
{
    /// Feed queued events to the machine and execute its commands until the queue is empty.
    async fn step(&mut self, machine: &mut Machine, queue: &mut VecDeque<Event>) {
        while let Some(e) = queue.pop_front() {
            let cmds = machine.next(e);
            if cmds.is_empty() {
                continue;
            }
            self.execute(cmds, queue).await;
            if machine.state() == State::Cleanup {
                let error =
                    (!self.cleanup_errors.is_empty()).then(|| self.cleanup_errors.join("; "));
                queue.push_back(Event::CleanupDone { error });
            }
        }
    }

    fn record(&mut self, r: &Record, queue: &mut VecDeque<Event>) {
        if let Some(p) = self.collector.record(r) {
            self.points.push(p);
        }
        if let Record::Status { gpu, status, .. } = r
            && let Some(c) = status.temperature_c
        {
            queue.push_back(Event::Temperature {
                gpu: *gpu,
                celsius: c,
            });
        }
    }

    fn log_line(&mut self, instance: u32, line: &LogLine, queue: &mut VecDeque<Event>) {
        let Some(w) = usize::try_from(instance)
            .ok()
            .and_then(|i| self.watches.get_mut(i))
        else {
            return;
        };
        let o = w.observe(line);
        if o.became_ready {
            queue.push_back(Event::Ready { instance });
        }
        if let Some(f) = o.fom {
            self.collector.fom(instance, f);
        }
    }

    fn exited(
        &mut self,
        instance: u32,
        r: Result<crate::runtime::ExitStatus, crate::runtime::RuntimeError>,
        queue: &mut VecDeque<Event>,
    ) {
        match r {
            Ok(status) => {
                if let Some(rep) = usize::try_from(instance)
                    .ok()
                    .and_then(|i| self.reports.get_mut(i))
                {
                    rep.set_exit(&status);
                }
                queue.push_back(Event::Exited { instance, status });
            }
            Err(e) => queue.push_back(Event::Failure {
                reason: format!("waiting for instance {instance} failed: {e}"),
                class: FailureClass::Transient,
            }),
        }
    }

    pub(super) fn log_path(&self, spec: &LaunchSpec) -> PathBuf {
        self.exec
            .config
            .log_dir
            .join(format!("{}-a{}", short_id(self.task.id), self.attempt))
            .join(format!("{}.log", spec.object_name()))
    }
}
