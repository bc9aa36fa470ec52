//! Every message kind survives encode → decode, and no input makes `decode` panic.

use proptest::prelude::*;

use super::fixtures;
use super::strategies as s;
use crate::wire::api::*;
use crate::wire::*;

fn round_trips<M: WireMessage + PartialEq + std::fmt::Debug>(
    message: &M,
) -> Result<(), TestCaseError> {
    let bytes = encode(message).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let header = peek_header(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        header,
        Header {
            v: PROTOCOL_VERSION,
            kind: M::KIND.to_owned()
        }
    );
    let back = decode::<M>(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, message);
    // Deterministic bytes: encoding the decoded value gives the same bytes.
    prop_assert_eq!(
        encode(&back).map_err(|e| TestCaseError::fail(e.to_string()))?,
        bytes
    );
    Ok(())
}

/// Decode `bytes` as every kind; only the absence of a panic is checked (the result may be either).
fn decode_all_kinds(bytes: &[u8]) {
    let _ = decode::<TaskMessage>(bytes);
    let _ = decode::<TaskEvent>(bytes);
    let _ = decode::<TaskResult>(bytes);
    let _ = decode::<Heartbeat>(bytes);
    let _ = decode::<LiveSample>(bytes);
    let _ = decode::<CampaignRecord>(bytes);
    let _ = decode::<SubmitRequest>(bytes);
    let _ = decode::<SubmitReply>(bytes);
    let _ = decode::<StatusRequest>(bytes);
    let _ = decode::<StatusReply>(bytes);
    let _ = decode::<CancelRequest>(bytes);
    let _ = decode::<CancelReply>(bytes);
    let _ = decode::<ReportRequest>(bytes);
    let _ = decode::<ReportReply>(bytes);
    let _ = decode::<NodesRequest>(bytes);
    let _ = decode::<NodesReply>(bytes);
    let _ = peek_header(bytes);
}

/// Encoded fixtures of every kind, the seeds of the mutation test.
fn encoded_fixtures() -> Vec<Vec<u8>> {
    vec![
        encode(&fixtures::task_message()).unwrap(),
        encode(&fixtures::task_event()).unwrap(),
        encode(&fixtures::task_result()).unwrap(),
        encode(&fixtures::heartbeat()).unwrap(),
        encode(&fixtures::live_sample()).unwrap(),
        encode(&fixtures::campaign_record()).unwrap(),
        encode(&fixtures::submit_request()).unwrap(),
        encode(&fixtures::submit_reply()).unwrap(),
        encode(&fixtures::status_request()).unwrap(),
        encode(&fixtures::status_reply()).unwrap(),
        encode(&fixtures::cancel_request()).unwrap(),
        encode(&fixtures::cancel_reply()).unwrap(),
        encode(&fixtures::report_request()).unwrap(),
        encode(&fixtures::report_reply()).unwrap(),
        encode(&fixtures::nodes_request()).unwrap(),
        encode(&fixtures::nodes_reply()).unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn task_message_round_trips(m in s::task_message()) { round_trips(&m)?; }
    #[test]
    fn task_event_round_trips(m in s::task_event()) { round_trips(&m)?; }
    #[test]
    fn task_result_round_trips(m in s::task_result()) { round_trips(&m)?; }
    #[test]
    fn heartbeat_round_trips(m in s::heartbeat()) { round_trips(&m)?; }
    #[test]
    fn live_sample_round_trips(m in s::live_sample()) { round_trips(&m)?; }
    #[test]
    fn campaign_record_round_trips(m in s::campaign_record()) { round_trips(&m)?; }
    #[test]
    fn submit_request_round_trips(source in s::source()) { round_trips(&SubmitRequest { source })?; }
    #[test]
    fn submit_reply_round_trips(m in s::reply(s::submit_accepted())) { round_trips(&m)?; }
    #[test]
    fn status_request_round_trips(campaign_id in proptest::option::of(s::uuid())) {
        round_trips(&StatusRequest { campaign_id })?;
    }
    #[test]
    fn status_reply_round_trips(m in s::reply(s::status_report())) { round_trips(&m)?; }
    #[test]
    fn cancel_request_round_trips(
        campaign_id in s::uuid(),
        reason in proptest::option::of(s::text()),
    ) {
        round_trips(&CancelRequest { campaign_id, reason })?;
    }
    #[test]
    fn cancel_reply_round_trips(m in s::reply(s::cancel_ack())) { round_trips(&m)?; }
    #[test]
    fn report_request_round_trips(
        campaign_id in s::uuid(),
        offset in any::<u32>(),
        limit in proptest::option::of(any::<u32>()),
    ) {
        round_trips(&ReportRequest { campaign_id, offset, limit })?;
    }
    #[test]
    fn report_reply_round_trips(m in s::reply(s::report_page())) { round_trips(&m)?; }
    #[test]
    fn nodes_request_round_trips(_unit in Just(())) { round_trips(&NodesRequest {})?; }
    #[test]
    fn nodes_reply_round_trips(m in s::reply(s::node_list())) { round_trips(&m)?; }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_all_kinds(&bytes);
    }

    /// Random bytes rarely get past the first marker; mutating real messages reaches deep into
    /// every body decoder.
    #[test]
    fn decoding_mutated_messages_never_panics(
        which in 0usize..16,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = encoded_fixtures().swap_remove(which);
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        decode_all_kinds(&bytes);
    }
}

#[test]
fn deeply_nested_input_is_rejected_without_exhausting_the_stack() {
    for marker in [0x91u8, 0x81] {
        // A body of 100 000 nested one-element arrays (or maps keyed by nested maps).
        let mut bytes = vec![0x83, 0xa1, b'v', 0x01, 0xa4];
        bytes.extend_from_slice(b"kind");
        bytes.push(0xa4);
        bytes.extend_from_slice(b"task");
        bytes.push(0xa4);
        bytes.extend_from_slice(b"body");
        bytes.extend(std::iter::repeat_n(marker, 100_000));
        assert!(matches!(
            decode::<TaskMessage>(&bytes),
            Err(DecodeError::Malformed { .. })
        ));
        decode_all_kinds(&bytes);
        decode_all_kinds(&vec![marker; 100_000]);
    }
}
