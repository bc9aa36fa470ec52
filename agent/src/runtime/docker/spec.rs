//! From a [`LaunchSpec`] to the Docker engine's create-container body, and the image allow-list.
//!
//! Pure, so that every security-relevant decision (never privileged, no added capabilities, which
//! GPUs are visible, which host paths are mounted, which IPC namespace is shared) is visible and
//! unit-tested without an engine.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, DeviceRequest, HostConfig, Mount, MountType, ResourcesUlimits,
};
use wildmatch::WildMatch;

use crate::runtime::{GpuBinding, LaunchSpec, Ownership, RuntimeError};

/// The runtime's name in errors.
pub(crate) const RUNTIME: &str = "docker";

/// `CUDA_MPS_PIPE_DIRECTORY`.
pub const ENV_MPS_PIPE_DIRECTORY: &str = "CUDA_MPS_PIPE_DIRECTORY";
/// `CUDA_MPS_LOG_DIRECTORY`.
pub const ENV_MPS_LOG_DIRECTORY: &str = "CUDA_MPS_LOG_DIRECTORY";
/// `CUDA_MPS_ACTIVE_THREAD_PERCENTAGE`.
pub const ENV_MPS_ACTIVE_THREAD_PERCENTAGE: &str = "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE";

/// The device driver and capabilities the NVIDIA container toolkit serves.
const GPU_DRIVER: &str = "nvidia";
const GPU_CAPABILITIES: [&str; 3] = ["gpu", "compute", "utility"];

/// IPC modes a workload may ask for (`container:<id>` would join a foreign container's IPC).
const IPC_MODES: [&str; 4] = ["host", "private", "shareable", "none"];

/// Resource names the engine accepts in `--ulimit`.
const ULIMIT_NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Refuse `image` unless one of the `allowed` globs (`*`, `?`) matches it as written in the
/// workload (e.g. `wattsweep/*` allows `wattsweep/gpu-burn:latest`). An empty list allows nothing.
pub fn check_image_allowed(image: &str, allowed: &[String]) -> Result<(), RuntimeError> {
    if allowed.iter().any(|g| WildMatch::new(g).matches(image)) {
        return Ok(());
    }
    Err(RuntimeError::ImageNotAllowed {
        image: image.to_string(),
        allowed: if allowed.is_empty() {
            "nothing: the image allow-list is empty".to_string()
        } else {
            allowed.join(", ")
        },
    })
}

/// The image a workload runs, or [`RuntimeError::Unsupported`] when it names none.
pub fn workload_image(spec: &LaunchSpec) -> Result<&str, RuntimeError> {
    match spec.workload.image.as_deref() {
        Some(image) if !image.trim().is_empty() => Ok(image),
        _ => Err(unsupported(
            spec,
            "it names no container image (set `image` in the workload)".to_string(),
        )),
    }
}

