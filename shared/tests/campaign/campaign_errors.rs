//! One test per error class: the exact `path:line:col`, the kind, and a fragment of the message.

use wattsweep_shared::campaign::ErrorKind;

use crate::support::{BASE, PATH, errors, expect_in, expect_only, ts_sweep, with};

#[test]
fn the_base_is_valid() {
    let c = crate::support::ok(&ts_sweep(""));
    assert_eq!(c.sweeps.len(), 1);
}

#[test]
fn syntax_error_is_reported_alone() {
    // `repetitions = 0` is invalid too, but nothing is validated in a file that is not TOML.
    let text = "[campaign]\nname = \"t\"\nrepetitions = 0\nseed = = 3\n";
    expect_only(text, 4, 8, ErrorKind::Syntax, "extra `=`");
    let text = "[campaign]\nname = \"t\"\nname = \"u\"\n";
    expect_only(text, 3, 1, ErrorKind::Syntax, "duplicate key: `name`");
    // The string runs to the end of line 2, where its closing quote is missing.
    let text = "[campaign]\nname = \"t\n";
    expect_only(text, 2, 10, ErrorKind::Syntax, "invalid basic string");
}

#[test]
fn unknown_key_lists_the_allowed_keys() {
    let text = with(
        "\n[[sweep]]\nname = \"ts\"\nsharing = \"exclusive\"\nworkloads = [\"burn\"]\nconcurency = [2]\n",
    );
    expect_only(
        &text,
        12,
        1,
        ErrorKind::Schema,
        "unknown field `concurency`, expected one of `name`, `sharing`, `runtime`",
    );
    // An unknown top-level table.
    let text = format!("{}[sweeps]\n", ts_sweep(""));
    expect_only(
        &text,
        13,
        2,
        ErrorKind::Schema,
        "unknown table `sweeps`, expected one of `campaign`, `targets`, `timing`, `workloads`, `sweep`",
    );
}

#[test]
fn wrong_type_names_the_expected_type() {
    let text = ts_sweep("").replace("name = \"t\"\n", "name = \"t\"\nrepetitions = \"three\"\n");
    expect_only(
        &text,
        3,
        15,
        ErrorKind::Schema,
        "invalid type: string \"three\", expected an integer",
    );
    let text = ts_sweep("").replace("workloads = [\"burn\"]", "workloads = \"burn\"");
    expect_only(
        &text,
        11,
        13,
        ErrorKind::Schema,
        "invalid type: string \"burn\", expected an array",
    );
}

#[test]
fn missing_required_key() {
    let text = with("\n[[sweep]]\nsharing = \"exclusive\"\nworkloads = [\"burn\"]\n");
    expect_only(&text, 8, 1, ErrorKind::Schema, "missing field `name`");
    expect_only(
        "[[sweep]]\nname = \"x\"\nsharing = \"exclusive\"\nworkloads = [\"w\"]\n[workloads.w]\nimage = \"i\"\n",
        1,
        1,
        ErrorKind::Schema,
        "missing table [campaign]",
    );
}

#[test]
fn unknown_workload() {
    let text = ts_sweep("").replace("workloads = [\"burn\"]", "workloads = [\"burn\", \"hpcg\"]");
    expect_only(
        &text,
        11,
        22,
        ErrorKind::Reference,
        "unknown workload \"hpcg\" (defined: burn",
    );
}

#[test]
fn unknown_sharing_runtime_scope_and_order() {
    let text = ts_sweep("").replace("sharing = \"time-slicing\"", "sharing = \"mug\"");
    expect_only(
        &text,
        10,
        11,
        ErrorKind::Value,
        "unknown sharing \"mug\"; allowed: \"exclusive\", \"time-slicing\", \"mps\", \"mig\", \"usage-grid\"",
    );
    let text = ts_sweep("runtime = \"podman\"\n");
    expect_only(
        &text,
        13,
        11,
        ErrorKind::Value,
        "unknown runtime \"podman\"; allowed: \"docker\", \"kubernetes\", \"process\"",
    );
    let text = format!("{}\n[targets]\nscope = \"rack\"\n", ts_sweep(""));
    expect_only(
        &text,
        15,
        9,
        ErrorKind::Value,
        "unknown scope \"rack\"; allowed: \"gpu\", \"node\", \"any\"",
    );
    let text = ts_sweep("").replace("name = \"t\"\n", "name = \"t\"\norder = \"random\"\n");
    expect_only(
        &text,
        3,
        9,
        ErrorKind::Value,
        "unknown order \"random\"; allowed: \"sequential\", \"shuffled\"",
    );
}

