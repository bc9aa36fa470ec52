//! The Docker runtime: workload instances as containers of the node's Docker engine, driven through
//! its HTTP API on the unix socket (`bollard`).
//!
//! Why this shape: the engine may be much older than the API bollard speaks (Docker 20.10 answers
//! API 1.41 and refuses newer versions), so [`connect_engine`] negotiates the version once. The
//! mapping from a [`LaunchSpec`] to the create-container body is pure ([`spec`]); this file does the
//! engine calls in order (allow-list before any call, image present, create, start, follow logs)
//! and cleans up whatever a failed start left behind. Every container carries the owner labels, so
//! [`DockerRuntime::reconcile`] removes exactly this node's leftovers after a crash.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, RemoveContainerOptions,
};
use bollard::{API_DEFAULT_VERSION, Docker};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::runtime::{
    LaunchSpec, LogLine, Ownership, ReconcileReport, RuntimeError, WorkloadRuntime, labels,
};

mod handle;
pub mod logs;
pub mod procstat;
pub mod spec;

pub use handle::DockerHandle;
use spec::RUNTIME;

/// The engine's default socket.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How the Docker runtime is set up on a node.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// Whose containers these are (the agent's node id, put in every container's labels).
    pub owner: Ownership,
    /// Image globs (`*`, `?`) a workload may run, matched against the image as the workload names
    /// it; empty allows nothing.
    pub allow_images: Vec<String>,
    /// Where each container's output is kept, one `<container name>.log` per container.
    pub log_dir: PathBuf,
    /// The engine's unix socket.
    pub socket: PathBuf,
    /// Pull an image that is missing locally from its registry (off: a missing image fails the
    /// start deterministically).
    pub pull_missing: bool,
    /// Time limit of one engine request (stop requests get their grace on top).
    pub request_timeout: Duration,
}

