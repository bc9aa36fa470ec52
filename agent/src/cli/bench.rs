//! `wattsweep-agent bench-sampler`: run the GPU sampler for a while, consume its records without
//! printing them, and report what it cost this process: CPU seconds per second of sampling
//! (`getrusage(RUSAGE_SELF)`) and peak resident memory (`VmHWM`). The targets are ≤ 0.0005 CPU-s/s
//! and < 30 MB for the whole agent; the integrator runs this next to a pynvml loop and
//! `nvidia-smi -lms 100` on a real GPU.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use serde_json::json;

use super::sample::{describe, sampler_config, summary_text};
use super::{BenchArgs, CliError, backend, positive_seconds, sampled_gpus};
use crate::gpu::GpuBackend;
use crate::gpu::nvml::NvmlBackend;
use crate::telemetry::sampler::{PowerSource, Record, SummaryBuilder, spawn};

/// CPU seconds (user + system) this process has used.
fn cpu_seconds() -> Result<f64, CliError> {
    let u = getrusage(UsageWho::RUSAGE_SELF).map_err(|e| {
        CliError::Output(std::io::Error::other(format!(
            "getrusage(RUSAGE_SELF): {e}"
        )))
    })?;
    let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(tv(u.user_time()) + tv(u.system_time()))
}

