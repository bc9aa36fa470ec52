//! The sampler thread's loop: deadlines for buffer drains, instant power and status; control
//! messages for phases, energy reads and stop.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::{
    Control, Phase, PowerSource, Record, SamplerConfig, buffer_gap_us, fresh_samples,
    typical_interval_us, unix_ns, until,
};
use crate::gpu::{GpuBackend, GpuError};

struct GpuState {
    index: u32,
    last_seen_us: u64,
    /// The GPU has a power sample buffer (until the driver says otherwise).
    buffer: bool,
    /// Typical spacing of the buffer's samples, µs (learnt from the reads).
    typical_us: Option<u64>,
    last_notice: Option<String>,
}

pub(super) struct Loop {
    backend: Arc<dyn GpuBackend>,
    cfg: SamplerConfig,
    tx: SyncSender<Record>,
    phase: Phase,
    gpus: Vec<GpuState>,
    closed: bool,
}

/// The deadline after `due`, skipping ticks that were missed rather than bursting to catch up.
fn advance(due: Instant, period: Duration, now: Instant) -> Instant {
    let next = due + period;
    if next <= now { now + period } else { next }
}

fn is_due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|d| d <= now)
}

impl Loop {
    pub(super) fn new(
        backend: Arc<dyn GpuBackend>,
        cfg: SamplerConfig,
        tx: SyncSender<Record>,
    ) -> Self {
        let gpus = cfg
            .gpus
            .iter()
            .map(|&index| GpuState {
                index,
                last_seen_us: 0,
                buffer: !cfg.instant_only,
                typical_us: None,
                last_notice: None,
            })
            .collect();
        Loop {
            backend,
            cfg,
            tx,
            phase: Phase::None,
            gpus,
            closed: false,
        }
    }

    fn send(&mut self, record: Record) {
        if !self.closed && self.tx.send(record).is_err() {
            self.closed = true;
        }
    }

    fn notice(&mut self, i: usize, message: String) {
        if self.gpus[i].last_notice.as_deref() == Some(message.as_str()) {
            return;
        }
        self.gpus[i].last_notice = Some(message.clone());
        let gpu = self.gpus[i].index;
        tracing::warn!(gpu, "{message}");
        self.send(Record::Notice {
            gpu,
            t_ns: unix_ns(),
            message,
        });
    }

    fn needs_instant_polling(&self) -> bool {
        self.gpus.iter().any(|g| !g.buffer)
    }

