//! proptest strategies producing realistic values of every message.

mod messages;
mod model;

pub use messages::*;
pub use model::{text, uuid};
