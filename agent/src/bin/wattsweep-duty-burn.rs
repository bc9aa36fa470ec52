//! `wattsweep-duty-burn`: keep one GPU busy LEVEL percent of every period, on any node with only
//! the NVIDIA driver installed. The process runtime starts it for usage-grid sweeps; its lines are
//! read by the `duty-burn` workload in `deploy/workloads/duty-burn.toml`.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use wattsweep_agent::burn::cuda::Gpu;
use wattsweep_agent::burn::kernel::{self, calibrate_iters, kernel_target};
use wattsweep_agent::burn::{BurnError, Clock, DutyCycle, Work, ready_line, run};

/// Duty-cycled GPU load: busy LEVEL % of every period with an FMA kernel, idle the rest.
///
/// Prints `duty-burn ready` once the kernel is compiled and calibrated, then every second
/// `duty-burn t=… level=…% busy_fraction=… kernels=… gflops=…` (GFLOP/s achieved while busy),
/// and at the end `duty-burn done busy_fraction=…`. Exit 1 when the driver, the device or the
/// kernel fails, with the reason.
#[derive(Debug, Parser)]
#[command(name = "wattsweep-duty-burn", version)]
struct Args {
    /// Busy share of every period, percent (0 to 100).
    #[arg(long, env = "WATTSWEEP_BURN_LEVEL", value_parser = clap::value_parser!(u32).range(0..=100))]
    level: u32,
    /// How long to run, seconds.
    #[arg(long, env = "WATTSWEEP_BURN_SECONDS", value_parser = positive_seconds)]
    seconds: f64,
    /// Length of one duty-cycle period, milliseconds.
    #[arg(long, env = "WATTSWEEP_BURN_PERIOD_MS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    period_ms: u64,
    /// CUDA device index among the visible ones; with CUDA_VISIBLE_DEVICES set to one GPU or MIG
    /// UUID, device 0 is that device.
    #[arg(long, env = "WATTSWEEP_BURN_DEVICE", default_value_t = 0)]
    device: usize,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "\"{s}\" is not a number of seconds; allowed: a positive number, e.g. 30 or 0.5"
        )),
    }
}

/// Kernels per calibration round, launched back to back.
const CALIBRATION_KERNELS: u32 = 4;

/// Wall-clock time from the process's monotonic clock.
struct WallClock(Instant);

impl Clock for WallClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
    fn sleep_until(&mut self, t: Duration) {
        let now = self.now();
        if t > now {
            std::thread::sleep(t - now);
        }
    }
}

/// The GPU running kernels of a calibrated size.
struct Burn {
    gpu: Gpu,
    iters: u32,
}

impl Work for Burn {
    type Error = BurnError;
    fn launch(&mut self) -> Result<(), BurnError> {
        self.gpu.launch(self.iters)
    }
    fn wait_oldest(&mut self) -> Result<(), BurnError> {
        self.gpu.wait_oldest()
    }
    fn gflop_per_run(&self) -> f64 {
        self.gpu.geometry().gflop(self.iters)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match burn(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("duty-burn error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn burn(args: &Args) -> Result<(), BurnError> {
    let period = Duration::from_millis(args.period_ms);
    let mut duty = DutyCycle::new(args.level, period)?;
    let gpu = Gpu::open(args.device)?;
    let info = gpu.info().clone();
    let g = gpu.geometry();
    say(&format!(
        "duty-burn device {}: {} (uuid {}, compute capability {}.{}, {} SMs, {:.1} GiB); \
         kernel {} JIT-compiled from PTX, grid {} blocks x {} threads",
        info.index,
        info.name,
        info.uuid,
        info.compute_capability.0,
        info.compute_capability.1,
        info.sm_count,
        info.total_mem_bytes as f64 / f64::from(1u32 << 30),
        kernel::ENTRY,
        g.blocks,
        g.threads_per_block,
    ));

    // Warm up (the first launch pays for lazy loading) and size a kernel to `target`. Another
    // process may be using the GPU meanwhile and slow some rounds: keep the fastest rate seen.
    let target = kernel_target(period);
    let mut work = Burn { gpu, iters: 256 };
    let mut best_rate = 0.0f64; // rounds per second
    for round in 0..12 {
        let t0 = Instant::now();
        for _ in 0..CALIBRATION_KERNELS {
            work.gpu.launch(work.iters)?;
        }
        work.gpu.drain()?;
        let per_kernel = t0.elapsed() / CALIBRATION_KERNELS;
        best_rate = best_rate.max(f64::from(work.iters) / per_kernel.as_secs_f64().max(1e-9));
        let error = (per_kernel.as_secs_f64() - target.as_secs_f64()).abs();
        if round >= 2 && error <= target.as_secs_f64() * 0.05 {
            break;
        }
        work.iters = calibrate_iters(work.iters, per_kernel, target);
    }
    work.iters = ((best_rate * target.as_secs_f64()).round() as u32)
        .clamp(kernel::MIN_ITERS, kernel::MAX_ITERS);
    let expected = Duration::from_secs_f64(f64::from(work.iters) / best_rate.max(1.0));
    say(&format!(
        "duty-burn calibrated: {} rounds per kernel = {:.2} GFLOP in {:.3} ms ({:.1} GFLOP/s while busy); \
         target {:.3} ms per kernel",
        work.iters,
        work.gflop_per_run(),
        expected.as_secs_f64() * 1e3,
        work.gflop_per_run() / expected.as_secs_f64().max(1e-9),
        target.as_secs_f64() * 1e3,
    ));
    say(&ready_line(args.level, period, args.seconds));

    let mut clock = WallClock(Instant::now());
    let summary = run(
        &mut duty,
        &mut clock,
        &mut work,
        Duration::from_secs_f64(args.seconds),
        expected,
        |r| say(&r.to_string()),
    )?;
    work.gpu.drain()?;
    say(&summary.to_string());
    Ok(())
}

/// Print a line at once: the agent reads readiness and figures of merit as they come.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