    pub(super) fn run(mut self, ctl: &Receiver<Control>) {
        let start_us = unix_ns() / 1000;
        for g in &mut self.gpus {
            g.last_seen_us = start_us;
        }
        self.read_energy();
        let drain = Duration::from_millis(self.cfg.drain_ms);
        let power = Duration::from_millis(self.cfg.power_ms);
        let status = Duration::from_millis(self.cfg.status_ms);
        let now = Instant::now();
        let mut next_drain = (!self.cfg.instant_only).then(|| now + drain);
        let mut next_status = (self.cfg.status_ms > 0).then_some(now);
        let mut next_instant = self.needs_instant_polling().then_some(now);
        while !self.closed {
            let wait = until(Instant::now(), &[next_drain, next_status, next_instant]);
            match ctl.recv_timeout(wait) {
                Ok(Control::Phase(p)) => {
                    self.drain();
                    self.phase = p;
                    self.read_energy();
                    continue;
                }
                Ok(Control::ReadEnergy) => {
                    self.read_energy();
                    continue;
                }
                Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    self.drain();
                    self.read_energy();
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if let Some(d) = next_drain.filter(|_| is_due(next_drain, now)) {
                self.drain();
                next_drain = Some(advance(d, drain, now));
                if next_instant.is_none() && self.needs_instant_polling() {
                    next_instant = Some(now);
                }
            }
            if let Some(d) = next_instant.filter(|_| is_due(next_instant, now)) {
                self.poll_instant(false);
                next_instant = Some(advance(d, power, now));
            }
            if let Some(d) = next_status.filter(|_| is_due(next_status, now)) {
                self.read_status();
                next_status = Some(advance(d, status, now));
            }
        }
    }

    /// Forward every new buffer sample, then (optionally) instant power of the buffered GPUs.
    fn drain(&mut self) {
        for i in 0..self.gpus.len() {
            if !self.gpus[i].buffer {
                continue;
            }
            let (gpu, since) = (self.gpus[i].index, self.gpus[i].last_seen_us);
            match self.backend.power_samples(gpu, since) {
                Ok(mut batch) => {
                    self.gpus[i].last_seen_us = fresh_samples(since, &mut batch);
                    if let Some(t) = typical_interval_us(&batch) {
                        self.gpus[i].typical_us = Some(t);
                    }
                    let gap = match (self.gpus[i].typical_us, batch.first()) {
                        (Some(t), Some(first)) => buffer_gap_us(since, first.timestamp_us, t),
                        _ => None,
                    };
                    if let Some(gap) = gap {
                        let msg = format!(
                            "the driver's power buffer wrapped: {:.0} ms of samples were lost before the read at {} µs; drain it more often than every {} ms",
                            gap as f64 / 1000.0,
                            since + gap,
                            self.cfg.drain_ms
                        );
                        self.notice(i, msg);
                    }
                    let phase = self.phase;
                    for s in batch {
                        self.send(Record::Power {
                            gpu,
                            t_ns: s.timestamp_us.saturating_mul(1000),
                            watts: s.watts,
                            source: PowerSource::Buffer,
                            phase,
                        });
                    }
                }
                Err(GpuError::NotSupported { .. }) => {
                    self.gpus[i].buffer = false;
                    let msg = format!(
                        "the driver has no power sample buffer for this GPU (nvmlDeviceGetSamples: not supported); reading instant power every {} ms instead",
                        self.cfg.power_ms
                    );
                    self.notice(i, msg);
                }
                Err(e) => self.notice(i, e.to_string()),
            }
        }
        if self.cfg.instant_with_buffer {
            self.poll_instant(true);
        }
    }

    /// Instant power of the GPUs with (`buffered`) or without a buffer.
    fn poll_instant(&mut self, buffered: bool) {
        for i in 0..self.gpus.len() {
            if self.gpus[i].buffer != buffered {
                continue;
            }
            let gpu = self.gpus[i].index;
            match self.backend.instant_power_w(gpu) {
                Ok(watts) => {
                    let phase = self.phase;
                    self.send(Record::Power {
                        gpu,
                        t_ns: unix_ns(),
                        watts,
                        source: PowerSource::Instant,
                        phase,
                    });
                }
                Err(e) => self.notice(i, e.to_string()),
            }
        }
    }

    fn read_status(&mut self) {
        for i in 0..self.gpus.len() {
            let gpu = self.gpus[i].index;
            match self.backend.status(gpu) {
                Ok(status) => {
                    let phase = self.phase;
                    self.send(Record::Status {
                        gpu,
                        t_ns: unix_ns(),
                        status,
                        phase,
                    });
                }
                Err(e) => self.notice(i, e.to_string()),
            }
        }
    }

    /// Energy counters, stamped with the middle of the read (one read can take milliseconds).
    fn read_energy(&mut self) {
        for i in 0..self.gpus.len() {
            let gpu = self.gpus[i].index;
            let before = unix_ns();
            let read = self.backend.energy_mj(gpu);
            let after = unix_ns();
            match read {
                Ok(mj) => {
                    let phase = self.phase;
                    self.send(Record::Energy {
                        gpu,
                        t_ns: before + (after.saturating_sub(before)) / 2,
                        mj,
                        phase,
                    });
                }
                Err(e) => self.notice(i, e.to_string()),
            }
        }
    }
}