#[test]
fn concurrency_zero_and_too_high() {
    let text = ts_sweep("").replace("concurrency = [1, 2]", "concurrency = [0, 2, 65]");
    let errors = errors(&text);
    expect_in(
        &errors,
        PATH,
        12,
        16,
        ErrorKind::Value,
        "`concurrency` must be between 1 and 64, got 0",
    );
    expect_in(&errors, PATH, 12, 22, ErrorKind::Value, "got 65");
    assert_eq!(errors.len(), 2);
    let text = ts_sweep("").replace("concurrency = [1, 2]", "concurrency = [2, 2]");
    expect_only(
        &text,
        12,
        19,
        ErrorKind::Duplicate,
        "`concurrency` lists 2 twice",
    );
    let text = ts_sweep("").replace("concurrency = [1, 2]\n", "");
    expect_only(&text, 10, 11, ErrorKind::Schema, "needs `concurrency`");
}

#[test]
fn bad_percentage() {
    let text = with(
        "\n[[sweep]]\nname = \"mps\"\nsharing = \"mps\"\nworkloads = [\"burn\"]\nconcurrency = [2]\nactive_thread_percentage = [50, 101]\n",
    );
    expect_only(
        &text,
        13,
        33,
        ErrorKind::Value,
        "`active_thread_percentage` must be between 1 and 100, got 101",
    );
    let text = text.replace("[50, 101]", "[0]");
    expect_only(&text, 13, 29, ErrorKind::Value, "got 0");
}

#[test]
fn mps_on_mig_is_rejected() {
    let text = with(
        "\n[[sweep]]\nname = \"mps\"\nsharing = \"mps\"\nworkloads = [\"burn\"]\nconcurrency = [2]\nlayouts = [\"3g.40gb x2\"]\n",
    );
    expect_only(
        &text,
        13,
        11,
        ErrorKind::Conflict,
        "MPS on MIG is not supported",
    );
    let text = text.replace("layouts = [\"3g.40gb x2\"]", "gpu_instance = \"7g.80gb\"");
    expect_only(
        &text,
        13,
        16,
        ErrorKind::Conflict,
        "MPS on MIG is not supported",
    );
}

#[test]
fn keys_of_another_sharing_mode() {
    let text = with(
        "\n[[sweep]]\nname = \"ex\"\nsharing = \"exclusive\"\nworkloads = [\"burn\"]\nconcurrency = [2]\nlevels = [0, 100]\n",
    );
    let errors = errors(&text);
    expect_in(
        &errors,
        PATH,
        12,
        15,
        ErrorKind::Conflict,
        "`concurrency` is not used by sharing = \"exclusive\"",
    );
    expect_in(
        &errors,
        PATH,
        13,
        10,
        ErrorKind::Conflict,
        "`levels` is not used by sharing = \"exclusive\" (only by sharing = \"usage-grid\")",
    );
    assert_eq!(errors.len(), 2);
}

#[test]
fn duplicate_sweep_name() {
    let text =
        ts_sweep("\n[[sweep]]\nname = \"ts\"\nsharing = \"exclusive\"\nworkloads = [\"burn\"]\n");
    expect_only(
        &text,
        15,
        8,
        ErrorKind::Duplicate,
        "duplicate sweep name \"ts\" (first used on line 9)",
    );
}

