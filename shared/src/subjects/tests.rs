//! Tests of the subject names: exact spellings (they are a contract) and node-id validation.

use proptest::prelude::*;
use uuid::Uuid;

use super::*;

fn node(id: &str) -> NodeId {
    NodeId::parse(id).unwrap()
}

const CAMPAIGN: Uuid = Uuid::from_u128(0x0b5c_9a9e_61a4_4c5e_9a43_1f6c_3c2e_7d10);
const TASK: Uuid = Uuid::from_u128(0x5e0f_2c1a_8d47_5b0e_a3b9_44d2_90f1_6c83);

#[test]
fn names_are_spelled_as_the_design_says() {
    let n = node("gpu-node_07");
    assert_eq!(
        task_subject(&n, TaskSlot::Gpu(3)),
        "wattsweep.v1.task.gpu-node_07.3"
    );
    assert_eq!(
        task_subject(&n, TaskSlot::Node),
        "wattsweep.v1.task.gpu-node_07.node"
    );
    assert_eq!(node_consumer(&n), "node-gpu-node_07");
    assert_eq!(node_consumer_filter(&n), "wattsweep.v1.task.gpu-node_07.>");
    assert_eq!(
        event_subject(CAMPAIGN, TASK),
        "wattsweep.v1.event.0b5c9a9e-61a4-4c5e-9a43-1f6c3c2e7d10.5e0f2c1a-8d47-5b0e-a3b9-44d290f16c83"
    );
    assert_eq!(
        campaign_events_filter(CAMPAIGN),
        "wattsweep.v1.event.0b5c9a9e-61a4-4c5e-9a43-1f6c3c2e7d10.*"
    );
    assert_eq!(
        result_subject(CAMPAIGN),
        "wattsweep.v1.result.0b5c9a9e-61a4-4c5e-9a43-1f6c3c2e7d10"
    );
    assert_eq!(
        result_msg_id(TASK, 2),
        "5e0f2c1a-8d47-5b0e-a3b9-44d290f16c83-a2"
    );
    assert_eq!(node_key(&n), "gpu-node_07");
    assert_eq!(
        campaign_key(CAMPAIGN),
        "0b5c9a9e-61a4-4c5e-9a43-1f6c3c2e7d10"
    );
    assert_eq!(live_subject(&n), "wattsweep.v1.live.gpu-node_07");
    assert_eq!(live_wildcard(), "wattsweep.v1.live.*");
    assert_eq!(tasks_stream_subjects(), ["wattsweep.v1.task.>"]);
    assert_eq!(events_stream_subjects(), ["wattsweep.v1.event.*.*"]);
    assert_eq!(results_stream_subjects(), ["wattsweep.v1.result.*"]);
    assert_eq!(api_wildcard(), "wattsweep.v1.api.*");
    let api: Vec<String> = ApiEndpoint::ALL.iter().map(|e| e.subject()).collect();
    assert_eq!(
        api,
        [
            "wattsweep.v1.api.submit",
            "wattsweep.v1.api.status",
            "wattsweep.v1.api.cancel",
            "wattsweep.v1.api.report",
            "wattsweep.v1.api.nodes",
        ]
    );
    assert_eq!(TASKS_STREAM, "WATTSWEEP_TASKS");
    assert_eq!(EVENTS_STREAM, "WATTSWEEP_EVENTS");
    assert_eq!(RESULTS_STREAM, "WATTSWEEP_RESULTS");
    assert_eq!(NODES_BUCKET, "wattsweep_nodes");
    assert_eq!(CAMPAIGNS_BUCKET, "wattsweep_campaigns");
    assert_eq!(MSG_ID_HEADER, "Nats-Msg-Id");
}

#[test]
fn node_id_rejections_say_what_and_where() {
    assert_eq!(NodeId::parse(""), Err(NodeIdError::Empty));
    for (id, ch, position) in [
        ("a.b", '.', 1),
        ("*", '*', 0),
        (">", '>', 0),
        ("node 1", ' ', 4),
        ("node\t1", '\t', 4),
        ("nöde", 'ö', 1),
        ("a/b", '/', 1),
        ("node1\n", '\n', 5),
    ] {
        assert_eq!(
            NodeId::parse(id),
            Err(NodeIdError::InvalidChar {
                id: id.to_owned(),
                ch,
                position
            }),
            "{id:?}"
        );
    }
    let long = "n".repeat(NODE_ID_MAX_LEN + 1);
    assert_eq!(
        NodeId::parse(&long),
        Err(NodeIdError::TooLong {
            id: long.clone(),
            len: NODE_ID_MAX_LEN + 1
        })
    );
    assert!(NodeId::parse(&long[1..]).is_ok());

    let msg = NodeId::parse("rack1.node2").unwrap_err().to_string();
    assert!(msg.contains("`rack1.node2`"), "{msg}");
    assert!(msg.contains("'.' at byte 5"), "{msg}");
    assert!(msg.contains("separates subject tokens"), "{msg}");
    assert!(msg.contains("A-Z a-z 0-9 _ -"), "{msg}");
    let msg = NodeId::parse("node>").unwrap_err().to_string();
    assert!(msg.contains("wildcard"), "{msg}");
}

