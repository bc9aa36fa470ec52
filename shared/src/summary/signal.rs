//! Sampled signals as piecewise-linear functions of time: the one model behind every energy, mean,
//! peak and percentile in the summary, so that all of them agree with each other.
//!
//! * Hygiene ([`clean`]): readings are sorted by time; a non-finite or negative value is rejected
//!   (counted) before duplicates are resolved, so it never shadows a good reading; of several
//!   readings with the same timestamp the first one given is kept (overlapping reads of the driver's
//!   ring buffer repeat samples; a repeat with a different value is counted as a conflict).
//! * Between two samples the signal is the straight line joining them (the trapezoidal rule).
//!   Before the first sample it holds the first value, after the last sample the last value: this
//!   extrapolated time is reported, and counts as uncovered wherever it lies more than one sample
//!   period from a sample (see `coverage`).
//! * [`Series::clip`] cuts the signal exactly at a window's boundaries, interpolating there, into a
//!   [`Polyline`]; energy is its integral, the mean its integral over the duration, the peak its
//!   highest vertex (a sample inside the window or an interpolated edge value).

use super::quantile;

/// Time on one common axis: unix nanoseconds (wide enough for every source's clock without overflow).
pub(crate) type Ns = i128;

/// Nanoseconds per second.
pub(crate) const NS_PER_S: f64 = 1e9;

/// Length of `[a, b]` in seconds.
pub(crate) fn seconds(a: Ns, b: Ns) -> f64 {
    (b - a) as f64 / NS_PER_S
}

/// What hygiene did to a series of readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hygiene {
    /// Readings given.
    pub received: u64,
    /// Readings kept.
    pub kept: u64,
    /// Rejected: value not finite (NaN, ±∞).
    pub non_finite: u64,
    /// Rejected: value below zero.
    pub negative: u64,
    /// Dropped: a reading with the same timestamp was kept already.
    pub duplicates: u64,
    /// Of the duplicates, those whose value differed from the kept reading.
    pub conflicting_duplicates: u64,
}

/// A cleaned signal: strictly increasing times, finite non-negative values.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Series {
    points: Vec<(Ns, f64)>,
}

/// Sorts, de-duplicates and filters `readings` (time, value) into a [`Series`].
pub(crate) fn clean(readings: impl IntoIterator<Item = (Ns, f64)>) -> (Series, Hygiene) {
    let mut hygiene = Hygiene::default();
    let mut points: Vec<(Ns, f64)> = Vec::new();
    for (t, v) in readings {
        hygiene.received += 1;
        if !v.is_finite() {
            hygiene.non_finite += 1;
        } else if v < 0.0 {
            hygiene.negative += 1;
        } else {
            points.push((t, v));
        }
    }
    // Stable: among equal timestamps the first one given stays first.
    points.sort_by_key(|p| p.0);
    let mut kept: Vec<(Ns, f64)> = Vec::with_capacity(points.len());
    for p in points {
        match kept.last() {
            Some(last) if last.0 == p.0 => {
                hygiene.duplicates += 1;
                if last.1.to_bits() != p.1.to_bits() {
                    hygiene.conflicting_duplicates += 1;
                }
            }
            _ => kept.push(p),
        }
    }
    hygiene.kept = kept.len() as u64;
    (Series { points: kept }, hygiene)
}

impl Series {
    /// The cleaned points, oldest first.
    pub(crate) fn points(&self) -> &[(Ns, f64)] {
        &self.points
    }

    /// Time of the first and last point.
    pub(crate) fn span(&self) -> Option<(Ns, Ns)> {
        Some((self.points.first()?.0, self.points.last()?.0))
    }

    /// The signal at `t`: interpolated between samples, held before the first and after the last.
    pub(crate) fn value_at(&self, t: Ns) -> Option<f64> {
        let i = self.points.partition_point(|p| p.0 <= t);
        let (a, b) = match (
            i.checked_sub(1).and_then(|j| self.points.get(j)),
            self.points.get(i),
        ) {
            (Some(a), Some(b)) => (*a, *b),
            (Some(a), None) => return Some(a.1),
            (None, Some(b)) => return Some(b.1),
            (None, None) => return None,
        };
        let f = (t - a.0) as f64 / (b.0 - a.0) as f64;
        Some(lerp(a.1, b.1, f))
    }

