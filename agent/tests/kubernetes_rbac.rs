//! `deploy/kubernetes/agent-rbac.yaml` against the requests the Kubernetes runtime makes: every
//! document parses as its Kubernetes type, the bindings tie the agent's ServiceAccount to the
//! roles, every request the runtime and the sharing setup make is granted, nothing broader is,
//! and every rule says why in a comment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde::Deserialize;
use wattsweep_agent::runtime::kubernetes::sharing::SharingConfig;

const RBAC: &str = include_str!("../../deploy/kubernetes/agent-rbac.yaml");
const AGENT_NS: &str = "wattsweep";
const SA: &str = "wattsweep-agent";

#[derive(Default)]
struct Manifests {
    accounts: Vec<ServiceAccount>,
    roles: Vec<Role>,
    role_bindings: Vec<RoleBinding>,
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
}

fn parse() -> Manifests {
    let mut m = Manifests::default();
    for doc in serde_yaml_ng::Deserializer::from_str(RBAC) {
        let value = serde_json::Value::deserialize(doc).expect("a YAML document");
        if value.is_null() {
            continue;
        }
        let kind = value["kind"]
            .as_str()
            .expect("every document has a kind")
            .to_string();
        match kind.as_str() {
            "ServiceAccount" => m.accounts.push(typed(value)),
            "Role" => m.roles.push(typed(value)),
            "RoleBinding" => m.role_bindings.push(typed(value)),
            "ClusterRole" => m.cluster_roles.push(typed(value)),
            "ClusterRoleBinding" => m.cluster_role_bindings.push(typed(value)),
            other => panic!("unexpected kind {other} in agent-rbac.yaml"),
        }
    }
    m
}

/// The document as its Kubernetes type; serialising it back must give the document again, so a
/// misspelt or misplaced field (which deserialising alone would skip) fails the test.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(value: serde_json::Value) -> T {
    let t: T = serde_json::from_value(value.clone()).expect("a valid Kubernetes object");
    assert_eq!(
        serde_json::to_value(&t).unwrap(),
        value,
        "fields the type does not know"
    );
    t
}

fn binds_agent(subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>) -> bool {
    subjects.iter().flatten().any(|s| {
        s.kind == "ServiceAccount" && s.name == SA && s.namespace.as_deref() == Some(AGENT_NS)
    })
}

/// The rules the agent holds in `namespace` (through RoleBindings) or cluster-wide (`None`).
fn agent_rules(m: &Manifests, namespace: Option<&str>) -> Vec<PolicyRule> {
    match namespace {
        Some(ns) => m
            .role_bindings
            .iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(ns) && binds_agent(&b.subjects))
            .flat_map(|b| {
                assert_eq!(b.role_ref.kind, "Role");
                m.roles
                    .iter()
                    .filter(|r| {
                        r.metadata.name.as_deref() == Some(b.role_ref.name.as_str())
                            && r.metadata.namespace.as_deref() == Some(ns)
                    })
                    .flat_map(|r| r.rules.clone().unwrap_or_default())
                    .collect::<Vec<_>>()
            })
            .collect(),
        None => m
            .cluster_role_bindings
            .iter()
            .filter(|b| binds_agent(&b.subjects))
            .flat_map(|b| {
                assert_eq!(b.role_ref.kind, "ClusterRole");
                m.cluster_roles
                    .iter()
                    .filter(|r| r.metadata.name.as_deref() == Some(b.role_ref.name.as_str()))
                    .flat_map(|r| r.rules.clone().unwrap_or_default())
                    .collect::<Vec<_>>()
            })
            .collect(),
    }
}

fn allows(
    rules: &[PolicyRule],
    group: &str,
    resource: &str,
    verb: &str,
    name: Option<&str>,
) -> bool {
    rules.iter().any(|r| {
        let has = |list: &Option<Vec<String>>, item: &str| list.iter().flatten().any(|x| x == item);
        let names = r.resource_names.as_deref().unwrap_or_default();
        has(&r.api_groups, group)
            && has(&r.resources, resource)
            && r.verbs.iter().any(|v| v == verb)
            && (names.is_empty() || name.is_some_and(|n| names.iter().any(|x| x == n)))
    })
}

