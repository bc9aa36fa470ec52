//! The workload catalog `deploy/workloads/*.toml` as the coordinator reads it: every file parses,
//! every figure-of-merit regex reads the number from a real output line of its tool (quoted in the
//! catalog file's comments too), every readiness regex matches the tool's ready line, and the
//! example campaigns in `deploy/campaigns/` still parse with the catalog.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use wattsweep_shared::campaign::{Source, catalog_dirs, parse_campaign};
use wattsweep_shared::model::WorkloadSpec;

/// What a workload prints, and what its catalog entry must read from it.
struct Sample {
    workload: &'static str,
    /// A line that must mark the workload ready.
    ready: &'static str,
    /// Lines with the number the metric regex must capture from each.
    fom: &'static [(&'static str, f64)],
    /// Lines the metric regex must not read (final summaries, other fields).
    not_fom: &'static [&'static str],
}

/// Real output lines of each tool; where a line comes from is noted in the catalog file.
const SAMPLES: &[Sample] = &[
    Sample {
        workload: "burn",
        ready: "Initialized device 0 with 11441 MB of memory (11351 MB available, using 10216 MB of it), using FLOATS",
        fom: &[
            (
                "100.0%  proc'd: 1908 (2273 Gflop/s)   errors: 0   temps: 66 C ",
                2273.0,
            ),
            (
                "20.0%  proc'd: 81 (47174 Gflop/s) - 0 (0 Gflop/s)   errors: 0 - 0   temps: 50 C - 45 C ",
                47174.0,
            ),
            // Several `\r` redraws in one `\n`-terminated line: the newest one counts.
            (
                "\r10.0%  proc'd: 636 (2085 Gflop/s)   errors: 0   temps: 64 C \r10.5%  proc'd: 700 (2273 Gflop/s)   errors: 0   temps: 66 C ",
                2273.0,
            ),
        ],
        not_fom: &["\tSummary at:   Fri Aug  9 22:17:04 UTC 2019"],
    },
    Sample {
        workload: "blender",
        ready: "wattsweep-loop run=1 start",
        fom: &[(
            r#"      "samples_per_minute": 177.45436229015527"#,
            177.45436229015527,
        )],
        not_fom: &[r#"      "device_peak_memory": 4787.01,"#],
    },
    Sample {
        workload: "hpcg",
        ready: "wattsweep-loop run=1 start",
        fom: &[(
            "Final Summary::HPCG result is VALID with a GFLOP/s rating of=1098.35",
            1098.35,
        )],
        not_fom: &["GFLOP/s Summary::Raw Total=196.268"],
    },
    Sample {
        workload: "llama",
        ready: "wattsweep-loop run=1 start",
        fom: &[(
            "| llama ?B F16                   | 129.76 MiB |    68.03 M | CUDA       |  99 |         tg128 |  4006.17 ± 11.78 |",
            4006.17,
        )],
        not_fom: &[
            "| llama ?B F16                   | 129.76 MiB |    68.03 M | CUDA       |  99 |         tg256 | 3995.99 ± 117.75 |",
        ],
    },
    Sample {
        // Not yet run on a GPU: llama-load's format with made-up numbers (see llama.toml).
        workload: "llama-serve",
        ready: "llama-load ready model=/models/model.gguf clients=4 n_predict=128",
        fom: &[(
            "llama-load window_s=5.0 requests=18 errors=0 tokens_per_s=460.8 request_ms_mean=1108.4 p50_ms=1101.2 p95_ms=1190.0 p99_ms=1190.0",
            1108.4,
        )],
        // A window in which no request completed has no mean: no sample.
        not_fom: &[
            "llama-load window_s=5.0 requests=0 errors=0 tokens_per_s=0.0 request_ms_mean=nan p50_ms=nan p95_ms=nan p99_ms=nan",
        ],
    },
    Sample {
        workload: "yolo",
        ready: "yolo training started model=yolov8n.yaml data=/tmp/synth/data.yaml batch=16",
        fom: &[("yolo epoch=5 epoch_seconds=0.39 images_per_s=162.8", 0.39)],
        not_fom: &["Starting training for 1000 epochs...", "yolo done epochs=8"],
    },
    Sample {
        workload: "resnet50-train",
        ready: "training started model=resnet50",
        fom: &[(
            "train model=resnet50 window_s=5.0 steps=279 samples=35712 samples_per_s=7117.9 loss=2.1518",
            7117.9,
        )],
        not_fom: &["train done model=resnet50 steps=630"],
    },
    Sample {
        workload: "bert-finetune",
        ready: "training started model=bert-base",
        fom: &[(
            "train model=bert-base window_s=5.0 steps=162 samples=5184 samples_per_s=1031.3 loss=0.6752",
            1031.3,
        )],
        not_fom: &[
            "train model=bert-base dataset=synthetic-glue batch=32 device=NVIDIA H100 80GB HBM3",
        ],
    },
    Sample {
        workload: "batch-infer",
        ready: "model loaded model=resnet50",
        fom: &[(
            "batch-infer window_s=5.0 batches=939 images_per_s=12016.2 p50_ms=5.30 p95_ms=5.33 p99_ms=5.66",
            5.33,
        )],
        not_fom: &["batch-infer done batches=3213"],
    },
    Sample {
        workload: "http-infer",
        ready: "server ready port=8500",
        fom: &[(
            "serve-and-load window_s=5.0 requests=1573 errors=0 qps=314.6 p50_ms=48.18 p95_ms=59.55 p99_ms=64.23",
            314.6,
        )],
        not_fom: &["serve-and-load done"],
    },
    Sample {
        workload: "interactive",
        ready: "session ready",
        fom: &[("interactive cell=3 cell_ms=259.0 idle_s=2.10", 259.0)],
        not_fom: &["interactive done cells=18"],
    },
    Sample {
        workload: "duty-burn",
        ready: "duty-burn ready level=50% period=100ms seconds=6",
        fom: &[(
            "duty-burn t=1.0s level=50% busy_fraction=0.499 kernels=250 gflops=61309.8",
            61309.8,
        )],
        not_fom: &[
            "duty-burn done busy_fraction=0.501 level=50% seconds=6.0 kernels=1503 total_gflop=184161.5",
            "duty-burn calibrated: 3541 rounds per kernel = 122.53 GFLOP in 1.993 ms (61471.3 GFLOP/s while busy); target 2.000 ms per kernel",
        ],
    },
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `*.toml` of a folder, as sources named by their repository path.
fn tomls(dir: &Path) -> Vec<Source> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| Source::new(p.display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect()
}

fn catalog() -> Vec<Source> {
    tomls(&repo().join("deploy/workloads"))
}

/// Names defined in the catalog files (`[workloads.NAME]` headers).
fn catalog_names(catalog: &[Source]) -> BTreeSet<String> {
    let header = Regex::new(r"(?m)^\[workloads\.([A-Za-z0-9_-]+)\]").unwrap();
    catalog
        .iter()
        .flat_map(|s| {
            header
                .captures_iter(&s.text)
                .map(|c| c[1].to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every catalog workload through the real parser: a campaign that names each of them, container
/// workloads under docker and the image-less duty burn under the process runtime.
fn parsed_catalog() -> Vec<WorkloadSpec> {
    let catalog = catalog();
    let names = catalog_names(&catalog);
    let quoted = |n: &[&String]| {
        n.iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let containers: Vec<&String> = names.iter().filter(|n| *n != "duty-burn").collect();
    let text = format!(
        "[campaign]\nname = \"catalog\"\n\n\
         [[sweep]]\nname = \"containers\"\nsharing = \"time-slicing\"\nruntime = \"docker\"\n\
         workloads = [{}]\nconcurrency = [1]\n\n\
         [[sweep]]\nname = \"grid\"\nsharing = \"usage-grid\"\nscope = \"node\"\nruntime = \"process\"\n\
         levels = [0, 100]\nworkloads = [\"duty-burn\"]\n",
        quoted(&containers)
    );
    let campaign = parse_campaign(&Source::new("catalog-test.toml", text), &catalog)
        .unwrap_or_else(|e| panic!("the catalog does not parse:\n{e}"));
    assert_eq!(
        campaign.workloads.keys().cloned().collect::<BTreeSet<_>>(),
        names,
        "every catalog workload reaches the campaign"
    );
    campaign.workloads.into_values().collect()
}

#[test]
fn catalog_covers_every_workload_of_the_seeds() {
    let names = catalog_names(&catalog());
    let seeds = [
        "burn",
        "blender",
        "hpcg",
        "llama",
        "llama-serve",
        "yolo",
        "resnet50-train",
        "bert-finetune",
        "batch-infer",
        "http-infer",
        "interactive",
        "duty-burn",
    ];
    for name in seeds {
        assert!(names.contains(name), "no catalog entry for {name}");
    }
    let sampled: BTreeSet<&str> = SAMPLES.iter().map(|s| s.workload).collect();
    for name in &names {
        assert!(
            sampled.contains(name.as_str()),
            "catalog workload {name} has no sample output in this test: add a real line of its tool"
        );
    }
}

#[test]
fn metric_regexes_read_the_real_output_of_each_tool() {
    let specs = parsed_catalog();
    for sample in SAMPLES {
        let spec = specs
            .iter()
            .find(|w| w.name == sample.workload)
            .unwrap_or_else(|| panic!("{} is not in the catalog", sample.workload));
        let metric = spec
            .metric
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no metric", spec.name));
        let re = Regex::new(&metric.regex).unwrap();
        for (line, want) in sample.fom {
            let caps = re.captures(line).unwrap_or_else(|| {
                panic!("{}: `{}` does not match {line:?}", spec.name, metric.regex)
            });
            let got: f64 = caps[1].parse().unwrap();
            assert_eq!(got, *want, "{}: `{}` on {line:?}", spec.name, metric.regex);
        }
        for line in sample.not_fom {
            // What the agent does: a number from capture group 1, finite.
            let read = re
                .captures(line)
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<f64>().ok());
            assert_eq!(
                read, None,
                "{}: `{}` reads {line:?}",
                spec.name, metric.regex
            );
        }
    }
}

#[test]
fn readiness_regexes_compile_and_match_the_ready_line() {
    let specs = parsed_catalog();
    for spec in &specs {
        let ready = spec
            .ready
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no readiness signal", spec.name));
        let re = Regex::new(ready.log_regex.as_deref().unwrap()).unwrap();
        let sample = SAMPLES.iter().find(|s| s.workload == spec.name).unwrap();
        assert!(
            re.is_match(sample.ready),
            "{}: ready regex misses {:?}",
            spec.name,
            sample.ready
        );
        for (line, _) in sample.fom {
            assert!(
                !re.is_match(line),
                "{}: ready regex also matches {line:?}",
                spec.name
            );
        }
    }
}

#[test]
fn every_workload_runs_for_the_window_it_is_given() {
    // A workload that ends before warm-up plus measure leaves the window idle: each command takes
    // `{run_s}` (directly or through wattsweep-loop) or `{level}` with it.
    for spec in parsed_catalog() {
        assert!(
            spec.command.iter().any(|a| a == "{run_s}"),
            "{}: command {:?} does not take {{run_s}}",
            spec.name,
            spec.command
        );
        assert!(spec.sim.fom > 0.0 && (0.0..=1.0).contains(&spec.sim.intensity));
    }
}

#[test]
fn example_campaigns_parse_with_the_catalog() {
    let campaigns = tomls(&repo().join("deploy/campaigns"));
    assert!(!campaigns.is_empty());
    for source in &campaigns {
        let dirs = catalog_dirs(source).unwrap_or_else(|e| panic!("{e}"));
        let mut catalog = Vec::new();
        for dir in if dirs.is_empty() {
            vec![repo().join("deploy/workloads")]
        } else {
            dirs
        } {
            catalog.extend(tomls(&dir));
        }
        if let Err(e) = parse_campaign(source, &catalog) {
            panic!("{} does not parse with the catalog:\n{e}", source.path);
        }
    }
}
