//! Counters a sink keeps so that no point disappears unnoticed: every point accepted ends up
//! written, waiting in the spool, kept as rejected, or counted as dropped — and callers can read
//! which, at any time, through [`SinkMetrics`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a sink's counters.
///
/// Once a sink is closed, `points_accepted` equals `points_written + spool_points +
/// points_rejected + points_invalid + points_dropped()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkMetrics {
    /// Points handed to `accept`.
    pub points_accepted: u64,
    /// Points the destination confirmed (HTTP 2xx, or written to a file).
    pub points_written: u64,
    /// Of `points_written`, those that went through the spool first.
    pub points_replayed: u64,
    /// Points that went to the spool because the database was unreachable (or a backlog existed).
    pub points_spooled: u64,
    /// Points dropped because the spool was full (oldest segment dropped). Each drop is logged.
    pub points_dropped_spool_full: u64,
    /// Points lost because the spool or a rejected-batch file could not be written. Logged.
    pub points_lost_io: u64,
    /// Points the server refused as invalid (HTTP 400/413/422); kept under `<spool>/rejected/`.
    pub points_rejected: u64,
    /// Points that could not be encoded (see `EncodeError`). Logged.
    pub points_invalid: u64,
    /// Fields skipped because a float was NaN or infinite.
    pub fields_skipped_non_finite: u64,
    /// Fields skipped because an unsigned value did not fit the InfluxDB 1.x integer.
    pub fields_skipped_out_of_range: u64,
    /// Fields skipped because a string held a line break.
    pub fields_skipped_unrepresentable: u64,
    /// Write attempts that failed and will be retried.
    pub write_failures: u64,
    /// Bytes in the spool now.
    pub spool_bytes: u64,
    /// Points in the spool now.
    pub spool_points: u64,
    /// Most bytes the spool has held since the sink started.
    pub spool_bytes_high_water: u64,
}

impl SinkMetrics {
    /// Points that are gone for good (spool full or I/O failure).
    pub fn points_dropped(&self) -> u64 {
        self.points_dropped_spool_full + self.points_lost_io
    }

    /// Fields left out of written points.
    pub fn fields_skipped(&self) -> u64 {
        self.fields_skipped_non_finite
            + self.fields_skipped_out_of_range
            + self.fields_skipped_unrepresentable
    }
}

/// The live counters behind [`SinkMetrics`], shared between a sink's handle and its worker.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub points_accepted: AtomicU64,
    pub points_written: AtomicU64,
    pub points_replayed: AtomicU64,
    pub points_spooled: AtomicU64,
    pub points_dropped_spool_full: AtomicU64,
    pub points_lost_io: AtomicU64,
    pub points_rejected: AtomicU64,
    pub points_invalid: AtomicU64,
    pub fields_skipped_non_finite: AtomicU64,
    pub fields_skipped_out_of_range: AtomicU64,
    pub fields_skipped_unrepresentable: AtomicU64,
    pub write_failures: AtomicU64,
    pub spool_bytes: AtomicU64,
    pub spool_points: AtomicU64,
    pub spool_bytes_high_water: AtomicU64,
}

/// Adds `n` to a counter and returns the new total.
pub(crate) fn add(counter: &AtomicU64, n: u64) -> u64 {
    counter.fetch_add(n, Ordering::Relaxed) + n
}

impl Counters {
    pub fn snapshot(&self) -> SinkMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SinkMetrics {
            points_accepted: get(&self.points_accepted),
            points_written: get(&self.points_written),
            points_replayed: get(&self.points_replayed),
            points_spooled: get(&self.points_spooled),
            points_dropped_spool_full: get(&self.points_dropped_spool_full),
            points_lost_io: get(&self.points_lost_io),
            points_rejected: get(&self.points_rejected),
            points_invalid: get(&self.points_invalid),
            fields_skipped_non_finite: get(&self.fields_skipped_non_finite),
            fields_skipped_out_of_range: get(&self.fields_skipped_out_of_range),
            fields_skipped_unrepresentable: get(&self.fields_skipped_unrepresentable),
            write_failures: get(&self.write_failures),
            spool_bytes: get(&self.spool_bytes),
            spool_points: get(&self.spool_points),
            spool_bytes_high_water: get(&self.spool_bytes_high_water),
        }
    }

    /// Records the spool's current size.
    pub fn set_spool(&self, bytes: u64, points: u64) {
        self.spool_bytes.store(bytes, Ordering::Relaxed);
        self.spool_points.store(points, Ordering::Relaxed);
        self.spool_bytes_high_water
            .fetch_max(bytes, Ordering::Relaxed);
    }

    /// Counts what encoding a batch skipped or rejected, and warns (see [`should_warn`]).
    pub fn record_encoding(&self, measurement: &str, outcome: &EncodeOutcome<'_>) {
        match outcome {
            EncodeOutcome::Written(skipped) => {
                if skipped.total() == 0 {
                    return;
                }
                add(&self.fields_skipped_non_finite, skipped.non_finite);
                add(&self.fields_skipped_out_of_range, skipped.out_of_range);
                add(
                    &self.fields_skipped_unrepresentable,
                    skipped.unrepresentable,
                );
                let all = self.snapshot().fields_skipped();
                if should_warn(all, skipped.total()) {
                    tracing::warn!(
                        measurement,
                        skipped = %skipped,
                        fields_skipped_total = all,
                        "telemetry fields left out of a point (line protocol cannot carry them)"
                    );
                }
            }
            EncodeOutcome::Rejected(error) => {
                if let crate::telemetry::point::EncodeError::NoFields { skipped, .. } = error {
                    add(&self.fields_skipped_non_finite, skipped.non_finite);
                    add(&self.fields_skipped_out_of_range, skipped.out_of_range);
                    add(
                        &self.fields_skipped_unrepresentable,
                        skipped.unrepresentable,
                    );
                }
                let total = add(&self.points_invalid, 1);
                if should_warn(total, 1) {
                    tracing::warn!(
                        %error,
                        points_invalid_total = total,
                        "telemetry point not written"
                    );
                }
            }
        }
    }
}

/// The outcome of encoding one point, for [`Counters::record_encoding`].
pub(crate) enum EncodeOutcome<'a> {
    Written(crate::telemetry::point::SkippedFields),
    Rejected(&'a crate::telemetry::point::EncodeError),
}

/// Whether a running total that just grew by `added` to `total` crossed a power of two: recurring
/// problems are logged at 1, 2, 4, 8… occurrences, so logs stay readable while the exact count is
/// always in the metrics.
pub(crate) fn should_warn(total: u64, added: u64) -> bool {
    if added == 0 {
        return false;
    }
    let before = total.saturating_sub(added);
    // A power of two lies in (before, total] iff the highest set bit differs, or before is 0.
    before == 0 || (u64::BITS - before.leading_zeros()) != (u64::BITS - total.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_thin_out_as_powers_of_two() {
        let warned: Vec<u64> = (1..=20).filter(|&t| should_warn(t, 1)).collect();
        assert_eq!(warned, vec![1, 2, 4, 8, 16]);
        assert!(should_warn(9, 3)); // 7..=9 contains 8
        assert!(!should_warn(11, 2));
        assert!(!should_warn(5, 0));
    }

    #[test]
    fn spool_high_water_only_grows() {
        let c = Counters::default();
        c.set_spool(10, 1);
        c.set_spool(4, 1);
        let m = c.snapshot();
        assert_eq!((m.spool_bytes, m.spool_bytes_high_water), (4, 10));
    }
}