#[test]
fn every_document_parses_and_binds_the_agent() {
    let m = parse();
    assert_eq!(m.accounts.len(), 1);
    assert_eq!(m.accounts[0].metadata.name.as_deref(), Some(SA));
    assert_eq!(m.accounts[0].metadata.namespace.as_deref(), Some(AGENT_NS));
    assert_eq!(m.roles.len(), 2);
    assert_eq!(m.role_bindings.len(), 2);
    assert_eq!(m.cluster_roles.len(), 1);
    assert_eq!(m.cluster_role_bindings.len(), 1);
    for b in &m.role_bindings {
        assert!(binds_agent(&b.subjects), "{:?}", b.metadata.name);
    }
    assert!(binds_agent(&m.cluster_role_bindings[0].subjects));
}

#[test]
fn grants_every_request_the_runtime_makes() {
    let m = parse();
    let workloads = agent_rules(&m, Some(AGENT_NS));
    for verb in ["create", "get", "list", "watch", "delete"] {
        assert!(
            allows(&workloads, "", "pods", verb, Some("ws-0a1b2c3d-a1-i0")),
            "pods {verb}"
        );
    }
    assert!(allows(
        &workloads,
        "",
        "pods/log",
        "get",
        Some("ws-0a1b2c3d-a1-i0")
    ));
    assert!(allows(
        &workloads,
        "metrics.k8s.io",
        "pods",
        "get",
        Some("ws-0a1b2c3d-a1-i0")
    ));

    let sharing = SharingConfig::new("any-node");
    let plugin = agent_rules(&m, Some(&sharing.device_plugin_namespace));
    for verb in ["get", "patch"] {
        assert!(
            allows(&plugin, "", "configmaps", verb, Some(&sharing.config_map)),
            "configmaps {verb}"
        );
        assert!(
            !allows(&plugin, "", "configmaps", verb, Some("someone-elses")),
            "configmaps {verb}"
        );
    }
    assert!(allows(&plugin, "", "configmaps", "create", None));

    let cluster = agent_rules(&m, None);
    for verb in ["get", "watch", "patch"] {
        assert!(
            allows(&cluster, "", "nodes", verb, Some("k8s-node-1")),
            "nodes {verb}"
        );
    }
}

#[test]
fn grants_nothing_broader() {
    let m = parse();
    let all: Vec<PolicyRule> = m
        .roles
        .iter()
        .flat_map(|r| r.rules.clone().unwrap_or_default())
        .chain(
            m.cluster_roles
                .iter()
                .flat_map(|r| r.rules.clone().unwrap_or_default()),
        )
        .collect();
    for r in &all {
        let words = r
            .verbs
            .iter()
            .chain(r.resources.iter().flatten())
            .chain(r.api_groups.iter().flatten());
        assert!(words.clone().all(|w| w != "*"), "wildcard in {r:?}");
    }
    for (group, resource) in [
        ("batch", "jobs"),
        ("", "secrets"),
        ("", "pods/exec"),
        ("", "pods/attach"),
        ("", "nodes/proxy"),
    ] {
        for verb in ["get", "create", "list"] {
            assert!(
                !allows(&all, group, resource, verb, Some("x")),
                "{resource} {verb}"
            );
        }
    }
    assert!(!allows(&agent_rules(&m, None), "", "nodes", "list", None));
    assert!(!allows(
        &agent_rules(&m, None),
        "",
        "nodes",
        "delete",
        Some("k8s-node-1")
    ));
}

#[test]
fn every_rule_is_commented() {
    let lines: Vec<&str> = RBAC
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let rules = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("- apiGroups:"));
    let mut count = 0;
    for (i, line) in rules {
        count += 1;
        assert!(
            i > 0 && lines[i - 1].starts_with('#'),
            "rule without a comment saying why: {line}"
        );
    }
    assert_eq!(count, 6);
}
