//! Planner tests of usage grids (full and fractional designs over a node's GPUs) and of the size
//! limits that keep a full grid from exhausting memory.

use super::*;
use crate::campaign::Design;

pub(super) fn grid(levels: &[u32], design: Design) -> Sweep {
    let mut s = sweep(
        "passthrough",
        SweepKind::UsageGrid {
            levels: levels.to_vec(),
            design,
        },
    );
    s.scope = Scope::Node;
    s
}

#[test]
fn full_usage_grid_over_each_nodes_gpus() {
    let c = campaign(vec![grid(&[0, 100], Design::Full)]);
    let fleet = [
        node("two", &[("h100-80gb", 2)]),
        node("one", &[("h100-80gb", 1)]),
    ];
    let p = run(&c, &fleet);
    assert_eq!(
        names(&p),
        [
            "passthrough/burn/0 @ one/gpu0",
            "passthrough/burn/100 @ one/gpu0",
            "passthrough/burn/0-0 @ two/gpu0,1",
            "passthrough/burn/0-100 @ two/gpu0,1",
            "passthrough/burn/100-0 @ two/gpu0,1",
            "passthrough/burn/100-100 @ two/gpu0,1",
        ]
    );
    assert_eq!(
        p.tasks[4].configuration.sharing,
        Sharing::UsageGrid {
            levels: vec![100, 0]
        }
    );
}

#[test]
fn fractional_usage_grid_is_the_covering_array() {
    let c = campaign(vec![grid(&[0, 50, 100], Design::Fractional)]);
    let p = run(&c, &[node("n", &[("h100-80gb", 8)])]);
    assert_eq!(p.tasks.len(), design::fractional(8, 3).len());
    let full = run(
        &campaign(vec![grid(&[0, 50, 100], Design::Full)]),
        &[node("n", &[("h100-80gb", 8)])],
    );
    assert_eq!(full.tasks.len(), 6561);
    // Every GPU pair sees every level pair.
    for i in 0..8 {
        for j in i + 1..8 {
            for a in [0, 50, 100] {
                for b in [0, 50, 100] {
                    assert!(p.tasks.iter().any(|t| matches!(&t.configuration.sharing,
                        Sharing::UsageGrid { levels } if levels[i] == a && levels[j] == b)));
                }
            }
        }
    }
}

#[test]
fn usage_grid_with_gpu_scope_is_one_level_per_configuration() {
    let mut s = grid(&[0, 100], Design::Full);
    s.scope = Scope::Gpu;
    let p = run(&campaign(vec![s]), &[node("n", &[("h100-80gb", 2)])]);
    assert_eq!(
        names(&p),
        [
            "passthrough/burn/0 @ n/gpu0",
            "passthrough/burn/0 @ n/gpu1",
            "passthrough/burn/100 @ n/gpu0",
            "passthrough/burn/100 @ n/gpu1"
        ]
    );
}

#[test]
fn refuses_oversized_plans() {
    let levels: Vec<u32> = (0..10).map(|l| l * 10).collect();
    let c = campaign(vec![grid(&levels, Design::Full)]);
    let err = plan(&c, Uuid::nil(), &[node("n", &[("h100-80gb", 8)])]).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::DesignTooLarge {
                gpus: 8,
                levels: 10,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("fractional"), "{err}");

    let mut c = campaign(vec![grid(&[0, 50, 100], Design::Full)]);
    c.repetitions = 2000;
    let err = plan(&c, Uuid::nil(), &[node("n", &[("h100-80gb", 8)])]).unwrap_err();
    assert_eq!(
        err,
        PlanError::TooManyTasks {
            tasks: 6561 * 2000,
            limit: MAX_TASKS
        }
    );
}
