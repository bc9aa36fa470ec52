//! `wattsweep`: the user CLI.
fn main() {}
