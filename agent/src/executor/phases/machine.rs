//! The machine itself: (state, event) → (state, commands), as the module documentation lays out.

use std::collections::BTreeMap;
use std::time::Duration;

use wattsweep_shared::wire::{FailureClass, Outcome};

use super::{Command, Event, MachineConfig, State, Timer};
use crate::runtime::ExitStatus;
use crate::telemetry::sampler::Phase;

/// How an early exit is classified: an exit code (0 or not) is the workload's own doing and comes
/// back on every attempt (a bad command, a command that does not run `{run_s}` seconds); a kill (a
/// signal, OOM, eviction, the deadline) may not.
pub fn classify_exit(status: &ExitStatus) -> FailureClass {
    match status {
        ExitStatus::Exited(_) => FailureClass::Deterministic,
        ExitStatus::Killed(_) | ExitStatus::DeadlineExceeded => FailureClass::Transient,
    }
}

fn describe_exit(status: &ExitStatus) -> String {
    match status {
        ExitStatus::Exited(code) => format!("exited with code {code}"),
        ExitStatus::Killed(why) => format!("was killed ({why})"),
        ExitStatus::DeadlineExceeded => "ran past its deadline and was killed".into(),
    }
}

/// The phase machine of one run.
#[derive(Debug, Clone)]
pub struct Machine {
    cfg: MachineConfig,
    needs_ready_signal: Vec<bool>,
    ready_timeout: Duration,
    state: State,
    phase: Phase,
    started: Vec<bool>,
    ready: Vec<bool>,
    launch_issued: bool,
    stop_issued: bool,
    cooldown_elapsed: bool,
    idle_temps: BTreeMap<u32, (f64, u32)>,
    latest_temps: BTreeMap<u32, f64>,
    ending: Option<Outcome>,
}

impl Machine {
    /// A machine in [`State::Setup`] and its first commands.
    pub fn new(cfg: MachineConfig) -> (Self, Vec<Command>) {
        let m = Self {
            cfg,
            needs_ready_signal: Vec::new(),
            ready_timeout: Duration::ZERO,
            state: State::Setup,
            phase: Phase::None,
            started: Vec::new(),
            ready: Vec::new(),
            launch_issued: false,
            stop_issued: false,
            cooldown_elapsed: false,
            idle_temps: BTreeMap::new(),
            latest_temps: BTreeMap::new(),
            ending: None,
        };
        (m, vec![Command::Setup])
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The telemetry phase now.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// How the run ended (`None` until it has).
    pub fn outcome(&self) -> Option<Outcome> {
        match self.state {
            State::Done => Some(Outcome::Succeeded),
            State::Failed => Some(self.ending.clone().unwrap_or(Outcome::Failed {
                reason: "failed".into(),
                class: FailureClass::Transient,
            })),
            _ => None,
        }
    }

    /// The mean idle-baseline temperature of each GPU that reported one.
    pub fn idle_baseline_c(&self) -> BTreeMap<u32, f64> {
        self.idle_temps
            .iter()
            .map(|(g, (sum, n))| (*g, sum / f64::from((*n).max(1))))
            .collect()
    }

    /// Apply one event; returns the commands to run, in order.
    pub fn next(&mut self, event: Event) -> Vec<Command> {
        let mut out = Vec::new();
        if self.state.is_terminal() {
            return out;
        }
        if self.state == State::Cleanup {
            if let Event::CleanupDone { error } = event {
                self.finish(error);
            }
            return out;
        }
        match event {
            Event::SetupDone {
                needs_ready_signal,
                ready_timeout,
            } if self.state == State::Setup => {
                self.started = vec![false; needs_ready_signal.len()];
                self.ready = vec![false; needs_ready_signal.len()];
                self.needs_ready_signal = needs_ready_signal;
                self.ready_timeout = ready_timeout;
                self.state = State::IdleBaseline;
                self.enter(Phase::IdleBaseline, &mut out);
                out.push(Command::StartTimer(
                    Timer::IdleBaseline,
                    self.cfg.idle_baseline,
                ));
            }
            Event::SetupFailed { reason, class } if self.state == State::Setup => {
                self.fail(format!("set-up failed: {reason}"), class, &mut out);
            }
            Event::TimerElapsed(Timer::IdleBaseline) if self.state == State::IdleBaseline => {
                self.state = State::Launch;
                self.enter(Phase::Warmup, &mut out);
                out.push(Command::StartTimer(Timer::Ready, self.ready_timeout));
                out.push(Command::StartInstances);
                self.launch_issued = true;
                self.check_launched(&mut out);
            }
            Event::Started { instance } if self.state == State::Launch => {
                let i = usize::try_from(instance).unwrap_or(usize::MAX);
                if let Some(s) = self.started.get_mut(i) {
                    *s = true;
                    if !self.needs_ready_signal.get(i).copied().unwrap_or(false)
                        && let Some(r) = self.ready.get_mut(i)
                    {
                        *r = true;
                    }
                }
                self.check_launched(&mut out);
            }
            Event::LaunchFailed { reason, class } if self.state == State::Launch => {
                self.fail(format!("launch failed: {reason}"), class, &mut out);
            }
            Event::Ready { instance } if matches!(self.state, State::Launch | State::WaitReady) => {
                let i = usize::try_from(instance).unwrap_or(usize::MAX);
                if let Some(r) = self.ready.get_mut(i) {
                    *r = true;
                }
                self.check_launched(&mut out);
            }
            Event::TimerElapsed(Timer::Ready)
                if matches!(self.state, State::Launch | State::WaitReady) =>
            {
                let waiting: Vec<String> = self
                    .ready
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| !**r)
                    .map(|(i, _)| i.to_string())
                    .collect();
                self.fail(
                    format!(
                        "instance(s) {} not ready within {} s of the launch (the workload's \
                         ready.timeout_s)",
                        waiting.join(", "),
                        self.ready_timeout.as_secs()
                    ),
                    FailureClass::Transient,
                    &mut out,
                );
            }
            Event::TimerElapsed(Timer::Warmup) if self.state == State::Warmup => {
                self.state = State::Measure;
                self.enter(Phase::Measure, &mut out);
                out.push(Command::StartTimer(Timer::Measure, self.cfg.measure));
            }
            Event::TimerElapsed(Timer::Measure) if self.state == State::Measure => {
                self.state = State::Stop;
                self.enter(Phase::Cooldown, &mut out);
                out.push(Command::StartTimer(Timer::Cooldown, self.cfg.cooldown_max));
                out.push(Command::StopInstances);
                self.stop_issued = true;
            }
            Event::InstancesStopped if self.state == State::Stop => {
                self.state = State::Cooldown;
                if self.cooldown_elapsed || self.cooled() {
                    self.cleanup(&mut out);
                }
            }
            Event::TimerElapsed(Timer::Cooldown) if self.state == State::Stop => {
                self.cooldown_elapsed = true;
            }
            Event::TimerElapsed(Timer::Cooldown) if self.state == State::Cooldown => {
                self.cleanup(&mut out);
            }
            Event::Temperature { gpu, celsius } if celsius.is_finite() => {
                self.temperature(gpu, celsius, &mut out);
            }
            Event::Exited { instance, status }
                if matches!(
                    self.state,
                    State::Launch | State::WaitReady | State::Warmup | State::Measure
                ) =>
            {
                let when = if self.state == State::Measure {
                    "during the measured window"
                } else {
                    "before the measured window"
                };
                self.fail(
                    format!("instance {instance} {} {when}", describe_exit(&status)),
                    classify_exit(&status),
                    &mut out,
                );
            }
            Event::Failure { reason, class } => self.fail(reason, class, &mut out),
            Event::Cancel => {
                self.ending.get_or_insert(Outcome::Cancelled);
                self.cleanup(&mut out);
            }
            // Anything else is stale (a timer of an earlier state) or does not matter now.
            _ => {}
        }
        out
    }

