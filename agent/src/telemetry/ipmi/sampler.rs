//! The IPMI sampler: a tokio task that discovers the BMC's sensors, reads them every period and sends one
//! [`IpmiSample`] per period. A BMC that stops answering does not stop it: the source is marked `down`
//! (one warning per outage, not one per tick), discovery is retried with exponential backoff, and the
//! source is marked `up` again, with its sensors re-discovered, when the BMC answers.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::model::{DcmiReading, IpmiSample, Reading, Sensor, SensorValue, unix_ns};
use super::{BmcClient, BmcError};

/// Sampler settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplerConfig {
    /// Time between samples (1 s by default).
    pub period: Duration,
    /// First wait before retrying an unanswering BMC (1 s by default); doubles per failure.
    pub backoff_initial: Duration,
    /// Longest wait between retries (60 s by default).
    pub backoff_max: Duration,
    /// Samples buffered for a slow consumer before the sampler waits for it (64 by default).
    pub channel_capacity: usize,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(1),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            channel_capacity: 64,
        }
    }
}

impl SamplerConfig {
    /// Checks the settings; the error names the field and what is allowed.
    pub fn validate(&self) -> Result<(), SamplerError> {
        let invalid = |field: &'static str, allowed: &'static str, got: String| {
            Err(SamplerError::InvalidConfig {
                field,
                allowed,
                got,
            })
        };
        if self.period.is_zero() {
            return invalid("period", "more than zero", format!("{:?}", self.period));
        }
        if self.backoff_initial.is_zero() {
            return invalid(
                "backoff_initial",
                "more than zero",
                format!("{:?}", self.backoff_initial),
            );
        }
        if self.backoff_max < self.backoff_initial {
            return invalid(
                "backoff_max",
                "at least backoff_initial",
                format!("{:?}", self.backoff_max),
            );
        }
        if self.channel_capacity == 0 {
            return invalid("channel_capacity", "at least 1", "0".into());
        }
        Ok(())
    }
}

/// Errors of the sampler itself (the BMC's errors only change its status).
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    /// A setting is out of range.
    #[error("IPMI sampler setting `{field}` is {got}; it must be {allowed}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// What is allowed.
        allowed: &'static str,
        /// What was given.
        got: String,
    },
    /// The sampler task panicked or was aborted.
    #[error("IPMI sampler task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// State of the IPMI source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// First discovery not done yet.
    Starting,
    /// The BMC answers; samples flow.
    Up,
    /// The BMC does not answer; retrying with backoff.
    Down,
    /// The sampler was stopped (or its consumer went away).
    Stopped,
}

/// What the caller can read about the source at any time.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStatus {
    /// Current state.
    pub state: SourceState,
    /// When the state last changed, unix nanoseconds.
    pub since: i64,
    /// Sensors found by the last discovery.
    pub sensors: usize,
    /// Whether the last sample had a DCMI power reading (`None` before the first sample).
    pub dcmi: Option<bool>,
    /// The last error from the BMC, cleared when it is back up.
    pub last_error: Option<String>,
    /// Samples sent so far.
    pub samples: u64,
    /// Successful discoveries so far (1 + the number of recoveries).
    pub discoveries: u64,
    /// Outages so far (transitions to `Down`).
    pub outages: u64,
    /// Failed attempts to reach the BMC in the current outage (0 while up).
    pub failed_attempts: u64,
}

