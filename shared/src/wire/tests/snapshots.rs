//! Pins the encoded bytes of one realistic message of every kind.
//!
//! A failing snapshot means the wire format changed: old readers may no longer understand new bytes
//! (or the reverse). Change a snapshot only together with a protocol version decision.

use super::fixtures;
use crate::wire::{WireMessage, decode, encode};

/// Hex, 32 bytes a line, so a diff points at the change.
fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(32)
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join("\n")
}

fn pinned<M: WireMessage + PartialEq + std::fmt::Debug>(message: &M) -> String {
    let bytes = encode(message).unwrap();
    assert_eq!(
        &decode::<M>(&bytes).unwrap(),
        message,
        "fixture must round-trip"
    );
    format!(
        "kind: {}\nlen: {}\n{}",
        M::KIND,
        bytes.len(),
        hex_lines(&bytes)
    )
}

macro_rules! snapshot {
    ($($name:ident => $fixture:expr;)*) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(pinned(&$fixture));
        }
    )*};
}

snapshot! {
    task_message_bytes => fixtures::task_message();
    task_event_bytes => fixtures::task_event();
    task_result_bytes => fixtures::task_result();
    heartbeat_bytes => fixtures::heartbeat();
    live_sample_bytes => fixtures::live_sample();
    campaign_record_bytes => fixtures::campaign_record();
    submit_request_bytes => fixtures::submit_request();
    submit_reply_bytes => fixtures::submit_reply();
    status_request_bytes => fixtures::status_request();
    status_reply_bytes => fixtures::status_reply();
    cancel_request_bytes => fixtures::cancel_request();
    cancel_reply_bytes => fixtures::cancel_reply();
    report_request_bytes => fixtures::report_request();
    report_reply_bytes => fixtures::report_reply();
    nodes_request_bytes => fixtures::nodes_request();
    nodes_reply_bytes => fixtures::nodes_reply();
}

/// The envelope's own layout, spelled out byte by byte for the smallest message.
#[test]
fn envelope_layout_is_a_named_map() {
    let bytes = encode(&fixtures::nodes_request()).unwrap();
    let expected = [
        &[0x83][..],         // map of 3
        &[0xa1, b'v', 0x01], // "v": 1
        &[0xa4],
        b"kind", // "kind":
        &[0xb1],
        b"api.nodes.request", //   "api.nodes.request"
        &[0xa4],
        b"body",
        &[0x80], // "body": {}
    ]
    .concat();
    assert_eq!(bytes, expected);
}
