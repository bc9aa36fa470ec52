//! Planner tests of MIG sweeps at node and any scope: every GPU of a node must place a layout the
//! same way; any scope takes the first model that places it.

use super::mig::{layouts, starts};
use super::*;
use crate::campaign::Fill;
use crate::mig::builtin_table;

#[test]
fn any_scope_takes_the_first_model_the_layout_places_on() {
    let mut s = sweep(
        "mig",
        layouts(&["3g x2", "7g.80gb", "3g x3"], Fill::All, &[]),
    );
    s.scope = Scope::Any;
    let fleet = [
        node("b", &[("h100-80gb", 1)]),
        node("a", &[("a100-40gb", 1)]),
    ];
    let p = run(&campaign(vec![s]), &fleet);
    assert_eq!(
        names(&p),
        [
            "mig/burn/3gx2 @ any/a100-40gb",
            "mig/burn/7g.80gb @ any/h100-80gb"
        ]
    );
    assert_eq!(
        starts(&p.tasks[0]),
        [("3g.20gb".to_owned(), 0), ("3g.20gb".to_owned(), 4)]
    );
    let skipped: Vec<String> = p.skipped.iter().map(|s| s.target.to_string()).collect();
    assert_eq!(skipped, ["any/a100-40gb", "any/h100-80gb"]);
    assert!(
        p.skipped
            .iter()
            .all(|s| s.configuration.as_deref() == Some("mig/burn/3gx3"))
    );
}

#[test]
fn node_scope_places_on_every_gpu() {
    let mut s = sweep("mig", layouts(&["3g.40gb x2"], Fill::All, &[]));
    s.scope = Scope::Node;
    let mut broken = node("broken", &[("h100-80gb", 2)]);
    broken.gpus[1].mig_capable = false;
    let p = run(
        &campaign(vec![s]),
        &[node("ok", &[("h100-80gb", 2)]), broken],
    );
    assert_eq!(names(&p), ["mig/burn/3g.40gbx2 @ ok/gpu0,1"]);
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].target.to_string(), "broken/gpu0,1");
    assert!(
        p.skipped[0].reason.contains("GPU 1"),
        "{}",
        p.skipped[0].reason
    );
}

#[test]
fn node_scope_refuses_gpus_whose_tables_place_differently() {
    let mut s = sweep("mig", layouts(&["3g.40gb"], Fill::All, &[]));
    s.scope = Scope::Node;
    let mut n = node("n", &[("h100-80gb", 2)]);
    let mut table = builtin_table("h100-80gb").unwrap();
    for p in &mut table.gpu_instance_profiles {
        if p.name == "3g.40gb" {
            p.placements = vec![4];
        }
    }
    n.gpus[1].profile_table = Some(table);
    let p = run(&campaign(vec![s]), &[n]);
    assert!(p.tasks.is_empty());
    assert_eq!(p.skipped.len(), 1);
    assert!(
        p.skipped[0]
            .reason
            .contains("places differently on GPU 1 than on GPU 0"),
        "{}",
        p.skipped[0].reason
    );
}

#[test]
fn any_scope_passes_over_models_without_mig() {
    let mut s = sweep("mig", layouts(&["3g x2"], Fill::All, &[]));
    s.scope = Scope::Any;
    let mut a100 = node("a", &[("a100-40gb", 1)]);
    a100.gpus[0].mig_capable = false;
    let p = run(
        &campaign(vec![s.clone()]),
        &[a100.clone(), node("h", &[("h100-80gb", 1)])],
    );
    assert_eq!(names(&p), ["mig/burn/3gx2 @ any/h100-80gb"]);
    assert!(p.skipped.is_empty());

    let p = run(&campaign(vec![s]), &[a100]);
    assert!(p.tasks.is_empty());
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].target.to_string(), "any/a100-40gb");
    assert!(
        p.skipped[0].reason.contains("not MIG-capable"),
        "{}",
        p.skipped[0].reason
    );
}
