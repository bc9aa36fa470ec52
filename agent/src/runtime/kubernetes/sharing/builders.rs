//! The pure half of the sharing setup: the device plugin config entry, the ConfigMap and node
//! label patches, and what a Node's labels and allocatable resources say about progress.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Node};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::super::labels;
use super::super::pod::GPU_RESOURCE;

/// Node label selecting the device plugin's config entry.
pub const DEVICE_PLUGIN_CONFIG_LABEL: &str = "nvidia.com/device-plugin.config";
/// Node label naming the MIG layout the MIG manager applies.
pub const MIG_CONFIG_LABEL: &str = "nvidia.com/mig.config";
/// Node label where the MIG manager reports progress (`pending`, `success`, `failed`, ...).
pub const MIG_STATE_LABEL: &str = "nvidia.com/mig.config.state";

/// Name of the device plugin config entry for `replicas` time-sliced replicas per GPU.
pub fn time_slicing_entry(replicas: u32) -> String {
    format!("wattsweep-ts-{replicas}")
}

/// The device plugin config (YAML, the GPU operator's documented time-slicing example) sharing
/// every GPU as `replicas` time-sliced replicas under the unchanged name `nvidia.com/gpu`.
pub fn time_slicing_config(replicas: u32) -> String {
    format!(
        "version: v1\nflags:\n  migStrategy: none\nsharing:\n  timeSlicing:\n    resources:\n    \
         - name: {GPU_RESOURCE}\n      replicas: {replicas}\n"
    )
}

/// The ConfigMap holding one config entry, labelled as wattsweep's.
pub fn config_map_manifest(name: &str, namespace: &str, entry: &str, config: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(
                labels::MANAGED.to_string(),
                "true".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(entry.to_string(), config.to_string())])),
        ..ConfigMap::default()
    }
}

/// Merge patch adding or replacing one entry of a ConfigMap, leaving the others.
pub fn config_map_patch(entry: &str, config: &str) -> Value {
    json!({ "data": { entry: config } })
}

/// Merge patch setting node labels (`None` removes the label); touches nothing else.
pub fn label_patch(labels: &BTreeMap<String, Option<String>>) -> Value {
    json!({ "metadata": { "labels": labels } })
}

/// The current values of `keys` among the node's labels.
pub fn current_labels(node: &Node, keys: &[&str]) -> BTreeMap<String, Option<String>> {
    let have = node.metadata.labels.as_ref();
    keys.iter()
        .map(|k| (k.to_string(), have.and_then(|l| l.get(*k)).cloned()))
        .collect()
}

/// The value of one of the node's labels.
pub fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

/// The node's allocatable count of an extended resource.
pub fn allocatable(node: &Node, resource: &str) -> Option<u64> {
    node.status
        .as_ref()?
        .allocatable
        .as_ref()?
        .get(resource)?
        .0
        .parse()
        .ok()
}

/// What the node says about a MIG change to `config`: `None` still going, `Some(true)` done (and
/// every resource of `expect` allocatable in its count), `Some(false)` failed.
pub fn mig_outcome(node: &Node, config: &str, expect: &BTreeMap<String, u64>) -> Option<bool> {
    if label(node, MIG_CONFIG_LABEL) != Some(config) {
        return None;
    }
    match label(node, MIG_STATE_LABEL) {
        Some("failed") => Some(false),
        Some("success") if expect.iter().all(|(r, n)| allocatable(node, r) == Some(*n)) => {
            Some(true)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(labels: Value, allocatable: Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n", "labels": labels},
            "status": {"allocatable": allocatable},
        }))
        .unwrap()
    }

    #[test]
    fn time_slicing_config_is_the_operators_format() {
        let parsed: Value = serde_yaml_ng::from_str(&time_slicing_config(3)).unwrap();
        assert_eq!(
            parsed,
            json!({
                "version": "v1",
                "flags": {"migStrategy": "none"},
                "sharing": {"timeSlicing": {
                    "resources": [{"name": "nvidia.com/gpu", "replicas": 3}],
                }},
            })
        );
        assert_eq!(time_slicing_entry(3), "wattsweep-ts-3");
    }

    #[test]
    fn patches_touch_only_their_keys() {
        assert_eq!(
            config_map_patch("wattsweep-ts-2", "x"),
            json!({"data": {"wattsweep-ts-2": "x"}})
        );
        let labels = BTreeMap::from([
            (
                MIG_CONFIG_LABEL.to_string(),
                Some("all-3g.40gb".to_string()),
            ),
            (MIG_STATE_LABEL.to_string(), None),
        ]);
        assert_eq!(
            label_patch(&labels),
            json!({"metadata": {"labels": {
                "nvidia.com/mig.config": "all-3g.40gb",
                "nvidia.com/mig.config.state": null,
            }}})
        );
        let cm = serde_json::to_value(config_map_manifest("cm", "gpu-operator", "e", "c")).unwrap();
        assert_eq!(cm["data"], json!({"e": "c"}));
        assert_eq!(cm["metadata"]["labels"]["dev.wattsweep.managed"], "true");
    }

    #[test]
    fn reads_labels_and_allocatable() {
        let n = node(
            json!({"a": "1"}),
            json!({"nvidia.com/gpu": "6", "cpu": "64"}),
        );
        assert_eq!(
            current_labels(&n, &["a", "b"]),
            BTreeMap::from([("a".into(), Some("1".into())), ("b".into(), None)])
        );
        assert_eq!(allocatable(&n, "nvidia.com/gpu"), Some(6));
        assert_eq!(allocatable(&n, "nvidia.com/mig-1g.10gb"), None);
    }

    #[test]
    fn mig_outcome_needs_this_config_and_the_resources() {
        let expect = BTreeMap::from([("nvidia.com/mig-3g.40gb".to_string(), 2)]);
        let at = |cfg: &str, state: &str, n: &str| {
            node(
                json!({MIG_CONFIG_LABEL: cfg, MIG_STATE_LABEL: state}),
                json!({"nvidia.com/mig-3g.40gb": n}),
            )
        };
        assert_eq!(
            mig_outcome(&at("all-3g.40gb", "pending", "0"), "all-3g.40gb", &expect),
            None
        );
        assert_eq!(
            mig_outcome(&at("all-3g.40gb", "success", "0"), "all-3g.40gb", &expect),
            None
        );
        assert_eq!(
            mig_outcome(&at("all-3g.40gb", "success", "2"), "all-3g.40gb", &expect),
            Some(true)
        );
        assert_eq!(
            mig_outcome(&at("all-3g.40gb", "failed", "0"), "all-3g.40gb", &expect),
            Some(false)
        );
        // Another layout's success is not ours.
        assert_eq!(
            mig_outcome(&at("all-1g.10gb", "success", "2"), "all-3g.40gb", &expect),
            None
        );
    }
}