    fn enter(&mut self, phase: Phase, out: &mut Vec<Command>) {
        self.phase = phase;
        out.push(Command::EnterPhase(phase));
    }

    fn check_launched(&mut self, out: &mut Vec<Command>) {
        if self.state == State::Launch && self.started.iter().all(|s| *s) {
            self.state = State::WaitReady;
        }
        if self.state == State::WaitReady && self.ready.iter().all(|r| *r) {
            self.state = State::Warmup;
            out.push(Command::StartTimer(Timer::Warmup, self.cfg.warmup));
        }
    }

    fn temperature(&mut self, gpu: u32, celsius: f64, out: &mut Vec<Command>) {
        match self.state {
            State::IdleBaseline => {
                let e = self.idle_temps.entry(gpu).or_insert((0.0, 0));
                e.0 += celsius;
                e.1 += 1;
            }
            State::Stop => {
                self.latest_temps.insert(gpu, celsius);
            }
            State::Cooldown => {
                self.latest_temps.insert(gpu, celsius);
                if self.cooled() {
                    self.cleanup(out);
                }
            }
            _ => {}
        }
    }

    /// Every GPU with an idle baseline is back within the delta of it (and one has a baseline).
    fn cooled(&self) -> bool {
        let baseline = self.idle_baseline_c();
        !baseline.is_empty()
            && baseline.iter().all(|(gpu, base)| {
                self.latest_temps
                    .get(gpu)
                    .is_some_and(|t| *t <= base + self.cfg.cooldown_temp_delta_c)
            })
    }

    fn fail(&mut self, reason: String, class: FailureClass, out: &mut Vec<Command>) {
        self.ending.get_or_insert(Outcome::Failed { reason, class });
        self.cleanup(out);
    }

    fn cleanup(&mut self, out: &mut Vec<Command>) {
        self.state = State::Cleanup;
        if self.phase != Phase::None {
            self.enter(Phase::None, out);
        }
        if self.launch_issued && !self.stop_issued {
            out.push(Command::StopInstances);
            self.stop_issued = true;
        }
        out.extend([
            Command::RemoveInstances,
            Command::StopMps,
            Command::RestoreMig,
        ]);
    }

    fn finish(&mut self, error: Option<String>) {
        if let Some(e) = error {
            let reason = match self.ending.take() {
                None | Some(Outcome::Succeeded) => format!("clean-up failed: {e}"),
                Some(Outcome::Failed { reason, .. }) => {
                    format!("{reason}; then clean-up failed: {e}")
                }
                Some(Outcome::Cancelled) => format!("cancelled; then clean-up failed: {e}"),
                Some(Outcome::Unknown) => format!("clean-up failed: {e}"),
            };
            // The node is not as wattsweep found it: the attempt does not count, another may.
            self.ending = Some(Outcome::Failed {
                reason,
                class: FailureClass::Transient,
            });
        }
        self.state = match self.ending {
            None | Some(Outcome::Succeeded) => State::Done,
            Some(_) => State::Failed,
        };
    }
}
