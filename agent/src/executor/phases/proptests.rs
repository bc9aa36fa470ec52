//! Property tests of the phase machine: any event sequence ends in Done or Failed with clean-up
//! issued exactly once, and a well-behaved run always succeeds through every phase.

use proptest::prelude::*;

use super::tests::{cfg, done};
use super::*;

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
