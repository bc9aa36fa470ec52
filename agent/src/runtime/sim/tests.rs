//! Tests of the simulated runtime: loads on GPUs and MIG devices, log lines the workload's own
//! patterns read (for every catalog entry), scripted exits, stop and remove.

use std::collections::BTreeMap;
use std::path::PathBuf;

use uuid::Uuid;
use wattsweep_shared::model::{MetricSpec, ReadySpec, SimProfile, WorkloadSpec};

use super::*;
use crate::gpu::sim::{RealClock, SimConfig};
use crate::runtime::logwatch::LogWatch;

fn gpus(mig: bool) -> Arc<SimulatedGpus> {
    let g = SimulatedGpus::new(SimConfig::new("n", "h100-80gb", 1), Arc::new(RealClock)).unwrap();
    g.set_mig_enabled(0, mig).unwrap();
    Arc::new(g)
}

fn burn() -> WorkloadSpec {
    WorkloadSpec {
        name: "burn".into(),
        command: vec!["gpu_burn".into(), "{run_s}".into()],
        metric: Some(MetricSpec {
            regex: r"(\d+(?:\.\d+)?) Gflop/s".into(),
            unit: "GFLOP/s".into(),
            higher_is_better: true,
        }),
        ready: Some(ReadySpec {
            log_regex: Some("Initialized device".into()),
            timeout_s: 60,
        }),
        sim: SimProfile {
            intensity: 1.0,
            fom: 50_000.0,
        },
        ..WorkloadSpec::default()
    }
}

fn spec(workload: WorkloadSpec, gpu: GpuBinding, instance: u32) -> LaunchSpec {
    LaunchSpec {
        task_id: Uuid::from_u128(7),
        attempt: 1,
        instance,
        workload,
        gpu,
        mps: None,
        substitutions: BTreeMap::from([
            ("run_s".to_string(), "100".to_string()),
            ("level".to_string(), "100".to_string()),
        ]),
        env: BTreeMap::new(),
    }
}

fn whole(i: u32) -> GpuBinding {
    GpuBinding::Gpus {
        uuids: vec![format!("GPU-{i}")],
        indices: vec![i],
    }
}

#[tokio::test]
async fn instances_load_the_gpu_and_print_lines_the_workload_reads() {
    let g = gpus(false);
    let rt = SimRuntime::new(g.clone()).with_period(Duration::from_millis(20));
    let (tx, mut rx) = mpsc::channel(64);
    let mut a = rt
        .start(&spec(burn(), whole(0), 0), tx.clone())
        .await
        .unwrap();
    let b = rt.start(&spec(burn(), whole(0), 1), tx).await.unwrap();
    assert!((g.truth(0).unwrap().load - 1.0).abs() < 1e-9);
    let mut watch = LogWatch::new(&burn()).unwrap();
    let (mut ready, mut foms) = (0, Vec::new());
    while foms.len() < 4 {
        let line = rx.recv().await.unwrap();
        let o = watch.observe(&line);
        ready += usize::from(line.text.contains("Initialized device"));
        foms.extend(o.fom.map(|f| f.value));
    }
    assert_eq!(ready, 2);
    let share = g.throughput_fraction(0, None, &a.name).unwrap().unwrap();
    assert!(share < 0.5, "two instances time-slice the GPU: {share}");
    for v in &foms {
        assert!(
            (v - 50_000.0 * share).abs() < 1.0,
            "{v} vs {}",
            50_000.0 * share
        );
    }
    a.stop(Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        a.wait(Duration::from_secs(1)).await.unwrap(),
        ExitStatus::Killed("stopped".into())
    );
    a.remove().await.unwrap();
    b.remove().await.unwrap();
    assert_eq!(g.truth(0).unwrap().load, 0.0);
}

#[tokio::test]
async fn mig_devices_are_found_by_uuid() {
    let g = gpus(true);
    let gi = g.create_gpu_instance(0, 9, 0).unwrap();
    let ci = g.create_compute_instance(0, gi, 2, 0).unwrap();
    let uuid = g.mig_instances(0).unwrap()[0].compute_instances[0]
        .uuid
        .clone();
    let rt = SimRuntime::new(g.clone());
    let (tx, _rx) = mpsc::channel(64);
    let binding = GpuBinding::MigDevice {
        uuid,
        profile: "3g.40gb".into(),
    };
    let h = rt
        .start(&spec(burn(), binding, 0), tx.clone())
        .await
        .unwrap();
    assert_eq!(h.device(), (0, Some((gi, ci))));
    assert!(g.truth(0).unwrap().load > 0.0);
    h.remove().await.unwrap();
    assert_eq!(g.truth(0).unwrap().load, 0.0);
    let missing = GpuBinding::MigDevice {
        uuid: "MIG-nope".into(),
        profile: "3g.40gb".into(),
    };
    let e = rt
        .start(&spec(burn(), missing, 1), tx.clone())
        .await
        .unwrap_err();
    assert!(
        e.is_deterministic() && e.to_string().contains("MIG-nope"),
        "{e}"
    );
    // A whole-GPU load on a GPU in MIG mode is refused by the simulation.
    let e = rt.start(&spec(burn(), whole(0), 2), tx).await.unwrap_err();
    assert!(e.to_string().contains("MIG is enabled"), "{e}");
}

