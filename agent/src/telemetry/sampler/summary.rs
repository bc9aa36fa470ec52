//! Per-GPU summary of a stream of sampler records: how many power samples, how regular, and whether
//! the energy counter agrees with the integral of the samples over the same window. Used by the
//! `sample` command's closing lines and as a self-check of the sampling path.

use std::collections::BTreeMap;

use super::{IntervalStats, PowerSource, PowerStats, Record, WindowEnergy};
use super::{intervals, power_stats, trapezoid_energy};
use crate::gpu::PowerSample;

/// The summary of one GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuSummary {
    /// GPU index.
    pub gpu: u32,
    /// Power samples from the driver's buffer.
    pub buffer_samples: usize,
    /// Instant power reads.
    pub instant_samples: usize,
    /// Status reads.
    pub status_samples: usize,
    /// Notices (errors, fallbacks).
    pub notices: usize,
    /// Which power source the interval, power and integral figures use (the buffer when it gave at
    /// least two samples, else instant reads).
    pub source: Option<PowerSource>,
    /// Spacing of those power samples.
    pub intervals: Option<IntervalStats>,
    /// Their values.
    pub power: Option<PowerStats>,
    /// First to last energy-counter read, seconds.
    pub window_s: Option<f64>,
    /// Energy by the counter over the window, joules.
    pub counter_j: Option<f64>,
    /// Trapezoidal integral of the samples over the same window.
    pub integral: Option<WindowEnergy>,
    /// (integral − counter) / counter, percent.
    pub diff_pct: Option<f64>,
}

#[derive(Default)]
struct Acc {
    buffer: Vec<PowerSample>,
    instant: Vec<PowerSample>,
    status: usize,
    notices: usize,
    first_energy: Option<(u64, u64)>,
    last_energy: Option<(u64, u64)>,
}

/// Accumulates records; [`SummaryBuilder::finish`] gives one summary per GPU, by index.
#[derive(Default)]
pub struct SummaryBuilder {
    gpus: BTreeMap<u32, Acc>,
}

impl SummaryBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one record into account.
    pub fn push(&mut self, record: &Record) {
        match record {
            Record::Power {
                gpu,
                t_ns,
                watts,
                source,
                ..
            } => {
                let acc = self.gpus.entry(*gpu).or_default();
                let s = PowerSample {
                    timestamp_us: t_ns / 1000,
                    watts: *watts,
                };
                match source {
                    PowerSource::Buffer => acc.buffer.push(s),
                    PowerSource::Instant => acc.instant.push(s),
                }
            }
            Record::Status { gpu, .. } => self.gpus.entry(*gpu).or_default().status += 1,
            Record::Notice { gpu, .. } => self.gpus.entry(*gpu).or_default().notices += 1,
            Record::Energy { gpu, t_ns, mj, .. } => {
                let acc = self.gpus.entry(*gpu).or_default();
                let read = (t_ns / 1000, *mj);
                acc.first_energy.get_or_insert(read);
                acc.last_energy = Some(read);
            }
        }
    }

    /// The summaries.
    pub fn finish(self) -> Vec<GpuSummary> {
        self.gpus
            .into_iter()
            .map(|(gpu, mut acc)| {
                for v in [&mut acc.buffer, &mut acc.instant] {
                    v.sort_by_key(|s| s.timestamp_us);
                    v.dedup_by_key(|s| s.timestamp_us);
                }
                let (source, samples) = if acc.buffer.len() >= 2 {
                    (Some(PowerSource::Buffer), &acc.buffer)
                } else if !acc.instant.is_empty() {
                    (Some(PowerSource::Instant), &acc.instant)
                } else {
                    (None, &acc.buffer)
                };
                let ts: Vec<u64> = samples.iter().map(|s| s.timestamp_us).collect();
                let watts: Vec<f64> = samples.iter().map(|s| s.watts).collect();
                let window = match (acc.first_energy, acc.last_energy) {
                    (Some(a), Some(b)) if b.0 > a.0 => Some((a, b)),
                    _ => None,
                };
                let counter_j = window.map(|(a, b)| b.1.saturating_sub(a.1) as f64 / 1000.0);
                let integral = window.and_then(|(a, b)| trapezoid_energy(samples, a.0, b.0));
                let diff_pct = match (counter_j, integral) {
                    (Some(c), Some(i)) if c > 0.0 => Some((i.joules - c) / c * 100.0),
                    _ => None,
                };
                GpuSummary {
                    gpu,
                    buffer_samples: acc.buffer.len(),
                    instant_samples: acc.instant.len(),
                    status_samples: acc.status,
                    notices: acc.notices,
                    source,
                    intervals: intervals(&ts),
                    power: power_stats(&watts),
                    window_s: window.map(|(a, b)| (b.0 - a.0) as f64 / 1e6),
                    counter_j,
                    integral,
                    diff_pct,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::sampler::Phase;

    fn power(t_ms: u64, watts: f64, source: PowerSource) -> Record {
        Record::Power {
            gpu: 0,
            t_ns: t_ms * 1_000_000,
            watts,
            source,
            phase: Phase::None,
        }
    }

    #[test]
    fn counter_and_integral_agree_on_constant_power() {
        let mut b = SummaryBuilder::new();
        b.push(&Record::Energy {
            gpu: 0,
            t_ns: 0,
            mj: 1_000_000,
            phase: Phase::None,
        });
        for i in 0..=50 {
            b.push(&power(i * 20, 200.0, PowerSource::Buffer));
        }
        b.push(&power(500, 999.0, PowerSource::Instant));
        // 1 s at 200 W = 200 J = 200 000 mJ.
        b.push(&Record::Energy {
            gpu: 0,
            t_ns: 1_000_000_000,
            mj: 1_200_000,
            phase: Phase::None,
        });
        let s = &b.finish()[0];
        assert_eq!((s.buffer_samples, s.instant_samples), (51, 1));
        assert_eq!(s.source, Some(PowerSource::Buffer));
        assert_eq!(s.counter_j, Some(200.0));
        assert!((s.integral.unwrap().joules - 200.0).abs() < 1e-9);
        assert!(s.diff_pct.unwrap().abs() < 1e-9);
        let iv = s.intervals.unwrap();
        assert!((iv.mean_ms - 20.0).abs() < 1e-9 && (iv.max_ms - 20.0).abs() < 1e-9);
        assert_eq!(s.power.unwrap().max_w, 200.0);
    }

    #[test]
    fn without_buffer_samples_instant_reads_are_used() {
        let mut b = SummaryBuilder::new();
        b.push(&power(0, 100.0, PowerSource::Instant));
        b.push(&power(20, 100.0, PowerSource::Instant));
        b.push(&Record::Notice {
            gpu: 0,
            t_ns: 0,
            message: "x".into(),
        });
        let s = &b.finish()[0];
        assert_eq!(s.source, Some(PowerSource::Instant));
        assert_eq!((s.notices, s.counter_j, s.diff_pct), (1, None, None));
    }
}
