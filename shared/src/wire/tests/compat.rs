//! An older reader accepts what a newer writer sends: extra fields are ignored, new enum variants
//! become `Unknown`, and the newer envelope version is accepted while the body decodes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fixtures;
use crate::wire::api::*;
use crate::wire::envelope::encode_with_version;
use crate::wire::*;

const NEXT: u32 = PROTOCOL_VERSION + 1;

/// `TaskEvent` as a future version might write it: an extra field, a new event and a new phase.
#[derive(Serialize, Deserialize)]
struct TaskEventV2 {
    campaign_id: Uuid,
    task_id: Uuid,
    attempt: u32,
    node: String,
    at_ms: u64,
    event: EventKindV2,
    clock_offset_ms: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum EventKindV2 {
    Claimed,
    Throttled {
        reason: String,
        since_ms: u64,
    },
    Progress {
        phase: PhaseV2,
        elapsed_ms: u64,
        planned_ms: u64,
        samples: u64,
    },
    Failed {
        reason: String,
        class: FailureClassV2,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum PhaseV2 {
    Measure,
    Profiling,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FailureClassV2 {
    Transient,
    Preempted,
}

impl WireMessage for TaskEventV2 {
    const KIND: &'static str = TaskEvent::KIND;
}

fn event_v2(event: EventKindV2) -> TaskEventV2 {
    TaskEventV2 {
        campaign_id: fixtures::CAMPAIGN,
        task_id: fixtures::TASK,
        attempt: 2,
        node: "gpu-node-01".into(),
        at_ms: fixtures::T0,
        event,
        clock_offset_ms: -3,
    }
}

fn read_as_v1(event: EventKindV2) -> TaskEvent {
    let bytes = encode_with_version(&event_v2(event), NEXT).unwrap();
    decode::<TaskEvent>(&bytes).unwrap()
}

#[test]
fn a_new_event_variant_becomes_unknown_and_the_rest_decodes() {
    let got = read_as_v1(EventKindV2::Throttled {
        reason: "power cap".into(),
        since_ms: 5,
    });
    assert_eq!(
        got,
        TaskEvent {
            campaign_id: fixtures::CAMPAIGN,
            task_id: fixtures::TASK,
            attempt: 2,
            node: fixtures::node(),
            at_ms: fixtures::T0,
            event: EventKind::Unknown,
        }
    );
}

#[test]
fn known_variants_with_extra_fields_and_new_nested_variants_decode() {
    assert_eq!(read_as_v1(EventKindV2::Claimed).event, EventKind::Claimed);
    assert_eq!(
        read_as_v1(EventKindV2::Progress {
            phase: PhaseV2::Profiling,
            elapsed_ms: 10,
            planned_ms: 20,
            samples: 500,
        })
        .event,
        EventKind::Progress {
            phase: Phase::Unknown,
            elapsed_ms: 10,
            planned_ms: 20
        }
    );
    assert_eq!(
        read_as_v1(EventKindV2::Progress {
            phase: PhaseV2::Measure,
            elapsed_ms: 1,
            planned_ms: 2,
            samples: 3,
        })
        .event,
        EventKind::Progress {
            phase: Phase::Measure,
            elapsed_ms: 1,
            planned_ms: 2
        }
    );
    let failed = read_as_v1(EventKindV2::Failed {
        reason: "node preempted".into(),
        class: FailureClassV2::Preempted,
    });
    assert_eq!(
        failed.event,
        EventKind::Failed {
            reason: "node preempted".into(),
            class: FailureClass::Unknown
        }
    );
    let transient = read_as_v1(EventKindV2::Failed {
        reason: "x".into(),
        class: FailureClassV2::Transient,
    });
    assert!(matches!(
        transient.event,
        EventKind::Failed {
            class: FailureClass::Transient,
            ..
        }
    ));
}

/// `TaskResult` with a new outcome and a new top-level field; the summary as today.
#[derive(Serialize)]
struct TaskResultV2 {
    campaign_id: Uuid,
    task_id: Uuid,
    attempt: u32,
    node: String,
    outcome: OutcomeV2,
    started_at_ms: u64,
    finished_at_ms: u64,
    summary: Option<TaskSummary>,
    fenced_by: Option<u32>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum OutcomeV2 {
    Superseded { by_attempt: u32 },
}

impl<'de> Deserialize<'de> for TaskResultV2 {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("write-only test type"))
    }
}

impl WireMessage for TaskResultV2 {
    const KIND: &'static str = TaskResult::KIND;
}

#[test]
fn a_new_outcome_becomes_unknown() {
    let v1 = fixtures::task_result();
    let v2 = TaskResultV2 {
        campaign_id: v1.campaign_id,
        task_id: v1.task_id,
        attempt: v1.attempt,
        node: v1.node.to_string(),
        outcome: OutcomeV2::Superseded { by_attempt: 3 },
        started_at_ms: v1.started_at_ms,
        finished_at_ms: v1.finished_at_ms,
        summary: v1.summary.clone(),
        fenced_by: Some(3),
    };
    let got: TaskResult = decode(&encode_with_version(&v2, NEXT).unwrap()).unwrap();
    assert_eq!(
        got,
        TaskResult {
            outcome: Outcome::Unknown,
            ..v1
        }
    );
}

/// Any message with extra fields beside its own (a newer writer that added fields).
#[derive(Serialize, Deserialize)]
struct WithExtra<M> {
    #[serde(flatten)]
    inner: M,
    added_in_v2: Vec<String>,
    also_added: Option<f64>,
}

impl<M: WireMessage> WireMessage for WithExtra<M> {
    const KIND: &'static str = M::KIND;
}

fn accepts_extra_fields<M: WireMessage + PartialEq + std::fmt::Debug>(message: M) {
    let expected = encode(&message).unwrap();
    let v2 = WithExtra {
        inner: message,
        added_in_v2: vec!["x".into()],
        also_added: Some(1.5),
    };
    let got: M = decode(&encode_with_version(&v2, NEXT).unwrap()).unwrap();
    assert_eq!(encode(&got).unwrap(), expected, "{}", M::KIND);
}

#[test]
fn every_kind_ignores_fields_it_does_not_know() {
    accepts_extra_fields(fixtures::task_message());
    accepts_extra_fields(fixtures::task_event());
    accepts_extra_fields(fixtures::task_result());
    accepts_extra_fields(fixtures::heartbeat());
    accepts_extra_fields(fixtures::live_sample());
    accepts_extra_fields(fixtures::campaign_record());
    accepts_extra_fields(fixtures::submit_request());
    accepts_extra_fields(fixtures::status_request());
    accepts_extra_fields(fixtures::cancel_request());
    accepts_extra_fields(fixtures::report_request());
    accepts_extra_fields(fixtures::nodes_request());
    accepts_extra_fields(fixtures::submit_reply());
    accepts_extra_fields(fixtures::status_reply());
    accepts_extra_fields(fixtures::cancel_reply());
    accepts_extra_fields(fixtures::report_reply());
    accepts_extra_fields(fixtures::nodes_reply());
}

/// A reply shape a newer coordinator may send.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum ReplyV2 {
    Redirect { to: String },
}

impl WireMessage for ReplyV2 {
    const KIND: &'static str = SubmitReply::KIND;
}

#[test]
fn a_new_reply_shape_becomes_unknown_and_an_unknown_error() {
    let bytes = encode_with_version(
        &ReplyV2::Redirect {
            to: "elsewhere".into(),
        },
        NEXT,
    )
    .unwrap();
    let got: SubmitReply = decode(&bytes).unwrap();
    assert_eq!(got, ApiReply::Unknown);
    assert_eq!(got.into_result().unwrap_err().code, ApiErrorCode::Unknown);
}

/// Campaign state with a task state this build does not know (unit variants travel as strings).
#[test]
fn a_new_task_state_becomes_unknown() {
    #[derive(Serialize, Deserialize)]
    struct RowV2 {
        id: Uuid,
        seq: u32,
        configuration: String,
        target: String,
        repetition: u32,
        state: String,
        quarantined_until_ms: u64,
    }
    #[derive(Serialize, Deserialize)]
    struct RecordV2 {
        id: Uuid,
        name: String,
        submitted_at_ms: u64,
        source: CampaignSource,
        state: String,
        tasks: Vec<RowV2>,
    }
    impl WireMessage for RecordV2 {
        const KIND: &'static str = CampaignRecord::KIND;
    }
    let v2 = RecordV2 {
        id: fixtures::CAMPAIGN,
        name: "c".into(),
        submitted_at_ms: 1,
        source: fixtures::source(),
        state: "paused".into(),
        tasks: vec![RowV2 {
            id: fixtures::TASK,
            seq: 0,
            configuration: "exclusive/burn".into(),
            target: "n/gpu0".into(),
            repetition: 0,
            state: "quarantined".into(),
            quarantined_until_ms: 9,
        }],
    };
    let got: CampaignRecord = decode(&encode_with_version(&v2, NEXT).unwrap()).unwrap();
    assert_eq!(got.state, CampaignState::Unknown);
    assert_eq!(got.tasks[0].state, TaskState::Unknown);
    // Fields this writer left out take their defaults.
    assert_eq!(got.tasks[0].attempt, 0);
    assert_eq!(got.tasks[0].node, None);
    assert_eq!(got.tasks[0].last_error, None);
    assert_eq!(got.finished_at_ms, None);
}

#[test]
fn a_newer_version_whose_body_does_not_decode_is_unsupported() {
    #[derive(Serialize, Deserialize)]
    struct Reshaped {
        campaign_id: String,
    }
    impl WireMessage for Reshaped {
        const KIND: &'static str = TaskEvent::KIND;
    }
    let bytes = encode_with_version(
        &Reshaped {
            campaign_id: "x".into(),
        },
        NEXT,
    )
    .unwrap();
    let err = decode::<TaskEvent>(&bytes).unwrap_err();
    assert!(
        matches!(
            &err,
            DecodeError::UnsupportedVersion { found, body_error: Some(_), kind }
                if *found == NEXT && kind == TaskEvent::KIND
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&format!("version {NEXT}")), "{msg}");
    assert!(msg.contains("it does not"), "{msg}");

    // The same body under our own version is simply malformed.
    let bytes = encode_with_version(
        &Reshaped {
            campaign_id: "x".into(),
        },
        PROTOCOL_VERSION,
    )
    .unwrap();
    assert!(matches!(
        decode::<TaskEvent>(&bytes),
        Err(DecodeError::Malformed {
            expected: "task-event",
            ..
        })
    ));
}

#[test]
fn a_version_older_than_supported_is_unsupported() {
    let bytes = encode_with_version(&fixtures::task_event(), MIN_SUPPORTED_VERSION - 1).unwrap();
    assert!(matches!(
        decode::<TaskEvent>(&bytes),
        Err(DecodeError::UnsupportedVersion {
            found: 0,
            body_error: None,
            ..
        })
    ));
}
