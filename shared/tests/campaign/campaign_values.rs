//! Value checks beyond the error classes: campaign numbers, usage grids, workloads, runtimes, and the
//! defaults a minimal campaign gets.

use wattsweep_shared::campaign::{ErrorKind, Order};
use wattsweep_shared::model::{Runtime, Scope, Timing};

use crate::support::{PATH, errors, expect_in, expect_only, ok, ts_sweep, with};

#[test]
fn campaign_values_out_of_range() {
    let text = ts_sweep("").replace(
        "name = \"t\"\n",
        "name = \"t\"\nrepetitions = 0\npower_budget_w = -10\n",
    );
    let errors = errors(&text);
    expect_in(
        &errors,
        PATH,
        3,
        15,
        ErrorKind::Value,
        "`repetitions` must be at least 1, got 0",
    );
    expect_in(
        &errors,
        PATH,
        4,
        18,
        ErrorKind::Value,
        "`power_budget_w` must be a number greater than 0, got -10",
    );
    assert_eq!(errors.len(), 2);
    let text = ts_sweep("").replace("name = \"t\"", "name = \"t t\"");
    expect_only(
        &text,
        2,
        8,
        ErrorKind::Value,
        "campaign name \"t t\" must be",
    );
}

#[test]
fn usage_grid_levels() {
    let grid = |levels: &str| {
        with(&format!(
            "\n[[sweep]]\nname = \"grid\"\nsharing = \"usage-grid\"\nworkloads = [\"burn\"]\nlevels = {levels}\n"
        ))
    };
    expect_only(
        &grid("[50]"),
        12,
        10,
        ErrorKind::Value,
        "`levels` needs at least 2 values, got 1",
    );
    expect_only(
        &grid("[0, 0, 100]"),
        12,
        14,
        ErrorKind::Duplicate,
        "`levels` lists 0 twice",
    );
    expect_only(
        &grid("[0, 101]"),
        12,
        14,
        ErrorKind::Value,
        "`levels` must be between 0 and 100, got 101",
    );
    let text = grid("[0, 100]") + "design = \"half\"\n";
    expect_only(
        &text,
        13,
        10,
        ErrorKind::Value,
        "unknown design \"half\"; allowed: \"full\", \"fractional\"",
    );
}

#[test]
fn runtime_needs_what_the_workload_lacks() {
    let text = ts_sweep("runtime = \"process\"\n").replace("command = [\"burn\"]\n", "");
    // The sweep's lines move up by one: `workloads` is on line 10.
    expect_only(
        &text,
        10,
        14,
        ErrorKind::Value,
        "workload \"burn\" has no `command`, which runtime = \"process\" needs",
    );
    let text = ts_sweep("").replace("image = \"burn:1\"\n", "");
    expect_only(
        &text,
        10,
        14,
        ErrorKind::Value,
        "has no `image`, which runtime = \"docker\" needs",
    );
}

#[test]
fn workload_values() {
    let text = ts_sweep("").replace(
        "command = [\"burn\"]\n",
        "command = [\"burn\"]\nsim = { intensity = 1.5, fom = 0 }\nipc = \"none\"\nulimits = { memlock = -1, stacks = 1 }\nshm_size_mb = 0\n",
    );
    let errors = errors(&text);
    expect_in(
        &errors,
        PATH,
        7,
        21,
        ErrorKind::Value,
        "`sim.intensity` must be between 0 and 1, got 1.5",
    );
    expect_in(
        &errors,
        PATH,
        7,
        32,
        ErrorKind::Value,
        "`sim.fom` must be a number greater than 0",
    );
    expect_in(
        &errors,
        PATH,
        8,
        7,
        ErrorKind::Value,
        "unknown ipc \"none\"; allowed: \"host\", \"private\", \"shareable\"",
    );
    expect_in(
        &errors,
        PATH,
        9,
        27,
        ErrorKind::Value,
        "unknown ulimit \"stacks\"",
    );
    expect_in(
        &errors,
        PATH,
        10,
        15,
        ErrorKind::Value,
        "`shm_size_mb` must be at least 1, got 0",
    );
    assert_eq!(errors.len(), 5);
}

