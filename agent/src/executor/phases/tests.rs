//! Tests of the phase machine: the happy path command by command and every failure path.

use wattsweep_shared::wire::Outcome;

use super::*;

pub(super) fn cfg() -> MachineConfig {
    MachineConfig {
        idle_baseline: Duration::from_secs(60),
        warmup: Duration::from_secs(30),
        measure: Duration::from_secs(300),
        cooldown_max: Duration::from_secs(120),
        cooldown_temp_delta_c: 2.0,
    }
}

/// Set-up done, for instances with (true) or without a readiness line.
pub(super) fn done(instances: &[bool]) -> Event {
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
