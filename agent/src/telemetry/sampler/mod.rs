//! The GPU sampler: one dedicated blocking thread that reads a [`GpuBackend`] on a schedule and
//! sends timestamped [`Record`]s over a bounded channel.
//!
//! Why it looks like this (DESIGN §4):
//! - **Power** comes from the driver's sample buffer, drained every `drain_ms` (1 s): every new
//!   sample (20 ms apart on an H100, whose buffer holds ~120 samples = 2.4 s) is forwarded with the
//!   driver's own timestamp, so the resolution is the driver's without 50 calls a second. A drain
//!   costs ~0.8 ms of CPU on an H100 whatever its period (measured), so longer periods are cheaper:
//!   on an H100, 1 s drains cost 0.0027–0.0030 CPU-s/s against 0.005 at 200 ms, with no sample lost
//!   (deploy/examples/h100-agent);
//!   a read that finds the buffer wrapped says so in a [`Record::Notice`]. Instant power
//!   (`POWER_INSTANT`, ~0.1 ms a read) is read at each drain only when asked
//!   (`instant_with_buffer`); if the GPU has no sample buffer, instant power is read every
//!   `power_ms` instead and a notice says so.
//! - **Status** (temperatures, utilisation, memory, clocks, throttle reasons) is read every
//!   `status_ms` (~100 ms).
//! - **Energy** (the driver's counter; one read costs milliseconds) is read only at the start, at every
//!   phase boundary, when asked ([`Sampler::read_energy`]) and at the stop.
//! - The thread sleeps in `recv_timeout` on its control channel until the next deadline: no busy
//!   loop, and phase changes or energy requests are served at once. The record channel is bounded
//!   (no allocation per record); a slow consumer slows the sampler, never loses records silently
//!   (power samples stay in the driver's ring buffer meanwhile).
//! - A failing call is reported as a [`Record::Notice`] once per distinct message, and sampling
//!   goes on.

mod maths;
mod run;
mod summary;

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use maths::{
    IntervalStats, PowerStats, WindowEnergy, buffer_gap_us, fresh_samples, intervals, percentile,
    power_stats, trapezoid_energy, typical_interval_us,
};
pub use summary::{GpuSummary, SummaryBuilder};

use crate::gpu::{GpuBackend, GpuStatus};

/// The phase of a task a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Phase {
    /// No task phase (the `sample` command, or between tasks).
    #[default]
    None,
    /// Idle capture before the workload starts.
    IdleBaseline,
    /// The workload runs, not yet measured.
    Warmup,
    /// The measured window.
    Measure,
    /// Idle after the workload, until the GPU cools down.
    Cooldown,
}

impl Phase {
    /// The tag value written with telemetry.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::None => "none",
            Phase::IdleBaseline => "idle-baseline",
            Phase::Warmup => "warmup",
            Phase::Measure => "measure",
            Phase::Cooldown => "cooldown",
        }
    }
}

/// Where a power value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerSource {
    /// The driver's power sample buffer (`NVML_TOTAL_POWER_SAMPLES`), driver timestamp.
    Buffer,
    /// `NVML_FI_DEV_POWER_INSTANT`, stamped with the host clock when read.
    Instant,
}

impl PowerSource {
    /// Name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            PowerSource::Buffer => "buffer",
            PowerSource::Instant => "instant",
        }
    }
}

/// One thing the sampler read. Times are absolute, nanoseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A power value.
    Power {
        /// GPU index.
        gpu: u32,
        /// Time of the value (the driver's, for buffer samples).
        t_ns: u64,
        /// Watts.
        watts: f64,
        /// Buffer sample or instant read.
        source: PowerSource,
        /// Phase when read.
        phase: Phase,
    },
    /// Slow-changing readings.
    Status {
        /// GPU index.
        gpu: u32,
        /// Host time of the read.
        t_ns: u64,
        /// The readings.
        status: GpuStatus,
        /// Phase when read.
        phase: Phase,
    },
    /// The driver's energy counter.
    Energy {
        /// GPU index.
        gpu: u32,
        /// Host time of the read.
        t_ns: u64,
        /// Millijoules since the driver was loaded.
        mj: u64,
        /// Phase starting (at a boundary) or current.
        phase: Phase,
    },
    /// Something the consumer should know: a failing call, a fallback taken.
    Notice {
        /// GPU index.
        gpu: u32,
        /// Host time.
        t_ns: u64,
        /// What happened, naming the call.
        message: String,
    },
}

