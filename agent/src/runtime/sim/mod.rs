//! The simulated runtime: workload instances on simulated GPUs (DESIGN §6), what `--simulate`
//! nodes run. Nothing is executed; an instance is a load on the [`SimulatedGpus`] and a log.
//!
//! Starting an instance sets a load on its device (the whole GPU, or the MIG device its binding
//! names, found by UUID) at the workload's `sim.intensity`, scaled by `{level}` / 100 for usage
//! grids; several instances on one device time-slice it as the simulation models. The log carries
//! a readiness line built from the workload's own `ready.log_regex` (or `simulated workload
//! started`), then once a period a figure-of-merit line built from its own metric regex
//! ([`lines`]): the value is `sim.fom × throughput fraction × level / 100` for higher-is-better
//! metrics, `sim.fom ÷ (throughput fraction × level / 100)` for lower-is-better ones (seconds per
//! epoch, latencies). The instance ends on its own after `{run_s}` seconds with code 0, like a
//! workload told to run that long; stopping or removing it clears the load.
//!
//! A workload's environment can script misbehaviour, for tests and demos of failure handling:
//!
//! | variable | effect |
//! | --- | --- |
//! | `WATTSWEEP_SIM_READY_DELAY_S` | seconds before the readiness line (default 0) |
//! | `WATTSWEEP_SIM_EXIT_AFTER_S` | end on its own after this many seconds instead of `{run_s}` |
//! | `WATTSWEEP_SIM_EXIT_CODE` | the code it ends with on its own (default 0) |

pub mod lines;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use self::lines::{MetricTemplate, matching_line};
use super::{
    CpuUsage, ExitStatus, GpuBinding, LaunchSpec, LogLine, ReconcileReport, RuntimeError, Stream,
    WorkloadHandle, WorkloadRuntime,
};
use crate::gpu::GpuBackend;
use crate::gpu::sim::{Device, SimulatedGpus};

/// The runtime's name.
pub const RUNTIME: &str = "simulated";
/// Environment variable: seconds before the readiness line.
pub const ENV_READY_DELAY: &str = "WATTSWEEP_SIM_READY_DELAY_S";
/// Environment variable: seconds after which the instance ends on its own.
pub const ENV_EXIT_AFTER: &str = "WATTSWEEP_SIM_EXIT_AFTER_S";
/// Environment variable: the code it ends with.
pub const ENV_EXIT_CODE: &str = "WATTSWEEP_SIM_EXIT_CODE";
/// The readiness line of a workload without a readiness pattern.
pub const STARTED_LINE: &str = "simulated workload started";

/// Workload instances as loads on simulated GPUs.
#[derive(Debug, Clone)]
pub struct SimRuntime {
    gpus: Arc<SimulatedGpus>,
    period: Duration,
}

impl SimRuntime {
    /// A runtime over `gpus` printing a figure of merit every second.
    pub fn new(gpus: Arc<SimulatedGpus>) -> Self {
        Self {
            gpus,
            period: Duration::from_secs(1),
        }
    }

    /// The same, printing every `period` (at least 10 ms).
    pub fn with_period(mut self, period: Duration) -> Self {
        self.period = period.max(Duration::from_millis(10));
        self
    }

    /// The GPU and device a binding names.
    fn device(&self, spec: &LaunchSpec) -> Result<(u32, Device), RuntimeError> {
        let fail = |reason: String| RuntimeError::StartFailed {
            name: spec.object_name(),
            reason,
        };
        match &spec.gpu {
            GpuBinding::Gpus { indices, .. } => match indices.as_slice() {
                [i] => Ok((*i, None)),
                other => Err(fail(format!(
                    "a simulated instance runs on exactly one GPU, not {}",
                    other.len()
                ))),
            },
            GpuBinding::MigDevice { uuid, .. } => {
                for gpu in 0..u32::try_from(self.gpus.config().models.len()).unwrap_or(0) {
                    let gis = self
                        .gpus
                        .mig_instances(gpu)
                        .map_err(|e| fail(e.to_string()))?;
                    for gi in gis {
                        if let Some(ci) = gi.compute_instances.iter().find(|c| c.uuid == *uuid) {
                            return Ok((gpu, Some((gi.gi_id, ci.ci_id))));
                        }
                    }
                }
                Err(fail(format!("no simulated MIG device has UUID {uuid}")))
            }
            GpuBinding::None => Err(RuntimeError::Unsupported {
                workload: spec.workload.name.clone(),
                runtime: RUNTIME,
                reason: "a simulated workload needs a GPU or MIG device".into(),
            }),
        }
    }
}

