//! `wattsweep-agent`: the node agent.
fn main() {}
