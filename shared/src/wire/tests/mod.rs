//! Wire protocol tests: pinned bytes, round trips, robustness and compatibility.

mod compat;
mod errors;
mod fixtures;
mod helpers;
mod roundtrip;
mod snapshots;
mod strategies;
