//! Properties over arbitrary input: the parser never panics, every error is located inside its file.

use proptest::prelude::*;
use wattsweep_shared::campaign::{CampaignErrors, Source, parse_campaign};

use crate::campaign_example::EXAMPLE;

/// Every error lies inside the file it names: an existing line, a column at most one past its end.
fn assert_located(errors: &CampaignErrors, sources: &[&Source]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "an Err holds at least one error");
    for e in errors {
        let src = sources.iter().find(|s| s.path == e.path);
        prop_assert!(src.is_some(), "error names an unknown file: {e}");
        let lines: Vec<&str> = src.map_or("", |s| s.text.as_str()).split('\n').collect();
        prop_assert!(
            e.line >= 1 && e.line <= lines.len(),
            "line out of range: {e}"
        );
        let len = lines[e.line - 1].chars().count();
        prop_assert!(e.col >= 1 && e.col <= len + 1, "column out of range: {e}");
        let prefix = format!("{}:{}:{}: ", e.path, e.line, e.col);
        prop_assert!(
            e.to_string().starts_with(&prefix),
            "display is not path:line:col: {e}"
        );
    }
    Ok(())
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let src = Source::new("c.toml", text);
    match parse_campaign(&src, &[]) {
        Ok(_) => Ok(()),
        Err(e) => assert_located(&e, &[&src]),
    }
}

/// Lines that look like campaign lines, valid and invalid, to splice into the example.
const LINES: &[&str] = &[
    "[campaign]",
    "[[sweep]]",
    "[timing]",
    "[targets]",
    "[workloads.x]",
    "name = \"é\"",
    "sharing = \"mps\"",
    "sharing = \"mig\"",
    "sharing = \"exclusive\"",
    "concurrency = [0, 65]",
    "active_thread_percentage = [101]",
    "layouts = [\"1g.10gb x9\", \"3g.40gb@1\", \"7g\", \"(\"]",
    "gpu_instance = \"7g.80gb\"",
    "compute_instances = [\"8c\", \"2c x3 + 1c\", \"\"]",
    "protagonist = [\"1g.10gb\", \"0\"]",
    "neighbours = { profile = \"9g\", workload = \"nope\", max = -1 }",
    "neighbours = \"burn\"",
    "levels = [0, 0, 200]",
    "measure_s = 0",
    "sample_ms = 1000000",
    "gpu_models = [\"*A100*\", \"*\"]",
    "metric = { regex = '(', unit = \"\" }",
    "workloads = [\"ghost\", \"burn\"]",
    "scope = \"rack\"",
    "ulimits = { nofile = -2 }",
    "\u{feff}\t\r",
];

fn splice() -> impl Strategy<Value = String> {
    let example: Vec<&'static str> = EXAMPLE.lines().collect();
    let n = example.len();
    prop::collection::vec((0..n, prop::sample::select(LINES), any::<bool>()), 1..6).prop_map(
        move |edits| {
            let mut lines: Vec<&str> = example.clone();
            for (at, line, replace) in edits {
                let at = at.min(lines.len().saturating_sub(1));
                if replace && !lines.is_empty() {
                    lines[at] = line;
                } else {
                    lines.insert(at, line);
                }
            }
            lines.join("\n")
        },
    )
}

fn mutate() -> impl Strategy<Value = String> {
    (0..EXAMPLE.len(), 0usize..12, "[\\PC\\n]{0,6}").prop_map(|(at, cut, insert)| {
        let mut at = at;
        while !EXAMPLE.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + cut).min(EXAMPLE.len());
        while !EXAMPLE.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}{insert}{}", &EXAMPLE[..at], &EXAMPLE[end..])
    })
}

proptest! {
    #[test]
    fn campaign_arbitrary_text_never_panics(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn campaign_toml_like_text_never_panics(text in "[\\[\\]a-z_=\"' \\n.0-9,{}#\\\\]{0,200}") {
        check(&text)?;
    }

    #[test]
    fn campaign_mutated_example_never_panics(text in mutate()) {
        check(&text)?;
    }

    #[test]
    fn campaign_spliced_example_never_panics(text in splice()) {
        check(&text)?;
    }

    #[test]
    fn campaign_catalog_errors_are_located_in_their_file(
        text in "[\\[\\]a-z_=\"' \\n.0-9,{}]{0,120}",
    ) {
        let campaign = Source::new("c.toml", EXAMPLE);
        let catalog = Source::new("w/x.toml", format!("[workloads.x]\n{text}"));
        if let Err(e) = parse_campaign(&campaign, std::slice::from_ref(&catalog)) {
            assert_located(&e, &[&campaign, &catalog])?;
        }
    }
}