/// The create-container body for `spec`, owned by `owner`: image, command (the image's entrypoint
/// is kept; the command replaces its `CMD`), environment (workload, then launch, then MPS, later
/// ones win), owner labels, GPU device request, MPS mounts and IPC, shared memory and ulimits.
/// Never privileged, no capabilities added.
pub fn container_body(
    spec: &LaunchSpec,
    owner: &Ownership,
) -> Result<ContainerCreateBody, RuntimeError> {
    let image = workload_image(spec)?;
    let command = spec.command()?;
    let mut env: BTreeMap<String, String> = spec.workload.env.clone();
    env.extend(spec.env.clone());
    let mut mounts = Vec::new();
    let mut ipc_mode = ipc_mode(spec)?;
    if let Some(mps) = &spec.mps {
        if matches!(spec.gpu, GpuBinding::MigDevice { .. }) {
            return Err(start_failed(spec, "MPS on a MIG device is not supported"));
        }
        if ipc_mode.as_deref().is_some_and(|m| m != "host") {
            return Err(unsupported(
                spec,
                format!(
                    "MPS clients need the host IPC namespace but the workload asks for ipc = `{}`",
                    ipc_mode.as_deref().unwrap_or_default()
                ),
            ));
        }
        ipc_mode = Some("host".to_string());
        for dir in [&mps.pipe_dir, &mps.log_dir] {
            mounts.push(bind_mount(spec, dir)?);
        }
        env.insert(ENV_MPS_PIPE_DIRECTORY.into(), mps.pipe_dir.clone());
        env.insert(ENV_MPS_LOG_DIRECTORY.into(), mps.log_dir.clone());
        env.insert(
            ENV_MPS_ACTIVE_THREAD_PERCENTAGE.into(),
            mps.active_thread_percentage.to_string(),
        );
    }
    let env = env
        .into_iter()
        .map(|(k, v)| {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                Err(unsupported(
                    spec,
                    format!("environment name `{k}` is invalid"),
                ))
            } else {
                Ok(format!("{k}={v}"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;

    let host_config = HostConfig {
        device_requests: device_requests(spec)?,
        mounts: (!mounts.is_empty()).then_some(mounts),
        ipc_mode,
        shm_size: shm_size(spec)?,
        ulimits: ulimits(spec)?,
        privileged: Some(false),
        cap_add: None,
        auto_remove: Some(false),
        ..HostConfig::default()
    };
    Ok(ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: (!command.is_empty()).then_some(command),
        env: Some(env),
        labels: Some(spec.labels(owner).into_iter().collect::<HashMap<_, _>>()),
        tty: Some(false),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(false),
        host_config: Some(host_config),
        ..ContainerCreateBody::default()
    })
}

fn device_requests(spec: &LaunchSpec) -> Result<Option<Vec<DeviceRequest>>, RuntimeError> {
    let ids = match &spec.gpu {
        GpuBinding::None => return Ok(None),
        GpuBinding::Gpus { uuids, .. } if uuids.is_empty() => {
            return Err(start_failed(spec, "the GPU binding names no GPU UUID"));
        }
        GpuBinding::Gpus { uuids, .. } => uuids.clone(),
        GpuBinding::MigDevice { uuid, .. } if uuid.is_empty() => {
            return Err(start_failed(
                spec,
                "the MIG binding names no MIG device UUID",
            ));
        }
        GpuBinding::MigDevice { uuid, .. } => vec![uuid.clone()],
    };
    Ok(Some(vec![DeviceRequest {
        driver: Some(GPU_DRIVER.to_string()),
        device_ids: Some(ids),
        capabilities: Some(vec![
            GPU_CAPABILITIES.iter().map(|c| c.to_string()).collect(),
        ]),
        ..DeviceRequest::default()
    }]))
}

fn bind_mount(spec: &LaunchSpec, dir: &str) -> Result<Mount, RuntimeError> {
    if !dir.starts_with('/') {
        return Err(start_failed(
            spec,
            &format!("MPS directory `{dir}` is not an absolute path"),
        ));
    }
    Ok(Mount {
        target: Some(dir.to_string()),
        source: Some(dir.to_string()),
        typ: Some(MountType::BIND),
        read_only: Some(false),
        ..Mount::default()
    })
}

fn ipc_mode(spec: &LaunchSpec) -> Result<Option<String>, RuntimeError> {
    match spec.workload.ipc.as_deref() {
        None => Ok(None),
        Some(mode) if IPC_MODES.contains(&mode) => Ok(Some(mode.to_string())),
        Some(mode) => Err(unsupported(
            spec,
            format!(
                "ipc = `{mode}` is not allowed (allowed: {})",
                IPC_MODES.join(", ")
            ),
        )),
    }
}

fn shm_size(spec: &LaunchSpec) -> Result<Option<i64>, RuntimeError> {
    let Some(mb) = spec.workload.shm_size_mb else {
        return Ok(None);
    };
    i64::try_from(mb)
        .ok()
        .and_then(|mb| mb.checked_mul(1024 * 1024))
        .filter(|bytes| *bytes > 0)
        .map(Some)
        .ok_or_else(|| {
            unsupported(
                spec,
                format!("shm_size_mb = {mb} is out of range (1 to 8796093022207)"),
            )
        })
}

fn ulimits(spec: &LaunchSpec) -> Result<Option<Vec<ResourcesUlimits>>, RuntimeError> {
    if spec.workload.ulimits.is_empty() {
        return Ok(None);
    }
    spec.workload
        .ulimits
        .iter()
        .map(|(name, &value)| {
            if !ULIMIT_NAMES.contains(&name.as_str()) {
                return Err(unsupported(
                    spec,
                    format!(
                        "ulimit `{name}` is unknown (known: {})",
                        ULIMIT_NAMES.join(", ")
                    ),
                ));
            }
            if value < -1 {
                return Err(unsupported(
                    spec,
                    format!("ulimit `{name}` = {value} is invalid (-1 means unlimited, else >= 0)"),
                ));
            }
            // -1 is the engine's "unlimited" for both soft and hard limits.
            Ok(ResourcesUlimits {
                name: Some(name.clone()),
                soft: Some(value),
                hard: Some(value),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn unsupported(spec: &LaunchSpec, reason: String) -> RuntimeError {
    RuntimeError::Unsupported {
        workload: spec.workload.name.clone(),
        runtime: RUNTIME,
        reason,
    }
}

fn start_failed(spec: &LaunchSpec, reason: &str) -> RuntimeError {
    RuntimeError::StartFailed {
        name: spec.object_name(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
