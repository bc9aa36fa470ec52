//! Inventory parsers on captured text, and the node inventory over a scripted backend.

use proptest::prelude::*;
use wattsweep_shared::model::GpuInventory;

use super::*;
use crate::gpu::{BackendKind, DriverInfo, ExistingGpuInstance, GpuStatus, PowerSample};

/// The head of `/proc/meminfo` captured on a 24 GiB build machine.
const MEMINFO: &str = "MemTotal:       24684084 kB
MemFree:         1371320 kB
MemAvailable:   19001060 kB
Buffers:          545956 kB
";

#[test]
fn meminfo_total() {
    assert_eq!(parse_meminfo_total_mib(MEMINFO), Ok(24684084 / 1024));
    assert!(
        parse_meminfo_total_mib("MemFree: 1 kB\n")
            .unwrap_err()
            .contains("MemTotal")
    );
    assert!(
        parse_meminfo_total_mib("MemTotal: 12 MB\n")
            .unwrap_err()
            .contains("kB")
    );
}

#[test]
fn cpu_lists() {
    assert_eq!(parse_cpu_list("0-1\n"), Ok(2));
    assert_eq!(parse_cpu_list("0-63"), Ok(64));
    assert_eq!(parse_cpu_list("0,2-5,8"), Ok(6));
    assert!(parse_cpu_list("").is_err());
    assert!(parse_cpu_list("5-3").is_err());
    assert!(parse_cpu_list("a").is_err());
}

#[test]
fn node_ids_are_subject_safe() {
    assert_eq!(
        node_id_from_hostname("gpu-node-01.example.org\n"),
        "gpu-node-01-example-org"
    );
    assert_eq!(node_id_from_hostname("a b*c>"), "a-b-c-");
    assert_eq!(node_id_from_hostname(""), "node");
}

#[test]
fn runtimes_always_include_processes() {
    assert_eq!(runtimes(false, false), vec![Runtime::Process]);
    assert_eq!(
        runtimes(true, true),
        vec![Runtime::Docker, Runtime::Kubernetes, Runtime::Process]
    );
    assert_eq!(docker_socket(None), PathBuf::from("/var/run/docker.sock"));
    assert_eq!(
        docker_socket(Some("unix:///run/user/1000/docker.sock")),
        PathBuf::from("/run/user/1000/docker.sock")
    );
    assert_eq!(
        docker_socket(Some("tcp://10.0.0.1:2375")),
        PathBuf::from("/var/run/docker.sock")
    );
}

#[test]
fn find_on_path_finds_files_only() {
    let dir = std::env::temp_dir().join(format!("wattsweep-path-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(MPS_CONTROL).with_extension("d")).unwrap();
    std::fs::write(dir.join(MPS_CONTROL), "").unwrap();
    let path = std::env::join_paths([PathBuf::from("/nonexistent"), dir.clone()]).unwrap();
    assert_eq!(
        find_on_path(MPS_CONTROL, &path),
        Some(dir.join(MPS_CONTROL))
    );
    assert_eq!(find_on_path("nvidia-cuda-mps-control.d", &path), None);
    assert_eq!(find_on_path("absent", &path), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn this_host_is_probed() {
    let h = host_facts().unwrap();
    assert!(!h.hostname.is_empty());
    assert!(h.cpus >= 1 && h.memory_mib > 0);
    assert_eq!(h.runtimes.last(), Some(&Runtime::Process));
}

struct Gpus(Vec<GpuInventory>);

impl GpuBackend for Gpus {
    fn kind(&self) -> BackendKind {
        BackendKind::Simulated
    }
    fn driver_info(&self) -> Result<DriverInfo, GpuError> {
        Ok(DriverInfo::default())
    }
    fn inventory(&self) -> Result<Vec<GpuInventory>, GpuError> {
        Ok(self.0.clone())
    }
    fn power_samples(&self, gpu: u32, _: u64) -> Result<Vec<PowerSample>, GpuError> {
        Err(GpuError::NoSuchGpu(gpu))
    }
    fn instant_power_w(&self, gpu: u32) -> Result<f64, GpuError> {
        Err(GpuError::NoSuchGpu(gpu))
    }
    fn energy_mj(&self, gpu: u32) -> Result<u64, GpuError> {
        Err(GpuError::NoSuchGpu(gpu))
    }
    fn status(&self, gpu: u32) -> Result<GpuStatus, GpuError> {
        Err(GpuError::NoSuchGpu(gpu))
    }
    fn mig_instances(&self, gpu: u32) -> Result<Vec<ExistingGpuInstance>, GpuError> {
        Err(GpuError::NoSuchGpu(gpu))
    }
    fn create_gpu_instance(&self, gpu: u32, _: u32, _: u8) -> Result<u32, GpuError> {
        Err(GpuError::NoSuchGpu(gpu))
    }
    fn create_compute_instance(&self, gpu: u32, _: u32, _: u32, _: u8) -> Result<u32, GpuError> {
        Err(GpuError::NoSuchGpu(gpu))
    }
    fn destroy_compute_instance(&self, gpu: u32, _: u32, _: u32) -> Result<(), GpuError> {
        Err(GpuError::NoSuchGpu(gpu))
    }
    fn destroy_gpu_instance(&self, gpu: u32, _: u32) -> Result<(), GpuError> {
        Err(GpuError::NoSuchGpu(gpu))
    }
}

#[test]
fn mps_needs_the_control_binary_except_on_simulated_gpus() {
    let real = GpuInventory {
        index: 0,
        uuid: "GPU-a".into(),
        mps_capable: true,
        ..GpuInventory::default()
    };
    let sim = GpuInventory {
        index: 1,
        uuid: "GPU-b".into(),
        mps_capable: true,
        simulated: true,
        ..GpuInventory::default()
    };
    let backend = Gpus(vec![real, sim]);
    let host = HostFacts {
        hostname: "h".into(),
        cpus: 4,
        memory_mib: 1024,
        runtimes: vec![Runtime::Process],
        ipmi: IpmiStatus::Absent,
        mps_control: false,
    };
    let inv = node_inventory("h", &host, &backend).unwrap();
    assert_eq!(
        (inv.gpus[0].mps_capable, inv.gpus[1].mps_capable),
        (false, true)
    );
    assert_eq!(
        (inv.node_id.as_str(), inv.cpus, inv.memory_mib),
        ("h", 4, 1024)
    );
    assert_eq!(inv.agent_version, env!("CARGO_PKG_VERSION"));
    let inv = node_inventory(
        "h",
        &HostFacts {
            mps_control: true,
            ..host
        },
        &backend,
    )
    .unwrap();
    assert!(inv.gpus[0].mps_capable);
}

proptest! {
    /// Any list of disjoint ranges counts its CPUs.
    #[test]
    fn cpu_list_counts(ranges in proptest::collection::vec((0u32..8, 0u32..8), 1..6)) {
        let mut start = 0u32;
        let mut parts = Vec::new();
        let mut expected = 0;
        for (gap, len) in ranges {
            let a = start + gap;
            let b = a + len;
            parts.push(if len == 0 { a.to_string() } else { format!("{a}-{b}") });
            expected += len + 1;
            start = b + 2;
        }
        prop_assert_eq!(parse_cpu_list(&parts.join(",")), Ok(expected));
    }

    /// Node ids only hold subject-safe characters.
    #[test]
    fn node_ids_are_safe(h in "\\PC{0,30}") {
        let id = node_id_from_hostname(&h);
        prop_assert!(!id.is_empty());
        prop_assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
