//! `wattsweep-agent sample`: live GPU telemetry as JSON lines or line protocol, closed by one
//! summary per GPU that checks the energy counter against the integral of the power samples.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Instant;

use serde_json::json;
use wattsweep_shared::model::GpuInventory;

use super::{
    CliError, SampleArgs, SampleFormat, SamplingArgs, backend, positive_seconds, sampled_gpus,
};
use crate::gpu::GpuBackend;
use crate::inventory::node_id_from_hostname;
use crate::telemetry::gpu_points::{GpuTags, record_point};
use crate::telemetry::point::{Dialect, encode_point};
use crate::telemetry::sampler::{GpuSummary, Record, SamplerConfig, SummaryBuilder, spawn};

/// The sampler configuration the arguments ask for.
pub(super) fn sampler_config(args: &SamplingArgs, gpus: Vec<u32>) -> SamplerConfig {
    SamplerConfig {
        gpus,
        power_ms: args.power_ms,
        drain_ms: args.drain_ms,
        status_ms: args.status_ms,
        instant_with_buffer: args.with_instant,
        instant_only: args.instant_only,
        ..SamplerConfig::default()
    }
}

/// What the sampler is about to do, in words.
pub(super) fn describe(cfg: &SamplerConfig) -> String {
    let power = if cfg.instant_only {
        format!(
            "instant power (NVML_FI_DEV_POWER_INSTANT) every {} ms",
            cfg.power_ms
        )
    } else {
        format!(
            "the driver's power sample buffer (NVML_TOTAL_POWER_SAMPLES, driver timestamps, its own \
             resolution: ~20 ms on H100) drained every {} ms{}; if a GPU has no buffer, instant \
             power every {} ms",
            cfg.drain_ms,
            if cfg.instant_with_buffer {
                ", plus one instant power read (NVML_FI_DEV_POWER_INSTANT) per drain"
            } else {
                ""
            },
            cfg.power_ms
        )
    };
    let status = if cfg.status_ms == 0 {
        "no status reads".to_string()
    } else {
        format!(
            "status (GPU/memory temperature, utilisation, memory used, SM/memory clocks, throttle \
             reasons) every {} ms",
            cfg.status_ms
        )
    };
    format!("power: {power}; {status}; energy counter read at start and end only")
}

/// One human-readable summary line.
pub(super) fn summary_text(s: &GpuSummary) -> String {
    let mut out = format!("GPU {} summary: ", s.gpu);
    let source = s.source.map(|p| p.as_str()).unwrap_or("no");
    out.push_str(&format!(
        "{} buffer power samples, {} instant reads, {} status reads, {} notices; ",
        s.buffer_samples, s.instant_samples, s.status_samples, s.notices
    ));
    match s.intervals {
        Some(iv) => out.push_str(&format!(
            "{source} samples every {:.1} ms on average (max gap {:.1} ms); ",
            iv.mean_ms, iv.max_ms
        )),
        None => out.push_str(&format!("too few {source} samples for intervals; ")),
    }
    if let Some(p) = s.power {
        out.push_str(&format!(
            "power mean {:.1} W, p95 {:.1} W, p99 {:.1} W, max {:.1} W; ",
            p.mean_w, p.p95_w, p.p99_w, p.max_w
        ));
    }
    match (s.window_s, s.counter_j, s.integral) {
        (Some(w), Some(c), Some(i)) => {
            out.push_str(&format!(
                "energy over the same {w:.3} s window: counter {c:.1} J, trapezoidal integral of the \
                 {source} samples {:.1} J",
                i.joules
            ));
            if let Some(d) = s.diff_pct {
                out.push_str(&format!(" ({d:+.2} %)"));
            }
            out.push_str(&format!(
                ", samples cover {:.1} % of the window",
                i.covered_us as f64 / (w * 1e4)
            ));
        }
        (Some(w), Some(c), None) => out.push_str(&format!(
            "energy counter {c:.1} J over {w:.3} s; no samples to integrate"
        )),
        _ => out.push_str("energy: fewer than two counter reads"),
    }
    out
}

fn summary_json(s: &GpuSummary) -> serde_json::Value {
    json!({
        "type": "summary",
        "gpu": s.gpu,
        "buffer_samples": s.buffer_samples,
        "instant_samples": s.instant_samples,
        "status_samples": s.status_samples,
        "notices": s.notices,
        "source": s.source.map(|p| p.as_str()),
        "mean_interval_ms": s.intervals.map(|i| i.mean_ms),
        "max_interval_ms": s.intervals.map(|i| i.max_ms),
        "mean_w": s.power.map(|p| p.mean_w),
        "p95_w": s.power.map(|p| p.p95_w),
        "p99_w": s.power.map(|p| p.p99_w),
        "max_w": s.power.map(|p| p.max_w),
        "window_s": s.window_s,
        "counter_j": s.counter_j,
        "integral_j": s.integral.map(|i| i.joules),
        "diff_pct": s.diff_pct,
    })
}

