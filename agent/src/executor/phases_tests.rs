//! Tests of the phase machine: the happy path command by command, every failure path, and property
//! tests that any event sequence ends in Done or Failed with clean-up issued exactly once.

use proptest::prelude::*;

use super::*;

fn cfg() -> MachineConfig {
    MachineConfig {
        idle_baseline: Duration::from_secs(60),
        warmup: Duration::from_secs(30),
        measure: Duration::from_secs(300),
        cooldown_max: Duration::from_secs(120),
        cooldown_temp_delta_c: 2.0,
    }
}

/// Set-up done, for instances with (true) or without a readiness line.
fn done(instances: &[bool]) -> Event {
    Event::SetupDone {
        needs_ready_signal: instances.to_vec(),
        ready_timeout: Duration::from_secs(600),
    }
}

fn s(v: u64) -> Duration {
    Duration::from_secs(v)
}

const CLEANUP: [Command; 3] = [
    Command::RemoveInstances,
    Command::StopMps,
    Command::RestoreMig,
];

fn cleanup_after(mut first: Vec<Command>) -> Vec<Command> {
    first.extend(CLEANUP);
    first
}

/// Drive a machine with two instances (one with a readiness line) into the measured window.
fn into_measure() -> Machine {
    let (mut m, _) = Machine::new(cfg());
    let setup = done(&[true, false]);
    m.next(setup.clone());
    m.next(Event::TimerElapsed(Timer::IdleBaseline));
    m.next(Event::Started { instance: 0 });
    m.next(Event::Started { instance: 1 });
    m.next(Event::Ready { instance: 0 });
    m.next(Event::TimerElapsed(Timer::Warmup));
    assert_eq!(m.state(), State::Measure);
    m
}

#[test]
fn happy_path_issues_every_command_in_order() {
    let (mut m, first) = Machine::new(cfg());
    let setup = done(&[true, false]);
    assert_eq!(first, vec![Command::Setup]);
    assert_eq!(
        m.next(setup.clone()),
        vec![
            Command::EnterPhase(Phase::IdleBaseline),
            Command::StartTimer(Timer::IdleBaseline, s(60))
        ]
    );
    m.next(Event::Temperature {
        gpu: 0,
        celsius: 30.0,
    });
    m.next(Event::Temperature {
        gpu: 0,
        celsius: 32.0,
    });
    assert_eq!(
        m.next(Event::TimerElapsed(Timer::IdleBaseline)),
        vec![
            Command::EnterPhase(Phase::Warmup),
            Command::StartTimer(Timer::Ready, s(600)),
            Command::StartInstances
        ]
    );
    assert_eq!(m.state(), State::Launch);
    assert_eq!(m.next(Event::Started { instance: 0 }), vec![]);
    assert_eq!(m.next(Event::Started { instance: 1 }), vec![]);
    assert_eq!(m.state(), State::WaitReady);
    // The warm-up only starts once instance 0 printed its readiness line.
    assert_eq!(
        m.next(Event::Ready { instance: 0 }),
        vec![Command::StartTimer(Timer::Warmup, s(30))]
    );
    assert_eq!(m.state(), State::Warmup);
    // A stale readiness deadline does nothing any more.
    assert_eq!(m.next(Event::TimerElapsed(Timer::Ready)), vec![]);
    assert_eq!(
        m.next(Event::TimerElapsed(Timer::Warmup)),
        vec![
            Command::EnterPhase(Phase::Measure),
            Command::StartTimer(Timer::Measure, s(300))
        ]
    );
    assert_eq!(
        m.next(Event::TimerElapsed(Timer::Measure)),
        vec![
            Command::EnterPhase(Phase::Cooldown),
            Command::StartTimer(Timer::Cooldown, s(120)),
            Command::StopInstances
        ]
    );
    // Exits after the window do not matter.
    assert_eq!(
        m.next(Event::Exited {
            instance: 0,
            status: ExitStatus::Killed("SIGTERM".into())
        }),
        vec![]
    );
    assert_eq!(m.next(Event::InstancesStopped), vec![]);
    assert_eq!(m.state(), State::Cooldown);
    assert_eq!(
        m.next(Event::Temperature {
            gpu: 0,
            celsius: 40.0
        }),
        vec![]
    );
    assert_eq!(m.idle_baseline_c().get(&0), Some(&31.0));
    // 31 °C idle + 2 °C: 33 is cool enough.
    assert_eq!(
        m.next(Event::Temperature {
            gpu: 0,
            celsius: 33.0
        }),
        cleanup_after(vec![Command::EnterPhase(Phase::None)])
    );
    assert_eq!(m.state(), State::Cleanup);
    assert_eq!(m.next(Event::Cancel), vec![]);
    assert_eq!(m.next(Event::CleanupDone { error: None }), vec![]);
    assert_eq!(m.state(), State::Done);
    assert_eq!(m.outcome(), Some(Outcome::Succeeded));
    assert_eq!(m.next(Event::Cancel), vec![]);
}