#[test]
fn campaign_defaults() {
    let c = ok(&with(
        "\n[[sweep]]\nname = \"ex\"\nsharing = \"exclusive\"\nworkloads = [\"burn\"]\n",
    ));
    assert_eq!(c.repetitions, 1);
    assert_eq!(c.order, Order::Sequential);
    assert_eq!(c.seed, 0);
    assert_eq!(c.power_budget_w, None);
    assert_eq!(c.targets.nodes, ["*"]);
    assert_eq!(c.targets.gpu_models, ["*"]);
    assert_eq!(c.targets.scope, Scope::Gpu);
    assert_eq!(c.timing, Timing::default());
    let s = &c.sweeps[0];
    assert_eq!(
        (s.runtime, s.scope, s.mix),
        (Runtime::Docker, Scope::Gpu, false)
    );
}

#[test]
fn campaign_optional_values() {
    let text = "\
[campaign]
name = \"all-keys\"
power_budget_w = 5000
seed = 42

[targets]
nodes = [\"gpu-*\", \"lab-1\"]
scope = \"node\"

[timing]
measure_s = 60
cooldown_temp_delta_c = 1
sample_ms = 100

[workloads.llm]
image = \"llm:2\"
command = [\"serve\", \"--seconds\", \"{measure_s}\"]
env = { HF_HOME = \"/cache\", OMP_NUM_THREADS = \"4\" }
metric = { regex = '(\\d+) tokens/s', unit = \"tokens/s\" }
ready = { log_regex = \"model loaded\", timeout_s = 900 }
shm_size_mb = 8192
ipc = \"host\"
ulimits = { memlock = -1, stack = 67108864 }

[workloads.epoch]
command = [\"train\"]
metric = { regex = '([0-9.]+) s/epoch', unit = \"s/epoch\", higher_is_better = false }
sim = { intensity = 0.4, fom = 12.5 }

[[sweep]]
name = \"mixed\"
sharing = \"mps\"
runtime = \"kubernetes\"
scope = \"any\"
workloads = [\"llm\", \"llm-unused\"]
mix = true
concurrency = [2]

[[sweep]]
name = \"local\"
sharing = \"time-slicing\"
runtime = \"process\"
workloads = [\"epoch\"]
concurrency = [1, 3]
"
    .replace(", \"llm-unused\"", "");
    let c = ok(&text);
    assert_eq!(c.power_budget_w, Some(5000.0));
    assert_eq!(c.seed, 42);
    assert_eq!(c.targets.nodes, ["gpu-*", "lab-1"]);
    assert_eq!(c.targets.scope, Scope::Node);
    assert_eq!(c.timing.measure_s, 60);
    assert_eq!(c.timing.cooldown_temp_delta_c, 1.0);
    assert_eq!(c.timing.warmup_s, Timing::default().warmup_s);
    let llm = &c.workloads["llm"];
    assert_eq!(llm.env["OMP_NUM_THREADS"], "4");
    assert_eq!(llm.ready.as_ref().map(|r| r.timeout_s), Some(900));
    assert_eq!(llm.shm_size_mb, Some(8192));
    assert_eq!(llm.ipc.as_deref(), Some("host"));
    assert_eq!(llm.ulimits["memlock"], -1);
    let epoch = &c.workloads["epoch"];
    assert_eq!(
        epoch.metric.as_ref().map(|m| m.higher_is_better),
        Some(false)
    );
    assert_eq!(epoch.sim.intensity, 0.4);
    let s = &c.sweeps[0];
    assert_eq!(
        (s.runtime, s.scope, s.mix),
        (Runtime::Kubernetes, Scope::Any, true)
    );
    assert_eq!(c.sweeps[1].scope, Scope::Node);
    assert_eq!(c.sweeps[1].runtime, Runtime::Process);
}

#[test]
fn campaign_names_are_checked() {
    let text = ts_sweep("").replace("name = \"ts\"", "name = \"a/b\"");
    expect_only(&text, 9, 8, ErrorKind::Value, "sweep name \"a/b\" must be");
    let text = ts_sweep("")
        .replace("[workloads.burn]", "[workloads.\"gpu burn\"]")
        .replace("[\"burn\"]\nconcurrency", "[\"gpu burn\"]\nconcurrency");
    expect_only(
        &text,
        4,
        12,
        ErrorKind::Value,
        "workload name \"gpu burn\" must be",
    );
}