#[tokio::test]
async fn scripted_exit_and_levels() {
    let g = gpus(false);
    let rt = SimRuntime::new(g.clone()).with_period(Duration::from_millis(10));
    let mut w = burn();
    w.env.insert(ENV_EXIT_AFTER.into(), "0.05".into());
    w.env.insert(ENV_EXIT_CODE.into(), "3".into());
    let mut s = spec(w, whole(0), 0);
    s.substitutions.insert("level".into(), "50".into());
    let (tx, _rx) = mpsc::channel(64);
    let mut h = rt.start(&s, tx.clone()).await.unwrap();
    assert!((g.truth(0).unwrap().load - 0.5).abs() < 1e-9);
    assert_eq!(
        h.wait(Duration::from_secs(5)).await.unwrap(),
        ExitStatus::Exited(3)
    );
    assert_eq!(g.truth(0).unwrap().load, 0.0);
    h.remove().await.unwrap();

    let mut long = spec(burn(), whole(0), 1);
    long.substitutions.insert("run_s".into(), "1000".into());
    let mut h = rt.start(&long, tx.clone()).await.unwrap();
    assert_eq!(
        h.wait(Duration::from_millis(30)).await.unwrap(),
        ExitStatus::DeadlineExceeded
    );
    assert_eq!(g.truth(0).unwrap().load, 0.0);
    drop(h);

    let mut bad = burn();
    bad.env.insert(ENV_READY_DELAY.into(), "soon".into());
    let e = rt.start(&spec(bad, whole(0), 2), tx).await.unwrap_err();
    assert!(e.to_string().contains(ENV_READY_DELAY), "{e}");
}

#[tokio::test]
async fn lower_is_better_metrics_grow_when_the_gpu_is_shared() {
    let g = gpus(false);
    let rt = SimRuntime::new(g.clone()).with_period(Duration::from_millis(10));
    let mut w = burn();
    w.metric = Some(MetricSpec {
        regex: r"epoch_seconds=(\d+(?:\.\d+)?)".into(),
        unit: "s/epoch".into(),
        higher_is_better: false,
    });
    w.sim.fom = 30.0;
    let (tx, mut rx) = mpsc::channel(64);
    let _a = rt
        .start(&spec(w.clone(), whole(0), 0), tx.clone())
        .await
        .unwrap();
    let _b = rt.start(&spec(w.clone(), whole(0), 1), tx).await.unwrap();
    let mut watch = LogWatch::new(&w).unwrap();
    loop {
        let line = rx.recv().await.unwrap();
        if let Some(f) = watch.observe(&line).fom {
            assert!(f.value > 60.0, "{}", f.value);
            break;
        }
    }
}

/// Every `regex = '…'` and `log_regex = '…'` of the workload catalog.
fn catalog_patterns() -> Vec<(PathBuf, String, bool)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/workloads");
    let re = regex::Regex::new(r"\b(log_regex|regex) = '([^']*)'").unwrap();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for c in re.captures_iter(&text) {
            out.push((path.clone(), c[2].to_string(), &c[1] == "log_regex"));
        }
    }
    out
}

#[test]
fn every_catalog_pattern_reads_the_simulated_lines() {
    let patterns = catalog_patterns();
    assert!(patterns.len() >= 20, "{patterns:?}");
    for (path, pattern, is_ready) in patterns {
        let re = regex::Regex::new(&pattern).unwrap();
        if is_ready {
            let line = matching_line(&pattern).unwrap();
            assert!(re.is_match(&line), "{}: {pattern}", path.display());
        } else {
            let t =
                MetricTemplate::new(&pattern).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for v in [0.0, 1.5, 52_341.25, 1e6] {
                let line = t.line(v);
                let read: f64 = re.captures(&line).unwrap()[1].parse().unwrap();
                assert!((read - v).abs() < 1e-3, "{}: {line}", path.display());
            }
        }
    }
}
