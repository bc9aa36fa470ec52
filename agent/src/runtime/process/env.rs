//! The environment of a workload process: the spec's variables, the GPU binding, MPS client
//! settings and the owner labels. Pure, so the exact variables a workload sees are unit-tested.
//!
//! Precedence, lowest first: the agent's own environment (inherited, minus the variables listed in
//! [`ChildEnv::remove`]), the workload's catalog `env`, the launch's extra `env`, then what the
//! runtime controls: GPU visibility, MPS and `WATTSWEEP_*` labels. A workload cannot override the
//! GPU it was given or its owner labels; an override attempt is reported in
//! [`ChildEnv::overridden`] so the caller can log it.

use std::collections::BTreeMap;

use super::super::{GpuBinding, LaunchSpec, Ownership, RuntimeError};

/// Environment variable selecting CUDA devices.
pub const CUDA_VISIBLE_DEVICES: &str = "CUDA_VISIBLE_DEVICES";
/// Environment variable selecting devices for the NVIDIA container toolkit and tools that follow it.
pub const NVIDIA_VISIBLE_DEVICES: &str = "NVIDIA_VISIBLE_DEVICES";
/// MPS pipe directory variable.
pub const CUDA_MPS_PIPE_DIRECTORY: &str = "CUDA_MPS_PIPE_DIRECTORY";
/// MPS log directory variable.
pub const CUDA_MPS_LOG_DIRECTORY: &str = "CUDA_MPS_LOG_DIRECTORY";
/// MPS client share of SMs.
pub const CUDA_MPS_ACTIVE_THREAD_PERCENTAGE: &str = "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE";
/// Prefix of the owner-label variables.
pub const LABEL_ENV_PREFIX: &str = "WATTSWEEP_";

const MPS_VARS: [&str; 3] = [
    CUDA_MPS_PIPE_DIRECTORY,
    CUDA_MPS_LOG_DIRECTORY,
    CUDA_MPS_ACTIVE_THREAD_PERCENTAGE,
];

/// What to do to the inherited environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChildEnv {
    /// Variables to set.
    pub set: BTreeMap<String, String>,
    /// Inherited variables to drop: the agent's own `WATTSWEEP_*` configuration (it may hold
    /// endpoints and paths the workload has no business seeing) and stale MPS settings.
    pub remove: Vec<String>,
    /// Variables the workload or launch tried to set that the runtime overrode.
    pub overridden: Vec<String>,
}

