//! Reading a workload's log: when it became ready, and the figures of merit it printed.
//!
//! Pure: lines in, observations out. Every runtime streams [`LogLine`]s; the executor feeds them
//! here, so readiness and figure-of-merit parsing behave identically for processes, containers and
//! pods.

use regex::Regex;
use wattsweep_shared::model::WorkloadSpec;

use super::{LogLine, RuntimeError};

/// One figure of merit read from a log line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FomSample {
    /// The number the metric regex captured.
    pub value: f64,
    /// When the line was read, unix nanoseconds.
    pub at_ns: i64,
}

/// What one line told us.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observation {
    /// This line made the workload ready (only the first matching line does).
    pub became_ready: bool,
    /// A figure of merit on this line.
    pub fom: Option<FomSample>,
}

/// Watches one instance's log.
#[derive(Debug)]
pub struct LogWatch {
    ready: Option<Regex>,
    metric: Option<Regex>,
    ready_at_ns: Option<i64>,
}

impl LogWatch {
    /// A watcher for `workload`'s readiness and metric patterns. A workload without a readiness
    /// pattern is ready as soon as it has started ([`LogWatch::ready_without_signal`]).
    pub fn new(workload: &WorkloadSpec) -> Result<Self, RuntimeError> {
        let compile = |what: &str, re: &str| {
            Regex::new(re).map_err(|e| RuntimeError::Unsupported {
                workload: workload.name.clone(),
                runtime: "any",
                reason: format!("{what} regex `{re}` does not compile: {e}"),
            })
        };
        let ready = match workload.ready.as_ref().and_then(|r| r.log_regex.as_deref()) {
            Some(re) => Some(compile("readiness", re)?),
            None => None,
        };
        let metric = match &workload.metric {
            Some(m) => Some(compile("metric", &m.regex)?),
            None => None,
        };
        Ok(Self {
            ready,
            metric,
            ready_at_ns: None,
        })
    }

    /// True when the workload has no readiness pattern: it counts as ready once started.
    pub fn ready_without_signal(&self) -> bool {
        self.ready.is_none()
    }

    /// When readiness was seen, unix ns.
    pub fn ready_at_ns(&self) -> Option<i64> {
        self.ready_at_ns
    }

    /// Look at one line.
    pub fn observe(&mut self, line: &LogLine) -> Observation {
        let mut obs = Observation::default();
        if self.ready_at_ns.is_none() && self.ready.as_ref().is_some_and(|r| r.is_match(&line.text))
        {
            self.ready_at_ns = Some(line.at_ns);
            obs.became_ready = true;
        }
        if let Some(re) = &self.metric {
            obs.fom = re
                .captures(&line.text)
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .map(|value| FomSample {
                    value,
                    at_ns: line.at_ns,
                });
        }
        obs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Stream;
    use wattsweep_shared::model::{MetricSpec, ReadySpec};

    fn line(text: &str, at_ns: i64) -> LogLine {
        LogLine {
            stream: Stream::Stdout,
            text: text.into(),
            at_ns,
        }
    }

    fn burn() -> WorkloadSpec {
        WorkloadSpec {
            name: "burn".into(),
            metric: Some(MetricSpec {
                regex: r"(\d+(?:\.\d+)?) Gflop/s".into(),
                unit: "GFLOP/s".into(),
                higher_is_better: true,
            }),
            ready: Some(ReadySpec {
                log_regex: Some("Initialized device".into()),
                timeout_s: 60,
            }),
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn readiness_once_and_metrics_parsed() {
        let mut w = LogWatch::new(&burn()).unwrap();
        assert!(!w.ready_without_signal());
        assert_eq!(w.observe(&line("loading", 1)), Observation::default());
        assert!(
            w.observe(&line("Initialized device 0 with 81559 MB", 2))
                .became_ready
        );
        assert!(!w.observe(&line("Initialized device 1", 3)).became_ready);
        assert_eq!(w.ready_at_ns(), Some(2));
        let o = w.observe(&line("100.0%  proc'd: 7 (52341.5 Gflop/s)", 4));
        assert_eq!(
            o.fom,
            Some(FomSample {
                value: 52341.5,
                at_ns: 4
            })
        );
    }

    #[test]
    fn bad_regex_is_a_deterministic_error() {
        let mut w = burn();
        w.metric = Some(MetricSpec {
            regex: "(".into(),
            unit: "x".into(),
            higher_is_better: true,
        });
        let e = LogWatch::new(&w).unwrap_err();
        assert!(e.is_deterministic());
    }
}
