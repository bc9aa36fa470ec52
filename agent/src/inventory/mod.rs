//! What this node has: host facts (name, CPUs, memory), the runtimes the agent can launch workloads
//! with, whether a BMC device is present, and every GPU as the backend reports it. The result is the
//! [`NodeInventory`] the agent registers with and sends in heartbeats, and what
//! `wattsweep-agent inventory` prints.
//!
//! File parsing is pure ([`parse_meminfo_total_mib`], [`parse_cpu_list`]); probing the machine is a
//! thin layer over them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use wattsweep_shared::model::{IpmiStatus, NodeInventory, Runtime};

use crate::gpu::{GpuBackend, GpuError};

/// The MPS control daemon's binary: MPS needs it on `PATH`.
pub const MPS_CONTROL: &str = "nvidia-cuda-mps-control";

/// Errors building the inventory.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The GPU backend failed.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// A host file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A host file did not have the expected shape.
    #[error("cannot parse {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// `MemTotal` of `/proc/meminfo`, MiB.
pub fn parse_meminfo_total_mib(text: &str) -> Result<u64, String> {
    let line = text
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .ok_or("no MemTotal line")?;
    let mut it = line["MemTotal:".len()..].split_ascii_whitespace();
    let value = it.next().ok_or("MemTotal has no value")?;
    let kib: u64 = value
        .parse()
        .map_err(|e| format!("MemTotal value {value:?}: {e}"))?;
    match it.next() {
        Some("kB") | None => Ok(kib / 1024),
        Some(unit) => Err(format!("MemTotal unit {unit:?}, expected kB")),
    }
}

/// Number of CPUs in a kernel CPU list (`0-63`, `0,2-5,8`), as in `/sys/devices/system/cpu/online`.
pub fn parse_cpu_list(text: &str) -> Result<u32, String> {
    let mut n = 0u32;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let num = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|e| format!("CPU number {s:?}: {e}"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return Err(format!("CPU range {part:?} is backwards"));
                }
                n += b - a + 1;
            }
            None => {
                num(part)?;
                n += 1;
            }
        }
    }
    if n == 0 {
        return Err("empty CPU list".into());
    }
    Ok(n)
}

/// A node id safe in NATS subjects: letters, digits, `-` and `_`; anything else becomes `-`.
pub fn node_id_from_hostname(hostname: &str) -> String {
    let id: String = hostname
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if id.is_empty() { "node".into() } else { id }
}

/// The first `name` in the directories of a `PATH` value.
pub fn find_on_path(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The runtimes available, from what was found: plain processes always.
pub fn runtimes(docker_reachable: bool, in_cluster: bool) -> Vec<Runtime> {
    let mut out = Vec::new();
    if docker_reachable {
        out.push(Runtime::Docker);
    }
    if in_cluster {
        out.push(Runtime::Kubernetes);
    }
    out.push(Runtime::Process);
    out
}

/// The Docker engine's socket: `DOCKER_HOST` when it is a `unix://` address, else the default.
pub fn docker_socket(docker_host: Option<&str>) -> PathBuf {
    docker_host
        .and_then(|h| h.strip_prefix("unix://"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

/// Host facts.
#[derive(Debug, Clone, PartialEq)]
pub struct HostFacts {
    /// Host name.
    pub hostname: String,
    /// Logical CPUs online.
    pub cpus: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// Runtimes found.
    pub runtimes: Vec<Runtime>,
    /// BMC device present (`/dev/ipmi0`): [`IpmiStatus::Reachable`], else absent. The IPMI sampler
    /// refines this.
    pub ipmi: IpmiStatus,
    /// The MPS control binary is on `PATH`.
    pub mps_control: bool,
}

fn read(path: &Path) -> Result<String, InventoryError> {
    std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Probe this machine.
pub fn host_facts() -> Result<HostFacts, InventoryError> {
    let hostname = read(Path::new("/proc/sys/kernel/hostname"))?
        .trim()
        .to_string();
    let cpu_path = Path::new("/sys/devices/system/cpu/online");
    let cpus = match std::fs::read_to_string(cpu_path) {
        Ok(text) => parse_cpu_list(&text).map_err(|message| InventoryError::Parse {
            path: cpu_path.to_path_buf(),
            message,
        })?,
        Err(_) => std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(1),
    };
    let mem_path = Path::new("/proc/meminfo");
    let memory_mib =
        parse_meminfo_total_mib(&read(mem_path)?).map_err(|message| InventoryError::Parse {
            path: mem_path.to_path_buf(),
            message,
        })?;
    let socket = docker_socket(std::env::var("DOCKER_HOST").ok().as_deref());
    let docker = std::os::unix::net::UnixStream::connect(&socket).is_ok();
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        && Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token").exists();
    let ipmi = ["/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0"]
        .iter()
        .any(|p| Path::new(p).exists());
    let mps_control = std::env::var_os("PATH")
        .and_then(|p| find_on_path(MPS_CONTROL, &p))
        .is_some();
    Ok(HostFacts {
        hostname,
        cpus,
        memory_mib,
        runtimes: runtimes(docker, in_cluster),
        ipmi: if ipmi {
            IpmiStatus::Reachable
        } else {
            IpmiStatus::Absent
        },
        mps_control,
    })
}

/// The node's inventory: host facts plus every GPU of `backend`. A real GPU is MPS-capable only if
/// its compute mode allows it (the backend's answer) and the MPS control binary is on `PATH`.
pub fn node_inventory(
    node_id: &str,
    host: &HostFacts,
    backend: &dyn GpuBackend,
) -> Result<NodeInventory, InventoryError> {
    let mut gpus = backend.inventory()?;
    for g in &mut gpus {
        if !g.simulated {
            g.mps_capable &= host.mps_control;
        }
    }
    Ok(NodeInventory {
        node_id: node_id.to_string(),
        hostname: host.hostname.clone(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        cpus: host.cpus,
        memory_mib: host.memory_mib,
        runtimes: host.runtimes.clone(),
        ipmi: host.ipmi,
        gpus,
    })
}

#[cfg(test)]
mod tests;