#[test]
fn bad_regex() {
    let text = ts_sweep("").replace(
        "command = [\"burn\"]\n",
        "command = [\"burn\"]\nmetric = { regex = '(\\d+ Gflop/s', unit = \"GFLOP/s\" }\n",
    );
    expect_only(
        &text,
        7,
        20,
        ErrorKind::Value,
        "`metric.regex` does not compile: unclosed group",
    );
    let text = text.replace("'(\\d+ Gflop/s'", "'\\d+ Gflop/s'");
    expect_only(&text, 7, 20, ErrorKind::Value, "needs a capture group");
    let text = ts_sweep("").replace(
        "command = [\"burn\"]\n",
        "command = [\"burn\"]\nready = { log_regex = \"[a-\" }\n",
    );
    expect_only(
        &text,
        7,
        23,
        ErrorKind::Value,
        "`ready.log_regex` does not compile",
    );
}

#[test]
fn timing_out_of_range() {
    let timing = |body: &str| format!("{}\n[timing]\n{body}", ts_sweep(""));
    // [timing] is line 14; its keys start on line 15.
    expect_only(
        &timing("measure_s = 0\n"),
        15,
        13,
        ErrorKind::Value,
        "`measure_s` must be at least 1, got 0",
    );
    expect_only(
        &timing("sample_ms = 0\n"),
        15,
        13,
        ErrorKind::Value,
        "`sample_ms` must be between 1 and 60000, got 0",
    );
    expect_only(
        &timing("sample_ms = 60001\n"),
        15,
        13,
        ErrorKind::Value,
        "between 1 and 60000",
    );
    expect_only(
        &timing("measure_s = 1\nsample_ms = 2000\n"),
        16,
        13,
        ErrorKind::Value,
        "`sample_ms` = 2000 is longer than the measured window (`measure_s` = 1 s)",
    );
    expect_only(
        &timing("measure_s = 700000\n"),
        14,
        1,
        ErrorKind::Value,
        "the limit is 604800 s (7 days)",
    );
    expect_only(
        &timing("cooldown_temp_delta_c = 0.0\n"),
        15,
        25,
        ErrorKind::Value,
        "`cooldown_temp_delta_c` must be a number greater than 0",
    );
    expect_only(
        &timing("warmup_s = -5\n"),
        15,
        12,
        ErrorKind::Value,
        "`warmup_s` must be at least 0, got -5",
    );
}

#[test]
fn multiple_errors_are_reported_together() {
    let text = "\
[campaign]
name = \"multi\"
repetitions = 0
order = \"random\"

[timing]
measure_s = 0

[workloads.burn]
image = \"burn:1\"
metric = { regex = '(', unit = \"x\" }

[[sweep]]
name = \"a\"
sharing = \"time-slicing\"
workloads = [\"burn\", \"nope\"]
concurrency = [0]

[[sweep]]
name = \"a\"
sharing = \"mps\"
workloads = [\"burn\"]
concurrency = [2]
layouts = [\"7g.80gb\"]
";
    let errors = errors(text);
    let expected = [
        (3, 15, ErrorKind::Value, "`repetitions` must be at least 1"),
        (4, 9, ErrorKind::Value, "unknown order \"random\""),
        (7, 13, ErrorKind::Value, "`measure_s` must be at least 1"),
        (11, 20, ErrorKind::Value, "`metric.regex` does not compile"),
        (16, 22, ErrorKind::Reference, "unknown workload \"nope\""),
        (
            17,
            16,
            ErrorKind::Value,
            "`concurrency` must be between 1 and 64",
        ),
        (20, 8, ErrorKind::Duplicate, "duplicate sweep name \"a\""),
        (24, 11, ErrorKind::Conflict, "MPS on MIG is not supported"),
    ];
    for (line, col, kind, fragment) in expected {
        expect_in(&errors, PATH, line, col, kind, fragment);
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    // Ordered by position, one `path:line:col: message` a line.
    let lines: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.col)).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted);
}

#[test]
fn no_sweep() {
    expect_only(BASE, 1, 1, ErrorKind::Schema, "no [[sweep]]");
    let text = with("\n[sweep]\nname = \"x\"\n");
    expect_only(
        &text,
        8,
        1,
        ErrorKind::Schema,
        "`sweep` must be an array of tables",
    );
    // Top-level keys come before the first table.
    let text = format!("sweep = []\n{BASE}");
    expect_only(&text, 1, 9, ErrorKind::Schema, "`sweep` is empty");
}
