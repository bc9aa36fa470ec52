//! Wrong kinds and malformed bytes give the right error, with a message that says what was wrong.

use super::fixtures;
use crate::wire::api::*;
use crate::wire::*;

#[test]
fn a_message_of_another_kind_is_wrong_kind() {
    let bytes = encode(&fixtures::task_event()).unwrap();
    let err = decode::<TaskResult>(&bytes).unwrap_err();
    assert!(
        matches!(&err, DecodeError::WrongKind { expected: "task-result", found } if found == "task-event"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "wrong message kind: expected `task-result`, found `task-event`"
    );
    // Request and reply of one endpoint are distinct kinds.
    let bytes = encode(&fixtures::status_request()).unwrap();
    assert!(matches!(
        decode::<StatusReply>(&bytes),
        Err(DecodeError::WrongKind { .. })
    ));
}

#[test]
fn malformed_bytes_are_malformed() {
    let good = encode(&fixtures::task_message()).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not msgpack map", b"hello".to_vec()),
        ("json", br#"{"v":1,"kind":"task","body":{}}"#.to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("trailing byte", [good.clone(), vec![0xc0]].concat()),
        // {"v": 1, "kind": "task"} without a body.
        (
            "no body",
            [
                &[0x82, 0xa1, b'v', 0x01, 0xa4][..],
                b"kind",
                &[0xa4],
                b"task",
            ]
            .concat(),
        ),
        // {"v": "1", ...}: version of the wrong type.
        (
            "string version",
            [
                &[0x83, 0xa1, b'v', 0xa1, b'1', 0xa4][..],
                b"kind",
                &[0xa4],
                b"task",
                &[0xa4],
                b"body",
                &[0x80],
            ]
            .concat(),
        ),
        // The right envelope with an empty body.
        (
            "empty body",
            [
                &[0x83, 0xa1, b'v', 0x01, 0xa4][..],
                b"kind",
                &[0xa4],
                b"task",
                &[0xa4],
                b"body",
                &[0x80],
            ]
            .concat(),
        ),
    ];
    for (what, bytes) in cases {
        let err = decode::<TaskMessage>(&bytes).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::Malformed {
                    expected: "task",
                    ..
                }
            ),
            "{what}: {err:?}"
        );
        assert!(
            err.to_string().starts_with("malformed `task` message: "),
            "{what}: {err}"
        );
    }
    let err = decode::<TaskMessage>(&[good.clone(), vec![1, 2]].concat()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::Malformed {
                detail: MalformedDetail::TrailingBytes { extra: 2 },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn an_invalid_node_id_in_a_body_is_malformed() {
    let mut event = fixtures::task_event();
    event.node = crate::subjects::NodeId::parse("n1").unwrap();
    let bytes = encode(&event).unwrap();
    // Rewrite the 2-character node id into one with a subject wildcard.
    let at = bytes
        .windows(3)
        .position(|w| w == [0xa2, b'n', b'1'])
        .unwrap();
    let mut bad = bytes.clone();
    bad[at + 2] = b'*';
    let err = decode::<TaskEvent>(&bad).unwrap_err();
    assert!(matches!(err, DecodeError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("invalid node id"), "{err}");
}

#[test]
fn peek_header_reads_without_the_body_type() {
    let bytes = encode(&fixtures::heartbeat()).unwrap();
    assert_eq!(
        peek_header(&bytes).unwrap(),
        Header {
            v: PROTOCOL_VERSION,
            kind: "heartbeat".into()
        }
    );
}

#[test]
fn kinds_are_unique() {
    let mut kinds = ALL_KINDS.to_vec();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), ALL_KINDS.len());
}