fn env_f64(spec: &LaunchSpec, key: &str) -> Result<Option<f64>, RuntimeError> {
    let value = spec.env.get(key).or_else(|| spec.workload.env.get(key));
    match value {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .map(Some)
            .ok_or_else(|| RuntimeError::Unsupported {
                workload: spec.workload.name.clone(),
                runtime: RUNTIME,
                reason: format!("{key}={v:?}: expected a number of seconds ≥ 0"),
            }),
    }
}

/// What one simulated instance does.
#[derive(Debug, Clone)]
struct Script {
    gpus: Arc<SimulatedGpus>,
    gpu: u32,
    device: Device,
    client: String,
    ready_line: String,
    ready_delay: Duration,
    metric: Option<(MetricTemplate, bool)>,
    fom: f64,
    scale: f64,
    run_for: Duration,
    exit_code: i32,
    period: Duration,
}

impl Script {
    fn now_ns(&self) -> i64 {
        let us = self.gpus.clock().now_us();
        i64::try_from(us.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    fn line(&self, text: String) -> LogLine {
        LogLine {
            stream: Stream::Stdout,
            text,
            at_ns: self.now_ns(),
        }
    }

    fn fom_line(&self) -> Option<String> {
        let (template, higher_is_better) = self.metric.as_ref()?;
        let fraction = self
            .gpus
            .throughput_fraction(self.gpu, self.device, &self.client)
            .ok()
            .flatten()?
            * self.scale;
        let value = if *higher_is_better {
            self.fom * fraction
        } else if fraction > 0.0 {
            self.fom / fraction
        } else {
            return None;
        };
        Some(template.line(value))
    }

    /// Run until the end of the script or a stop; returns how it ended.
    async fn run(self, logs: mpsc::Sender<LogLine>, mut stop: watch::Receiver<bool>) -> ExitStatus {
        let ended = tokio::time::sleep(self.run_for);
        tokio::pin!(ended);
        tokio::select! {
            _ = tokio::time::sleep(self.ready_delay) => {}
            _ = &mut ended => return self.end(ExitStatus::Exited(self.exit_code)),
            _ = stopped(&mut stop) => return self.end(ExitStatus::Killed("stopped".into())),
        }
        let _ = logs.send(self.line(self.ready_line.clone())).await;
        let mut tick = tokio::time::interval(self.period);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Some(text) = self.fom_line() {
                        let _ = logs.send(self.line(text)).await;
                    }
                }
                _ = &mut ended => return self.end(ExitStatus::Exited(self.exit_code)),
                _ = stopped(&mut stop) => return self.end(ExitStatus::Killed("stopped".into())),
            }
        }
    }

    fn end(&self, status: ExitStatus) -> ExitStatus {
        clear(&self.gpus, self.gpu, self.device, &self.client);
        status
    }
}

/// Resolves once a stop is asked for (or the handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn clear(gpus: &SimulatedGpus, gpu: u32, device: Device, client: &str) {
    if let Err(e) = gpus.clear_load(gpu, device, client) {
        tracing::warn!(gpu, client, error = %e, "cannot clear a simulated load");
    }
}

impl WorkloadRuntime for SimRuntime {
    type Handle = SimHandle;

