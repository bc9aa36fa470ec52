//! `wattsweep-agent execute CAMPAIGN.toml`: run a campaign's tasks for THIS node, one after another,
//! without a coordinator. The campaign is parsed (catalog folders from the file and `--catalog`),
//! planned against this node's inventory (node id from the host name), filtered by
//! `--configuration`, and every task runs through the executor; a table per task goes to stdout,
//! `results.json` and the gzip line-protocol telemetry to `--out`. Exit 0 when every task
//! succeeded, 1 when one failed, 2 for a usage or input error. Ctrl-C cancels the running task
//! (its clean-up runs) and skips the rest.

mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use wattsweep_shared::campaign::{self, Campaign};
use wattsweep_shared::model::{Runtime, TaskSpec};
use wattsweep_shared::plan;
use wildmatch::WildMatch;

use super::{CliError, ExecuteArgs, RuntimeOverride};
use crate::executor::{
    Executor, ExecutorConfig, HostNodeControl, NodeControl, RunOptions, SimNodeControl, TaskEvents,
    TaskOutcome,
};
use crate::gpu::GpuBackend;
use crate::gpu::nvml::NvmlBackend;
use crate::gpu::sim::{RealClock, SimConfig, SimulatedGpus};
use crate::inventory::{docker_socket, host_facts, node_id_from_hostname, node_inventory};
use crate::mig::{MigConfig, MigManager};
use crate::runtime::docker::{DockerConfig, DockerRuntime};
use crate::runtime::mps::{MpsConfig, MpsControl};
use crate::runtime::process::{ProcessConfig, ProcessRuntime};
use crate::runtime::sim::SimRuntime;
use crate::runtime::{Ownership, WorkloadRuntime};
use crate::telemetry::point::Point;
use crate::telemetry::sink::{FileSink, FileSinkConfig, TelemetrySink};

/// Read the campaign and its catalogs and parse them; errors carry `file:line:col`.
fn load_campaign(file: &Path, extra: &[PathBuf]) -> Result<Campaign, CliError> {
    campaign::load_campaign(file, extra).map_err(|e| CliError::Usage(e.to_string()))
}

/// Logs phase changes as they happen.
struct LogEvents {
    label: String,
}

impl TaskEvents for LogEvents {
    fn event(&self, at_ms: u64, event: &wattsweep_shared::wire::EventKind) {
        tracing::info!(task = %self.label, at_ms, ?event, "task event");
    }
}

/// The executors this run may need, built on first use.
struct Executors {
    backend: Arc<dyn GpuBackend>,
    node: Arc<dyn NodeControl>,
    config: ExecutorConfig,
    state_dir: PathBuf,
    owner: Ownership,
    sim: Option<Arc<SimulatedGpus>>,
    allow_images: Vec<String>,
    sim_exec: Option<Executor<SimRuntime>>,
    process_exec: Option<Executor<ProcessRuntime>>,
    docker_exec: Option<Executor<DockerRuntime>>,
}

impl Executors {
    fn make<R>(&self, runtime: R) -> Executor<R>
    where
        R: WorkloadRuntime + 'static,
        R::Handle: 'static,
    {
        Executor::new(
            Arc::new(runtime),
            self.backend.clone(),
            self.node.clone(),
            self.config.clone(),
        )
    }

