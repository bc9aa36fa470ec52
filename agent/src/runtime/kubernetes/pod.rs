//! The Pod an instance runs in, built from a [`LaunchSpec`] without touching the API server.
//!
//! Pure: everything that can be refused (image not on the allow-list, a workload this runtime
//! cannot express, a node id that is not a valid label value) is refused here, before any request
//! leaves the agent.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, Pod, PodSpec, ResourceRequirements, SecurityContext,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use wildmatch::WildMatch;

use crate::runtime::{GpuBinding, LaunchSpec, Ownership, RuntimeError};

use super::RUNTIME;

/// Name of the one container in every pod this runtime creates.
pub const CONTAINER: &str = "workload";

/// Extended resource of a whole GPU, or of one time-sliced replica of it.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

const SHM_VOLUME: &str = "dshm";

/// The images this node may run, as globs (`registry.example/wattsweep/*`). Empty allows nothing:
/// an agent that was given no list runs no pods.
#[derive(Debug, Clone)]
pub struct ImageAllowList {
    globs: Vec<String>,
    matchers: Vec<WildMatch>,
}

impl ImageAllowList {
    /// An allow-list of these globs (`*` and `?` wildcards).
    pub fn new(globs: &[String]) -> Self {
        Self {
            globs: globs.to_vec(),
            matchers: globs.iter().map(|g| WildMatch::new(g)).collect(),
        }
    }

    /// `Ok` when `image` matches one of the globs.
    pub fn check(&self, image: &str) -> Result<(), RuntimeError> {
        if self.matchers.iter().any(|m| m.matches(image)) {
            return Ok(());
        }
        Err(RuntimeError::ImageNotAllowed {
            image: image.to_string(),
            allowed: if self.globs.is_empty() {
                "nothing: the allow-list is empty".to_string()
            } else {
                self.globs.join(", ")
            },
        })
    }
}

/// The Kubernetes extended resource for a MIG device of `profile` under the device plugin's
/// `mixed` strategy: `nvidia.com/mig-3g.40gb`. The plugin writes a profile's `+` as `.`
/// (`1g.10gb+me` → `nvidia.com/mig-1g.10gb.me`).
pub fn mig_resource(profile: &str) -> Result<String, String> {
    let name = profile.replace('+', ".");
    let valid = !name.is_empty()
        && name.len() <= 59
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(format!("nvidia.com/mig-{name}"))
    } else {
        Err(format!(
            "MIG profile `{profile}` does not make a valid resource name `nvidia.com/mig-<profile>` \
             (allowed: lower-case letters, digits, `.`, `-`, `+`)"
        ))
    }
}

/// Whether `value` may be a label value: at most 63 characters, alphanumerics with `-`, `_`, `.`
/// inside, starting and ending alphanumeric (or empty).
pub fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

fn unsupported(spec: &LaunchSpec, reason: String) -> RuntimeError {
    RuntimeError::Unsupported {
        workload: spec.workload.name.clone(),
        runtime: RUNTIME,
        reason,
    }
}

