//! Planner throughput and memory on a large fleet.
//!
//! Plans a campaign shaped like DESIGN.md §3 (time-slicing, MPS, MIG layouts, MIG neighbours per
//! GPU, plus a node-scope fractional usage grid; 3 repetitions, shuffled) for a fleet of H100 nodes
//! with 8 GPUs each, and prints:
//!
//! - tasks/s of `plan` (best of a few runs, single-threaded) against the cost floor of materialising
//!   the same tasks, measured in the same run: cloning the produced `Vec<TaskSpec>` (which also pays
//!   for reading a large source from memory), and cloning one task as many times (hot source);
//! - peak heap during planning (a counting global allocator), in bytes per task, at two fleet sizes
//!   to show memory is linear in tasks.
//!
//! Run: `nice -n 10 cargo bench -p wattsweep-shared --bench planner` (optionally under
//! `taskset -c 0`). Timing is reported, never asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The counting allocator must implement the unsafe `GlobalAlloc` trait; it only forwards to
// `System` and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wattsweep_shared::campaign::{
    Campaign, Design, Fill, LayoutEntry, NeighbourProfile, Order, Sweep, SweepKind, Targets,
};
use wattsweep_shared::mig::{ProfileRef, parse_layout};
use wattsweep_shared::model::{
    MetricSpec, NodeInventory, Runtime, Scope, SimProfile, TaskSpec, Timing, WorkloadSpec,
};
use wattsweep_shared::plan::{Plan, campaign_id_for, hypothetical_node, plan};

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as `GlobalAlloc::realloc`, forwarded.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes above the level at `reset_peak`, at their highest since.
fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

fn peak_since(base: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

fn workload(name: &str, image: &str) -> WorkloadSpec {
    WorkloadSpec {
        name: name.to_owned(),
        image: Some(image.to_owned()),
        command: vec!["gpu_burn".to_owned(), "{measure_s}".to_owned()],
        metric: Some(MetricSpec {
            regex: r"(\d+(?:\.\d+)?) Gflop/s".to_owned(),
            unit: "GFLOP/s".to_owned(),
            higher_is_better: true,
        }),
        sim: SimProfile {
            intensity: 1.0,
            fom: 50_000.0,
        },
        ..WorkloadSpec::default()
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

/// DESIGN.md §3's example campaign, with a fractional usage grid (the full one over 8 GPUs at 3
/// levels is 6,561 configurations per node, 19.7 million tasks on 1,000 nodes: over the planner's
/// limit).
fn design_campaign() -> Campaign {
    let layouts = [
        "7g.80gb",
        "3g.40gb x2",
        "4g.40gb + 3g.40gb",
        "1g.10gb x7",
        "7g.80gb(2c x3 + 1c)",
    ];
    let mut workloads = BTreeMap::new();
    workloads.insert(
        "burn".to_owned(),
        workload("burn", "wattsweep/gpu-burn:latest"),
    );
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
        timing: Timing::default(),
        power_budget_w: None,
        workloads,
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
                    layouts: layouts
                        .iter()
                        .map(|t| LayoutEntry {
                            text: (*t).to_owned(),
                            spec: parse_layout(t).unwrap(),
                        })
                        .collect(),
                    fill: Fill::All,
                    concurrency: vec![1],
                },
            ),
            sweep(
                "mig-neighbours",
                Scope::Gpu,
                SweepKind::MigNeighbours {
                    protagonists: ["1g.10gb", "3g.40gb", "7g.80gb"]
                        .iter()
                        .map(|p| ProfileRef::Name((*p).to_owned()))
                        .collect(),
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
                    design: Design::Fractional,
                },
            ),
        ],
    }
}

fn fleet(nodes: usize) -> Vec<NodeInventory> {
    (0..nodes)
        .map(|i| hypothetical_node(&format!("node-{i:04}"), &[("h100-80gb", 8)]).unwrap())
        .collect()
}

/// Best wall time of `runs` calls of `f` (each result dropped outside the timed part).
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let out = black_box(f());
        best = best.min(start.elapsed());
        drop(out);
    }
    best
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