/// The environment variable carrying owner label `key`: `dev.wattsweep.task` → `WATTSWEEP_TASK`.
pub fn label_env_name(key: &str) -> String {
    let short = key.strip_prefix("dev.wattsweep.").unwrap_or(key);
    let mut name = String::from(LABEL_ENV_PREFIX);
    name.extend(short.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    name
}

/// The environment of one instance of `spec`, given the names of the agent's inherited variables.
pub fn child_env<I, S>(
    spec: &LaunchSpec,
    owner: &Ownership,
    inherited: I,
) -> Result<ChildEnv, RuntimeError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let unsupported = |reason: String| RuntimeError::Unsupported {
        workload: spec.workload.name.clone(),
        runtime: "process",
        reason,
    };
    let mut set: BTreeMap<String, String> = spec.workload.env.clone();
    set.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    let mut controlled: BTreeMap<String, String> = BTreeMap::new();
    let devices = match &spec.gpu {
        GpuBinding::Gpus { uuids, .. } if !uuids.is_empty() => uuids.join(","),
        GpuBinding::Gpus { indices, .. } if !indices.is_empty() => indices
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        GpuBinding::Gpus { .. } => {
            return Err(unsupported(
                "the GPU binding names no GPU (neither UUIDs nor indices)".into(),
            ));
        }
        GpuBinding::MigDevice { uuid, .. } => uuid.clone(),
        GpuBinding::None => String::new(),
    };
    let nvidia_devices = if devices.is_empty() {
        "void".to_string()
    } else {
        devices.clone()
    };
    controlled.insert(CUDA_VISIBLE_DEVICES.into(), devices);
    controlled.insert(NVIDIA_VISIBLE_DEVICES.into(), nvidia_devices);

    if let Some(mps) = &spec.mps {
        if let GpuBinding::MigDevice { uuid, profile } = &spec.gpu {
            return Err(unsupported(format!(
                "MPS on a MIG device is not supported (MIG device {uuid}, profile {profile}); \
                 MPS needs a whole-GPU binding"
            )));
        }
        if !(1..=100).contains(&mps.active_thread_percentage) {
            return Err(unsupported(format!(
                "MPS active thread percentage {} is outside 1..=100",
                mps.active_thread_percentage
            )));
        }
        controlled.insert(CUDA_MPS_PIPE_DIRECTORY.into(), mps.pipe_dir.clone());
        controlled.insert(CUDA_MPS_LOG_DIRECTORY.into(), mps.log_dir.clone());
        controlled.insert(
            CUDA_MPS_ACTIVE_THREAD_PERCENTAGE.into(),
            mps.active_thread_percentage.to_string(),
        );
    }
    for (key, value) in spec.labels(owner) {
        controlled.insert(label_env_name(&key), value);
    }

    let mut overridden: Vec<String> = set
        .keys()
        .filter(|k| {
            controlled.contains_key(*k)
                || k.starts_with(LABEL_ENV_PREFIX)
                || MPS_VARS.contains(&k.as_str())
        })
        .cloned()
        .collect();
    overridden.sort();
    // Runtime-controlled names the spec may not set: the controlled ones are overwritten below,
    // other `WATTSWEEP_*` and MPS variables are dropped.
    set.retain(|k, _| !(k.starts_with(LABEL_ENV_PREFIX) || MPS_VARS.contains(&k.as_str())));
    set.extend(controlled);

    let mut remove: Vec<String> = inherited
        .into_iter()
        .map(|k| k.as_ref().to_string())
        .filter(|k| {
            (k.starts_with(LABEL_ENV_PREFIX) || MPS_VARS.contains(&k.as_str()))
                && !set.contains_key(k)
        })
        .collect();
    remove.sort();
    remove.dedup();
    Ok(ChildEnv {
        set,
        remove,
        overridden,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::runtime::MpsClient;
    use uuid::Uuid;
    use wattsweep_shared::model::WorkloadSpec;

    fn spec(gpu: GpuBinding, mps: Option<MpsClient>) -> LaunchSpec {
        LaunchSpec {
            task_id: Uuid::from_u128(0x1234),
            attempt: 2,
            instance: 1,
            workload: WorkloadSpec {
                name: "burn".into(),
                command: vec!["burn".into()],
                env: BTreeMap::from([
                    ("A".to_string(), "workload".to_string()),
                    ("B".to_string(), "workload".to_string()),
                ]),
                ..WorkloadSpec::default()
            },
            gpu,
            mps,
            substitutions: BTreeMap::new(),
            env: BTreeMap::from([("B".to_string(), "launch".to_string())]),
        }
    }

    fn owner() -> Ownership {
        Ownership {
            node: "node-7".into(),
        }
    }

    fn mps(pct: u32) -> MpsClient {
        MpsClient {
            pipe_dir: "/s/mps/pipe".into(),
            log_dir: "/s/mps/log".into(),
            active_thread_percentage: pct,
        }
    }

    #[test]
    fn label_names() {
        assert_eq!(label_env_name("dev.wattsweep.task"), "WATTSWEEP_TASK");
        assert_eq!(label_env_name("dev.wattsweep.managed"), "WATTSWEEP_MANAGED");
        assert_eq!(label_env_name("other.key-x"), "WATTSWEEP_OTHER_KEY_X");
    }

    #[test]
    fn gpus_by_uuid_with_mps_and_labels() {
        let s = spec(
            GpuBinding::Gpus {
                uuids: vec!["GPU-a".into(), "GPU-b".into()],
                indices: vec![0, 1],
            },
            Some(mps(50)),
        );
        let env = child_env(
            &s,
            &owner(),
            ["PATH", "WATTSWEEP_NATS_URL", "CUDA_MPS_PIPE_DIRECTORY"],
        )
        .unwrap();
        let get = |k: &str| env.set.get(k).map(String::as_str);
        assert_eq!(get("A"), Some("workload"));
        assert_eq!(get("B"), Some("launch"), "launch env overrides the catalog");
        assert_eq!(get(CUDA_VISIBLE_DEVICES), Some("GPU-a,GPU-b"));
        assert_eq!(get(NVIDIA_VISIBLE_DEVICES), Some("GPU-a,GPU-b"));
        assert_eq!(get(CUDA_MPS_PIPE_DIRECTORY), Some("/s/mps/pipe"));
        assert_eq!(get(CUDA_MPS_LOG_DIRECTORY), Some("/s/mps/log"));
        assert_eq!(get(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE), Some("50"));
        assert_eq!(get("WATTSWEEP_NODE"), Some("node-7"));
        assert_eq!(get("WATTSWEEP_MANAGED"), Some("true"));
        assert_eq!(
            get("WATTSWEEP_TASK"),
            Some(Uuid::from_u128(0x1234).to_string().as_str())
        );
        assert_eq!(get("WATTSWEEP_ATTEMPT"), Some("2"));
        assert_eq!(get("WATTSWEEP_INSTANCE"), Some("1"));
        assert_eq!(env.remove, vec!["WATTSWEEP_NATS_URL".to_string()]);
        assert!(env.overridden.is_empty());
    }

    #[test]
    fn indices_when_no_uuids_and_mig_device_uuid() {
        let s = spec(
            GpuBinding::Gpus {
                uuids: vec![],
                indices: vec![3, 1],
            },
            None,
        );
        let env = child_env(&s, &owner(), Vec::<String>::new()).unwrap();
        assert_eq!(env.set[CUDA_VISIBLE_DEVICES], "3,1");
        let s = spec(
            GpuBinding::MigDevice {
                uuid: "MIG-x".into(),
                profile: "3g.40gb".into(),
            },
            None,
        );
        let env = child_env(&s, &owner(), ["CUDA_MPS_PIPE_DIRECTORY"]).unwrap();
        assert_eq!(env.set[CUDA_VISIBLE_DEVICES], "MIG-x");
        assert_eq!(env.set[NVIDIA_VISIBLE_DEVICES], "MIG-x");
        assert!(!env.set.contains_key(CUDA_MPS_PIPE_DIRECTORY));
        assert_eq!(
            env.remove,
            vec![CUDA_MPS_PIPE_DIRECTORY.to_string()],
            "stale MPS setting dropped"
        );
    }

    #[test]
    fn no_gpu_hides_every_gpu() {
        let env = child_env(
            &spec(GpuBinding::None, None),
            &owner(),
            Vec::<String>::new(),
        )
        .unwrap();
        assert_eq!(env.set[CUDA_VISIBLE_DEVICES], "");
        assert_eq!(env.set[NVIDIA_VISIBLE_DEVICES], "void");
    }

    #[test]
    fn empty_binding_mps_on_mig_and_bad_percentage_are_deterministic_errors() {
        let empty = spec(
            GpuBinding::Gpus {
                uuids: vec![],
                indices: vec![],
            },
            None,
        );
        let mig = spec(
            GpuBinding::MigDevice {
                uuid: "MIG-x".into(),
                profile: "1g.10gb".into(),
            },
            Some(mps(50)),
        );
        let pct = spec(GpuBinding::None, Some(mps(0)));
        for (s, needle) in [
            (empty, "names no GPU"),
            (mig, "MIG-x"),
            (pct, "outside 1..=100"),
        ] {
            let e = child_env(&s, &owner(), Vec::<String>::new()).unwrap_err();
            assert!(e.is_deterministic());
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn spec_cannot_override_binding_or_labels() {
        let mut s = spec(
            GpuBinding::Gpus {
                uuids: vec!["GPU-a".into()],
                indices: vec![],
            },
            None,
        );
        s.env.insert(CUDA_VISIBLE_DEVICES.into(), "GPU-z".into());
        s.env.insert("WATTSWEEP_NODE".into(), "evil".into());
        s.env.insert("WATTSWEEP_EXTRA".into(), "x".into());
        s.env
            .insert(CUDA_MPS_PIPE_DIRECTORY.into(), "/tmp/x".into());
        let env = child_env(&s, &owner(), Vec::<String>::new()).unwrap();
        assert_eq!(env.set[CUDA_VISIBLE_DEVICES], "GPU-a");
        assert_eq!(env.set["WATTSWEEP_NODE"], "node-7");
        assert!(!env.set.contains_key("WATTSWEEP_EXTRA"));
        assert!(!env.set.contains_key(CUDA_MPS_PIPE_DIRECTORY));
        assert_eq!(
            env.overridden,
            vec![
                CUDA_MPS_PIPE_DIRECTORY,
                CUDA_VISIBLE_DEVICES,
                "WATTSWEEP_EXTRA",
                "WATTSWEEP_NODE"
            ]
        );
    }
}
