//! Time for simulated GPUs, injectable so that tests advance it deterministically instead of
//! sleeping: the physical model only ever asks a [`Clock`] what time it is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of absolute time, microseconds since the Unix epoch (the driver's timestamp unit).
pub trait Clock: Send + Sync {
    /// Now, µs since the Unix epoch.
    fn now_us(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now_us(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to: tests set and advance it.
#[derive(Debug)]
pub struct ManualClock {
    now_us: AtomicU64,
}

impl ManualClock {
    /// 2025-01-01T00:00:00Z: a round, realistic start (a multiple of the 20 ms sample period).
    pub const DEFAULT_START_US: u64 = 1_735_689_600_000_000;

    /// A clock standing at `start_us`.
    pub fn new(start_us: u64) -> Self {
        Self {
            now_us: AtomicU64::new(start_us),
        }
    }

    /// Move forward by `by`.
    pub fn advance(&self, by: Duration) {
        let us = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.now_us.fetch_add(us, Ordering::SeqCst);
    }

    /// Move forward by `us` microseconds.
    pub fn advance_us(&self, us: u64) {
        self.now_us.fetch_add(us, Ordering::SeqCst);
    }

    /// Set the time (never backwards: an earlier time is ignored, as a monotonic clock would).
    pub fn set_us(&self, us: u64) {
        self.now_us.fetch_max(us, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(Self::DEFAULT_START_US)
    }
}

impl Clock for ManualClock {
    fn now_us(&self) -> u64 {
        self.now_us.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_never_back() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_us(), 1_000);
        c.advance(Duration::from_millis(20));
        assert_eq!(c.now_us(), 21_000);
        c.advance_us(5);
        assert_eq!(c.now_us(), 21_005);
        c.set_us(10);
        assert_eq!(c.now_us(), 21_005);
        c.set_us(50_000);
        assert_eq!(c.now_us(), 50_000);
    }

    #[test]
    fn real_clock_is_after_2020() {
        assert!(RealClock.now_us() > 1_577_836_800_000_000);
    }
}