struct Measured {
    tasks: usize,
    skipped: usize,
    plan_best: Duration,
    clone_best: Duration,
    template_best: Duration,
    plan_peak: usize,
    retained: usize,
    clone_peak: usize,
}

fn measure(nodes: usize, runs: usize) -> Measured {
    let c = design_campaign();
    let id = campaign_id_for(&c.name);
    let fleet = fleet(nodes);

    let base = reset_peak();
    let p: Plan = plan(&c, id, &fleet).unwrap();
    let plan_peak = peak_since(base);
    let retained = LIVE.load(Ordering::Relaxed).saturating_sub(base);

    let base = reset_peak();
    let copy: Vec<TaskSpec> = p.tasks.clone();
    let clone_peak = peak_since(base);
    drop(copy);

    let (tasks, skipped) = (p.tasks.len(), p.skipped.len());
    drop(p);
    let plan_best = best_of(runs, || plan(&c, id, &fleet).unwrap());
    let p = plan(&c, id, &fleet).unwrap();
    let clone_best = best_of(runs, || p.tasks.clone());
    // The same number of tasks cloned from one hot template: materialising without reading a large
    // source (the planner clones from a few templates too).
    let template = p.tasks[p.tasks.len() / 2].clone();
    let template_best = best_of(runs, || vec![template.clone(); tasks]);
    Measured {
        tasks,
        skipped,
        plan_best,
        clone_best,
        template_best,
        plan_peak,
        retained,
        clone_peak,
    }
}

fn main() {
    println!(
        "planner benchmark: DESIGN §3 campaign (5 sweeps, 3 repetitions, shuffled), H100 ×8 nodes"
    );
    let mut per_task = Vec::new();
    for (nodes, runs) in [(100usize, 5usize), (1000, 3)] {
        let m = measure(nodes, runs);
        let plan_rate = rate(m.tasks, m.plan_best);
        let clone_rate = rate(m.tasks, m.clone_best);
        println!();
        println!(
            "fleet {nodes} nodes × 8 H100 ({} GPUs): {} tasks, {} skipped",
            nodes * 8,
            m.tasks,
            m.skipped
        );
        println!(
            "  plan           best of {runs}: {:>8.1} ms  {:>10.0} tasks/s  (target ≥ 100000: {})",
            m.plan_best.as_secs_f64() * 1e3,
            plan_rate,
            if plan_rate >= 100_000.0 {
                "met"
            } else {
                "MISSED"
            }
        );
        println!(
            "  baseline clone best of {runs}: {:>8.1} ms  {:>10.0} tasks/s  (plan takes {:.2}× the clone)",
            m.clone_best.as_secs_f64() * 1e3,
            clone_rate,
            m.plan_best.as_secs_f64() / m.clone_best.as_secs_f64()
        );
        println!(
            "  baseline template best of {runs}: {:>5.1} ms  {:>10.0} tasks/s  (plan takes {:.2}× the template clones)",
            m.template_best.as_secs_f64() * 1e3,
            rate(m.tasks, m.template_best),
            m.plan_best.as_secs_f64() / m.template_best.as_secs_f64()
        );
        let bpt = |b: usize| b as f64 / m.tasks as f64;
        println!(
            "  heap: plan peak {:.1} MiB = {:.0} B/task, plan retained {:.0} B/task, \
             clone peak {:.0} B/task (plan peak {:.2}× clone)",
            m.plan_peak as f64 / (1024.0 * 1024.0),
            bpt(m.plan_peak),
            bpt(m.retained),
            bpt(m.clone_peak),
            m.plan_peak as f64 / m.clone_peak as f64
        );
        per_task.push((nodes, bpt(m.plan_peak)));
    }
    if let [(n1, a), (n2, b)] = per_task[..] {
        println!();
        println!(
            "memory linear in tasks: peak B/task {a:.0} at {n1} nodes, {b:.0} at {n2} nodes (ratio {:.3})",
            b / a
        );
    }
}
