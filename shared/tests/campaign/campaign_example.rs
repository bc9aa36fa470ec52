//! The example campaign of DESIGN.md §3, verbatim, parses to the structure it describes.

use std::collections::BTreeMap;

use wattsweep_shared::campaign::{
    Campaign, Design, Fill, LayoutEntry, NeighbourProfile, Order, Sweep, SweepKind, Targets,
};
use wattsweep_shared::mig::{CiTerm, GiTerm, LayoutSpec, ProfileRef};
use wattsweep_shared::model::{MetricSpec, Runtime, Scope, SimProfile, Timing, WorkloadSpec};

use crate::support::ok;

/// DESIGN.md §3's example, copied verbatim.
pub const EXAMPLE: &str = include_str!("../fixtures/campaign/example.toml");

fn name(n: &str) -> ProfileRef {
    ProfileRef::Name(n.to_owned())
}

fn gi(profile: &str, count: u8, compute: Option<Vec<CiTerm>>) -> GiTerm {
    GiTerm {
        profile: name(profile),
        count,
        start: None,
        compute,
    }
}

fn entry(text: &str, terms: Vec<GiTerm>) -> LayoutEntry {
    LayoutEntry {
        text: text.to_owned(),
        spec: LayoutSpec { terms },
    }
}

fn sweep(name: &str, scope: Scope, kind: SweepKind) -> Sweep {
    Sweep {
        name: name.to_owned(),
        scope,
        runtime: Runtime::Docker,
        workloads: vec!["burn".to_owned()],
        mix: false,
        kind,
    }
}

fn expected() -> Campaign {
    let burn = WorkloadSpec {
        name: "burn".to_owned(),
        image: Some("wattsweep/gpu-burn:latest".to_owned()),
        command: vec!["gpu_burn".to_owned(), "{measure_s}".to_owned()],
        metric: Some(MetricSpec {
            regex: r"(\d+(?:\.\d+)?) Gflop/s".to_owned(),
            unit: "GFLOP/s".to_owned(),
            higher_is_better: true,
        }),
        sim: SimProfile {
            intensity: 1.0,
            fom: 50000.0,
        },
        ..WorkloadSpec::default()
    };
    Campaign {
        name: "h100-sharing-envelope".to_owned(),
        repetitions: 3,
        order: Order::Shuffled,
        seed: 7,
        targets: Targets {
            nodes: vec!["*".to_owned()],
            gpu_models: vec!["*H100*".to_owned()],
            scope: Scope::Gpu,
        },
        timing: Timing {
            idle_baseline_s: 60,
            warmup_s: 30,
            measure_s: 300,
            cooldown_max_s: 120,
            cooldown_temp_delta_c: 2.0,
            sample_ms: 20,
        },
        power_budget_w: None,
        workloads: BTreeMap::from([("burn".to_owned(), burn)]),
        sweeps: vec![
            sweep(
                "time-slicing",
                Scope::Gpu,
                SweepKind::TimeSlicing {
                    concurrency: vec![1, 2, 4, 8],
                },
            ),
            sweep(
                "mps",
                Scope::Gpu,
                SweepKind::Mps {
                    concurrency: vec![2, 4],
                    active_thread_percentage: vec![50, 100],
                },
            ),
            sweep(
                "mig-layouts",
                Scope::Gpu,
                SweepKind::MigLayouts {
                    layouts: vec![
                        entry("7g.80gb", vec![gi("7g.80gb", 1, None)]),
                        entry("3g.40gb x2", vec![gi("3g.40gb", 2, None)]),
                        entry(
                            "4g.40gb + 3g.40gb",
                            vec![gi("4g.40gb", 1, None), gi("3g.40gb", 1, None)],
                        ),
                        entry("1g.10gb x7", vec![gi("1g.10gb", 7, None)]),
                        entry(
                            "7g.80gb(2c x3 + 1c)",
                            vec![gi(
                                "7g.80gb",
                                1,
                                Some(vec![
                                    CiTerm {
                                        compute_slices: 2,
                                        count: 3,
                                        start: None,
                                    },
                                    CiTerm {
                                        compute_slices: 1,
                                        count: 1,
                                        start: None,
                                    },
                                ]),
                            )],
                        ),
                    ],
                    fill: Fill::All,
                    concurrency: vec![1],
                },
            ),
            sweep(
                "mig-neighbours",
                Scope::Gpu,
                SweepKind::MigNeighbours {
                    protagonists: vec![name("1g.10gb"), name("3g.40gb"), name("7g.80gb")],
                    neighbour_profile: NeighbourProfile::Smallest,
                    neighbour_workload: "burn".to_owned(),
                    max_neighbours: None,
                },
            ),
            sweep(
                "passthrough",
                Scope::Node,
                SweepKind::UsageGrid {
                    levels: vec![0, 50, 100],
                    design: Design::Full,
                },
            ),
        ],
    }
}

#[test]
fn campaign_example_parses_to_the_expected_structure() {
    assert_eq!(ok(EXAMPLE), expected());
}

#[test]
fn campaign_fixture_is_the_design_example() {
    // Guard against the fixture drifting from the document it copies (when the document is there).
    let design = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/DESIGN.md");
    if let Ok(text) = std::fs::read_to_string(design) {
        assert!(text.contains(EXAMPLE), "fixture differs from DESIGN.md §3");
    }
}
