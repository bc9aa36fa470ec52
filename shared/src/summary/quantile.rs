//! Time-weighted percentiles of a piecewise-linear signal.
//!
//! Definition: `p`-quantile = the smallest value `x` such that the signal is at or below `x` for at
//! least the fraction `p` of the window's time. With the signal linear between samples (as for the
//! energy integral), each segment from `a` to `b` lasting `dt` spreads `dt` of time uniformly over the
//! values between `a` and `b` (a flat segment puts all of it on one value), so the distribution is
//! exact and its mean is exactly the time-weighted mean power.
//!
//! Why time-weighted rather than the percentile of the raw samples: the driver's buffer is not evenly
//! spaced (gaps, bursts after a stall), and an unweighted percentile would let a burst of samples
//! taken in 100 ms outweigh a gap of seconds. Weighting by time makes `p95` mean "power was at or
//! below this value 95 % of the time", independent of how the samples happen to be spaced; on evenly
//! spaced samples it matches the usual percentile up to interpolation.

use super::signal::Ns;

/// One breakpoint of the value distribution: at `x`, `mass` of time sits on exactly `x` (flat
/// segments) and the density of time per unit value changes by `d_density` (sloped segments start
/// or end there).
#[derive(Debug, Clone, Copy)]
struct Breakpoint {
    x: f64,
    mass: f64,
    d_density: f64,
}

/// The time-weighted `p`-quantile (`p` in 0–1, clamped) of the polyline `vertices` (at least two,
/// strictly increasing times). Returns the lowest value for `p = 0`, the highest for `p = 1`; 0 for
/// fewer than two vertices.
pub(crate) fn time_weighted(vertices: &[(Ns, f64)], p: f64) -> f64 {
    let p = if p.is_nan() { 0.5 } else { p.clamp(0.0, 1.0) };
    let mut points: Vec<Breakpoint> = Vec::with_capacity(vertices.len() * 2);
    let mut total = 0.0;
    for w in vertices.windows(2) {
        let (t0, a) = w[0];
        let (t1, b) = w[1];
        let dt = (t1 - t0) as f64;
        if dt <= 0.0 {
            continue;
        }
        total += dt;
        let (lo, hi) = (a.min(b), a.max(b));
        let span = hi - lo;
        let density = dt / span;
        if span > 0.0 && density.is_finite() {
            points.push(Breakpoint {
                x: lo,
                mass: 0.0,
                d_density: density,
            });
            points.push(Breakpoint {
                x: hi,
                mass: 0.0,
                d_density: -density,
            });
        } else {
            points.push(Breakpoint {
                x: lo,
                mass: dt,
                d_density: 0.0,
            });
        }
    }
    points.sort_by(|l, r| l.x.total_cmp(&r.x));
    let Some(last) = points.last().map(|b| b.x) else {
        return vertices.first().map_or(0.0, |v| v.1);
    };
    let target = p * total;
    let mut below = 0.0; // time at or below the current x
    let mut density = 0.0; // time per unit value just above the current x
    let mut i = 0;
    while let Some(here) = points.get(i).map(|b| b.x) {
        // Every breakpoint at this value: point masses and density changes (at least this one,
        // so that the loop advances even on a value that compares unequal to itself).
        let first = i;
        while let Some(b) = points.get(i).filter(|b| i == first || b.x == here) {
            below += b.mass;
            density += b.d_density;
            i += 1;
        }
        density = density.max(0.0);
        if below >= target {
            return here;
        }
        let Some(next) = points.get(i).map(|b| b.x) else {
            break;
        };
        let gained = density * (next - here);
        if density > 0.0 && below + gained >= target {
            return (here + (target - below) / density).min(next);
        }
        below += gained;
    }
    last
}