/// A `Key:   123 kB` value of `/proc/self/status`, KiB.
pub(super) fn status_kib(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_ascii_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Time each NVML call on one GPU and print a line per call.
fn print_call_costs(reps: u32, gpu: u32) -> Result<(), CliError> {
    let nvml = NvmlBackend::new()?;
    println!(
        "NVML call costs on GPU {gpu}, {reps} calls each, 50 ms apart (CPU of the calling thread, wall):"
    );
    let (depth, span_ms) = nvml.power_buffer_depth(gpu)?;
    println!("  the driver's power sample buffer holds {depth} samples spanning {span_ms:.0} ms");
    for c in nvml.call_costs(gpu, reps, Duration::from_millis(50))? {
        println!(
            "  {:<55} {:>8.1} µs CPU {:>8.1} µs wall{}",
            c.call,
            c.cpu_us,
            c.wall_us,
            if c.errors > 0 {
                format!(" ({} errors)", c.errors)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// The first field of a `schedstat` file: time spent on a CPU, ns (exact, from the scheduler;
/// `getrusage` is tick-sampled on many kernels and mis-charges short periodic wake-ups).
pub(super) fn schedstat_ns(text: &str) -> Option<u64> {
    text.split_ascii_whitespace().next()?.parse().ok()
}

/// CPU seconds of each live thread of this process by `tid:name`, from `schedstat`.
fn thread_cpu() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in dir.flatten() {
        let Some(ns) = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|t| schedstat_ns(&t))
        else {
            continue;
        };
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let tid = task.file_name().to_string_lossy().into_owned();
        out.insert(format!("{tid}:{}", name.trim()), ns as f64 / 1e9);
    }
    out
}

/// Per-thread CPU used between two [`thread_cpu`] readings, largest first.
fn thread_cpu_delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = after
        .iter()
        .map(|(k, a)| (k.clone(), a - before.get(k).copied().unwrap_or(0.0)))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}

#[derive(Default)]
struct Counts {
    buffer: u64,
    instant: u64,
    status: u64,
    energy: u64,
    notices: u64,
}

pub(super) fn run(args: &BenchArgs) -> Result<(), CliError> {
    let duration = positive_seconds("--seconds", args.seconds)?;
    let cpu_at_launch = cpu_seconds()?;
    if let Some(reps) = args.calls {
        print_call_costs(reps, args.sampling.gpus.first().copied().unwrap_or(0))?;
    }
    let gpus: Arc<dyn GpuBackend> = Arc::from(backend(&args.backend)?);
    let inv = gpus.inventory()?;
    let present: Vec<u32> = inv.iter().map(|g| g.index).collect();
    let selected = sampled_gpus(&args.sampling, &present)?;
    let cfg = sampler_config(&args.sampling, selected);
    let what = describe(&cfg);
    if !args.json {
        println!("bench-sampler: {} s; {what}", args.seconds);
    }

    // What NVML costs with nothing asked of it (the library may run threads of its own).
    let idle_s = 3.0;
    let idle0 = cpu_seconds()?;
    std::thread::sleep(Duration::from_secs_f64(idle_s));
    let idle_cpu_per_s = (cpu_seconds()? - idle0) / idle_s;
    let threads_before = thread_cpu();

    let cpu0 = cpu_seconds()?;
    let t0 = Instant::now();
    let (sampler, rx) = spawn(gpus, cfg)?;
    let mut counts: BTreeMap<u32, Counts> = BTreeMap::new();
    let mut summary = SummaryBuilder::new();
    let deadline = t0 + duration;
    let mut stopping = false;
    let mut threads_after = BTreeMap::new();
    let mut run_wall = 0.0;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() && !stopping {
            threads_after = thread_cpu();
            run_wall = t0.elapsed().as_secs_f64();
            sampler.request_stop();
            stopping = true;
        }
        let wait = if stopping {
            Duration::from_secs(30)
        } else {
            wait
        };
        let record = match rx.recv_timeout(wait) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) if !stopping => continue,
            Err(_) => break,
        };
        summary.push(&record);
        match &record {
            Record::Power {
                gpu,
                source: PowerSource::Buffer,
                ..
            } => counts.entry(*gpu).or_default().buffer += 1,
            Record::Power {
                gpu,
                source: PowerSource::Instant,
                ..
            } => counts.entry(*gpu).or_default().instant += 1,
            Record::Status { gpu, .. } => counts.entry(*gpu).or_default().status += 1,
            Record::Energy { gpu, .. } => counts.entry(*gpu).or_default().energy += 1,
            Record::Notice { gpu, .. } => counts.entry(*gpu).or_default().notices += 1,
        }
    }
    sampler.stop()?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds()?;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm_kib = status_kib(&status, "VmHWM");
    let rss_kib = status_kib(&status, "VmRSS");
    let cpu_per_s = (cpu1 - cpu0) / wall;
    let threads = thread_cpu_delta(&threads_before, &threads_after);
    let exact_cpu: f64 = threads.iter().map(|(_, c)| c).sum();
    let exact_per_s = if run_wall > 0.0 {
        exact_cpu / run_wall
    } else {
        0.0
    };
    let summaries = summary.finish();

    if args.json {
        let per_gpu: Vec<serde_json::Value> = counts
            .iter()
            .map(|(gpu, c)| {
                json!({
                    "gpu": gpu, "buffer_samples": c.buffer, "instant_reads": c.instant,
                    "status_reads": c.status, "energy_reads": c.energy, "notices": c.notices,
                    "buffer_samples_per_s": c.buffer as f64 / wall,
                })
            })
            .collect();
        let v = json!({
            "wall_s": wall,
            "sampling_cpu_s": cpu1 - cpu0,
            "cpu_s_per_s": cpu_per_s,
            "cpu_s_including_nvml_init": cpu1 - cpu_at_launch,
            "peak_rss_kib": hwm_kib,
            "rss_kib": rss_kib,
            "gpus": per_gpu,
            "sampling": what,
            "idle_cpu_s_per_s_after_init": idle_cpu_per_s,
            "exact_cpu_s_per_s": exact_per_s,
            "threads": threads.iter().map(|(n, c)| json!({"thread": n, "cpu_s": c})).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    for (gpu, c) in &counts {
        println!(
            "GPU {gpu}: {} buffer power samples ({:.1}/s), {} instant reads, {} status reads, {} energy reads, {} notices",
            c.buffer,
            c.buffer as f64 / wall,
            c.instant,
            c.status,
            c.energy,
            c.notices
        );
    }
    for s in &summaries {
        println!("{}", summary_text(s));
    }
    println!(
        "sampler cost over {wall:.1} s: {:.4} CPU-s = {cpu_per_s:.6} CPU-s per second (target ≤ 0.0005); \
         whole process including NVML init {:.3} CPU-s",
        cpu1 - cpu0,
        cpu1 - cpu_at_launch
    );
    println!(
        "before sampling, with NVML initialised and idle for {idle_s} s: {idle_cpu_per_s:.6} CPU-s per second"
    );
    let per_thread: Vec<String> = threads
        .iter()
        .map(|(n, c)| format!("{n} {:.2} ms", c * 1e3))
        .collect();
    println!(
        "exact CPU from the scheduler (schedstat) over the {run_wall:.1} s before the stop (start \
         energy read included, final drain and energy read not): {:.2} ms = {exact_per_s:.6} CPU-s \
         per second; by thread: {}",
        exact_cpu * 1e3,
        per_thread.join(", ")
    );
    let mib = |k: Option<u64>| {
        k.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "unknown".into())
    };
    println!(
        "memory: peak RSS (VmHWM) {} (target < 30 MB), RSS now {}",
        mib(hwm_kib),
        mib(rss_kib)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_values() {
        let text = "Name:\twattsweep-agent\nVmHWM:\t    8124 kB\nVmRSS:\t    7000 kB\n";
        assert_eq!(status_kib(text, "VmHWM"), Some(8124));
        assert_eq!(status_kib(text, "VmRSS"), Some(7000));
        assert_eq!(status_kib(text, "VmSwap"), None);
    }

    #[test]
    fn reads_schedstat() {
        assert_eq!(schedstat_ns("122894 93168 2\n"), Some(122_894));
        assert_eq!(schedstat_ns(""), None);
    }

    #[test]
    fn cpu_seconds_grow() {
        let a = cpu_seconds().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(cpu_seconds().unwrap() >= a);
    }
}
