//! The small pure helpers beside the messages: routing, staleness, counts, reply conversion.

use super::fixtures;
use crate::model::{GpuRef, Target};
use crate::subjects::{NodeId, TaskSlot};
use crate::wire::api::*;
use crate::wire::*;

#[test]
fn task_messages_route_to_their_queue() {
    let mut m = fixtures::task_message();
    assert_eq!(m.subject().unwrap(), "wattsweep.v1.task.gpu-node-01.2");

    m.spec.target = Target::Node {
        node: "gpu-node-01".into(),
        gpus: vec![],
    };
    assert_eq!(m.route().unwrap(), (fixtures::node(), TaskSlot::Node));
    assert_eq!(m.subject().unwrap(), "wattsweep.v1.task.gpu-node-01.node");

    m.spec.target = Target::Any {
        model: "h100-80gb".into(),
    };
    let err = m.subject().unwrap_err();
    assert!(matches!(err, RouteError::Unassigned { .. }), "{err:?}");
    assert!(err.to_string().contains("any `h100-80gb` GPU"), "{err}");
    m.assigned = Some(AssignedGpu {
        node: NodeId::parse("n7").unwrap(),
        gpu: GpuRef {
            index: 5,
            uuid: String::new(),
            model: "h100-80gb".into(),
        },
    });
    assert_eq!(m.subject().unwrap(), "wattsweep.v1.task.n7.5");

    m.spec.target = Target::Gpu {
        node: "rack1.node2".into(),
        gpu: GpuRef {
            index: 0,
            uuid: String::new(),
            model: "h100-80gb".into(),
        },
    };
    let err = m.subject().unwrap_err();
    assert!(matches!(err, RouteError::InvalidNode { .. }), "{err:?}");
    assert!(err.to_string().contains("`rack1.node2`"), "{err}");

    m.spec.target = Target::Unknown;
    assert!(matches!(m.subject(), Err(RouteError::UnknownTarget { .. })));
}

#[test]
fn heartbeats_go_stale_after_three_missed_intervals() {
    let hb = fixtures::heartbeat();
    assert_eq!(hb.key().unwrap(), "gpu-node-01");
    assert!(!hb.is_stale(hb.at_ms));
    assert!(!hb.is_stale(hb.at_ms + 3 * hb.interval_ms));
    assert!(hb.is_stale(hb.at_ms + 3 * hb.interval_ms + 1));
    // A clock behind the agent's never makes a node stale.
    assert!(!hb.is_stale(hb.at_ms - 1));
    let mut bad = hb;
    bad.inventory.node_id = "node 1".into();
    assert!(bad.key().is_err());
}

#[test]
fn message_subjects_follow_the_subjects_module() {
    let r = fixtures::task_result();
    assert_eq!(
        r.subject(),
        "wattsweep.v1.result.0b5c9a9e-61a4-4c5e-9a43-1f6c3c2e7d10"
    );
    assert_eq!(r.msg_id(), "5e0f2c1a-8d47-5b0e-a3b9-44d290f16c83-a1");
    assert_eq!(
        fixtures::task_event().subject(),
        "wattsweep.v1.event.0b5c9a9e-61a4-4c5e-9a43-1f6c3c2e7d10.5e0f2c1a-8d47-5b0e-a3b9-44d290f16c83"
    );
    assert_eq!(
        fixtures::live_sample().subject(),
        "wattsweep.v1.live.gpu-node-01"
    );
}

#[test]
fn task_counts_count_every_state() {
    let c = TaskCounts::of([
        TaskState::Pending,
        TaskState::Pending,
        TaskState::Dispatched,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Failed,
        TaskState::Cancelled,
        TaskState::Unknown,
    ]);
    assert_eq!(
        c,
        TaskCounts {
            pending: 2,
            dispatched: 1,
            running: 1,
            succeeded: 1,
            failed: 1,
            cancelled: 1,
            unknown: 1,
        }
    );
    assert_eq!(c.total(), 8);
}

#[test]
fn states_and_classes_say_what_happens_next() {
    assert!(!FailureClass::Deterministic.retryable());
    assert!(FailureClass::Transient.retryable());
    assert!(FailureClass::Unknown.retryable());
    let terminal: Vec<_> = [
        TaskState::Pending,
        TaskState::Dispatched,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Failed,
        TaskState::Cancelled,
        TaskState::Unknown,
    ]
    .into_iter()
    .filter(|s| s.is_terminal())
    .collect();
    assert_eq!(
        terminal,
        [
            TaskState::Succeeded,
            TaskState::Failed,
            TaskState::Cancelled
        ]
    );
    assert!(CampaignState::Finished.is_terminal());
    assert!(!CampaignState::Cancelling.is_terminal());
}

#[test]
fn as_str_matches_the_wire_spelling() {
    fn wire<T: serde::Serialize>(v: T) -> String {
        serde_json::to_value(v)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }
    for p in Phase::ALL.into_iter().chain([Phase::Unknown]) {
        assert_eq!(wire(p), p.as_str());
    }
    for s in [
        TaskState::Pending,
        TaskState::Dispatched,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Failed,
        TaskState::Cancelled,
        TaskState::Unknown,
    ] {
        assert_eq!(wire(s), s.as_str());
    }
    for s in [
        CampaignState::Pending,
        CampaignState::Running,
        CampaignState::Cancelling,
        CampaignState::Finished,
        CampaignState::Cancelled,
        CampaignState::Unknown,
    ] {
        assert_eq!(wire(s), s.as_str());
    }
    for c in [
        ApiErrorCode::InvalidRequest,
        ApiErrorCode::InvalidCampaign,
        ApiErrorCode::NotFound,
        ApiErrorCode::Conflict,
        ApiErrorCode::Unavailable,
        ApiErrorCode::Internal,
        ApiErrorCode::Unknown,
    ] {
        assert_eq!(wire(c), c.as_str());
    }
}

#[test]
fn replies_convert_to_and_from_results() {
    let ok: SubmitReply = Ok(SubmitAccepted {
        campaign_id: fixtures::CAMPAIGN,
        name: "c".into(),
        tasks: 3,
        warnings: vec![],
    })
    .into();
    assert_eq!(ok.into_result().unwrap().tasks, 3);
    let err: CancelReply = Err(ApiError::new(ApiErrorCode::NotFound, "no campaign x")).into();
    let e = err.into_result().unwrap_err();
    assert_eq!(e.code, ApiErrorCode::NotFound);
    assert_eq!(e.to_string(), "not-found: no campaign x");
}

#[test]
fn request_types_name_their_endpoint() {
    use crate::subjects::ApiEndpoint;
    assert_eq!(SubmitRequest::ENDPOINT, ApiEndpoint::Submit);
    assert_eq!(StatusRequest::ENDPOINT, ApiEndpoint::Status);
    assert_eq!(CancelRequest::ENDPOINT, ApiEndpoint::Cancel);
    assert_eq!(ReportRequest::ENDPOINT, ApiEndpoint::Report);
    assert_eq!(NodesRequest::ENDPOINT, ApiEndpoint::Nodes);
}

#[test]
fn summary_finds_its_phases() {
    let s = fixtures::task_result().summary.unwrap();
    let m = s.phase(Phase::Measure).unwrap();
    assert_eq!(m.end_ms - m.start_ms, 300_000);
    assert!(s.phase(Phase::Unknown).is_none());
}