#[test]
fn cooldown_ends_at_its_maximum_without_a_baseline() {
    let mut m = into_measure();
    m.next(Event::TimerElapsed(Timer::Measure));
    m.next(Event::InstancesStopped);
    assert_eq!(
        m.next(Event::Temperature {
            gpu: 0,
            celsius: 20.0
        }),
        vec![]
    );
    assert_eq!(
        m.next(Event::TimerElapsed(Timer::Cooldown)),
        cleanup_after(vec![Command::EnterPhase(Phase::None)])
    );
}

#[test]
fn cooldown_timer_during_a_slow_stop_ends_the_cooldown_once_stopped() {
    let mut m = into_measure();
    m.next(Event::TimerElapsed(Timer::Measure));
    assert_eq!(m.next(Event::TimerElapsed(Timer::Cooldown)), vec![]);
    assert_eq!(
        m.next(Event::InstancesStopped),
        cleanup_after(vec![Command::EnterPhase(Phase::None)])
    );
}

#[test]
fn cooldown_needs_every_gpu_with_a_baseline() {
    let (mut m, _) = Machine::new(cfg());
    let setup = done(&[]);
    m.next(setup.clone());
    for (gpu, c) in [(0, 30.0), (1, 40.0), (0, 30.0)] {
        m.next(Event::Temperature { gpu, celsius: c });
    }
    m.next(Event::TimerElapsed(Timer::IdleBaseline));
    // No instance: ready at once, straight to the warm-up.
    assert_eq!(m.state(), State::Warmup);
    m.next(Event::TimerElapsed(Timer::Warmup));
    m.next(Event::TimerElapsed(Timer::Measure));
    m.next(Event::InstancesStopped);
    m.next(Event::Temperature {
        gpu: 0,
        celsius: 31.0,
    });
    assert_eq!(m.state(), State::Cooldown);
    m.next(Event::Temperature {
        gpu: 1,
        celsius: 42.5,
    });
    assert_eq!(m.state(), State::Cooldown);
    m.next(Event::Temperature {
        gpu: 1,
        celsius: 41.0,
    });
    assert_eq!(m.state(), State::Cleanup);
}

#[test]
fn failure_mid_measure_stops_and_cleans_up_once() {
    let mut m = into_measure();
    let cmds = m.next(Event::Failure {
        reason: "sampler stopped".into(),
        class: FailureClass::Transient,
    });
    assert_eq!(
        cmds,
        cleanup_after(vec![
            Command::EnterPhase(Phase::None),
            Command::StopInstances
        ])
    );
    assert_eq!(m.next(Event::InstancesStopped), vec![]);
    assert_eq!(
        m.next(Event::Failure {
            reason: "again".into(),
            class: FailureClass::Deterministic
        }),
        vec![]
    );
    m.next(Event::CleanupDone { error: None });
    assert_eq!(
        m.outcome(),
        Some(Outcome::Failed {
            reason: "sampler stopped".into(),
            class: FailureClass::Transient
        })
    );
}

