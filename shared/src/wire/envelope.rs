//! The envelope every message travels in, and the only encode/decode functions.
//!
//! Every payload is a MessagePack map `{v, kind, body}` written with named fields, so a reader can tell
//! what it holds before decoding the body, and fields can be added without breaking older readers.
//! Decoding is total: any input yields a message or a [`DecodeError`], never a panic, so a bad payload
//! is logged, counted and terminated rather than crashing an agent or a coordinator (DESIGN.md §2).

use std::io::Cursor;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The protocol version this build writes.
pub const PROTOCOL_VERSION: u32 = 1;

/// The oldest protocol version this build reads.
pub const MIN_SUPPORTED_VERSION: u32 = 1;

/// Deepest nesting of maps and arrays a payload may have. Real messages nest about 15 levels.
/// rmp-serde's default (1024) lets a payload of nested arrays overflow a 2 MiB thread stack in debug
/// builds (an abort, not a panic); `deeply_nested_input_is_rejected_without_exhausting_the_stack`
/// guards this limit.
const MAX_DEPTH: usize = 64;

/// A top-level message: something published, stored or sent as a request or reply on its own.
pub trait WireMessage: Serialize + DeserializeOwned {
    /// The `kind` written in the envelope; unique across all messages, never changed.
    const KIND: &'static str;
}

/// The envelope's header: what a payload claims to be.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Header {
    /// Protocol version of the writer.
    pub v: u32,
    /// Message kind ([`WireMessage::KIND`]).
    pub kind: String,
}

#[derive(Serialize)]
struct EnvelopeRef<'a, M> {
    v: u32,
    kind: &'static str,
    body: &'a M,
}

#[derive(Deserialize)]
struct Body<M> {
    body: M,
}

/// A message could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode a `{kind}` message: {detail}")]
pub struct EncodeError {
    /// Kind of the message.
    pub kind: &'static str,
    /// What the encoder reported.
    pub detail: rmp_serde::encode::Error,
}

/// A payload could not be decoded as the expected message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a well-formed envelope, or the body does not fit the expected message.
    #[error("malformed `{expected}` message: {detail}")]
    Malformed {
        /// The kind the reader expected.
        expected: &'static str,
        /// What is wrong with the bytes.
        detail: MalformedDetail,
    },
    /// The envelope's version is older than this build reads, or newer and its body does not
    /// decode as this build's message.
    #[error(
        "unsupported protocol version {found} in a `{kind}` message: this build writes version \
         {PROTOCOL_VERSION}, reads {MIN_SUPPORTED_VERSION} to {PROTOCOL_VERSION} and newer versions \
         only while their body still decodes{}",
        body_error.as_ref().map(|e| format!(" (it does not: {e})")).unwrap_or_default()
    )]
    UnsupportedVersion {
        /// Kind named by the envelope.
        kind: String,
        /// Version named by the envelope.
        found: u32,
        /// For a newer version: why its body did not decode.
        body_error: Option<rmp_serde::decode::Error>,
    },
    /// The envelope holds another kind of message.
    #[error("wrong message kind: expected `{expected}`, found `{found}`")]
    WrongKind {
        /// The kind the reader expected.
        expected: &'static str,
        /// The kind the envelope names.
        found: String,
    },
}

/// What is wrong with a malformed payload.
#[derive(Debug, thiserror::Error)]
pub enum MalformedDetail {
    /// MessagePack decoding failed (truncated, wrong types, missing fields, nesting too deep …).
    #[error(transparent)]
    Decode(#[from] rmp_serde::decode::Error),
    /// Bytes follow the envelope.
    #[error("{extra} trailing bytes after the envelope")]
    TrailingBytes {
        /// How many bytes follow the envelope.
        extra: usize,
    },
}

/// Encode `message` in the envelope with this build's [`PROTOCOL_VERSION`].
pub fn encode<M: WireMessage>(message: &M) -> Result<Vec<u8>, EncodeError> {
    encode_with_version(message, PROTOCOL_VERSION)
}

/// Encode with an explicit version: tests use it to play a newer or older writer.
pub(crate) fn encode_with_version<M: WireMessage>(
    message: &M,
    v: u32,
) -> Result<Vec<u8>, EncodeError> {
    let envelope = EnvelopeRef {
        v,
        kind: M::KIND,
        body: message,
    };
    rmp_serde::to_vec_named(&envelope).map_err(|detail| EncodeError {
        kind: M::KIND,
        detail,
    })
}

/// Read `T` from the whole of `bytes` with the nesting limit.
fn read<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MalformedDetail> {
    let mut de = rmp_serde::Deserializer::new(Cursor::new(bytes));
    de.set_max_depth(MAX_DEPTH);
    let value = T::deserialize(&mut de)?;
    let consumed = usize::try_from(de.position()).unwrap_or(usize::MAX);
    match bytes.len().checked_sub(consumed) {
        Some(0) | None => Ok(value),
        Some(extra) => Err(MalformedDetail::TrailingBytes { extra }),
    }
}

/// Read the envelope's header without decoding the body (to route or log a payload).
pub fn peek_header(bytes: &[u8]) -> Result<Header, MalformedDetail> {
    read(bytes)
}

/// Decode a message of kind `M::KIND`.
///
/// Order of checks: the envelope must be well formed ([`DecodeError::Malformed`]); its version must
/// not be older than [`MIN_SUPPORTED_VERSION`] ([`DecodeError::UnsupportedVersion`]); its kind must be
/// `M::KIND` ([`DecodeError::WrongKind`]); then the body must decode as `M`. A body written by a newer
/// version is accepted whenever it decodes (unknown fields are ignored, unknown enum variants become
/// `Unknown`); when it does not, the error is [`DecodeError::UnsupportedVersion`].
pub fn decode<M: WireMessage>(bytes: &[u8]) -> Result<M, DecodeError> {
    let malformed = |detail| DecodeError::Malformed {
        expected: M::KIND,
        detail,
    };
    let header = peek_header(bytes).map_err(malformed)?;
    if header.v < MIN_SUPPORTED_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            kind: header.kind,
            found: header.v,
            body_error: None,
        });
    }
    if header.kind != M::KIND {
        return Err(DecodeError::WrongKind {
            expected: M::KIND,
            found: header.kind,
        });
    }
    match read::<Body<M>>(bytes) {
        Ok(Body { body }) => Ok(body),
        Err(MalformedDetail::Decode(e)) if header.v > PROTOCOL_VERSION => {
            Err(DecodeError::UnsupportedVersion {
                kind: header.kind,
                found: header.v,
                body_error: Some(e),
            })
        }
        Err(detail) => Err(malformed(detail)),
    }
}
