//! Putting this node's GPUs into a sharing mode through NVIDIA's Kubernetes components, before a
//! task's instances start, and putting the node back afterwards.
//!
//! - **Time-slicing** goes through the device plugin's sharing config (the GPU operator's
//!   documented format): an entry `timeSlicing.resources[{name: nvidia.com/gpu, replicas: N}]` in
//!   a ConfigMap the operator's ClusterPolicy names (`devicePlugin.config.name`), selected for this
//!   node by the label `nvidia.com/device-plugin.config=<entry>`. Done when the Node's
//!   `status.allocatable["nvidia.com/gpu"]` is GPUs × N.
//! - **MIG** goes through the GPU operator's MIG manager: the label `nvidia.com/mig.config=<name>`
//!   (a named layout of the operator's mig-parted ConfigMap). Done when the manager reports
//!   `nvidia.com/mig.config.state=success` (and, when asked, the MIG resources are allocatable);
//!   `failed` ends at once. The same patch removes the old state label, so the previous layout's
//!   `success` is never mistaken for the new one's.
//!
//! Each apply returns a [`Restore`] with the labels it replaced; [`NodeSharing::restore`] puts
//! them back. Deadlines are watched on the Node object, never polled. The ConfigMap data, the
//! patches and the readiness decisions are pure functions ([`builders`]), unit-tested there.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{Api, Patch, PatchParams, PostParams};

use super::pod::GPU_RESOURCE;
use super::watch::{Seen, watch_until};

pub mod builders;

pub use builders::*;

/// Where the NVIDIA components of this cluster live.
#[derive(Debug, Clone)]
pub struct SharingConfig {
    /// This node's Node name.
    pub node_name: String,
    /// Namespace of the GPU operator / device plugin (`gpu-operator`).
    pub device_plugin_namespace: String,
    /// The device plugin's config ConfigMap (the one the ClusterPolicy names).
    pub config_map: String,
    /// Longest wait for the node to show the new sharing mode.
    pub timeout: Duration,
}

impl SharingConfig {
    /// Defaults: namespace `gpu-operator`, ConfigMap `wattsweep-device-plugin-config`, 10 min
    /// (a MIG change may restart GPU clients).
    pub fn new(node_name: impl Into<String>) -> Self {
        Self {
            node_name: node_name.into(),
            device_plugin_namespace: "gpu-operator".to_string(),
            config_map: "wattsweep-device-plugin-config".to_string(),
            timeout: Duration::from_secs(600),
        }
    }
}

/// Why a sharing setup failed.
#[derive(Debug, thiserror::Error)]
pub enum SharingError {
    /// Time-slicing needs at least 2 replicas per GPU.
    #[error("time-slicing needs at least 2 replicas per GPU, got {0}")]
    InvalidReplicas(u32),
    /// A request to the API server failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The client's error.
        source: kube::Error,
    },
    /// The node did not reach the wanted state in time.
    #[error("node {node}: {what} not seen within {waited:?}")]
    Timeout {
        /// Node name.
        node: String,
        /// What was awaited.
        what: String,
        /// The deadline.
        waited: Duration,
    },
    /// The MIG manager reported `failed`.
    #[error("node {node}: the MIG manager failed to apply `{config}` ({MIG_STATE_LABEL}=failed)")]
    MigFailed {
        /// Node name.
        node: String,
        /// The MIG config name.
        config: String,
    },
    /// The Node object went away while we waited.
    #[error("node {0} was deleted while its sharing mode changed")]
    NodeGone(String),
}

/// Node labels as they were before a sharing setup (`None`: absent), to put back afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Restore {
    /// Label → previous value.
    pub previous: BTreeMap<String, Option<String>>,
    /// Label → value the setup set.
    pub applied: BTreeMap<String, Option<String>>,
}

/// Applies and undoes sharing modes on this node.
#[derive(Debug, Clone)]
pub struct NodeSharing {
    nodes: Api<Node>,
    config_maps: Api<ConfigMap>,
    config: SharingConfig,
}

impl NodeSharing {
    /// Sharing setup for `config.node_name` through `client`.
    pub fn new(client: kube::Client, config: SharingConfig) -> Self {
        Self {
            nodes: Api::all(client.clone()),
            config_maps: Api::namespaced(client, &config.device_plugin_namespace),
            config,
        }
    }