    /// Run `task` on the runtime it asks for (`--runtime-override` first; simulated GPUs always
    /// run the simulated runtime).
    async fn run(
        &mut self,
        task: &TaskSpec,
        runtime: Option<RuntimeOverride>,
        opts: RunOptions<'_>,
    ) -> Result<TaskOutcome, String> {
        if let Some(sim) = &self.sim {
            if self.sim_exec.is_none() {
                self.sim_exec = Some(self.make(SimRuntime::new(sim.clone())));
            }
            if let Some(e) = &self.sim_exec {
                return Ok(e.run(task, opts).await);
            }
        }
        let wanted = match runtime {
            Some(RuntimeOverride::Process) => Runtime::Process,
            Some(RuntimeOverride::Docker) => Runtime::Docker,
            None => task.configuration.runtime,
        };
        match wanted {
            Runtime::Process => {
                if self.process_exec.is_none() {
                    let rt = ProcessRuntime::new(ProcessConfig::new(
                        self.owner.clone(),
                        &self.state_dir,
                    ))
                    .map_err(|e| e.to_string())?;
                    reconcile_leftovers(&rt).await?;
                    self.process_exec = Some(self.make(rt));
                }
                match &self.process_exec {
                    Some(e) => Ok(e.run(task, opts).await),
                    None => Err("no process runtime".into()),
                }
            }
            Runtime::Docker => {
                if self.docker_exec.is_none() {
                    let mut cfg = DockerConfig::new(
                        self.owner.clone(),
                        self.allow_images.clone(),
                        self.config.log_dir.join("docker"),
                    );
                    cfg.socket = docker_socket(std::env::var("DOCKER_HOST").ok().as_deref());
                    let rt = DockerRuntime::new(cfg).await.map_err(|e| e.to_string())?;
                    reconcile_leftovers(&rt).await?;
                    self.docker_exec = Some(self.make(rt));
                }
                match &self.docker_exec {
                    Some(e) => Ok(e.run(task, opts).await),
                    None => Err("no Docker runtime".into()),
                }
            }
            other => Err(format!(
                "runtime `{other}` is not available to `execute` (use --runtime-override process|docker)"
            )),
        }
    }
}

/// Run `wattsweep-agent execute`.
/// Remove what an earlier, crashed run of this node left behind (processes, containers) before
/// anything new starts; what belongs to other nodes or to nobody is never touched.
async fn reconcile_leftovers<R: WorkloadRuntime>(rt: &R) -> Result<(), String> {
    let report = rt.reconcile().await.map_err(|e| {
        format!(
            "{} runtime: cannot remove leftovers of an earlier run: {e}",
            rt.name()
        )
    })?;
    if !report.removed.is_empty() {
        tracing::warn!(
            runtime = rt.name(),
            removed = ?report.removed,
            "removed workloads an earlier run of this node left behind"
        );
    }
    Ok(())
}

