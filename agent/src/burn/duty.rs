//! The duty-cycle decision: how much of each period to keep the GPU busy, and whether one more
//! kernel fits.
//!
//! Kernels come in whole units whose length the scheduler only estimates, so a single period can
//! never hit `level × period` exactly. The error of every period is carried into the next (error
//! diffusion), so the busy fraction over many periods converges to the level even when a kernel is
//! a sizeable part of the busy time. Pure: durations in, decisions out.

use std::time::Duration;

/// A level or period that cannot be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DutyError {
    /// The level is a percentage.
    #[error("level {0}% is out of range; allowed: 0 to 100")]
    Level(u32),
    /// The period must leave room for at least one kernel.
    #[error("period {0:?} is too short; allowed: at least 1 ms")]
    Period(Duration),
}

/// Duty-cycle state: the level, the period and the busy time owed by earlier periods.
#[derive(Debug, Clone, PartialEq)]
pub struct DutyCycle {
    level: f64,
    period: Duration,
    /// Busy time owed (positive) or given in excess (negative) so far, seconds.
    debt_s: f64,
}

impl DutyCycle {
    /// A duty cycle that keeps the GPU busy `level_pct` percent of every `period`.
    pub fn new(level_pct: u32, period: Duration) -> Result<Self, DutyError> {
        if level_pct > 100 {
            return Err(DutyError::Level(level_pct));
        }
        if period < Duration::from_millis(1) {
            return Err(DutyError::Period(period));
        }
        Ok(Self {
            level: f64::from(level_pct) / 100.0,
            period,
            debt_s: 0.0,
        })
    }

    /// The busy fraction asked for, 0–1.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// The period length.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Busy time this period aims for: its share of the period plus what earlier periods owe,
    /// within 0 and the period.
    pub fn target(&self) -> Duration {
        let p = self.period.as_secs_f64();
        Duration::from_secs_f64((self.level * p + self.debt_s).clamp(0.0, p))
    }

    /// Whether to launch one more kernel, `busy` into this period's busy phase, when a kernel is
    /// expected to take `expected`. At 100 % the GPU is never left idle; below, a kernel is
    /// launched when that brings the busy time nearer the target than stopping does (what is
    /// left over is carried into the next period by [`DutyCycle::end_period`]).
    pub fn should_launch(&self, busy: Duration, expected: Duration) -> bool {
        if self.level <= 0.0 {
            return false;
        }
        if self.level >= 1.0 {
            return busy < self.period;
        }
        // Not clamped to the period: a kernel longer than twice the period must still run once
        // enough is owed, or a slow GPU (shared, throttled) would never be loaded at all.
        let owed = self.level * self.period.as_secs_f64() + self.debt_s - busy.as_secs_f64();
        owed > 0.0 && owed >= expected.as_secs_f64() / 2.0
    }

    /// Close a period that lasted `wall` and was busy for `busy`; `expected` is the current kernel
    /// estimate. The debt is bounded by a period (or a kernel, if longer), so a long stall is not
    /// paid back with a long burst.
    pub fn end_period(&mut self, wall: Duration, busy: Duration, expected: Duration) {
        let bound = self.period.max(expected).as_secs_f64();
        self.debt_s = (self.debt_s + self.level * wall.as_secs_f64() - busy.as_secs_f64())
            .clamp(-bound, bound);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn rejects_levels_above_100_and_tiny_periods() {
        assert_eq!(DutyCycle::new(101, ms(100)), Err(DutyError::Level(101)));
        assert_eq!(
            DutyCycle::new(50, Duration::from_micros(999)),
            Err(DutyError::Period(Duration::from_micros(999)))
        );
        assert!(DutyCycle::new(100, ms(1)).is_ok());
    }

    #[test]
    fn target_is_level_times_period_without_debt() {
        let d = DutyCycle::new(30, ms(100)).unwrap();
        assert_eq!(d.target(), ms(30));
    }

    #[test]
    fn launches_while_the_nearest_stop_is_ahead() {
        let d = DutyCycle::new(50, ms(100)).unwrap();
        // 50 ms wanted, kernels of 4 ms: at 48 ms one more brings it to 52 (2 over, nearer than
        // 2 under is not: equal, so launch); at 49 one more would overshoot by 3 > 1 short.
        assert!(d.should_launch(ms(48), ms(4)));
        assert!(!d.should_launch(ms(49), ms(4)));
        assert!(!d.should_launch(ms(50), Duration::ZERO));
    }

    #[test]
    fn zero_never_launches_and_full_never_idles() {
        let zero = DutyCycle::new(0, ms(100)).unwrap();
        assert!(!zero.should_launch(Duration::ZERO, Duration::ZERO));
        let full = DutyCycle::new(100, ms(100)).unwrap();
        assert!(full.should_launch(ms(99), ms(10)));
        assert!(!full.should_launch(ms(100), ms(10)));
    }

    #[test]
    fn shortfall_is_carried_into_the_next_period() {
        let mut d = DutyCycle::new(50, ms(100)).unwrap();
        d.end_period(ms(100), ms(40), ms(4));
        assert_eq!(d.target(), ms(60));
        d.end_period(ms(100), ms(70), ms(4));
        assert_eq!(d.target(), ms(40));
    }

    #[test]
    fn debt_is_bounded_so_a_stall_is_not_paid_back_at_once() {
        let mut d = DutyCycle::new(50, ms(100)).unwrap();
        d.end_period(Duration::from_secs(10), Duration::ZERO, ms(4));
        assert_eq!(d.target(), ms(100));
        d.end_period(ms(100), ms(100), ms(4));
        d.end_period(ms(100), ms(100), ms(4));
        assert_eq!(d.target(), ms(50));
    }

    #[test]
    fn a_kernel_longer_than_the_period_still_runs_once_owed() {
        let mut d = DutyCycle::new(50, ms(100)).unwrap();
        let long = ms(300);
        assert!(!d.should_launch(Duration::ZERO, long));
        let mut periods = 0;
        while !d.should_launch(Duration::ZERO, long) {
            d.end_period(ms(100), Duration::ZERO, long);
            periods += 1;
            assert!(periods < 10, "never launched");
        }
    }
}
