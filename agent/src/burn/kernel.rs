//! The burn kernel: hand-written PTX the driver JIT-compiles, its launch geometry, and the
//! arithmetic that turns launches into GFLOP.
//!
//! PTX ISA 7.0 for `sm_70` is accepted by every driver from CUDA 11.0 on (580 included) and JIT-
//! compiled for the GPU at hand (Volta to Hopper and later). Each thread runs `iters` rounds of
//! [`FMAS_PER_ITER`] fused multiply-adds on registers, in [`CHAINS`] independent chains so the FMA
//! pipelines stay full, then stores one float so the compiler cannot drop the work. The chains
//! iterate `x = a·x + b` with `a` just below 1, which converges to a finite value: no overflow,
//! NaN or denormal slow paths whatever the iteration count.

use std::fmt::Write as _;
use std::time::Duration;

/// Name of the kernel's entry point in [`ptx`].
pub const ENTRY: &str = "fma_burn";
/// Independent FMA chains per thread.
pub const CHAINS: u32 = 8;
/// Times the chains are unrolled inside one loop round.
pub const UNROLL: u32 = 8;
/// FMAs per thread per loop round.
pub const FMAS_PER_ITER: u32 = CHAINS * UNROLL;
/// Threads per block.
pub const BLOCK_THREADS: u32 = 256;
/// Blocks per multiprocessor: 2048 resident threads on every architecture from Volta on.
pub const BLOCKS_PER_SM: u32 = 8;

/// The PTX source of the burn kernel, `fma_burn(float *out, u32 iters, f32 seed)`.
pub fn ptx() -> String {
    let mut fmas = String::new();
    for _ in 0..UNROLL {
        for c in 0..CHAINS {
            // Accumulators are %f3..%f10; %f11 holds a, %f12 holds b.
            let _ = writeln!(fmas, "\tfma.rn.f32 \t%f{r}, %f{r}, %f11, %f12;", r = 3 + c);
        }
    }
    PTX_TEMPLATE.replace("{FMAS}", &fmas)
}

const PTX_TEMPLATE: &str = r".version 7.0
.target sm_70
.address_size 64

.visible .entry fma_burn(
	.param .u64 fma_burn_out,
	.param .u32 fma_burn_iters,
	.param .f32 fma_burn_seed
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<8>;
	.reg .f32 	%f<16>;
	.reg .b64 	%rd<5>;

	ld.param.u64 	%rd1, [fma_burn_out];
	ld.param.u32 	%r1, [fma_burn_iters];
	ld.param.f32 	%f1, [fma_burn_seed];
	mov.u32 	%r2, %ctaid.x;
	mov.u32 	%r3, %ntid.x;
	mov.u32 	%r4, %tid.x;
	mad.lo.s32 	%r5, %r2, %r3, %r4;
	cvt.rn.f32.u32 	%f2, %r5;
	mul.rn.f32 	%f2, %f2, 0f33800000;
	add.rn.f32 	%f3, %f1, %f2;
	add.rn.f32 	%f4, %f3, 0f3F800000;
	add.rn.f32 	%f5, %f3, 0f40000000;
	add.rn.f32 	%f6, %f3, 0f40400000;
	add.rn.f32 	%f7, %f3, 0f40800000;
	add.rn.f32 	%f8, %f3, 0f40A00000;
	add.rn.f32 	%f9, %f3, 0f40C00000;
	add.rn.f32 	%f10, %f3, 0f40E00000;
	mov.f32 	%f11, 0f3F7FFFEF;
	mov.f32 	%f12, 0f3A83126F;
	mov.u32 	%r6, 0;
	setp.eq.u32 	%p1, %r1, 0;
	@%p1 bra 	DONE;
LOOP:
{FMAS}	add.u32 	%r6, %r6, 1;
	setp.lt.u32 	%p1, %r6, %r1;
	@%p1 bra 	LOOP;
DONE:
	add.rn.f32 	%f13, %f3, %f4;
	add.rn.f32 	%f13, %f13, %f5;
	add.rn.f32 	%f13, %f13, %f6;
	add.rn.f32 	%f13, %f13, %f7;
	add.rn.f32 	%f13, %f13, %f8;
	add.rn.f32 	%f13, %f13, %f9;
	add.rn.f32 	%f13, %f13, %f10;
	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.u32 	%rd3, %r5, 4;
	add.s64 	%rd4, %rd2, %rd3;
	st.global.f32 	[%rd4], %f13;
	ret;
}
";

/// How a launch covers the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Blocks in the (one-dimensional) grid.
    pub blocks: u32,
    /// Threads per block.
    pub threads_per_block: u32,
}

impl Geometry {
    /// A grid that fills `sm_count` multiprocessors (a MIG instance has fewer).
    pub fn for_sms(sm_count: u32) -> Self {
        Self {
            blocks: sm_count.max(1).saturating_mul(BLOCKS_PER_SM),
            threads_per_block: BLOCK_THREADS,
        }
    }