impl DockerConfig {
    /// A configuration with the default socket, no pulling and a 120 s request limit.
    pub fn new(owner: Ownership, allow_images: Vec<String>, log_dir: impl Into<PathBuf>) -> Self {
        Self {
            owner,
            allow_images,
            log_dir: log_dir.into(),
            socket: PathBuf::from(DEFAULT_SOCKET),
            pull_missing: false,
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// Connect to the engine at `socket` and settle on an API version both sides speak: the engine's
/// own version, capped at the newest bollard knows.
pub async fn connect_engine(socket: &Path, timeout: Duration) -> Result<Docker, RuntimeError> {
    let unreachable = |e: &dyn std::fmt::Display| RuntimeError::Backend {
        runtime: RUNTIME,
        reason: format!(
            "cannot reach the Docker engine at unix://{} ({e}); Docker must be running and its \
             socket readable by the agent",
            socket.display()
        ),
    };
    let path = socket.to_str().ok_or_else(|| RuntimeError::Backend {
        runtime: RUNTIME,
        reason: format!("socket path {} is not UTF-8", socket.display()),
    })?;
    let docker = Docker::connect_with_unix(path, timeout.as_secs().max(1), API_DEFAULT_VERSION)
        .map_err(|e| unreachable(&e))?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| unreachable(&e))
}

/// The HTTP status of an engine error answer, if it was one.
pub(crate) fn status_code(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// An engine failure while doing `what`.
pub(crate) fn backend(what: impl std::fmt::Display, e: &bollard::errors::Error) -> RuntimeError {
    RuntimeError::Backend {
        runtime: RUNTIME,
        reason: format!("{what}: {e}"),
    }
}

/// Whether container labels mark it as started by `owner`'s agent.
pub fn is_owned(container_labels: &HashMap<String, String>, owner: &Ownership) -> bool {
    container_labels.get(labels::MANAGED).map(String::as_str) == Some("true")
        && container_labels.get(labels::NODE) == Some(&owner.node)
}

/// Runs workload instances as Docker containers.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    config: DockerConfig,
}

impl DockerRuntime {
    /// Connect to the engine named in `config` (negotiating the API version); fails when the engine
    /// is unreachable.
    pub async fn new(config: DockerConfig) -> Result<Self, RuntimeError> {
        let docker = connect_engine(&config.socket, config.request_timeout).await?;
        Ok(Self { docker, config })
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &DockerConfig {
        &self.config
    }

    /// The API version agreed with the engine (`1.41` for Docker 20.10).
    pub fn api_version(&self) -> String {
        let v = self.docker.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }

    async fn ensure_image(&self, name: &str, image: &str) -> Result<(), RuntimeError> {
        let e = match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if status_code(&e) == Some(404) => e,
            Err(e) => return Err(backend(format!("looking up image `{image}`"), &e)),
        };
        if !self.config.pull_missing {
            return Err(RuntimeError::StartFailed {
                name: name.to_string(),
                reason: format!(
                    "image `{image}` is not present on this node's Docker engine and pulling is \
                     off (pull_missing = false); build or load it on the node first ({e})"
                ),
            });
        }
        let options = CreateImageOptions {
            from_image: Some(image.to_string()),
            ..CreateImageOptions::default()
        };
        let mut pull = self.docker.create_image(Some(options), None, None);
        while let Some(step) = pull.next().await {
            match step {
                Ok(_) => {}
                Err(e) if status_code(&e) == Some(404) => {
                    return Err(RuntimeError::StartFailed {
                        name: name.to_string(),
                        reason: format!("image `{image}` is not in its registry: {e}"),
                    });
                }
                Err(e) => return Err(backend(format!("pulling image `{image}`"), &e)),
            }
        }
        Ok(())
    }

    /// Create the container; a leftover of this node with the same name (an earlier attempt whose
    /// agent died) is removed first, anybody else's is a deterministic failure.
    async fn create(
        &self,
        name: &str,
        body: bollard::models::ContainerCreateBody,
    ) -> Result<String, RuntimeError> {
        let options = || CreateContainerOptions {
            name: Some(name.to_string()),
            ..CreateContainerOptions::default()
        };
        let create_failed = |e: bollard::errors::Error| match status_code(&e) {
            Some(400 | 404 | 409 | 500) => RuntimeError::StartFailed {
                name: name.to_string(),
                reason: format!("the engine refused to create the container: {e}"),
            },
            _ => backend(format!("creating container {name}"), &e),
        };
        match self
            .docker
            .create_container(Some(options()), body.clone())
            .await
        {
            Ok(created) => return Ok(created.id),
            Err(e) if status_code(&e) == Some(409) => {}
            Err(e) => return Err(create_failed(e)),
        }
        let existing = self
            .docker
            .inspect_container(name, None)
            .await
            .map_err(|e| backend(format!("inspecting container {name}"), &e))?;
        let existing_labels = existing.config.and_then(|c| c.labels).unwrap_or_default();
        if !is_owned(&existing_labels, &self.config.owner) {
            return Err(RuntimeError::StartFailed {
                name: name.to_string(),
                reason: format!(
                    "a container named {name} already exists and is not node `{}`'s; it is left alone",
                    self.config.owner.node
                ),
            });
        }
        tracing::info!(
            container = name,
            "removing this node's leftover container of the same name"
        );
        remove_container(&self.docker, name).await?;
        self.docker
            .create_container(Some(options()), body)
            .await
            .map(|created| created.id)
            .map_err(create_failed)
    }
}

/// Remove a container with its anonymous volumes, by force; gone already is fine.
pub(crate) async fn remove_container(docker: &Docker, id: &str) -> Result<(), RuntimeError> {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        link: false,
    };
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        // 404: gone; 409: the engine is already removing it.
        Err(e) if matches!(status_code(&e), Some(404 | 409)) => Ok(()),
        Err(e) => Err(backend(format!("removing container {id}"), &e)),
    }
}

impl WorkloadRuntime for DockerRuntime {
    type Handle = DockerHandle;

