//! Shared pieces of the Docker runtime tests: the engine connection (a test fails, never skips, when
//! Docker is not running), the busybox test image built once per context hash, launch specs, and a
//! guard that removes every container of a test's node ids even when the test fails.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::models::ContainerSummary;
use bollard::query_parameters::{BuildImageOptions, ListContainersOptions, RemoveContainerOptions};
use futures_util::StreamExt;
use uuid::Uuid;
use wattsweep_agent::runtime::docker::{DEFAULT_SOCKET, connect_engine};
use wattsweep_agent::runtime::{GpuBinding, LaunchSpec, labels};
use wattsweep_shared::model::{MetricSpec, ReadySpec, WorkloadSpec};

/// The test image's repository; the tag is the context's hash.
pub const IMAGE_REPO: &str = "wattsweep-test/busybox";
/// Allow-list glob matching the test image.
pub const IMAGE_GLOB: &str = "wattsweep-test/busybox:*";
/// The static busybox copied into the image (Debian `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";

/// The engine, or a failure saying Docker must run.
pub async fn engine() -> Docker {
    match connect_engine(Path::new(DEFAULT_SOCKET), Duration::from_secs(120)).await {
        Ok(d) => d,
        Err(e) => panic!(
            "Docker must be running for the Docker runtime tests (socket {DEFAULT_SOCKET}): {e}"
        ),
    }
}

fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

fn context_files() -> Vec<(&'static str, Vec<u8>)> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker");
    let read = |p: &Path| {
        std::fs::read(p).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}); the Docker tests need Debian's busybox-static installed",
                p.display()
            )
        })
    };
    vec![
        ("Dockerfile", read(&fixtures.join("Dockerfile"))),
        ("entrypoint.sh", read(&fixtures.join("entrypoint.sh"))),
        ("busybox", read(Path::new(BUSYBOX))),
    ]
}

static BUILD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test image's tag, building it through the engine's build API when this context was never
/// built on this engine.
pub async fn test_image(docker: &Docker) -> String {
    let files = context_files();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for (name, bytes) in &files {
        fnv1a(&mut hash, name.as_bytes());
        fnv1a(&mut hash, &(bytes.len() as u64).to_le_bytes());
        fnv1a(&mut hash, bytes);
    }
    let tag = format!("{IMAGE_REPO}:{hash:016x}");
    let _one_build_at_a_time = BUILD.lock().await;
    if docker.inspect_image(&tag).await.is_ok() {
        return tag;
    }
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(if *name == "Dockerfile" { 0o644 } else { 0o755 });
        header.set_cksum();
        tar.append_data(&mut header, name, bytes.as_slice())
            .unwrap();
    }
    let context = tar.into_inner().unwrap();
    let options = BuildImageOptions {
        t: Some(tag.clone()),
        rm: true,
        forcerm: true,
        ..BuildImageOptions::default()
    };
    let mut build = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(step) = build.next().await {
        let info = step.unwrap_or_else(|e| panic!("building test image {tag}: {e}"));
        if let Some(detail) = info.error_detail {
            panic!("building test image {tag}: {detail:?}");
        }
    }
    docker
        .inspect_image(&tag)
        .await
        .unwrap_or_else(|e| panic!("test image {tag} missing after its build: {e}"));
    tag
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 bits that differ per call, process and time (no RNG needed).
pub fn unique_u64(salt: &str) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    fnv1a(&mut h, salt.as_bytes());
    fnv1a(&mut h, &std::process::id().to_le_bytes());
    fnv1a(&mut h, &nanos.to_le_bytes());
    fnv1a(
        &mut h,
        &COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes(),
    );
    h
}

/// A node id no other test run shares.
pub fn unique_node(test: &str) -> String {
    format!("wstest-{test}-{:012x}", unique_u64(test) >> 16)
}

/// A task id whose first 8 hex digits (they name the containers) differ per call.
pub fn unique_task() -> Uuid {
    let hi = unique_u64("task-hi");
    let lo = unique_u64("task-lo");
    Uuid::from_u128((u128::from(hi) << 64) | u128::from(lo))
}

/// The test workload: `ready` marks readiness, `fom=<x> items/s` is the figure of merit.
pub fn workload(image: Option<&str>, command: &[&str]) -> WorkloadSpec {
    WorkloadSpec {
        name: "busybox-burn".into(),
        image: image.map(str::to_string),
        command: command.iter().map(|s| s.to_string()).collect(),
        metric: Some(MetricSpec {
            regex: r"fom=(\d+(?:\.\d+)?) items/s".into(),
            unit: "items/s".into(),
            higher_is_better: true,
        }),
        ready: Some(ReadySpec {
            log_regex: Some("^ready$".into()),
            timeout_s: 60,
        }),
        ..WorkloadSpec::default()
    }
}

/// A launch of `workload` as instance `instance` of `task`, without a GPU.
pub fn launch(task: Uuid, instance: u32, workload: WorkloadSpec) -> LaunchSpec {
    LaunchSpec {
        task_id: task,
        attempt: 1,
        instance,
        workload,
        gpu: GpuBinding::None,
        mps: None,
        substitutions: BTreeMap::new(),
        env: BTreeMap::from([("WATTSWEEP_TEST".to_string(), "1".to_string())]),
    }
}

/// Containers (all states) whose label `key` is `value`.
pub async fn containers_labelled(docker: &Docker, key: &str, value: &str) -> Vec<ContainerSummary> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![format!("{key}={value}")],
        )])),
        ..ListContainersOptions::default()
    };
    docker.list_containers(Some(options)).await.unwrap()
}

/// Names (without the leading `/`) of the containers of node `node`.
pub async fn names_of_node(docker: &Docker, node: &str) -> Vec<String> {
    let mut names: Vec<String> = containers_labelled(docker, labels::NODE, node)
        .await
        .into_iter()
        .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    names.sort();
    names
}

/// Removes, when dropped (also when the test panics), every container labelled with one of its
/// node ids and every container it was given by name.
pub struct Cleanup {
    pub nodes: Vec<String>,
    pub names: Vec<String>,
}

impl Cleanup {
    pub fn nodes(nodes: &[&str]) -> Self {
        Self {
            nodes: nodes.iter().map(|s| s.to_string()).collect(),
            names: Vec::new(),
        }
    }

    async fn run(nodes: Vec<String>, names: Vec<String>) {
        let docker = engine().await;
        let mut targets = names;
        for node in &nodes {
            for c in containers_labelled(&docker, labels::NODE, node).await {
                targets.extend(c.id);
            }
        }
        for t in targets {
            let options = RemoveContainerOptions {
                force: true,
                v: true,
                link: false,
            };
            match docker.remove_container(&t, Some(options)).await {
                Ok(()) => eprintln!("cleanup: removed container {t}"),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => eprintln!("cleanup: cannot remove container {t}: {e}"),
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        let names = std::mem::take(&mut self.names);
        // Drop may run inside the test's runtime: clean up from a thread with its own.
        let done = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(Self::run(nodes, names));
        })
        .join();
        if done.is_err() {
            eprintln!("cleanup thread panicked; containers of this test may be left over");
        }
    }
}