    fn api(&self, what: &str) -> impl FnOnce(kube::Error) -> SharingError + '_ {
        let what = format!("{what} (node {})", self.config.node_name);
        move |source| SharingError::Api { what, source }
    }

    async fn node(&self) -> Result<Node, SharingError> {
        self.nodes
            .get(&self.config.node_name)
            .await
            .map_err(self.api("reading the node"))
    }

    async fn patch_labels(
        &self,
        labels: &BTreeMap<String, Option<String>>,
    ) -> Result<Node, SharingError> {
        self.nodes
            .patch(
                &self.config.node_name,
                &PatchParams::default(),
                &Patch::Merge(label_patch(labels)),
            )
            .await
            .map_err(self.api("labelling the node"))
    }

    /// Check `node`, then watch it, until `done` says `Some`, within the deadline.
    async fn until(
        &self,
        node: &Node,
        what: &str,
        mut done: impl FnMut(&Node) -> Option<Result<(), SharingError>>,
    ) -> Result<(), SharingError> {
        if let Some(out) = done(node) {
            return out;
        }
        let name = self.config.node_name.clone();
        let mut rv = node.metadata.resource_version.clone().unwrap_or_default();
        let watch = watch_until(&self.nodes, &name, &mut rv, |seen| match seen {
            Seen::Present(n) => done(n),
            Seen::Deleted(_) | Seen::Missing => Some(Err(SharingError::NodeGone(name.clone()))),
        });
        match tokio::time::timeout(self.config.timeout, watch).await {
            Ok(result) => result.map_err(self.api("watching the node"))?,
            Err(_elapsed) => Err(SharingError::Timeout {
                node: self.config.node_name.clone(),
                what: what.to_string(),
                waited: self.config.timeout,
            }),
        }
    }

    /// Share each of the node's `gpus` GPUs as `replicas` time-sliced replicas; returns once the
    /// node offers `gpus × replicas` `nvidia.com/gpu`.
    pub async fn apply_time_slicing(
        &self,
        gpus: u32,
        replicas: u32,
    ) -> Result<Restore, SharingError> {
        if replicas < 2 {
            return Err(SharingError::InvalidReplicas(replicas));
        }
        let before = self.node().await?;
        let entry = time_slicing_entry(replicas);
        let config = time_slicing_config(replicas);
        self.write_entry(&entry, &config).await?;
        let applied = BTreeMap::from([(DEVICE_PLUGIN_CONFIG_LABEL.to_string(), Some(entry))]);
        let restore = Restore {
            previous: current_labels(&before, &[DEVICE_PLUGIN_CONFIG_LABEL]),
            applied: applied.clone(),
        };
        let node = self.patch_labels(&applied).await?;
        let want = u64::from(gpus) * u64::from(replicas);
        self.until(
            &node,
            &format!("allocatable {GPU_RESOURCE} = {want}"),
            |n| (allocatable(n, GPU_RESOURCE) == Some(want)).then_some(Ok(())),
        )
        .await?;
        Ok(restore)
    }

    async fn write_entry(&self, entry: &str, config: &str) -> Result<(), SharingError> {
        let name = &self.config.config_map;
        let current = self
            .config_maps
            .get_opt(name)
            .await
            .map_err(self.api("reading the device plugin ConfigMap"))?;
        match current {
            None => {
                let cm =
                    config_map_manifest(name, &self.config.device_plugin_namespace, entry, config);
                match self.config_maps.create(&PostParams::default(), &cm).await {
                    Ok(_) => Ok(()),
                    // Created by another agent in between: fall through to the patch.
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        self.patch_entry(entry, config).await
                    }
                    Err(e) => Err(self.api("creating the device plugin ConfigMap")(e)),
                }
            }
            Some(cm)
                if cm
                    .data
                    .as_ref()
                    .and_then(|d| d.get(entry))
                    .map(String::as_str)
                    == Some(config) =>
            {
                Ok(())
            }
            Some(_) => self.patch_entry(entry, config).await,
        }
    }

    async fn patch_entry(&self, entry: &str, config: &str) -> Result<(), SharingError> {
        self.config_maps
            .patch(
                &self.config.config_map,
                &PatchParams::default(),
                &Patch::Merge(config_map_patch(entry, config)),
            )
            .await
            .map(drop)
            .map_err(self.api("updating the device plugin ConfigMap"))
    }

    /// Apply the MIG manager's named layout `config`; returns once the manager reports success
    /// and each resource of `expect` (`nvidia.com/mig-3g.40gb` → 2) is allocatable in that count.
    pub async fn apply_mig(
        &self,
        config: &str,
        expect: &BTreeMap<String, u64>,
    ) -> Result<Restore, SharingError> {
        let before = self.node().await?;
        let restore = Restore {
            previous: current_labels(&before, &[MIG_CONFIG_LABEL]),
            applied: BTreeMap::from([(MIG_CONFIG_LABEL.to_string(), Some(config.to_string()))]),
        };
        let node = if label(&before, MIG_CONFIG_LABEL) == Some(config) {
            // Already asked for: the manager sees no change, so its state label stays valid.
            before
        } else {
            self.patch_labels(&BTreeMap::from([
                (MIG_CONFIG_LABEL.to_string(), Some(config.to_string())),
                (MIG_STATE_LABEL.to_string(), None),
            ]))
            .await?
        };
        self.wait_mig(&node, config, expect).await?;
        Ok(restore)
    }

    async fn wait_mig(
        &self,
        node: &Node,
        config: &str,
        expect: &BTreeMap<String, u64>,
    ) -> Result<(), SharingError> {
        let what = format!("{MIG_STATE_LABEL}=success for `{config}`");
        self.until(node, &what, |n| {
            mig_outcome(n, config, expect).map(|ok| {
                if ok {
                    Ok(())
                } else {
                    Err(SharingError::MigFailed {
                        node: self.config.node_name.clone(),
                        config: config.to_string(),
                    })
                }
            })
        })
        .await
    }

    /// Put back the labels a setup replaced. A MIG layout put back is awaited like a new one; a
    /// device plugin config is not (the next setup waits for its own).
    pub async fn restore(&self, restore: Restore) -> Result<(), SharingError> {
        let mut changes: BTreeMap<String, Option<String>> = restore
            .previous
            .into_iter()
            .filter(|(k, v)| restore.applied.get(k) != Some(v))
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let mig_back = changes.get(MIG_CONFIG_LABEL).cloned().flatten();
        if mig_back.is_some() {
            changes.insert(MIG_STATE_LABEL.to_string(), None);
        }
        let node = self.patch_labels(&changes).await?;
        if let Some(config) = mig_back {
            self.wait_mig(&node, &config, &BTreeMap::new()).await?;
        }
        Ok(())
    }
}
