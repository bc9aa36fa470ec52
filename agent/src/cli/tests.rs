//! Command-line parsing, the backend factory's refusals, and the output encoders.

use clap::Parser;

use super::*;
use crate::gpu::GpuStatus;
use crate::telemetry::sampler::{Phase, PowerSource, Record};

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("wattsweep-agent").chain(args.iter().copied()))
}

#[test]
fn sample_flags_parse() {
    let cli = parse(&[
        "sample",
        "--seconds",
        "2.5",
        "--format",
        "lp",
        "--power-ms",
        "20",
        "--gpu",
        "1",
        "--gpu",
        "0",
    ])
    .unwrap();
    let Command::Sample(a) = cli.command else {
        panic!("not sample")
    };
    assert_eq!(a.seconds, 2.5);
    assert_eq!(a.format, SampleFormat::Lp);
    assert_eq!(a.sampling.gpus, vec![1, 0]);
    assert_eq!((a.sampling.status_ms, a.sampling.drain_ms), (100, 1000));
    assert_eq!(a.backend.simulate, None);
}

#[test]
fn inventory_and_bench_flags_parse() {
    let cli = parse(&[
        "inventory",
        "--format",
        "json",
        "--simulate",
        "2",
        "--sim-model",
        "a100-40gb",
    ])
    .unwrap();
    let Command::Inventory(a) = cli.command else {
        panic!("not inventory")
    };
    assert_eq!(a.format, InventoryFormat::Json);
    assert_eq!(
        (a.backend.simulate, a.backend.sim_model.as_str()),
        (Some(2), "a100-40gb")
    );
    let cli = parse(&["bench-sampler", "--seconds", "5", "--instant-only"]).unwrap();
    let Command::BenchSampler(b) = cli.command else {
        panic!("not bench")
    };
    assert!(b.sampling.instant_only && b.seconds == 5.0);
    assert!(parse(&["sample", "--format", "csv"]).is_err());
}

#[test]
fn the_factory_builds_simulated_gpus_and_refuses_bad_arguments_clearly() {
    let args = |n, m: &str| BackendArgs {
        simulate: Some(n),
        sim_model: m.into(),
        sim_node: Some("node-a".into()),
    };
    let b = backend(&args(2, "h100-80gb")).unwrap();
    assert_eq!(b.kind(), crate::gpu::BackendKind::Simulated);
    let inv = b.inventory().unwrap();
    assert_eq!(inv.len(), 2);
    assert!(inv.iter().all(|g| g.simulated));
    let e = backend(&args(2, "rtx-9000")).err().unwrap();
    assert!(e.to_string().contains("h100-80gb"), "{e}");
    assert_eq!(e.exit_code(), 2);
    assert_eq!(backend(&args(0, "h100-80gb")).err().unwrap().exit_code(), 2);
}

#[test]
fn gpu_selection_is_checked_against_the_node() {
    let mut a = SamplingArgs {
        power_ms: 20,
        status_ms: 100,
        drain_ms: 100,
        instant_only: false,
        with_instant: false,
        gpus: vec![],
    };
    assert_eq!(sampled_gpus(&a, &[0, 1]).unwrap(), vec![0, 1]);
    a.gpus = vec![1, 1];
    assert_eq!(sampled_gpus(&a, &[0, 1]).unwrap(), vec![1]);
    a.gpus = vec![3];
    let e = sampled_gpus(&a, &[0, 1]).unwrap_err();
    assert!(e.to_string().contains("GPU indexes present: 0, 1"), "{e}");
    assert!(
        sampled_gpus(
            &SamplingArgs {
                gpus: vec![],
                ..a.clone()
            },
            &[]
        )
        .is_err()
    );
    assert!(
        sampled_gpus(
            &SamplingArgs {
                drain_ms: 0,
                gpus: vec![],
                ..a
            },
            &[0]
        )
        .is_err()
    );
    assert!(positive_seconds("--seconds", 0.0).is_err());
    assert!(positive_seconds("--seconds", f64::NAN).is_err());
}

#[test]
fn records_as_json_and_line_protocol() {
    let p = Record::Power {
        gpu: 0,
        t_ns: 1_000_000_000,
        watts: 312.5,
        source: PowerSource::Buffer,
        phase: Phase::Measure,
    };
    assert_eq!(
        sample::record_json(&p).to_string(),
        r#"{"gpu":0,"phase":"measure","source":"buffer","t_ns":1000000000,"type":"power","watts":312.5}"#
    );
    let tags = crate::telemetry::gpu_points::GpuTags {
        node: "n1".into(),
        uuid: "GPU-1".into(),
        model: "h100-80gb".into(),
    };
    assert_eq!(
        sample::record_lp(&p, &tags).unwrap(),
        "gpu,gpu_model=h100-80gb,gpu_uuid=GPU-1,node=n1,phase=measure,power_source=buffer power_w=312.5 1000000000"
    );
    let s = Record::Status {
        gpu: 0,
        t_ns: 5,
        status: GpuStatus {
            temperature_c: Some(41.0),
            sm_clock_mhz: Some(1980),
            ..GpuStatus::default()
        },
        phase: Phase::None,
    };
    assert_eq!(
        sample::record_lp(&s, &tags).unwrap(),
        "gpu,gpu_model=h100-80gb,gpu_uuid=GPU-1,node=n1,phase=none sm_clock_mhz=1980i,temperature_c=41.0 5"
    );
    let e = Record::Energy {
        gpu: 0,
        t_ns: 7,
        mj: 123,
        phase: Phase::None,
    };
    assert!(
        sample::record_lp(&e, &tags)
            .unwrap()
            .ends_with("energy_mj=123i 7")
    );
}