#[test]
fn node_id_serde_validates() {
    let ok: NodeId = serde_json::from_str("\"node-1\"").unwrap();
    assert_eq!(ok.as_str(), "node-1");
    assert_eq!(serde_json::to_string(&ok).unwrap(), "\"node-1\"");
    let err = serde_json::from_str::<NodeId>("\"node.1\"").unwrap_err();
    assert!(err.to_string().contains("invalid node id"), "{err}");
}

#[test]
fn task_subject_parsing_rejects_other_shapes() {
    for bad in [
        "wattsweep.v1.task.n1",
        "wattsweep.v1.task.n1.",
        "wattsweep.v1.task.n1.gpu0",
        "wattsweep.v1.task.n1.0.extra",
        "wattsweep.v1.task.n1.99999999999",
        "wattsweep.v1.event.n1.0",
        "wattsweep.v2.task.n1.0",
    ] {
        assert!(
            matches!(parse_task_subject(bad), Err(TaskSubjectError::Shape { .. })),
            "{bad}"
        );
    }
    assert!(matches!(
        parse_task_subject("wattsweep.v1.task.*.0"),
        Err(TaskSubjectError::Node { .. })
    ));
}

fn tokens(subject: &str) -> Vec<&str> {
    subject.split('.').collect()
}

/// A token that NATS accepts literally: non-empty, no wildcard, no whitespace, no dot.
fn is_literal_token(t: &str) -> bool {
    !t.is_empty() && t != "*" && t != ">" && !t.chars().any(|c| c.is_whitespace() || c == '.')
}

proptest! {
    #[test]
    fn accepted_ids_yield_subjects_with_the_expected_tokens(
        id in "[A-Za-z0-9_-]{1,128}",
        gpu in any::<u32>(),
    ) {
        let n = NodeId::parse(&id).unwrap();
        for (subject, count) in [
            (task_subject(&n, TaskSlot::Gpu(gpu)), 5),
            (task_subject(&n, TaskSlot::Node), 5),
            (live_subject(&n), 4),
        ] {
            let t = tokens(&subject);
            prop_assert_eq!(t.len(), count, "{}", subject);
            prop_assert!(t.iter().all(|t| is_literal_token(t)), "{}", subject);
            prop_assert_eq!(t[3], id.as_str());
        }
        let filter = node_consumer_filter(&n);
        prop_assert_eq!(tokens(&filter).len(), 5);
        prop_assert_eq!(tokens(&filter)[4], ">");
        prop_assert_eq!(tokens(&node_consumer(&n)).len(), 1);
        prop_assert_eq!(
            parse_task_subject(&task_subject(&n, TaskSlot::Gpu(gpu))).unwrap(),
            (n.clone(), TaskSlot::Gpu(gpu))
        );
        prop_assert_eq!(
            parse_task_subject(&task_subject(&n, TaskSlot::Node)).unwrap(),
            (n, TaskSlot::Node)
        );
    }

    #[test]
    fn uuid_subjects_have_the_expected_tokens(c in any::<u128>(), t in any::<u128>()) {
        let (c, t) = (Uuid::from_u128(c), Uuid::from_u128(t));
        prop_assert_eq!(tokens(&event_subject(c, t)).len(), 5);
        prop_assert_eq!(tokens(&result_subject(c)).len(), 4);
        prop_assert!(tokens(&event_subject(c, t)).iter().all(|t| is_literal_token(t)));
    }

    #[test]
    fn parse_accepts_exactly_the_allowed_alphabet(id in "\\PC{0,140}") {
        let valid = !id.is_empty()
            && id.len() <= NODE_ID_MAX_LEN
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        prop_assert_eq!(NodeId::parse(&id).is_ok(), valid, "{:?}", id);
    }

    #[test]
    fn parse_never_accepts_subject_metacharacters(
        pre in "[a-z0-9]{0,5}",
        bad in prop::sample::select(vec![".", "*", ">", " ", "\t", "\n", "\r", "\u{a0}"]),
        post in "[a-z0-9]{0,5}",
    ) {
        let id = format!("{pre}{bad}{post}");
        let is_invalid_char = matches!(
            NodeId::parse(&id),
            Err(NodeIdError::InvalidChar { .. })
        );
        prop_assert!(is_invalid_char);
    }
}
