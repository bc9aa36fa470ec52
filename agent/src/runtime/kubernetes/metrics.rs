//! CPU use of a pod from the resource metrics API (`metrics.k8s.io/v1beta1`, served by
//! metrics-server), where the cluster has one.
//!
//! Limitation, by design of that API: it reports a *rate* (cores, averaged over a short window),
//! not a cumulative CPU time, and nothing about context switches. The cumulative
//! [`CpuUsage::cpu_s`] is therefore an estimate, integrated here from the rates seen at each call;
//! [`CpuUsage::context_switches`] is always `None`. Without the API (404), without the permission
//! (403) or while it is unavailable (503), usage stays at what was estimated so far (zero when
//! nothing was ever seen): CPU use is context, never a reason to fail a task.

use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use tokio::time::Instant;

use crate::runtime::CpuUsage;

use super::pod::CONTAINER;

/// The `PodMetrics` resource of `metrics.k8s.io/v1beta1`.
pub fn pod_metrics_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics"),
        "pods",
    )
}

/// Parse a CPU quantity (`"250m"`, `"2"`, `"1.5"`, `"123456n"`, `"300u"`) into cores.
pub fn parse_cpu_cores(q: &str) -> Option<f64> {
    let q = q.trim();
    let (number, scale) = match q.char_indices().last()? {
        (i, 'n') => (&q[..i], 1e-9),
        (i, 'u') => (&q[..i], 1e-6),
        (i, 'm') => (&q[..i], 1e-3),
        (i, 'k') => (&q[..i], 1e3),
        _ => (q, 1.0),
    };
    let v: f64 = number.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v * scale)
}

/// The workload container's CPU rate in a `PodMetrics` object's fields.
pub fn container_cores(metrics: &serde_json::Value) -> Option<f64> {
    metrics
        .get("containers")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(|n| n.as_str()) == Some(CONTAINER))?
        .get("usage")?
        .get("cpu")?
        .as_str()
        .and_then(parse_cpu_cores)
}

/// The running estimate of one instance's CPU time: each rate is taken to have held since the
/// previous reading (or since the instance started).
#[derive(Debug, Clone)]
pub struct CpuEstimate {
    since: Instant,
    cpu_s: f64,
}

impl CpuEstimate {
    /// Start estimating from `started`.
    pub fn new(started: Instant) -> Self {
        Self {
            since: started,
            cpu_s: 0.0,
        }
    }

    /// Account for a rate of `cores` read at `now`.
    pub fn add_rate(&mut self, cores: f64, now: Instant) {
        self.cpu_s += cores * now.saturating_duration_since(self.since).as_secs_f64();
        self.since = now;
    }

    /// The estimate so far.
    pub fn usage(&self) -> CpuUsage {
        CpuUsage {
            cpu_s: self.cpu_s,
            context_switches: None,
        }
    }
}

/// What one metrics read gave.
#[derive(Debug)]
pub enum MetricsRead {
    /// The container's current rate, cores.
    Cores(f64),
    /// No number this time (not yet scraped, API unavailable).
    NotNow,
    /// The API is absent or forbidden here; stop asking.
    Absent,
}

/// Read `pod`'s metrics.
pub async fn read(api: &Api<DynamicObject>, pod: &str) -> Result<MetricsRead, kube::Error> {
    match api.get(pod).await {
        Ok(obj) => Ok(container_cores(&obj.data).map_or(MetricsRead::NotNow, MetricsRead::Cores)),
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(MetricsRead::Absent),
        // 404: no metrics API, or the pod not scraped yet: both "not now"; the API's absence
        // is decided once by the caller's first read.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 503 => Ok(MetricsRead::NotNow),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu_cores("250m"), Some(0.25));
        assert_eq!(parse_cpu_cores("2"), Some(2.0));
        assert_eq!(parse_cpu_cores("1.5"), Some(1.5));
        assert_eq!(parse_cpu_cores("300u"), Some(0.0003));
        assert_eq!(parse_cpu_cores(""), None);
        assert_eq!(parse_cpu_cores("m"), None);
        assert_eq!(parse_cpu_cores("-1"), None);
        assert_eq!(parse_cpu_cores("12x"), None);
    }

    #[test]
    fn finds_the_workload_container() {
        let m = serde_json::json!({"containers": [
            {"name": "sidecar", "usage": {"cpu": "5"}},
            {"name": "workload", "usage": {"cpu": "1500m", "memory": "10Mi"}},
        ]});
        assert_eq!(container_cores(&m), Some(1.5));
        assert_eq!(
            container_cores(&serde_json::json!({"containers": []})),
            None
        );
    }

    #[test]
    fn integrates_rates_over_the_time_between_reads() {
        let t0 = Instant::now();
        let mut e = CpuEstimate::new(t0);
        e.add_rate(2.0, t0 + Duration::from_secs(10));
        e.add_rate(0.5, t0 + Duration::from_secs(14));
        assert!((e.usage().cpu_s - 22.0).abs() < 1e-9);
        assert_eq!(e.usage().context_switches, None);
    }

    proptest! {
        #[test]
        fn nanocores_round_trip(n in 0u64..10_000_000_000_000) {
            let cores = parse_cpu_cores(&format!("{n}n")).unwrap();
            prop_assert!((cores - n as f64 * 1e-9).abs() <= 1e-9 * (n as f64 * 1e-9).max(1.0));
        }
    }
}
