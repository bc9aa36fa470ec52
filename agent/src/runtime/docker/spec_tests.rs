//! Unit tests of the pure create-container mapping.

use std::collections::BTreeMap;

use bollard::models::MountType;
use uuid::Uuid;
use wattsweep_shared::model::WorkloadSpec;

use super::*;
use crate::runtime::{MpsClient, labels};

fn owner() -> Ownership {
    Ownership {
        node: "node-a".into(),
    }
}

fn spec() -> LaunchSpec {
    LaunchSpec {
        task_id: Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
        attempt: 2,
        instance: 3,
        workload: WorkloadSpec {
            name: "burn".into(),
            image: Some("wattsweep/gpu-burn:1".into()),
            command: vec!["gpu_burn".into(), "{run_s}".into()],
            env: BTreeMap::from([
                ("A".to_string(), "workload".to_string()),
                ("B".to_string(), "workload".to_string()),
            ]),
            ..WorkloadSpec::default()
        },
        gpu: GpuBinding::None,
        mps: None,
        substitutions: BTreeMap::from([("run_s".to_string(), "330".to_string())]),
        env: BTreeMap::from([("B".to_string(), "launch".to_string())]),
    }
}

fn mps() -> MpsClient {
    MpsClient {
        pipe_dir: "/run/wattsweep/mps/GPU-1/pipe".into(),
        log_dir: "/run/wattsweep/mps/GPU-1/log".into(),
        active_thread_percentage: 50,
    }
}

fn host(body: &ContainerCreateBody) -> &HostConfig {
    body.host_config.as_ref().unwrap()
}

#[test]
fn basic_body_has_image_command_env_labels_and_is_never_privileged() {
    let body = container_body(&spec(), &owner()).unwrap();
    assert_eq!(body.image.as_deref(), Some("wattsweep/gpu-burn:1"));
    assert_eq!(body.cmd, Some(vec!["gpu_burn".into(), "330".into()]));
    assert_eq!(body.entrypoint, None, "the image's entrypoint is kept");
    assert_eq!(body.env, Some(vec!["A=workload".into(), "B=launch".into()]));
    let l = body.labels.as_ref().unwrap();
    assert_eq!(l[labels::MANAGED], "true");
    assert_eq!(l[labels::NODE], "node-a");
    assert_eq!(l[labels::TASK], spec().task_id.to_string());
    assert_eq!(l[labels::ATTEMPT], "2");
    assert_eq!(l[labels::INSTANCE], "3");
    assert_eq!(l.len(), 5);
    let h = host(&body);
    assert_eq!(h.privileged, Some(false));
    assert_eq!(h.cap_add, None);
    assert_eq!(h.device_requests, None, "no GPU for GpuBinding::None");
    assert_eq!(h.mounts, None);
    assert_eq!(h.ipc_mode, None);
    assert_eq!(h.ulimits, None);
    assert_eq!(h.shm_size, None);
    assert_eq!(h.auto_remove, Some(false), "we read the exit code first");
    assert_eq!(body.tty, Some(false), "stdout and stderr stay apart");
}

#[test]
fn empty_command_keeps_the_image_default() {
    let mut s = spec();
    s.workload.command.clear();
    assert_eq!(container_body(&s, &owner()).unwrap().cmd, None);
}

#[test]
fn whole_gpus_become_one_nvidia_device_request_by_uuid() {
    let mut s = spec();
    s.gpu = GpuBinding::Gpus {
        uuids: vec!["GPU-aaa".into(), "GPU-bbb".into()],
        indices: vec![0, 1],
    };
    let body = container_body(&s, &owner()).unwrap();
    let reqs = host(&body).device_requests.clone().unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].driver.as_deref(), Some("nvidia"));
    assert_eq!(
        reqs[0].device_ids,
        Some(vec!["GPU-aaa".into(), "GPU-bbb".into()])
    );
    assert_eq!(
        reqs[0].capabilities,
        Some(vec![vec!["gpu".into(), "compute".into(), "utility".into()]])
    );
    assert_eq!(reqs[0].count, None, "device ids, not a count");
}

#[test]
fn a_mig_device_is_requested_by_its_uuid() {
    let mut s = spec();
    s.gpu = GpuBinding::MigDevice {
        uuid: "MIG-123".into(),
        profile: "3g.40gb".into(),
    };
    let body = container_body(&s, &owner()).unwrap();
    let reqs = host(&body).device_requests.clone().unwrap();
    assert_eq!(reqs[0].device_ids, Some(vec!["MIG-123".into()]));
}

#[test]
fn empty_gpu_bindings_are_deterministic_start_failures() {
    let mut s = spec();
    s.gpu = GpuBinding::Gpus {
        uuids: vec![],
        indices: vec![],
    };
    let e = container_body(&s, &owner()).unwrap_err();
    assert!(matches!(e, RuntimeError::StartFailed { .. }), "{e}");
    assert!(e.is_deterministic());
}