    fn name(&self) -> &'static str {
        RUNTIME
    }

    async fn start(
        &self,
        spec: &LaunchSpec,
        logs: mpsc::Sender<LogLine>,
    ) -> Result<DockerHandle, RuntimeError> {
        // Everything deterministic is decided before the engine is asked anything.
        let image = spec::workload_image(spec)?;
        spec::check_image_allowed(image, &self.config.allow_images)?;
        let body = spec::container_body(spec, &self.config.owner)?;
        let name = spec.object_name();

        self.ensure_image(&name, image).await?;
        tokio::fs::create_dir_all(&self.config.log_dir)
            .await
            .map_err(|source| RuntimeError::Io {
                what: format!("creating log directory {}", self.config.log_dir.display()),
                source,
            })?;
        let log_path = self.config.log_dir.join(format!("{name}.log"));
        let log_file =
            tokio::fs::File::create(&log_path)
                .await
                .map_err(|source| RuntimeError::Io {
                    what: format!("creating container log file {}", log_path.display()),
                    source,
                })?;

        let id = self.create(&name, body).await?;
        if let Err(e) = self.docker.start_container(&id, None).await {
            let cleanup = remove_container(&self.docker, &id).await;
            if let Err(c) = cleanup {
                tracing::warn!(container = %name, error = %c, "cannot remove container after failed start");
            }
            return Err(match status_code(&e) {
                Some(400 | 404 | 500) => RuntimeError::StartFailed {
                    name,
                    reason: format!("the engine could not start the container: {e}"),
                },
                _ => backend(format!("starting container {name}"), &e),
            });
        }
        let task = tokio::spawn(logs::follow(
            self.docker.clone(),
            id.clone(),
            log_file,
            log_path.clone(),
            logs,
        ));
        Ok(DockerHandle::new(
            self.docker.clone(),
            id,
            name,
            log_path,
            task,
        ))
    }

    async fn reconcile(&self) -> Result<ReconcileReport, RuntimeError> {
        let node = &self.config.owner.node;
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}=true", labels::MANAGED),
                format!("{}={node}", labels::NODE),
            ],
        )]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..ListContainersOptions::default()
        };
        let found = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| backend("listing this node's containers", &e))?;
        let mut report = ReconcileReport::default();
        for c in found {
            // The engine filtered already; checking again keeps a filter mistake from ever
            // touching someone else's container.
            if !c
                .labels
                .as_ref()
                .is_some_and(|l| is_owned(l, &self.config.owner))
            {
                continue;
            }
            let Some(id) = c.id else { continue };
            let name = c
                .names
                .and_then(|n| n.into_iter().next())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_else(|| id.clone());
            remove_container(&self.docker, &id).await?;
            tracing::info!(container = %name, "removed a leftover container of this node");
            report.removed.push(name);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_engine_is_a_clear_backend_error() {
        let e = connect_engine(
            Path::new("/nonexistent/docker.sock"),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                e,
                RuntimeError::Backend {
                    runtime: "docker",
                    ..
                }
            ),
            "{e}"
        );
        assert!(!e.is_deterministic());
        let msg = e.to_string();
        assert!(
            msg.contains("/nonexistent/docker.sock") && msg.contains("Docker must be running"),
            "{msg}"
        );
    }

    #[test]
    fn ownership_needs_both_labels() {
        let owner = Ownership { node: "n1".into() };
        let l = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        assert!(is_owned(
            &l(&[(labels::MANAGED, "true"), (labels::NODE, "n1")]),
            &owner
        ));
        assert!(!is_owned(&l(&[(labels::NODE, "n1")]), &owner));
        assert!(!is_owned(
            &l(&[(labels::MANAGED, "true"), (labels::NODE, "n2")]),
            &owner
        ));
        assert!(!is_owned(
            &l(&[(labels::MANAGED, "false"), (labels::NODE, "n1")]),
            &owner
        ));
        assert!(!is_owned(&HashMap::new(), &owner));
    }
}