/// A running sampler. Dropping it stops the task too; [`IpmiSampler::stop`] also waits for it.
#[derive(Debug)]
pub struct IpmiSampler {
    status: watch::Receiver<SourceStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl IpmiSampler {
    /// Starts sampling `client` on the current tokio runtime; samples arrive on the returned receiver.
    pub fn spawn<C: BmcClient>(
        client: C,
        config: SamplerConfig,
    ) -> Result<(Self, mpsc::Receiver<IpmiSample>), SamplerError> {
        config.validate()?;
        let (tx, rx) = mpsc::channel(config.channel_capacity);
        let (status_tx, status) = watch::channel(SourceStatus {
            state: SourceState::Starting,
            since: unix_ns(SystemTime::now()),
            sensors: 0,
            dcmi: None,
            last_error: None,
            samples: 0,
            discoveries: 0,
            outages: 0,
            failed_attempts: 0,
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let worker = Worker {
            client,
            config,
            tx,
            status: status_tx,
            stop: stop_rx,
            dcmi_failing: false,
        };
        let task = tokio::spawn(worker.run());
        Ok((
            Self {
                status,
                stop: Some(stop_tx),
                task,
            },
            rx,
        ))
    }

    /// The current status.
    pub fn status(&self) -> SourceStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn watch_status(&self) -> watch::Receiver<SourceStatus> {
        self.status.clone()
    }

    /// Stops the task (killing an ipmitool run in flight) and waits for it to end.
    pub async fn stop(mut self) -> Result<(), SamplerError> {
        if let Some(stop) = self.stop.take() {
            // The task may already have ended (consumer gone); then there is nobody to tell.
            let _ = stop.send(());
        }
        (&mut self.task).await?;
        Ok(())
    }
}

/// Next wait after a failure: doubled, capped at `max`.
pub fn next_backoff(current: Duration, max: Duration) -> Duration {
    current.saturating_mul(2).min(max)
}

/// The midpoint of a call, unix nanoseconds: the best estimate of when the BMC read its sensors.
pub fn midpoint(started: SystemTime, finished: SystemTime) -> i64 {
    match finished.duration_since(started) {
        Ok(took) => unix_ns(started + took / 2),
        Err(_) => unix_ns(finished),
    }
}

/// One reading per discovered sensor, in discovery order; sensors the client returned nothing for read
/// `None`.
pub fn build_readings(sensors: &[Sensor], values: &[SensorValue], at: i64) -> Vec<Reading> {
    let by_key: HashMap<_, _> = values.iter().map(|v| (&v.key, v.value)).collect();
    sensors
        .iter()
        .map(|s| Reading {
            key: s.key.clone(),
            name: s.name.clone(),
            kind: s.kind,
            unit: s.unit,
            value: by_key.get(&s.key).copied().flatten(),
            at,
        })
        .collect()
}

struct Worker<C> {
    client: C,
    config: SamplerConfig,
    tx: mpsc::Sender<IpmiSample>,
    status: watch::Sender<SourceStatus>,
    stop: oneshot::Receiver<()>,
    dcmi_failing: bool,
}

/// Why sampling of one discovery ended.
enum Ended {
    Stopped,
    Failed(BmcError),
}

impl<C: BmcClient> Worker<C> {
    async fn run(mut self) {
        let mut backoff = self.config.backoff_initial;
        loop {
            let listed = tokio::select! {
                biased;
                _ = &mut self.stop => break,
                r = self.client.list_sensors() => r,
            };
            let error = match listed {
                Ok(sensors) => {
                    backoff = self.config.backoff_initial;
                    self.mark_up(&sensors);
                    match self.sample(&sensors).await {
                        Ended::Stopped => break,
                        Ended::Failed(e) => e,
                    }
                }
                Err(e) => e,
            };
            self.mark_down(&error);
            tokio::select! {
                biased;
                _ = &mut self.stop => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = next_backoff(backoff, self.config.backoff_max);
        }
        self.set_state(SourceState::Stopped);
        tracing::debug!(bmc = %self.client.describe(), "IPMI sampler stopped");
    }

    /// Samples every period until the BMC fails or the sampler is stopped.
    async fn sample(&mut self, sensors: &[Sensor]) -> Ended {
        let mut ticker = tokio::time::interval(self.config.period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                _ = &mut self.stop => return Ended::Stopped,
                _ = ticker.tick() => {}
            }
            let started = SystemTime::now();
            let values = tokio::select! {
                biased;
                _ = &mut self.stop => return Ended::Stopped,
                r = self.client.read_sensors() => r,
            };
            let values = match values {
                Ok(values) => values,
                Err(e) => return Ended::Failed(e),
            };
            let readings = build_readings(sensors, &values, midpoint(started, SystemTime::now()));
            let started = SystemTime::now();
            let dcmi = tokio::select! {
                biased;
                _ = &mut self.stop => return Ended::Stopped,
                r = self.client.read_dcmi_power() => r,
            };
            let dcmi = self.dcmi_outcome(dcmi, midpoint(started, SystemTime::now()));
            let has_dcmi = dcmi.is_some();
            tokio::select! {
                biased;
                _ = &mut self.stop => return Ended::Stopped,
                sent = self.tx.send(IpmiSample { readings, dcmi }) => if sent.is_err() {
                    tracing::debug!("IPMI sample receiver dropped; stopping the sampler");
                    return Ended::Stopped;
                }
            }
            self.status.send_modify(|s| {
                s.samples += 1;
                s.dcmi = Some(has_dcmi);
            });
        }
    }

    /// A DCMI failure only loses the DCMI figure of this sample (the sensors answered); warned once
    /// per run of failures.
    fn dcmi_outcome(
        &mut self,
        result: Result<Option<super::DcmiPower>, BmcError>,
        at: i64,
    ) -> Option<DcmiReading> {
        match result {
            Ok(power) => {
                if self.dcmi_failing {
                    tracing::info!(bmc = %self.client.describe(), "DCMI power reading answers again");
                    self.dcmi_failing = false;
                }
                power.map(|power| DcmiReading { power, at })
            }
            Err(e) => {
                if !self.dcmi_failing {
                    tracing::warn!(bmc = %self.client.describe(), error = %e, "DCMI power reading failed; sensors still sampled");
                    self.dcmi_failing = true;
                }
                None
            }
        }
    }

    /// Every status change is one `send_modify`, so a watcher never sees half of a transition.
    fn set_state(&self, state: SourceState) {
        self.status.send_modify(|s| enter(s, state));
    }

    fn mark_up(&self, sensors: &[Sensor]) {
        let was = self.status.borrow().state;
        let bmc = self.client.describe();
        if was == SourceState::Down {
            tracing::info!(%bmc, sensors = sensors.len(), "IPMI source back up; sensors re-discovered");
        } else {
            tracing::info!(%bmc, sensors = sensors.len(), "IPMI source up");
        }
        self.status.send_modify(|s| {
            enter(s, SourceState::Up);
            s.sensors = sensors.len();
            s.discoveries += 1;
            s.last_error = None;
            s.failed_attempts = 0;
        });
    }

    fn mark_down(&self, error: &BmcError) {
        let was = self.status.borrow().state;
        let bmc = self.client.describe();
        if was == SourceState::Down {
            tracing::debug!(%bmc, %error, "IPMI source still down");
        } else {
            tracing::warn!(%bmc, %error, "IPMI source down; retrying with backoff");
        }
        self.status.send_modify(|s| {
            if s.state != SourceState::Down {
                s.outages += 1;
            }
            enter(s, SourceState::Down);
            s.last_error = Some(error.to_string());
            s.failed_attempts += 1;
        });
    }
}

/// Moves the status to `state`, stamping `since` when it changes.
fn enter(status: &mut SourceStatus, state: SourceState) {
    if status.state != state {
        status.state = state;
        status.since = unix_ns(SystemTime::now());
    }
}

#[cfg(test)]
#[path = "sampler_tests.rs"]
mod tests;