/// The Pod for one instance: named [`LaunchSpec::object_name`], labelled with the owner labels,
/// bound to `node_name` (no scheduler involved), never restarted, one container running the
/// workload's image and command with its GPU resource limit, no privileges, nothing from the host.
pub fn pod_manifest(
    spec: &LaunchSpec,
    owner: &Ownership,
    namespace: &str,
    node_name: &str,
) -> Result<Pod, RuntimeError> {
    let image =
        spec.workload.image.clone().ok_or_else(|| {
            unsupported(spec, "the workload names no container image".to_string())
        })?;
    if spec.mps.is_some() {
        return Err(unsupported(
            spec,
            "MPS clients need the control daemon's pipe directory mounted from the host, and this \
             runtime mounts nothing from the host"
                .to_string(),
        ));
    }
    if spec.workload.ipc.as_deref() == Some("host") {
        return Err(unsupported(
            spec,
            "ipc = \"host\" would share the node's IPC namespace; pods here get none of the host's \
             namespaces (allowed: private, shareable, or unset)"
                .to_string(),
        ));
    }
    if !is_label_value(&owner.node) {
        return Err(unsupported(
            spec,
            format!(
                "node id `{}` is not a valid Kubernetes label value (at most 63 characters, \
                 letters, digits, `-`, `_`, `.`, alphanumeric at both ends)",
                owner.node
            ),
        ));
    }
    let mut limits = BTreeMap::new();
    match &spec.gpu {
        GpuBinding::Gpus { uuids, .. } if !uuids.is_empty() => {
            limits.insert(GPU_RESOURCE.to_string(), Quantity(uuids.len().to_string()));
        }
        GpuBinding::Gpus { .. } | GpuBinding::None => {}
        GpuBinding::MigDevice { profile, .. } => {
            let resource = mig_resource(profile).map_err(|reason| unsupported(spec, reason))?;
            limits.insert(resource, Quantity("1".to_string()));
        }
    }
    let mut env: BTreeMap<String, String> = spec.workload.env.clone();
    env.extend(spec.env.clone());
    let command = spec.command()?;

    let (volumes, mounts) = match spec.workload.shm_size_mb {
        Some(mb) => (
            Some(vec![Volume {
                name: SHM_VOLUME.to_string(),
                empty_dir: Some(EmptyDirVolumeSource {
                    medium: Some("Memory".to_string()),
                    size_limit: Some(Quantity(format!("{mb}Mi"))),
                }),
                ..Volume::default()
            }]),
            Some(vec![VolumeMount {
                name: SHM_VOLUME.to_string(),
                mount_path: "/dev/shm".to_string(),
                ..VolumeMount::default()
            }]),
        ),
        None => (None, None),
    };

    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(image),
        command: (!command.is_empty()).then_some(command),
        env: (!env.is_empty()).then(|| {
            env.into_iter()
                .map(|(name, value)| EnvVar {
                    name,
                    value: Some(value),
                    ..EnvVar::default()
                })
                .collect()
        }),
        resources: (!limits.is_empty()).then(|| ResourceRequirements {
            limits: Some(limits),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            privileged: Some(false),
            allow_privilege_escalation: Some(false),
            ..SecurityContext::default()
        }),
        volume_mounts: mounts,
        ..Container::default()
    };

    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(spec.object_name()),
            namespace: Some(namespace.to_string()),
            labels: Some(spec.labels(owner)),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node_name.to_string()),
            restart_policy: Some("Never".to_string()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            containers: vec![container],
            volumes,
            ..PodSpec::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::MpsClient;
    use uuid::Uuid;
    use wattsweep_shared::model::WorkloadSpec;

    fn spec(gpu: GpuBinding) -> LaunchSpec {
        LaunchSpec {
            task_id: Uuid::from_u128(0xabcdef01_2345_6789_abcd_ef0123456789),
            attempt: 2,
            instance: 1,
            workload: WorkloadSpec {
                name: "burn".into(),
                image: Some("wattsweep/gpu-burn:1".into()),
                command: vec!["gpu_burn".into(), "{run_s}".into()],
                env: BTreeMap::from([("A".into(), "workload".into()), ("B".into(), "b".into())]),
                ..WorkloadSpec::default()
            },
            gpu,
            mps: None,
            substitutions: BTreeMap::from([("run_s".into(), "330".into())]),
            env: BTreeMap::from([("A".into(), "launch".into())]),
        }
    }

    fn owner() -> Ownership {
        Ownership {
            node: "gpu-node-1".into(),
        }
    }

    fn build(s: &LaunchSpec) -> serde_json::Value {
        serde_json::to_value(pod_manifest(s, &owner(), "bench", "k8s-node-1").unwrap()).unwrap()
    }

    #[test]
    fn whole_gpu_pod_is_pinned_unprivileged_and_labelled() {
        let p = build(&spec(GpuBinding::Gpus {
            uuids: vec!["GPU-1".into()],
            indices: vec![0],
        }));
        assert_eq!(p["metadata"]["name"], "ws-abcdef01-a2-i1");
        assert_eq!(p["metadata"]["namespace"], "bench");
        assert_eq!(p["metadata"]["labels"]["dev.wattsweep.managed"], "true");
        assert_eq!(p["metadata"]["labels"]["dev.wattsweep.node"], "gpu-node-1");
        assert_eq!(p["metadata"]["labels"]["dev.wattsweep.attempt"], "2");
        assert_eq!(p["spec"]["nodeName"], "k8s-node-1");
        assert_eq!(p["spec"]["restartPolicy"], "Never");
        let c = &p["spec"]["containers"][0];
        assert_eq!(c["name"], CONTAINER);
        assert_eq!(c["image"], "wattsweep/gpu-burn:1");
        assert_eq!(c["command"], serde_json::json!(["gpu_burn", "330"]));
        assert_eq!(c["resources"]["limits"]["nvidia.com/gpu"], "1");
        assert_eq!(c["securityContext"]["privileged"], false);
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        // The launch's env overrides the workload's.
        assert_eq!(
            c["env"],
            serde_json::json!([{"name": "A", "value": "launch"}, {"name": "B", "value": "b"}])
        );
        assert!(p["spec"].get("volumes").is_none());
        assert!(p["spec"].get("hostIPC").is_none());
        assert!(p["spec"].get("hostNetwork").is_none());
    }

    #[test]
    fn mig_device_asks_for_its_profile_resource() {
        let p = build(&spec(GpuBinding::MigDevice {
            uuid: "MIG-1".into(),
            profile: "3g.40gb".into(),
        }));
        let limits = &p["spec"]["containers"][0]["resources"]["limits"];
        assert_eq!(limits, &serde_json::json!({"nvidia.com/mig-3g.40gb": "1"}));
        assert_eq!(
            mig_resource("1g.10gb+me").unwrap(),
            "nvidia.com/mig-1g.10gb.me"
        );
        let err = pod_manifest(
            &spec(GpuBinding::MigDevice {
                uuid: "MIG-1".into(),
                profile: "3G 40GB".into(),
            }),
            &owner(),
            "bench",
            "n",
        )
        .unwrap_err();
        assert!(
            err.is_deterministic() && err.to_string().contains("3G 40GB"),
            "{err}"
        );
    }

    #[test]
    fn no_gpu_means_no_resources_and_shm_is_a_sized_memory_volume() {
        let mut s = spec(GpuBinding::None);
        s.workload.shm_size_mb = Some(2048);
        let p = build(&s);
        assert!(p["spec"]["containers"][0].get("resources").is_none());
        assert_eq!(
            p["spec"]["volumes"],
            serde_json::json!([{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2048Mi"}}])
        );
        assert_eq!(
            p["spec"]["containers"][0]["volumeMounts"],
            serde_json::json!([{"name": "dshm", "mountPath": "/dev/shm"}])
        );
    }

    #[test]
    fn refuses_what_a_pod_here_cannot_be() {
        let mut s = spec(GpuBinding::None);
        s.mps = Some(MpsClient {
            pipe_dir: "/tmp/mps".into(),
            log_dir: "/tmp/mps-log".into(),
            active_thread_percentage: 50,
        });
        assert!(
            pod_manifest(&s, &owner(), "ns", "n")
                .unwrap_err()
                .to_string()
                .contains("MPS")
        );
        let mut s = spec(GpuBinding::None);
        s.workload.ipc = Some("host".into());
        assert!(pod_manifest(&s, &owner(), "ns", "n").is_err());
        let mut s = spec(GpuBinding::None);
        s.workload.image = None;
        assert!(
            pod_manifest(&s, &owner(), "ns", "n")
                .unwrap_err()
                .is_deterministic()
        );
        let bad_owner = Ownership {
            node: "node/with/slashes".into(),
        };
        assert!(pod_manifest(&spec(GpuBinding::None), &bad_owner, "ns", "n").is_err());
    }

    #[test]
    fn allow_list_matches_globs_and_empty_allows_nothing() {
        let list = ImageAllowList::new(&["wattsweep/*".to_string(), "busybox:1.36".to_string()]);
        assert!(list.check("wattsweep/gpu-burn:1").is_ok());
        assert!(list.check("busybox:1.36").is_ok());
        let err = list.check("evil/miner:latest").unwrap_err();
        assert!(matches!(err, RuntimeError::ImageNotAllowed { .. }));
        assert!(err.to_string().contains("wattsweep/*"), "{err}");
        let empty = ImageAllowList::new(&[]);
        assert!(
            empty
                .check("wattsweep/gpu-burn:1")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn label_values() {
        for ok in ["", "a", "gpu-node_1.lab", &"x".repeat(63)] {
            assert!(is_label_value(ok), "{ok}");
        }
        for bad in ["-a", "a-", "a/b", "a b", &"x".repeat(64)] {
            assert!(!is_label_value(bad), "{bad}");
        }
    }
}
