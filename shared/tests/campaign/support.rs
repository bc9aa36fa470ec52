//! Helpers: parse a campaign text and find the error expected at a position.

use wattsweep_shared::campaign::{
    Campaign, CampaignError, CampaignErrors, ErrorKind, Source, parse_campaign,
};

/// Path every single-file test uses.
pub const PATH: &str = "c.toml";

/// Parse `text` as `c.toml` with no catalog.
pub fn parse(text: &str) -> Result<Campaign, CampaignErrors> {
    parse_campaign(&Source::new(PATH, text), &[])
}

/// Parse `text`, which must be valid.
pub fn ok(text: &str) -> Campaign {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid campaign, got:\n{e}"),
    }
}

/// Parse `text`, which must be invalid; every error.
pub fn errors(text: &str) -> Vec<CampaignError> {
    match parse(text) {
        Ok(c) => panic!("expected errors, got a campaign: {c:?}"),
        Err(e) => {
            assert!(!e.is_empty(), "an Err holds at least one error");
            e.into_vec()
        }
    }
}

/// Among `errors`, the one at `path:line:col`, which must be of `kind` and contain `fragment`.
pub fn expect_in(
    errors: &[CampaignError],
    path: &str,
    line: usize,
    col: usize,
    kind: ErrorKind,
    fragment: &str,
) {
    let prefix = format!("{path}:{line}:{col}: ");
    let found = errors.iter().any(|e| {
        e.to_string().starts_with(&prefix) && e.kind == kind && e.message.contains(fragment)
    });
    let all: Vec<String> = errors
        .iter()
        .map(|e| format!("{e} [{:?}]", e.kind))
        .collect();
    assert!(
        found,
        "no {kind:?} error `{prefix}…{fragment}…`; got:\n{}",
        all.join("\n")
    );
}

/// `text` has exactly one error: at `line:col` of `c.toml`, of `kind`, containing `fragment`.
pub fn expect_only(text: &str, line: usize, col: usize, kind: ErrorKind, fragment: &str) {
    let errors = errors(text);
    expect_in(&errors, PATH, line, col, kind, fragment);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
}

/// Six lines; whatever is appended starts on line 7.
pub const BASE: &str =
    "[campaign]\nname = \"t\"\n\n[workloads.burn]\nimage = \"burn:1\"\ncommand = [\"burn\"]\n";

pub fn with(rest: &str) -> String {
    format!("{BASE}{rest}")
}

/// A time-slicing sweep on lines 8 to 12, followed by `extra` from line 13.
pub fn ts_sweep(extra: &str) -> String {
    with(&format!(
        "\n[[sweep]]\nname = \"ts\"\nsharing = \"time-slicing\"\nworkloads = [\"burn\"]\nconcurrency = [1, 2]\n{extra}"
    ))
}
