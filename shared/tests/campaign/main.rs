//! Campaign parser tests: the DESIGN.md §3 example, one test per error class, catalogs, and
//! properties over arbitrary input. Module names start with `campaign` so that
//! `cargo test -p wattsweep-shared campaign` selects them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod campaign_catalog;
mod campaign_errors;
mod campaign_example;
mod campaign_mig;
mod campaign_props;
mod campaign_values;
mod support;