/// How the sampler reads.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerConfig {
    /// GPU indexes to sample.
    pub gpus: Vec<u32>,
    /// Power resolution wanted, ms: the instant-power period when the GPU has no sample buffer.
    pub power_ms: u64,
    /// How often the driver's power buffer is drained, ms.
    pub drain_ms: u64,
    /// How often status is read, ms (0: never).
    pub status_ms: u64,
    /// Read instant power at every drain as well.
    pub instant_with_buffer: bool,
    /// Force instant power every `power_ms` and ignore the buffer (for comparisons).
    pub instant_only: bool,
    /// Capacity of the record channel.
    pub channel_capacity: usize,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            gpus: vec![0],
            power_ms: 20,
            drain_ms: 1000,
            status_ms: 100,
            instant_with_buffer: false,
            instant_only: false,
            channel_capacity: 4096,
        }
    }
}

/// Errors of the sampler's handle.
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    /// The configuration cannot work.
    #[error("invalid sampler configuration: {0}")]
    Config(String),
    /// The sampling thread could not be started.
    #[error("cannot start the sampler thread: {0}")]
    Spawn(std::io::Error),
    /// The sampling thread has stopped (its record receiver was dropped, or it panicked).
    #[error("the sampler thread has stopped")]
    Stopped,
}

/// What the handle asks of the thread.
#[derive(Debug)]
enum Control {
    Phase(Phase),
    ReadEnergy,
    Stop,
}

/// A running sampler. Dropping it stops the thread.
#[derive(Debug)]
pub struct Sampler {
    ctl: mpsc::Sender<Control>,
    thread: Option<JoinHandle<()>>,
}

/// Now, ns since the Unix epoch.
pub fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Start sampling `backend` on a dedicated thread; records arrive on the returned receiver.
pub fn spawn(
    backend: Arc<dyn GpuBackend>,
    config: SamplerConfig,
) -> Result<(Sampler, Receiver<Record>), SamplerError> {
    if config.gpus.is_empty() {
        return Err(SamplerError::Config("no GPU to sample".into()));
    }
    if config.power_ms == 0 || config.drain_ms == 0 {
        return Err(SamplerError::Config(format!(
            "power_ms ({}) and drain_ms ({}) must be at least 1",
            config.power_ms, config.drain_ms
        )));
    }
    let (tx, rx): (SyncSender<Record>, Receiver<Record>) =
        mpsc::sync_channel(config.channel_capacity.max(16));
    let (ctl, ctl_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("gpu-sampler".into())
        .spawn(move || run::Loop::new(backend, config, tx).run(&ctl_rx))
        .map_err(SamplerError::Spawn)?;
    Ok((
        Sampler {
            ctl,
            thread: Some(thread),
        },
        rx,
    ))
}

impl Sampler {
    /// Start a new phase: the buffer is drained under the old tag, the energy counters are read
    /// (records tagged with the new phase), then every later record carries `phase`.
    pub fn set_phase(&self, phase: Phase) -> Result<(), SamplerError> {
        self.ctl
            .send(Control::Phase(phase))
            .map_err(|_| SamplerError::Stopped)
    }

    /// Read the energy counters now.
    pub fn read_energy(&self) -> Result<(), SamplerError> {
        self.ctl
            .send(Control::ReadEnergy)
            .map_err(|_| SamplerError::Stopped)
    }

    /// Ask the thread to drain the buffer a last time, read the energy counters and end, without
    /// waiting: the consumer keeps receiving until the record channel disconnects, then calls
    /// [`Sampler::stop`] (which then returns at once). Use this when the consumer is the thread that
    /// would otherwise wait, so a full channel cannot block the final records.
    pub fn request_stop(&self) {
        let _ = self.ctl.send(Control::Stop);
    }

    /// Drain the buffer a last time, read the energy counters, and wait for the thread to end (the
    /// record receiver must be read or dropped meanwhile if the channel may be full).
    pub fn stop(mut self) -> Result<(), SamplerError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), SamplerError> {
        let _ = self.ctl.send(Control::Stop);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| SamplerError::Stopped),
            None => Ok(()),
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The time until the next of `deadlines`, zero if one is past.
fn until(now: std::time::Instant, deadlines: &[Option<std::time::Instant>]) -> Duration {
    deadlines
        .iter()
        .flatten()
        .map(|d| d.saturating_duration_since(now))
        .min()
        .unwrap_or(Duration::from_secs(1))
}

#[cfg(test)]
mod tests;
