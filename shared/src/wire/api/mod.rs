//! The coordinator API: request/reply pairs on `wattsweep.v1.api.<endpoint>`.
//!
//! The command line and any other client talk to whichever coordinator instance answers first (queue
//! group), so requests carry everything needed (file contents, not paths) and replies are
//! self-describing: a reply is [`ApiReply::Ok`] with the answer or [`ApiReply::Err`] with an
//! [`ApiError`] whose code, not its text, tells the client what went wrong.

mod campaigns;
mod nodes;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::WireMessage;
use crate::subjects::ApiEndpoint;

pub use campaigns::{
    CampaignStatus, CancelAck, CancelReply, CancelRequest, CurrentTask, NodeProgress, ReportPage,
    ReportReply, ReportRequest, StatusReply, StatusReport, StatusRequest, SubmitAccepted,
    SubmitReply, SubmitRequest, TaskCounts,
};
pub use nodes::{NodeEntry, NodeList, NodesReply, NodesRequest};

/// A request of the API: its endpoint and its reply type.
pub trait ApiRequest: WireMessage {
    /// The endpoint that serves it.
    const ENDPOINT: ApiEndpoint;
    /// The reply it gets.
    type Reply: WireMessage;
}

/// The reply to an API request, `Result`-like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ApiReply<T> {
    /// The request succeeded.
    Ok {
        /// The answer.
        value: T,
    },
    /// The request failed.
    Err {
        /// Why.
        error: ApiError,
    },
    /// A reply this build does not know (sent by a newer coordinator).
    #[serde(other)]
    Unknown,
}

impl<T> ApiReply<T> {
    /// The answer, or the error; a reply of an unknown shape becomes an [`ApiErrorCode::Unknown`]
    /// error.
    pub fn into_result(self) -> Result<T, ApiError> {
        match self {
            ApiReply::Ok { value } => Ok(value),
            ApiReply::Err { error } => Err(error),
            ApiReply::Unknown => Err(ApiError {
                code: ApiErrorCode::Unknown,
                message: "the coordinator sent a reply this build does not understand; \
                          upgrade wattsweep"
                    .to_owned(),
            }),
        }
    }
}

impl<T> From<Result<T, ApiError>> for ApiReply<T> {
    fn from(value: Result<T, ApiError>) -> Self {
        match value {
            Ok(value) => ApiReply::Ok { value },
            Err(error) => ApiReply::Err { error },
        }
    }
}

/// Why an API request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// What kind of failure (clients decide on this, never on the message).
    pub code: ApiErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ApiErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The kinds of API failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiErrorCode {
    /// The request did not decode or a field is out of range.
    InvalidRequest,
    /// The campaign (or a catalog) is invalid; the message gives file:line:col.
    InvalidCampaign,
    /// The campaign named does not exist.
    NotFound,
    /// The request conflicts with the current state (e.g. cancelling a finished campaign).
    Conflict,
    /// A dependency (JetStream, a bucket) is unavailable; retrying later may succeed.
    Unavailable,
    /// The coordinator failed.
    Internal,
    /// A code this build does not know.
    #[serde(other)]
    Unknown,
}

impl ApiErrorCode {
    /// The name on the wire and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiErrorCode::InvalidRequest => "invalid-request",
            ApiErrorCode::InvalidCampaign => "invalid-campaign",
            ApiErrorCode::NotFound => "not-found",
            ApiErrorCode::Conflict => "conflict",
            ApiErrorCode::Unavailable => "unavailable",
            ApiErrorCode::Internal => "internal",
            ApiErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ApiErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
