//! Figures of merit aggregated per workload, and the energy each unit of work cost.
//!
//! Instances are grouped by workload and unit (in order of first appearance). Within a task all
//! instances of a workload run concurrently through the whole measured window (time-slicing, MPS or
//! MIG instances side by side), so:
//!
//! * `mean` is the mean of the instances' values: what one instance achieved;
//! * for rates (`<work>/<time>`: `GFLOP/s`, `images/sec`, `it/s`; or `<prefix>FLOPS`, `FPS`) `sum` is
//!   the sum of the values: the throughput of all instances together;
//! * every recognised unit becomes a work rate in work units per second, summed over instances: a
//!   rate divided by its time unit (`GFLOP/s` → GFLOP per second), a time per work item
//!   (`<time>/<work>`: `s/epoch`, `ms/iter`, typically lower-is-better) inverted (an instance taking
//!   40 s/epoch does 1/40 epoch per second);
//! * energy per unit of work = GPU energy over the window ÷ (work rate × window duration), in joules
//!   per `work_unit` (`GFLOP`, `epoch`). For `s/epoch` this is J per epoch, for `GFLOP/s` J per GFLOP.
//!
//! The energy is the task's whole GPU energy (all GPUs it held; the counter's where usable, the
//! samples' otherwise) and is not apportioned among workloads: with several workloads in one task
//! each one's figure charges it all. The unit, not `higher_is_better`, decides the maths; a unit
//! that is neither shape (`score`, `ms` alone) gets no energy per work. Values that are not finite
//! are dropped (counted); negative rates and non-positive times per item contribute no work.

use crate::wire::{EnergyPerWork, FigureOfMerit};

use super::report::{NoEnergyPerWork, WorkloadMerit};

/// How a unit turns a value into work per second.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WorkUnit {
    /// `value` work units per `seconds`.
    Rate {
        /// The unit of work.
        work: String,
        /// Seconds in the unit's time denominator.
        seconds: f64,
    },
    /// `value` time units (of `seconds` each) per work unit.
    TimePerItem {
        /// The unit of work.
        work: String,
        /// Seconds in the unit's time numerator.
        seconds: f64,
    },
}

impl WorkUnit {
    /// Work units per second one instance reporting `value` achieves; `None` when it does no work.
    pub(crate) fn rate(&self, value: f64) -> Option<f64> {
        match self {
            WorkUnit::Rate { seconds, .. } => (value >= 0.0).then(|| value / seconds),
            WorkUnit::TimePerItem { seconds, .. } => (value > 0.0).then(|| 1.0 / (value * seconds)),
        }
        .filter(|r| r.is_finite())
    }

    fn work(&self) -> &str {
        match self {
            WorkUnit::Rate { work, .. } | WorkUnit::TimePerItem { work, .. } => work,
        }
    }
}

/// Seconds in a time unit (`s`, `sec`, `ms`, `us`, `µs`, `ns`, `min`, `h` and spelled-out forms).
pub(crate) fn time_unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit.trim().to_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" | "msec" | "millisecond" | "milliseconds" => 1e-3,
        "us" | "µs" | "μs" | "usec" | "microsecond" | "microseconds" => 1e-6,
        "ns" | "nanosecond" | "nanoseconds" => 1e-9,
        "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600.0,
        _ => return None,
    })
}

/// Reads a figure-of-merit unit; `None` when it is neither a rate nor a time per work item.
pub(crate) fn parse_unit(unit: &str) -> Option<WorkUnit> {
    let unit = unit.trim();
    if let Some((num, den)) = unit.split_once('/') {
        let (num, den) = (num.trim(), den.trim());
        if num.is_empty() || den.is_empty() || den.contains('/') {
            return None;
        }
        return match (time_unit_seconds(num), time_unit_seconds(den)) {
            (None, Some(seconds)) => Some(WorkUnit::Rate {
                work: num.to_string(),
                seconds,
            }),
            (Some(seconds), None) => Some(WorkUnit::TimePerItem {
                work: den.to_string(),
                seconds,
            }),
            _ => None,
        };
    }
    let lower = unit.to_lowercase();
    if lower.ends_with("flops") {
        // `TFLOPS` → `TFLOP`: the last character is the `S` of "per second".
        let work = unit.get(..unit.len() - 1)?;
        return Some(WorkUnit::Rate {
            work: work.to_string(),
            seconds: 1.0,
        });
    }
    (lower == "fps").then(|| WorkUnit::Rate {
        work: "frame".to_string(),
        seconds: 1.0,
    })
}

/// The figures of merit with finite values, their aggregates per workload and unit, the wire's
/// energy-per-work entries, and how many figures were dropped. `energy_j` is the task's GPU energy
/// over a window of `window_s` seconds.
pub(crate) fn aggregate(
    figures: &[FigureOfMerit],
    energy_j: Option<f64>,
    window_s: f64,
) -> (
    Vec<FigureOfMerit>,
    Vec<WorkloadMerit>,
    Vec<EnergyPerWork>,
    u64,
) {
    let kept: Vec<FigureOfMerit> = figures
        .iter()
        .filter(|f| f.value.is_finite())
        .cloned()
        .collect();
    let rejected = (figures.len() - kept.len()) as u64;

    let mut groups: Vec<((&str, &str), Vec<&FigureOfMerit>)> = Vec::new();
    for f in &kept {
        let key = (f.workload.as_str(), f.unit.as_str());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(f),
            None => groups.push((key, vec![f])),
        }
    }

    let mut merits = Vec::with_capacity(groups.len());
    let mut per_work = Vec::new();
    for ((workload, unit), members) in groups {
        let merit = one_group(workload, unit, &members, energy_j, window_s);
        if let (Ok(j), Some(work_unit)) = (merit.energy_per_work, merit.work_unit.clone()) {
            per_work.push(EnergyPerWork {
                workload: workload.to_string(),
                joules_per_unit: j,
                work_unit,
            });
        }
        merits.push(merit);
    }
    (kept, merits, per_work, rejected)
}

fn one_group(
    workload: &str,
    unit: &str,
    members: &[&FigureOfMerit],
    energy_j: Option<f64>,
    window_s: f64,
) -> WorkloadMerit {
    let n = members.len();
    let total: f64 = members.iter().map(|f| f.value).sum();
    let shape = parse_unit(unit);
    let rates: Vec<f64> = shape
        .iter()
        .flat_map(|s| members.iter().filter_map(|f| s.rate(f.value)))
        .collect();
    let work_per_s = (shape.is_some() && !rates.is_empty()).then(|| rates.iter().sum::<f64>());
    let energy_per_work = match (&shape, work_per_s, energy_j) {
        (None, _, _) => Err(NoEnergyPerWork::UnrecognisedUnit),
        (Some(_), None, _) => Err(NoEnergyPerWork::NoWork),
        (Some(_), Some(r), _) if r * window_s <= 0.0 || r.is_nan() => Err(NoEnergyPerWork::NoWork),
        (Some(_), Some(_), None) => Err(NoEnergyPerWork::NoEnergy),
        (Some(_), Some(r), Some(e)) => Ok(e / (r * window_s)),
    };
    WorkloadMerit {
        workload: workload.to_string(),
        unit: unit.to_string(),
        higher_is_better: members.first().is_some_and(|f| f.higher_is_better),
        instances: u32::try_from(n).unwrap_or(u32::MAX),
        mean: if n > 0 { total / n as f64 } else { 0.0 },
        sum: matches!(shape, Some(WorkUnit::Rate { .. })).then_some(total),
        work_per_s,
        work_unit: shape.as_ref().map(|s| s.work().to_string()),
        energy_per_work,
    }
}