#[test]
fn early_exit_is_classified_by_how_it_ended() {
    for (status, class) in [
        (ExitStatus::Exited(1), FailureClass::Deterministic),
        (ExitStatus::Exited(0), FailureClass::Deterministic),
        (
            ExitStatus::Killed("OOMKilled".into()),
            FailureClass::Transient,
        ),
        (ExitStatus::DeadlineExceeded, FailureClass::Transient),
    ] {
        let mut m = into_measure();
        m.next(Event::Exited {
            instance: 1,
            status: status.clone(),
        });
        m.next(Event::InstancesStopped);
        m.next(Event::CleanupDone { error: None });
        match m.outcome() {
            Some(Outcome::Failed { reason, class: c }) => {
                assert_eq!(c, class, "{status:?}");
                assert!(reason.contains("instance 1"), "{reason}");
                assert!(reason.contains("during the measured window"), "{reason}");
            }
            other => panic!("{status:?}: {other:?}"),
        }
    }
}

#[test]
fn exit_during_warmup_fails_before_the_window() {
    let (mut m, _) = Machine::new(cfg());
    let setup = done(&[false]);
    m.next(setup.clone());
    m.next(Event::TimerElapsed(Timer::IdleBaseline));
    m.next(Event::Started { instance: 0 });
    assert_eq!(m.state(), State::Warmup);
    let cmds = m.next(Event::Exited {
        instance: 0,
        status: ExitStatus::Exited(2),
    });
    assert!(cmds.contains(&Command::StopInstances));
    assert_eq!(m.state(), State::Cleanup);
}