#[test]
fn mps_mounts_both_directories_sets_env_and_host_ipc() {
    let mut s = spec();
    s.gpu = GpuBinding::Gpus {
        uuids: vec!["GPU-1".into()],
        indices: vec![0],
    };
    s.mps = Some(mps());
    s.env
        .insert(ENV_MPS_ACTIVE_THREAD_PERCENTAGE.into(), "100".into());
    let body = container_body(&s, &owner()).unwrap();
    let env = body.env.clone().unwrap();
    assert!(env.contains(&"CUDA_MPS_PIPE_DIRECTORY=/run/wattsweep/mps/GPU-1/pipe".to_string()));
    assert!(env.contains(&"CUDA_MPS_LOG_DIRECTORY=/run/wattsweep/mps/GPU-1/log".to_string()));
    assert!(
        env.contains(&"CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=50".to_string()),
        "the MPS share wins over user env: {env:?}"
    );
    let h = host(&body);
    assert_eq!(h.ipc_mode.as_deref(), Some("host"));
    let mounts = h.mounts.clone().unwrap();
    assert_eq!(mounts.len(), 2);
    for (m, dir) in mounts.iter().zip([mps().pipe_dir, mps().log_dir]) {
        assert_eq!(m.typ, Some(MountType::BIND));
        assert_eq!(m.source.as_deref(), Some(dir.as_str()));
        assert_eq!(m.target.as_deref(), Some(dir.as_str()));
        assert_eq!(m.read_only, Some(false), "clients write to the pipes");
    }
    assert_eq!(h.privileged, Some(false));
    assert_eq!(h.cap_add, None);
}

#[test]
fn mps_refuses_a_private_ipc_namespace_and_mig_and_relative_paths() {
    let mut s = spec();
    s.mps = Some(mps());
    s.workload.ipc = Some("private".into());
    let e = container_body(&s, &owner()).unwrap_err();
    assert!(e.to_string().contains("host IPC"), "{e}");

    let mut s = spec();
    s.mps = Some(mps());
    s.gpu = GpuBinding::MigDevice {
        uuid: "MIG-1".into(),
        profile: "1g.10gb".into(),
    };
    assert!(container_body(&s, &owner()).unwrap_err().is_deterministic());

    let mut s = spec();
    s.mps = Some(MpsClient {
        pipe_dir: "relative/pipe".into(),
        ..mps()
    });
    let e = container_body(&s, &owner()).unwrap_err();
    assert!(e.to_string().contains("relative/pipe"), "{e}");
}

#[test]
fn shm_ipc_and_ulimits_map_with_memlock_unlimited() {
    let mut s = spec();
    s.workload.shm_size_mb = Some(2048);
    s.workload.ipc = Some("shareable".into());
    s.workload.ulimits = BTreeMap::from([
        ("memlock".to_string(), -1),
        ("stack".to_string(), 67_108_864),
    ]);
    let body = container_body(&s, &owner()).unwrap();
    let h = host(&body);
    assert_eq!(h.shm_size, Some(2048 * 1024 * 1024));
    assert_eq!(h.ipc_mode.as_deref(), Some("shareable"));
    let u = h.ulimits.clone().unwrap();
    assert_eq!(u.len(), 2);
    assert_eq!(u[0].name.as_deref(), Some("memlock"));
    assert_eq!((u[0].soft, u[0].hard), (Some(-1), Some(-1)));
    assert_eq!(u[1].name.as_deref(), Some("stack"));
    assert_eq!((u[1].soft, u[1].hard), (Some(67_108_864), Some(67_108_864)));
}

#[test]
fn bad_ipc_ulimit_shm_and_env_are_deterministic_and_named() {
    type Mutate = Box<dyn Fn(&mut LaunchSpec)>;
    let cases: Vec<(Mutate, &str)> = vec![
        (
            Box::new(|s| s.workload.ipc = Some("container:abc".into())),
            "container:abc",
        ),
        (
            Box::new(|s| {
                s.workload.ulimits.insert("bogus".into(), 1);
            }),
            "bogus",
        ),
        (
            Box::new(|s| {
                s.workload.ulimits.insert("nofile".into(), -2);
            }),
            "nofile",
        ),
        (
            Box::new(|s| s.workload.shm_size_mb = Some(u64::MAX)),
            "shm_size_mb",
        ),
        (
            Box::new(|s| {
                s.env.insert("A=B".into(), "x".into());
            }),
            "A=B",
        ),
    ];
    for (mutate, needle) in cases {
        let mut s = spec();
        mutate(&mut s);
        let e = container_body(&s, &owner()).unwrap_err();
        assert!(e.is_deterministic(), "{e}");
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
}

#[test]
fn missing_image_is_unsupported_and_unknown_placeholders_fail() {
    let mut s = spec();
    s.workload.image = None;
    let e = container_body(&s, &owner()).unwrap_err();
    assert!(
        matches!(
            e,
            RuntimeError::Unsupported {
                runtime: "docker",
                ..
            }
        ),
        "{e}"
    );
    let mut s = spec();
    s.workload.command.push("{level}".into());
    let e = container_body(&s, &owner()).unwrap_err();
    assert!(matches!(e, RuntimeError::UnknownPlaceholder { .. }), "{e}");
}

#[test]
fn allow_list_globs() {
    let allowed = vec![
        "wattsweep/*".to_string(),
        "nvcr.io/nvidia/pytorch:24.0?-py3".into(),
    ];
    assert!(check_image_allowed("wattsweep/gpu-burn:latest", &allowed).is_ok());
    assert!(check_image_allowed("nvcr.io/nvidia/pytorch:24.01-py3", &allowed).is_ok());
    let e = check_image_allowed("evil/miner:latest", &allowed).unwrap_err();
    assert!(matches!(e, RuntimeError::ImageNotAllowed { .. }));
    assert!(e.is_deterministic());
    let msg = e.to_string();
    assert!(
        msg.contains("evil/miner:latest") && msg.contains("wattsweep/*"),
        "{msg}"
    );
    let e = check_image_allowed("wattsweep/x", &[]).unwrap_err();
    assert!(e.to_string().contains("allow-list is empty"), "{e}");
}
