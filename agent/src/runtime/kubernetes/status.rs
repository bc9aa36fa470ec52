//! What a Pod's status says about the instance: still starting, running, ended (and how), or
//! unable to run at all.
//!
//! Pure: the runtime watches pods and asks this module what each version means, so the rules
//! (which waiting reasons are hopeless, how a container's termination maps onto an
//! [`ExitStatus`]) are unit-tested on canned statuses.

use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};

use crate::runtime::ExitStatus;

use super::pod::CONTAINER;

/// Waiting reasons that do not go away by waiting: the kubelet will never start the container.
const HOPELESS_WAITING: &[&str] = &[
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Termination reasons meaning the container never ran its command (bad command, missing binary).
const NEVER_RAN: &[&str] = &["StartError", "ContainerCannotRun"];

/// Where an instance's pod stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodProgress {
    /// Not running yet (scheduling, pulling the image); the text says why.
    Pending(String),
    /// The container runs.
    Running,
    /// The container ran and ended.
    Ended(ExitStatus),
    /// The pod cannot run or was stopped by the kubelet without a container exit: admission
    /// refused it (`OutOfnvidia.com/gpu`), eviction, a hopeless waiting reason, a command that
    /// could not be started. The text is `reason: message`.
    Failed(String),
}

/// Read a pod's status.
pub fn progress(pod: &Pod) -> PodProgress {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let container = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == CONTAINER));
    let state = container.and_then(|c| c.state.as_ref());

    if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
        return ended(t);
    }
    let pod_reason = || {
        describe(
            status.and_then(|s| s.reason.as_deref()).unwrap_or(phase),
            status.and_then(|s| s.message.as_deref()),
        )
    };
    match phase {
        "Failed" => return PodProgress::Failed(pod_reason()),
        // Succeeded without a container status: nothing more will be known.
        "Succeeded" => return PodProgress::Ended(ExitStatus::Exited(0)),
        _ => {}
    }
    if state.and_then(|s| s.running.as_ref()).is_some() {
        return PodProgress::Running;
    }
    if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
        let reason = w.reason.as_deref().unwrap_or("Waiting");
        let text = describe(reason, w.message.as_deref());
        if HOPELESS_WAITING.contains(&reason) {
            return PodProgress::Failed(text);
        }
        return PodProgress::Pending(text);
    }
    if phase == "Running" {
        return PodProgress::Running;
    }
    PodProgress::Pending(pod_reason())
}

fn ended(t: &ContainerStateTerminated) -> PodProgress {
    let reason = t.reason.as_deref().unwrap_or("");
    if NEVER_RAN.contains(&reason) {
        return PodProgress::Failed(describe(reason, t.message.as_deref()));
    }
    if let Some(signal) = t.signal {
        return PodProgress::Ended(ExitStatus::Killed(format!("signal {signal}")));
    }
    if reason == "OOMKilled" {
        return PodProgress::Ended(ExitStatus::Killed(describe(
            "OOMKilled",
            t.message.as_deref(),
        )));
    }
    PodProgress::Ended(ExitStatus::Exited(t.exit_code))
}

fn describe(reason: &str, message: Option<&str>) -> String {
    match message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => format!("{reason}: {m}"),
        None => reason.to_string(),
    }
}

/// How a pod that was deleted under us ended: its last status if that says, else killed.
pub fn ended_by_deletion(pod: &Pod) -> ExitStatus {
    match progress(pod) {
        PodProgress::Ended(s) => s,
        PodProgress::Failed(reason) => ExitStatus::Killed(reason),
        PodProgress::Pending(_) | PodProgress::Running => {
            ExitStatus::Killed("pod deleted before its container ended".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "status": status,
        }))
        .unwrap()
    }

    fn with_state(phase: &str, state: serde_json::Value) -> Pod {
        pod(json!({
            "phase": phase,
            "containerStatuses": [{
                "name": "workload", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": state,
            }],
        }))
    }

    #[test]
    fn pending_running_and_exit_codes() {
        assert_eq!(
            progress(&pod(json!({"phase": "Pending"}))),
            PodProgress::Pending("Pending".into())
        );
        assert_eq!(
            progress(&with_state(
                "Pending",
                json!({"waiting": {"reason": "ContainerCreating"}})
            )),
            PodProgress::Pending("ContainerCreating".into())
        );
        assert_eq!(
            progress(&with_state(
                "Running",
                json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}})
            )),
            PodProgress::Running
        );
        assert_eq!(
            progress(&with_state(
                "Succeeded",
                json!({"terminated": {"exitCode": 0, "reason": "Completed"}})
            )),
            PodProgress::Ended(ExitStatus::Exited(0))
        );
        // The container's termination counts even before the phase catches up.
        assert_eq!(
            progress(&with_state(
                "Running",
                json!({"terminated": {"exitCode": 3, "reason": "Error"}})
            )),
            PodProgress::Ended(ExitStatus::Exited(3))
        );
    }

    #[test]
    fn kills_and_failures_say_why() {
        assert_eq!(
            progress(&with_state(
                "Failed",
                json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
            )),
            PodProgress::Ended(ExitStatus::Killed("OOMKilled".into()))
        );
        assert_eq!(
            progress(&with_state(
                "Failed",
                json!({"terminated": {"exitCode": 143, "signal": 15}})
            )),
            PodProgress::Ended(ExitStatus::Killed("signal 15".into()))
        );
        assert_eq!(
            progress(&pod(json!({
                "phase": "Failed", "reason": "OutOfnvidia.com/gpu",
                "message": "Pod was rejected: Node didn't have enough resource: nvidia.com/gpu",
            }))),
            PodProgress::Failed(
                "OutOfnvidia.com/gpu: Pod was rejected: Node didn't have enough resource: nvidia.com/gpu".into()
            )
        );
        assert_eq!(
            progress(&with_state(
                "Pending",
                json!({"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}})
            )),
            PodProgress::Failed("ImagePullBackOff: no such image".into())
        );
        assert_eq!(
            progress(&with_state(
                "Failed",
                json!({"terminated": {"exitCode": 128, "reason": "StartError", "message": "exec: \"nope\" not found"}})
            )),
            PodProgress::Failed("StartError: exec: \"nope\" not found".into())
        );
    }

    #[test]
    fn deletion_keeps_the_last_known_ending() {
        let done = with_state(
            "Failed",
            json!({"terminated": {"exitCode": 2, "reason": "Error"}}),
        );
        assert_eq!(ended_by_deletion(&done), ExitStatus::Exited(2));
        let running = with_state("Running", json!({"running": {}}));
        assert!(matches!(ended_by_deletion(&running), ExitStatus::Killed(_)));
    }
}