#[test]
fn readiness_timeout_fails_and_names_the_waiting_instances() {
    let (mut m, _) = Machine::new(cfg());
    let setup = done(&[true, true]);
    m.next(setup.clone());
    m.next(Event::TimerElapsed(Timer::IdleBaseline));
    m.next(Event::Started { instance: 0 });
    m.next(Event::Started { instance: 1 });
    m.next(Event::Ready { instance: 1 });
    // The warm-up timer never fires before readiness.
    assert_eq!(m.next(Event::TimerElapsed(Timer::Warmup)), vec![]);
    let cmds = m.next(Event::TimerElapsed(Timer::Ready));
    assert_eq!(
        cmds,
        cleanup_after(vec![
            Command::EnterPhase(Phase::None),
            Command::StopInstances
        ])
    );
    m.next(Event::CleanupDone { error: None });
    match m.outcome() {
        Some(Outcome::Failed { reason, class }) => {
            assert_eq!(class, FailureClass::Transient);
            assert!(
                reason.contains("instance(s) 0 not ready within 600 s"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn setup_failure_cleans_up_without_stopping_instances() {
    let (mut m, _) = Machine::new(cfg());
    let cmds = m.next(Event::SetupFailed {
        reason: "layout invalid".into(),
        class: FailureClass::Deterministic,
    });
    assert_eq!(cmds, CLEANUP.to_vec());
    m.next(Event::CleanupDone { error: None });
    assert_eq!(m.state(), State::Failed);
    assert!(matches!(
        m.outcome(),
        Some(Outcome::Failed {
            class: FailureClass::Deterministic,
            ..
        })
    ));
}

#[test]
fn launch_failure_stops_what_started() {
    let (mut m, _) = Machine::new(cfg());
    let setup = done(&[false, false]);
    m.next(setup.clone());
    m.next(Event::TimerElapsed(Timer::IdleBaseline));
    m.next(Event::Started { instance: 0 });
    let cmds = m.next(Event::LaunchFailed {
        reason: "no such image".into(),
        class: FailureClass::Deterministic,
    });
    assert!(cmds.contains(&Command::StopInstances));
}

#[test]
fn cancel_skips_the_cooldown_and_reports_cancelled() {
    let mut m = into_measure();
    m.next(Event::Cancel);
    m.next(Event::CleanupDone { error: None });
    assert_eq!(m.state(), State::Failed);
    assert_eq!(m.outcome(), Some(Outcome::Cancelled));
}

#[test]
fn cleanup_error_turns_success_into_a_transient_failure() {
    let mut m = into_measure();
    m.next(Event::TimerElapsed(Timer::Measure));
    m.next(Event::InstancesStopped);
    m.next(Event::TimerElapsed(Timer::Cooldown));
    m.next(Event::CleanupDone {
        error: Some("MIG restore refused".into()),
    });
    assert_eq!(
        m.outcome(),
        Some(Outcome::Failed {
            reason: "clean-up failed: MIG restore refused".into(),
            class: FailureClass::Transient
        })
    );
}

#[test]
fn out_of_range_instances_and_nan_temperatures_are_ignored() {
    let (mut m, _) = Machine::new(cfg());
    let setup = done(&[true]);
    m.next(setup.clone());
    m.next(Event::Temperature {
        gpu: 0,
        celsius: f64::NAN,
    });
    assert!(m.idle_baseline_c().is_empty());
    m.next(Event::TimerElapsed(Timer::IdleBaseline));
    m.next(Event::Started { instance: 7 });
    m.next(Event::Ready { instance: 9 });
    assert_eq!(m.state(), State::Launch);
}

fn timer() -> impl Strategy<Value = Timer> {
    prop_oneof![
        Just(Timer::IdleBaseline),
        Just(Timer::Ready),
        Just(Timer::Warmup),
        Just(Timer::Measure),
        Just(Timer::Cooldown),
    ]
}

fn class() -> impl Strategy<Value = FailureClass> {
    prop_oneof![
        Just(FailureClass::Transient),
        Just(FailureClass::Deterministic)
    ]
}

fn exit() -> impl Strategy<Value = ExitStatus> {
    prop_oneof![
        (-2i32..3).prop_map(ExitStatus::Exited),
        Just(ExitStatus::Killed("SIGKILL".into())),
        Just(ExitStatus::DeadlineExceeded),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        proptest::collection::vec(any::<bool>(), 0..4).prop_map(|v| done(&v)),
        class().prop_map(|class| Event::SetupFailed {
            reason: "x".into(),
            class
        }),
        (0u32..4).prop_map(|instance| Event::Started { instance }),
        class().prop_map(|class| Event::LaunchFailed {
            reason: "x".into(),
            class
        }),
        (0u32..4).prop_map(|instance| Event::Ready { instance }),
        ((0u32..4), exit()).prop_map(|(instance, status)| Event::Exited { instance, status }),
        timer().prop_map(Event::TimerElapsed),
        ((0u32..2), (20.0f64..90.0)).prop_map(|(gpu, celsius)| Event::Temperature { gpu, celsius }),
        Just(Event::InstancesStopped),
        class().prop_map(|class| Event::Failure {
            reason: "x".into(),
            class
        }),
        Just(Event::Cancel),
        proptest::option::of(Just("e".to_string())).prop_map(|error| Event::CleanupDone { error }),
    ]
}

/// Counts of what a run issued.
#[derive(Default, Debug)]
struct Issued {
    setup: u32,
    start: u32,
    stop: u32,
    remove: u32,
    stop_mps: u32,
    restore: u32,
    phases: Vec<Phase>,
}

impl Issued {
    fn take(&mut self, cmds: &[Command]) {
        for c in cmds {
            match c {
                Command::Setup => self.setup += 1,
                Command::StartInstances => self.start += 1,
                Command::StopInstances => self.stop += 1,
                Command::RemoveInstances => self.remove += 1,
                Command::StopMps => self.stop_mps += 1,
                Command::RestoreMig => self.restore += 1,
                Command::EnterPhase(p) => self.phases.push(*p),
                Command::StartTimer(..) => {}
            }
        }
    }
}

fn rank(p: Phase) -> u8 {
    match p {
        Phase::IdleBaseline => 1,
        Phase::Warmup => 2,
        Phase::Measure => 3,
        Phase::Cooldown => 4,
        Phase::None => 5,
    }
}

/// A well-behaved driver's answer to the commands it was given, so that runs also make progress.
fn answers(cmds: &[Command], signals: &[bool]) -> Vec<Event> {
    answers_with(cmds, signals, true)
}

/// [`answers`], optionally leaving the readiness deadline unfired.
fn answers_with(cmds: &[Command], signals: &[bool], fire_ready_timer: bool) -> Vec<Event> {
    let instances = u32::try_from(signals.len()).unwrap_or(0);
    let mut out = Vec::new();
    for c in cmds {
        match c {
            Command::Setup => out.push(done(signals)),
            Command::StartInstances => {
                out.extend((0..instances).map(|instance| Event::Started { instance }));
            }
            Command::StopInstances => out.push(Event::InstancesStopped),
            Command::StartTimer(Timer::Ready, _) if !fire_ready_timer => {}
            Command::StartTimer(t, _) => out.push(Event::TimerElapsed(*t)),
            _ => {}
        }
    }
    out
}

proptest! {
    /// Any interleaving of arbitrary events with a driver's answers ends, once cancelled, in Done
    /// or Failed, with every clean-up command issued exactly once, instances stopped at most once
    /// and only after being started, and telemetry phases in run order.
    #[test]
    fn any_event_sequence_ends_cleaned_up_exactly_once(
        signals in proptest::collection::vec(any::<bool>(), 0..4),
        events in proptest::collection::vec((event(), any::<bool>()), 0..60),
    ) {
        let (mut m, first) = Machine::new(cfg());
        let mut issued = Issued::default();
        issued.take(&first);
        let mut pending = answers(&first, &signals);
        for (e, answer_first) in events {
            // Either the driver answers what it was asked, or something else happens first.
            let e = if answer_first && !pending.is_empty() { pending.remove(0) } else { e };
            let cmds = m.next(e);
            issued.take(&cmds);
            pending.extend(answers(&cmds, &signals));
        }
        // Cancel, answer everything, then report the clean-up done.
        let mut queue = vec![Event::Cancel];
        queue.append(&mut pending);
        queue.push(Event::InstancesStopped);
        queue.push(Event::CleanupDone { error: None });
        for e in queue {
            let cmds = m.next(e);
            issued.take(&cmds);
        }
        prop_assert!(m.state().is_terminal(), "{:?}", m.state());
        prop_assert!(m.outcome().is_some());
        prop_assert_eq!(issued.setup, 1);
        prop_assert_eq!((issued.remove, issued.stop_mps, issued.restore), (1, 1, 1));
        prop_assert!(issued.stop <= issued.start);
        prop_assert!(issued.start <= 1);
        prop_assert!(issued.phases.windows(2).all(|w| rank(w[0]) < rank(w[1])), "{:?}", issued.phases);
        if !issued.phases.is_empty() {
            prop_assert_eq!(issued.phases.last().copied(), Some(Phase::None));
        }
        if m.state() == State::Done {
            prop_assert!(issued.phases.contains(&Phase::Measure));
            prop_assert!(issued.phases.contains(&Phase::Cooldown));
        }
        prop_assert_eq!(m.next(Event::Cancel), vec![]);
    }

    /// A driver that answers everything and never fails always succeeds, with all five phase
    /// changes (every one an energy read).
    #[test]
    fn a_well_behaved_run_succeeds(signals in proptest::collection::vec(any::<bool>(), 0..5)) {
        let n = u32::try_from(signals.len()).unwrap_or(0);
        let (mut m, first) = Machine::new(cfg());
        let mut issued = Issued::default();
        issued.take(&first);
        let mut queue: std::collections::VecDeque<Event> = answers_with(&first, &signals, false).into();
        let mut steps = 0;
        while let Some(e) = queue.pop_front() {
            let cmds = m.next(e);
            issued.take(&cmds);
            queue.extend(answers_with(&cmds, &signals, false));
            if cmds.contains(&Command::StartInstances) {
                queue.extend((0..n).map(|instance| Event::Ready { instance }));
            }
            if m.state() == State::Cleanup {
                queue.push_back(Event::CleanupDone { error: None });
            }
            steps += 1;
            prop_assert!(steps < 1000);
        }
        prop_assert_eq!(m.state(), State::Done);
        prop_assert_eq!(
            issued.phases,
            vec![Phase::IdleBaseline, Phase::Warmup, Phase::Measure, Phase::Cooldown, Phase::None]
        );
    }
}