    fn name(&self) -> &'static str {
        RUNTIME
    }

    async fn start(
        &self,
        spec: &LaunchSpec,
        logs: mpsc::Sender<LogLine>,
    ) -> Result<SimHandle, RuntimeError> {
        spec.command()?;
        let unsupported = |reason: String| RuntimeError::Unsupported {
            workload: spec.workload.name.clone(),
            runtime: RUNTIME,
            reason,
        };
        let (gpu, device) = self.device(spec)?;
        let level = match spec.substitutions.get("level") {
            Some(l) => l
                .parse::<f64>()
                .ok()
                .filter(|l| (0.0..=100.0).contains(l))
                .ok_or_else(|| unsupported(format!("level {l:?} is not a percentage 0–100")))?,
            None => 100.0,
        };
        let scale = level / 100.0;
        let ready_line = match spec
            .workload
            .ready
            .as_ref()
            .and_then(|r| r.log_regex.as_deref())
        {
            Some(re) => matching_line(re).map_err(|e| unsupported(e.to_string()))?,
            None => STARTED_LINE.to_string(),
        };
        let metric = match &spec.workload.metric {
            Some(m) => Some((
                MetricTemplate::new(&m.regex).map_err(|e| unsupported(e.to_string()))?,
                m.higher_is_better,
            )),
            None => None,
        };
        let run_s = match spec.substitutions.get("run_s") {
            Some(r) => r
                .parse::<f64>()
                .map_err(|_| unsupported(format!("run_s {r:?} is not a number")))?,
            None => f64::from(u32::MAX),
        };
        let run_for = env_f64(spec, ENV_EXIT_AFTER)?.unwrap_or(run_s);
        let exit_code = match spec
            .env
            .get(ENV_EXIT_CODE)
            .or_else(|| spec.workload.env.get(ENV_EXIT_CODE))
        {
            Some(c) => c
                .trim()
                .parse::<i32>()
                .map_err(|_| unsupported(format!("{ENV_EXIT_CODE}={c:?}: expected an integer")))?,
            None => 0,
        };
        let intensity = (spec.workload.sim.intensity * scale).clamp(0.0, 1.0);
        let client = spec.object_name();
        self.gpus
            .set_load(gpu, device, &client, intensity)
            .map_err(|e| RuntimeError::StartFailed {
                name: client.clone(),
                reason: e.to_string(),
            })?;
        let script = Script {
            gpus: self.gpus.clone(),
            gpu,
            device,
            client: client.clone(),
            ready_line,
            ready_delay: Duration::from_secs_f64(env_f64(spec, ENV_READY_DELAY)?.unwrap_or(0.0)),
            metric,
            fom: spec.workload.sim.fom,
            scale,
            run_for: Duration::from_secs_f64(run_for.clamp(0.0, 1e9)),
            exit_code,
            period: self.period,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let (exit_tx, exit_rx) = watch::channel(None);
        let task = tokio::spawn(async move {
            let status = script.run(logs, stop_rx).await;
            let _ = exit_tx.send(Some(status));
        });
        Ok(SimHandle {
            name: client,
            gpus: self.gpus.clone(),
            gpu,
            device,
            stop: stop_tx,
            exit: exit_rx,
            task: Some(task),
        })
    }

    /// Simulated loads live in this process only: after a restart there is nothing left.
    async fn reconcile(&self) -> Result<ReconcileReport, RuntimeError> {
        Ok(ReconcileReport::default())
    }
}

/// One simulated instance.
#[derive(Debug)]
pub struct SimHandle {
    name: String,
    gpus: Arc<SimulatedGpus>,
    gpu: u32,
    device: Device,
    stop: watch::Sender<bool>,
    exit: watch::Receiver<Option<ExitStatus>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The GPU and MIG device (`(gi_id, ci_id)`) it loads.
    pub fn device(&self) -> (u32, Device) {
        (self.gpu, self.device)
    }

    async fn exited(&mut self) -> ExitStatus {
        match self.exit.wait_for(Option::is_some).await {
            Ok(s) => s.clone().unwrap_or(ExitStatus::Killed("ended".into())),
            Err(_) => ExitStatus::Killed("ended".into()),
        }
    }
}

impl WorkloadHandle for SimHandle {
    fn name(&self) -> &str {
        &self.name
    }

    async fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, RuntimeError> {
        match tokio::time::timeout(timeout, self.exited()).await {
            Ok(s) => Ok(s),
            Err(_) => {
                self.stop(Duration::ZERO).await?;
                Ok(ExitStatus::DeadlineExceeded)
            }
        }
    }

    async fn cpu_usage(&mut self) -> Result<CpuUsage, RuntimeError> {
        Ok(CpuUsage {
            cpu_s: 0.0,
            context_switches: Some(0),
        })
    }

    async fn stop(&mut self, _grace: Duration) -> Result<(), RuntimeError> {
        let _ = self.stop.send(true);
        self.exited().await;
        Ok(())
    }

    async fn remove(mut self) -> Result<(), RuntimeError> {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        clear(&self.gpus, self.gpu, self.device, &self.name);
        Ok(())
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            clear(&self.gpus, self.gpu, self.device, &self.name);
        }
    }
}

#[cfg(test)]
mod tests;