pub(super) fn run(args: &ExecuteArgs) -> Result<(), CliError> {
    if args.backend.simulate.is_some() && args.runtime_override.is_some() {
        return Err(CliError::Usage(
            "--runtime-override cannot be combined with --simulate: simulated GPUs run the \
             simulated runtime"
                .into(),
        ));
    }
    let mut campaign = load_campaign(&args.campaign, &args.catalogs)?;
    if let Some(n) = args.repetitions {
        if n == 0 {
            return Err(CliError::Usage("--repetitions must be at least 1".into()));
        }
        campaign.repetitions = n;
    }
    let host = host_facts()?;
    let node_id = args
        .node_id
        .clone()
        .or_else(|| args.backend.sim_node.clone())
        .unwrap_or_else(|| node_id_from_hostname(&host.hostname));
    let (backend, sim): (Arc<dyn GpuBackend>, Option<Arc<SimulatedGpus>>) =
        match args.backend.simulate {
            Some(0) => {
                return Err(CliError::Usage(
                    "--simulate N needs N ≥ 1 simulated GPUs".into(),
                ));
            }
            Some(n) => {
                if wattsweep_shared::gpu_model::by_id(&args.backend.sim_model).is_none() {
                    return Err(CliError::Usage(format!(
                        "--sim-model {:?} is not a known GPU model; known: {}",
                        args.backend.sim_model,
                        wattsweep_shared::gpu_model::known_ids()
                    )));
                }
                let sim = Arc::new(SimulatedGpus::new(
                    SimConfig::new(node_id.clone(), &args.backend.sim_model, n),
                    Arc::new(RealClock),
                )?);
                (sim.clone(), Some(sim))
            }
            None => (Arc::new(NvmlBackend::new()?), None),
        };
    let inventory = node_inventory(&node_id, &host, backend.as_ref())?;
    let campaign_id = plan::campaign_id_for(&campaign.name);
    let planned = plan::plan(&campaign, campaign_id, std::slice::from_ref(&inventory))
        .map_err(|e| CliError::Execute(format!("cannot plan the campaign for this node: {e}")))?;
    for s in &planned.skipped {
        eprintln!(
            "skipped: {} on {}: {}",
            s.configuration.as_deref().unwrap_or(&s.sweep),
            s.target,
            s.reason
        );
    }
    let glob = WildMatch::new(&args.configuration);
    let tasks: Vec<TaskSpec> = planned
        .tasks
        .into_iter()
        .filter(|t| glob.matches(&t.configuration.name))
        .collect();
    if tasks.is_empty() {
        return Err(CliError::Execute(format!(
            "no task of campaign `{}` for this node matches --configuration {:?}",
            campaign.name, args.configuration
        )));
    }

    std::fs::create_dir_all(&args.out)?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| args.out.join("state"));
    std::fs::create_dir_all(&state_dir)?;
    let mig = MigConfig::new(state_dir.join("mig"));
    let recovered = MigManager::new(backend.as_ref(), mig.clone()).recover();
    match recovered {
        Ok(r) if !r.is_clean() => {
            return Err(CliError::Execute(format!(
                "MIG layouts left by an earlier run could not be restored: {}",
                r.failed
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        Ok(_) => {}
        Err(e) => return Err(CliError::Execute(e.to_string())),
    }
    let node: Arc<dyn NodeControl> = match &sim {
        Some(s) => Arc::new(SimNodeControl::new(s.clone(), state_dir.join("mps"))),
        None => {
            let mps = MpsControl::new(MpsConfig::new(&state_dir));
            let available = mps.binary().is_ok();
            Arc::new(HostNodeControl::new(available.then_some(mps)))
        }
    };
    let mut allow_images: Vec<String> = tasks
        .iter()
        .flat_map(|t| t.workloads.iter().filter_map(|w| w.image.clone()))
        .collect();
    allow_images.sort();
    allow_images.dedup();
    let executors = Executors {
        backend,
        node,
        config: ExecutorConfig::new(node_id.clone(), args.out.join("logs"), mig),
        state_dir,
        owner: Ownership { node: node_id },
        sim,
        allow_images,
        sim_exec: None,
        process_exec: None,
        docker_exec: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(run_tasks(args, executors, &tasks))?;
    report::write_results(&args.out.join("results.json"), &results)?;
    let failed = results.iter().filter(|r| !r.1.succeeded()).count();
    eprintln!(
        "{} of {} tasks succeeded; results in {}",
        results.len() - failed,
        tasks.len(),
        args.out.join("results.json").display()
    );
    if failed > 0 || results.len() < tasks.len() {
        return Err(CliError::Execute(format!(
            "{} of {} tasks did not succeed",
            tasks.len() - (results.len() - failed),
            tasks.len()
        )));
    }
    Ok(())
}

async fn run_tasks(
    args: &ExecuteArgs,
    mut executors: Executors,
    tasks: &[TaskSpec],
) -> Result<Vec<(TaskSpec, TaskOutcome)>, CliError> {
    let sink = FileSink::open(FileSinkConfig::new(args.out.join("telemetry")))
        .await
        .map_err(|e| CliError::Execute(format!("cannot open the telemetry files: {e}")))?;
    let sink = Arc::new(sink);
    let (tx, mut rx) = mpsc::channel::<Vec<Point>>(16);
    let writer = {
        let sink = sink.clone();
        tokio::spawn(async move {
            while let Some(points) = rx.recv().await {
                if let Err(e) = sink.accept(points).await {
                    tracing::error!(error = %e, "telemetry points not written");
                }
            }
        })
    };
    let (cancel_tx, cancel_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: cancelling the running task (its clean-up runs)");
            let _ = cancel_tx.send(true);
        }
    });
    let mut results = Vec::new();
    let mut stdout = std::io::stdout();
    for (i, task) in tasks.iter().enumerate() {
        if *cancel_rx.borrow() {
            break;
        }
        let label = format!(
            "{}/{} {} rep {}",
            i + 1,
            tasks.len(),
            task.configuration.name,
            task.repetition
        );
        eprintln!("running {label} on {}", task.target);
        let events = LogEvents { label };
        let opts = RunOptions {
            attempt: 1,
            events: &events,
            telemetry: Some(tx.clone()),
            cancel: Some(cancel_rx.clone()),
        };
        let outcome = match executors.run(task, args.runtime_override, opts).await {
            Ok(o) => o,
            Err(reason) => report::not_run(task, reason),
        };
        report::print_task(&mut stdout, task, &outcome)?;
        results.push((task.clone(), outcome));
    }
    drop(tx);
    drop(executors);
    let _ = writer.await;
    if let Err(e) = sink.close().await {
        tracing::error!(error = %e, "cannot close the telemetry files");
    }
    Ok(results)
}