    /// The signal over `[start, end]`; `None` when it has no point or the window lasts no time.
    pub(crate) fn clip(&self, start: Ns, end: Ns) -> Option<Polyline> {
        if end <= start {
            return None;
        }
        let first = self.value_at(start)?;
        let last = self.value_at(end)?;
        let lo = self.points.partition_point(|p| p.0 <= start);
        let hi = self.points.partition_point(|p| p.0 < end);
        let mut vertices = Vec::with_capacity(hi.saturating_sub(lo) + 2);
        vertices.push((start, first));
        vertices.extend(self.points.get(lo..hi).unwrap_or_default().iter().copied());
        vertices.push((end, last));
        Some(Polyline { vertices })
    }

    /// Points with `start <= t < end`.
    pub(crate) fn count_in(&self, start: Ns, end: Ns) -> usize {
        let lo = self.points.partition_point(|p| p.0 < start);
        let hi = self.points.partition_point(|p| p.0 < end);
        hi.saturating_sub(lo)
    }

    /// Time within `[start, end]` before the first and after the last point, seconds (the whole
    /// window when there is no point).
    pub(crate) fn extrapolated_s(&self, start: Ns, end: Ns) -> f64 {
        let Some((first, last)) = self.span() else {
            return seconds(start, end.max(start));
        };
        let before = first.clamp(start, end) - start;
        let after = end - last.clamp(start, end);
        (before + after) as f64 / NS_PER_S
    }
}

/// `a + (b - a) f`, written so that it never leaves `[min(a, b), max(a, b)]` for `f` in `[0, 1]`
/// and never overflows for finite inputs.
fn lerp(a: f64, b: f64, f: f64) -> f64 {
    let f = f.clamp(0.0, 1.0);
    let v = a * (1.0 - f) + b * f;
    v.max(a.min(b)).min(a.max(b))
}

/// A signal cut to a window: at least two vertices, strictly increasing times, the first and last
/// exactly at the window's boundaries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Polyline {
    vertices: Vec<(Ns, f64)>,
}

impl Polyline {
    /// The vertices, oldest first.
    pub(crate) fn vertices(&self) -> &[(Ns, f64)] {
        &self.vertices
    }

    /// Its duration, seconds.
    pub(crate) fn duration_s(&self) -> f64 {
        match (self.vertices.first(), self.vertices.last()) {
            (Some(a), Some(b)) => seconds(a.0, b.0),
            _ => 0.0,
        }
    }

    /// The trapezoidal integral, value × seconds (joules for watts).
    pub(crate) fn integral(&self) -> f64 {
        self.vertices
            .windows(2)
            .map(|w| (0.5 * w[0].1 + 0.5 * w[1].1) * seconds(w[0].0, w[1].0))
            .sum()
    }

    /// Highest vertex value.
    pub(crate) fn peak(&self) -> f64 {
        self.vertices.iter().map(|v| v.1).fold(0.0, f64::max)
    }

    /// Lowest vertex value.
    pub(crate) fn low(&self) -> f64 {
        self.vertices
            .iter()
            .map(|v| v.1)
            .fold(f64::INFINITY, f64::min)
    }

    /// Time-weighted mean: integral over duration, kept within `[low, peak]` (where it lies
    /// mathematically) so that rounding cannot put it a hair outside.
    pub(crate) fn mean(&self) -> f64 {
        let d = self.duration_s();
        let m = if d > 0.0 {
            self.integral() / d
        } else {
            self.peak()
        };
        // `max`/`min` rather than `clamp`: they cannot panic, whatever the bounds.
        m.max(self.low()).min(self.peak())
    }

    /// Time-weighted quantile `p` (0–1) of the signal's values; see the `quantile` module.
    pub(crate) fn quantile(&self, p: f64) -> f64 {
        quantile::time_weighted(&self.vertices, p)
    }
}