    /// Threads in one launch, which is also the length of the output buffer.
    pub fn threads(&self) -> u64 {
        u64::from(self.blocks) * u64::from(self.threads_per_block)
    }

    /// Floating-point operations of one launch of `iters` rounds, GFLOP (an FMA counts 2).
    pub fn gflop(&self, iters: u32) -> f64 {
        let flop = self.threads() as f64 * f64::from(iters) * f64::from(FMAS_PER_ITER) * 2.0;
        flop / 1e9
    }
}

/// Fewest and most rounds per launch.
pub const MIN_ITERS: u32 = 16;
/// Most rounds per launch (a few seconds on the slowest GPU this could meet).
pub const MAX_ITERS: u32 = 1 << 24;

/// How long one kernel should take for a period: short enough for a fine duty cycle (a fiftieth of
/// the period), long enough that launch overhead is noise (at least 0.2 ms), at most 2 ms.
pub fn kernel_target(period: Duration) -> Duration {
    (period / 50).clamp(Duration::from_micros(200), Duration::from_millis(2))
}

/// Rounds per launch that should take `target`, given that `iters` rounds took `measured`.
pub fn calibrate_iters(iters: u32, measured: Duration, target: Duration) -> u32 {
    let measured_s = measured.as_secs_f64();
    if measured_s <= 0.0 {
        // Too fast to time: grow geometrically until it is measurable.
        return iters.saturating_mul(8).clamp(MIN_ITERS, MAX_ITERS);
    }
    let scaled = f64::from(iters) * target.as_secs_f64() / measured_s;
    // At most ×8 per step: the first launches include one-off costs and must not overshoot.
    let bounded = scaled.min(f64::from(iters) * 8.0);
    (bounded.round() as u32).clamp(MIN_ITERS, MAX_ITERS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ptx_has_every_fma_the_flop_count_assumes() {
        let src = ptx();
        assert_eq!(src.matches("fma.rn.f32").count(), FMAS_PER_ITER as usize);
        assert!(src.starts_with(".version 7.0\n.target sm_70\n"));
        assert!(src.contains(&format!(".visible .entry {ENTRY}(")));
        assert!(!src.contains("{FMAS}"));
    }

    #[test]
    fn ptx_uses_only_declared_registers() {
        // %f<16> declares %f0..%f15; %r<8> and %rd<5> likewise.
        let src = ptx();
        for (prefix, count) in [("%f", 16), ("%r", 8), ("%rd", 5), ("%p", 2)] {
            for (i, _) in src.match_indices(prefix) {
                let digits: String = src[i + prefix.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse::<u32>() {
                    assert!(n < count, "{prefix}{n} is not declared");
                }
            }
        }
    }

    #[test]
    fn geometry_fills_every_multiprocessor() {
        let g = Geometry::for_sms(132);
        assert_eq!(g.blocks, 1056);
        assert_eq!(g.threads(), 270_336);
        // 270336 threads × 1000 rounds × 64 FMAs × 2 FLOP.
        assert!((g.gflop(1000) - 34.603_008).abs() < 1e-9);
        assert_eq!(Geometry::for_sms(0).blocks, BLOCKS_PER_SM);
    }

    #[test]
    fn kernel_target_follows_the_period_within_bounds() {
        assert_eq!(
            kernel_target(Duration::from_millis(100)),
            Duration::from_millis(2)
        );
        assert_eq!(
            kernel_target(Duration::from_millis(50)),
            Duration::from_millis(1)
        );
        assert_eq!(
            kernel_target(Duration::from_millis(1)),
            Duration::from_micros(200)
        );
    }

    #[test]
    fn calibration_scales_towards_the_target() {
        let target = Duration::from_millis(2);
        assert_eq!(calibrate_iters(1000, Duration::from_millis(4), target), 500);
        assert_eq!(
            calibrate_iters(1000, Duration::from_millis(1), target),
            2000
        );
        // A first launch that looked instantaneous grows by at most ×8.
        assert_eq!(
            calibrate_iters(1000, Duration::from_nanos(10), target),
            8000
        );
        assert_eq!(calibrate_iters(1000, Duration::ZERO, target), 8000);
    }

    proptest! {
        #[test]
        fn calibration_converges_for_any_speed(rate in 1e3f64..1e9, start in MIN_ITERS..100_000u32) {
            // A GPU doing `rate` rounds per second: after a few steps a launch takes the target.
            let target = Duration::from_millis(2);
            let mut iters = start;
            for _ in 0..12 {
                let took = Duration::from_secs_f64(f64::from(iters) / rate);
                iters = calibrate_iters(iters, took, target);
            }
            let took = f64::from(iters) / rate;
            let want = target.as_secs_f64();
            prop_assert!(
                iters == MIN_ITERS || iters == MAX_ITERS || (took - want).abs() <= want * 0.01,
                "iters {iters} take {took} s, want {want} s"
            );
        }
    }
}