/// A record as one JSON line.
pub(super) fn record_json(r: &Record) -> serde_json::Value {
    match r {
        Record::Power {
            gpu,
            t_ns,
            watts,
            source,
            phase,
        } => json!({
            "type": "power", "gpu": gpu, "t_ns": t_ns, "watts": watts,
            "source": source.as_str(), "phase": phase.as_str(),
        }),
        Record::Status {
            gpu,
            t_ns,
            status,
            phase,
        } => json!({
            "type": "status", "gpu": gpu, "t_ns": t_ns, "phase": phase.as_str(),
            "temperature_c": status.temperature_c,
            "memory_temperature_c": status.memory_temperature_c,
            "sm_util_pct": status.sm_util_pct,
            "mem_util_pct": status.mem_util_pct,
            "memory_used_mib": status.memory_used_mib,
            "sm_clock_mhz": status.sm_clock_mhz,
            "mem_clock_mhz": status.mem_clock_mhz,
            "throttle_reasons": status.throttle_reasons,
        }),
        Record::Energy {
            gpu,
            t_ns,
            mj,
            phase,
        } => json!({
            "type": "energy", "gpu": gpu, "t_ns": t_ns, "energy_mj": mj, "phase": phase.as_str(),
        }),
        Record::Notice { gpu, t_ns, message } => json!({
            "type": "notice", "gpu": gpu, "t_ns": t_ns, "message": message,
        }),
    }
}

/// A record as one line of line protocol (measurement `gpu`, without the newline), or `None` when
/// nothing of it can be written (e.g. only non-finite values).
pub(super) fn record_lp(r: &Record, tags: &GpuTags) -> Option<String> {
    let mut out = String::new();
    encode_point(&record_point(r, tags), Dialect::V2, &mut out).ok()?;
    Some(out.trim_end_matches('\n').to_string())
}

fn gpu_of(r: &Record) -> u32 {
    match r {
        Record::Power { gpu, .. }
        | Record::Status { gpu, .. }
        | Record::Energy { gpu, .. }
        | Record::Notice { gpu, .. } => *gpu,
    }
}

fn header(inv: &[GpuInventory], gpus: &[u32], seconds: f64, cfg: &SamplerConfig) -> String {
    let names: Vec<String> = inv
        .iter()
        .filter(|g| gpus.contains(&g.index))
        .map(|g| {
            format!(
                "GPU {} {} ({}, model {}{})",
                g.index,
                g.name,
                g.uuid,
                g.model_key(),
                if g.simulated { ", simulated" } else { "" }
            )
        })
        .collect();
    format!(
        "wattsweep-agent sample: {} for {seconds} s. {}. Samples go to stdout; this header, notices \
         (also in the samples) and the per-GPU summary to stderr.",
        names.join("; "),
        describe(cfg)
    )
}

pub(super) fn run(args: &SampleArgs) -> Result<(), CliError> {
    let duration = positive_seconds("--seconds", args.seconds)?;
    let gpus: Arc<dyn GpuBackend> = Arc::from(backend(&args.backend)?);
    let inv = gpus.inventory()?;
    let present: Vec<u32> = inv.iter().map(|g| g.index).collect();
    let selected = sampled_gpus(&args.sampling, &present)?;
    let node = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| node_id_from_hostname(&h))
        .unwrap_or_else(|_| "node".into());
    let tags: HashMap<u32, GpuTags> = inv
        .iter()
        .map(|g| {
            let t = GpuTags {
                node: node.clone(),
                uuid: g.uuid.clone(),
                model: g.model_key().to_string(),
            };
            (g.index, t)
        })
        .collect();
    let cfg = sampler_config(&args.sampling, selected.clone());
    eprintln!("{}", header(&inv, &selected, args.seconds, &cfg));

    let (sampler, rx) = spawn(gpus, cfg)?;
    let deadline = Instant::now() + duration;
    let mut summary = SummaryBuilder::new();
    let mut out = std::io::stdout().lock();
    let mut stopping = false;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() && !stopping {
            sampler.request_stop();
            stopping = true;
        }
        let wait = if stopping {
            std::time::Duration::from_secs(30)
        } else {
            wait
        };
        let record = match rx.recv_timeout(wait) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) if !stopping => continue,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        };
        summary.push(&record);
        match args.format {
            SampleFormat::Json => writeln!(out, "{}", record_json(&record))?,
            SampleFormat::Lp => {
                if let Some(l) = tags
                    .get(&gpu_of(&record))
                    .and_then(|t| record_lp(&record, t))
                {
                    writeln!(out, "{l}")?;
                }
            }
        }
        out.flush()?;
    }
    sampler.stop()?;
    for s in summary.finish() {
        eprintln!("{}", summary_text(&s));
        if args.format == SampleFormat::Json {
            writeln!(out, "{}", summary_json(&s))?;
        }
    }
    out.flush()?;
    Ok(())
}
