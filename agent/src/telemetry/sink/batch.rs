//! Batching and retry pacing, as pure bookkeeping: the worker asks these what to do and when, so the
//! rules can be tested without a clock or a server.

use super::config::{BatchConfig, RetryConfig};
use std::time::Duration;
use tokio::time::Instant;

/// Encoded lines waiting to be sent together.
#[derive(Debug, Default)]
pub(crate) struct PendingBatch {
    text: String,
    lines: u64,
    opened_at: Option<Instant>,
}

/// A batch taken out of [`PendingBatch`] to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub text: String,
    pub lines: u64,
}

impl PendingBatch {
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Whether `line_bytes` more would push a non-empty batch past `max_bytes` (send it first).
    pub fn would_overflow(&self, cfg: &BatchConfig, line_bytes: usize) -> bool {
        !self.is_empty() && self.text.len() + line_bytes > cfg.max_bytes
    }

    /// Adds one encoded line (with its `\n`).
    pub fn push(&mut self, line: &str, now: Instant) {
        if self.opened_at.is_none() {
            self.opened_at = Some(now);
        }
        self.text.push_str(line);
        self.lines += 1;
    }

    /// Whether a size limit is reached (send now).
    pub fn is_full(&self, cfg: &BatchConfig) -> bool {
        self.lines >= cfg.max_points as u64 || self.text.len() >= cfg.max_bytes
    }

    /// When the batch must be sent even if not full; `None` when empty.
    pub fn deadline(&self, cfg: &BatchConfig) -> Option<Instant> {
        self.opened_at.map(|t| t + cfg.interval)
    }

    /// Takes the batch out, leaving this empty.
    pub fn take(&mut self) -> Option<Batch> {
        if self.is_empty() {
            return None;
        }
        self.opened_at = None;
        let lines = std::mem::take(&mut self.lines);
        Some(Batch {
            text: std::mem::take(&mut self.text),
            lines,
        })
    }
}

/// The delay before the next attempt after `failures` consecutive failures (≥ 1): `initial`,
/// doubling each time, capped at `max`.
pub(crate) fn backoff_delay(cfg: &RetryConfig, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    cfg.initial
        .checked_mul(1_u32 << doublings.min(31))
        .map_or(cfg.max, |d| d.min(cfg.max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BatchConfig {
        BatchConfig {
            max_points: 3,
            max_bytes: 10,
            interval: Duration::from_secs(1),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn batches_fill_by_points_or_bytes_and_expire_after_the_interval() {
        let t0 = Instant::now();
        let mut b = PendingBatch::default();
        assert_eq!(b.deadline(&cfg()), None);
        b.push("a 1\n", t0);
        assert_eq!(b.deadline(&cfg()), Some(t0 + Duration::from_secs(1)));
        assert!(!b.is_full(&cfg()));
        assert!(b.would_overflow(&cfg(), 7));
        b.push("b\n", t0 + Duration::from_millis(5));
        b.push("c\n", t0);
        assert!(b.is_full(&cfg()));
        assert_eq!(
            b.take(),
            Some(Batch {
                text: "a 1\nb\nc\n".into(),
                lines: 3
            })
        );
        assert!(b.take().is_none());
        assert_eq!(b.deadline(&cfg()), None);
        // A single oversized line is never an overflow of an empty batch.
        assert!(!b.would_overflow(&cfg(), 100));
        b.push("0123456789abc\n", t0);
        assert!(b.is_full(&cfg()));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cfg = RetryConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
        };
        let delays: Vec<u64> = (1..=7)
            .map(|f| backoff_delay(&cfg, f).as_millis() as u64)
            .collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(backoff_delay(&cfg, u32::MAX), cfg.max);
        assert_eq!(backoff_delay(&cfg, 0), cfg.initial);
    }
}
