//! Energy over the measured window from a GPU's cumulative energy counter.
//!
//! The readings taken nearest to the window's start and end (each within the tolerance) bound the
//! counter's interval; every reading between them is used too, so that a counter going backwards in
//! the middle is seen. Each step between consecutive readings is an increment, except when the
//! counter went backwards:
//!
//! * a **wrap** when the wrapped increment (`new + 2⁶⁴ − old` mJ, NVML's counter being 64-bit)
//!   implies at most the plausible power over the step (allowing one extra second for clock jitter);
//!   the increment is used and the wrap counted;
//! * a **reset** (driver reload, GPU reset) otherwise: the energy before the reset is lost, so the
//!   window's energy is unknown; the outcome carries a lower bound (the increments seen plus the
//!   count since each reset) and the summary reports no counter energy rather than a wrong one.
//!
//! A total implying more than the plausible power is reported as implausible and not used either.
//! The counter energy covers the interval between the two readings, not exactly the window; the
//! offsets are reported, and the disagreement with the samples is computed over that same interval.

use super::inputs::CounterReading;
use super::signal::{NS_PER_S, Ns};

/// Which boundary of the window lacks a counter reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// The window's start.
    Start,
    /// The window's end.
    End,
}

/// What the energy counter says about the measured window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CounterOutcome {
    /// The GPU has no energy counter.
    NoCounter,
    /// No reading within the tolerance of a boundary (or one reading nearest to both).
    MissingReading {
        /// The boundary without its own reading.
        boundary: Boundary,
    },
    /// The counter's energy, usable.
    Valid(CounterEnergy),
    /// The counter went backwards and the wrapped increment is implausible: it was reset.
    Reset {
        /// Energy certainly spent, joules (the window's energy is at least this).
        lower_bound_j: f64,
        /// Resets seen.
        resets: u32,
    },
    /// The counter rose by more than the plausible power allows.
    Implausible(CounterEnergy),
}

impl CounterOutcome {
    /// The usable energy, joules.
    pub fn joules(&self) -> Option<f64> {
        match self {
            CounterOutcome::Valid(e) => Some(e.joules),
            _ => None,
        }
    }
}

/// Energy between two counter readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CounterEnergy {
    /// Joules.
    pub joules: f64,
    /// Time of the reading used as the start, unix microseconds.
    pub from_us: u64,
    /// Time of the reading used as the end, unix microseconds.
    pub to_us: u64,
    /// Wraps detected and corrected.
    pub wraps: u32,
}

/// The counter's energy over `[start, end]` (nanoseconds) from `readings` (any order).
pub(crate) fn counter_energy(
    readings: &[CounterReading],
    start: Ns,
    end: Ns,
    tolerance: Ns,
    max_plausible_w: f64,
) -> CounterOutcome {
    let mut sorted = readings.to_vec();
    sorted.sort_by_key(|r| r.timestamp_us);
    sorted.dedup();
    let at = |r: &CounterReading| Ns::from(r.timestamp_us) * 1_000;
    // Nearest to the start (earliest on a tie), nearest to the end (latest on a tie).
    let first = sorted
        .iter()
        .enumerate()
        .filter(|(_, r)| (at(r) - start).abs() <= tolerance)
        .min_by_key(|(_, r)| (at(r) - start).abs())
        .map(|(i, _)| i);
    let last = sorted
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, r)| (at(r) - end).abs() <= tolerance)
        .min_by_key(|(_, r)| (at(r) - end).abs())
        .map(|(i, _)| i);
    let (first, last) = match (first, last) {
        (None, _) => {
            return CounterOutcome::MissingReading {
                boundary: Boundary::Start,
            };
        }
        (Some(f), Some(l)) if l > f => (f, l),
        _ => {
            return CounterOutcome::MissingReading {
                boundary: Boundary::End,
            };
        }
    };
    let used = sorted.get(first..=last).unwrap_or_default();

    let mut total_mj: u128 = 0;
    let mut since_resets_mj: u128 = 0;
    let (mut wraps, mut resets) = (0u32, 0u32);
    for w in used.windows(2) {
        let (old, new) = (w[0], w[1]);
        if new.millijoules >= old.millijoules {
            total_mj += u128::from(new.millijoules - old.millijoules);
            continue;
        }
        let wrapped = new.millijoules.wrapping_sub(old.millijoules);
        let dt_s = (new.timestamp_us - old.timestamp_us) as f64 / 1e6;
        if (wrapped as f64) / 1_000.0 <= max_plausible_w * (dt_s + 1.0) {
            wraps += 1;
            total_mj += u128::from(wrapped);
        } else {
            resets += 1;
            since_resets_mj += u128::from(new.millijoules);
        }
    }
    let (from, to) = match (used.first(), used.last()) {
        (Some(f), Some(t)) => (*f, *t),
        _ => {
            return CounterOutcome::MissingReading {
                boundary: Boundary::Start,
            };
        }
    };
    if resets > 0 {
        return CounterOutcome::Reset {
            lower_bound_j: (total_mj + since_resets_mj) as f64 / 1_000.0,
            resets,
        };
    }
    let energy = CounterEnergy {
        joules: total_mj as f64 / 1_000.0,
        from_us: from.timestamp_us,
        to_us: to.timestamp_us,
        wraps,
    };
    let span_s = (at(&to) - at(&from)) as f64 / NS_PER_S;
    if energy.joules > max_plausible_w * (span_s + 1.0) {
        return CounterOutcome::Implausible(energy);
    }
    CounterOutcome::Valid(energy)
}
