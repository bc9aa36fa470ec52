//! The measured window, taken from the phase timings after checking them.

use std::collections::BTreeMap;

use crate::wire::{Phase, PhaseTiming};

use super::error::SummaryError;
use super::signal::{Ns, seconds};

/// The measured window on the common nanosecond axis; `end > start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Start, unix nanoseconds.
    pub start: Ns,
    /// End, unix nanoseconds.
    pub end: Ns,
}

impl Window {
    /// Its duration, seconds.
    pub(crate) fn duration_s(&self) -> f64 {
        seconds(self.start, self.end)
    }
}

/// Checks the phase timings (no inverted phase, no known phase twice, one non-empty measured
/// window) and returns them in run order (by start, stable) with the measured window.
pub(crate) fn measured_window(
    phases: &[PhaseTiming],
) -> Result<(Vec<PhaseTiming>, Window), SummaryError> {
    let mut counts: BTreeMap<Phase, usize> = BTreeMap::new();
    for p in phases {
        if p.end_ms < p.start_ms {
            return Err(SummaryError::InvertedPhase {
                phase: p.phase,
                start_ms: p.start_ms,
                end_ms: p.end_ms,
            });
        }
        if p.phase != Phase::Unknown {
            *counts.entry(p.phase).or_default() += 1;
        }
    }
    if let Some((&phase, &count)) = counts.iter().find(|(_, c)| **c > 1) {
        return Err(SummaryError::DuplicatePhase { phase, count });
    }
    let measure =
        phases
            .iter()
            .find(|p| p.phase == Phase::Measure)
            .ok_or(SummaryError::NoMeasurePhase {
                count: phases.len(),
            })?;
    if measure.end_ms == measure.start_ms {
        return Err(SummaryError::EmptyWindow {
            at_ms: measure.start_ms,
        });
    }
    let mut ordered = phases.to_vec();
    ordered.sort_by_key(|p| p.start_ms);
    let window = Window {
        start: Ns::from(measure.start_ms) * 1_000_000,
        end: Ns::from(measure.end_ms) * 1_000_000,
    };
    Ok((ordered, window))
}
