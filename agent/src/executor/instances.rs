//! Running instances, from the driver's side: each handle lives in its own task that waits for the
//! instance to end (so an early exit is seen at once) and takes stop, CPU and remove requests; each
//! instance's log lines are copied to its log file and forwarded, tagged with the instance, to the
//! driver. If the driver goes away, every instance task removes its instance.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::runtime::{CpuUsage, ExitStatus, LogLine, RuntimeError, Stream, WorkloadHandle};

/// What the driver asks of an instance task.
enum Ctl {
    Cpu(oneshot::Sender<Result<CpuUsage, RuntimeError>>),
    Stop(Duration, oneshot::Sender<Result<(), RuntimeError>>),
    Remove(oneshot::Sender<Result<(), RuntimeError>>),
}

/// How an instance's wait ended.
pub(super) type Exit = (u32, Result<ExitStatus, RuntimeError>);

/// The driver's end of one instance task.
#[derive(Debug)]
pub(super) struct Instance {
    pub name: String,
    ctl: mpsc::Sender<Ctl>,
    task: Option<JoinHandle<()>>,
}

fn gone(name: &str) -> RuntimeError {
    RuntimeError::Backend {
        runtime: "executor",
        reason: format!("the task holding instance {name} has ended"),
    }
}

impl Instance {
    /// Hand `handle` to its own task; its exit is reported on `exits`. The instance is killed by
    /// its runtime at `deadline` at the latest.
    pub fn spawn<H: WorkloadHandle + 'static>(
        instance: u32,
        handle: H,
        deadline: Instant,
        exits: mpsc::UnboundedSender<Exit>,
    ) -> Self {
        let name = handle.name().to_string();
        let (ctl, rx) = mpsc::channel(4);
        let task = tokio::spawn(serve(instance, handle, deadline, exits, rx));
        Self {
            name,
            ctl,
            task: Some(task),
        }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, RuntimeError>>) -> Ctl,
    ) -> Result<T, RuntimeError> {
        let (tx, rx) = oneshot::channel();
        self.ctl
            .send(make(tx))
            .await
            .map_err(|_| gone(&self.name))?;
        rx.await.map_err(|_| gone(&self.name))?
    }

    /// CPU use so far.
    pub async fn cpu_usage(&self) -> Result<CpuUsage, RuntimeError> {
        self.ask(Ctl::Cpu).await
    }

    /// Stop it (a no-op once it has ended).
    pub async fn stop(&self, grace: Duration) -> Result<(), RuntimeError> {
        self.ask(|tx| Ctl::Stop(grace, tx)).await
    }

    /// Remove it and end its task.
    pub async fn remove(mut self) -> Result<(), RuntimeError> {
        let result = self.ask(Ctl::Remove).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        result
    }
}

async fn serve<H: WorkloadHandle>(
    instance: u32,
    mut handle: H,
    deadline: Instant,
    exits: mpsc::UnboundedSender<Exit>,
    mut rx: mpsc::Receiver<Ctl>,
) {
    let mut ended = false;
    loop {
        let ctl = if ended {
            rx.recv().await
        } else {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::select! {
                r = handle.wait(left) => {
                    ended = true;
                    let _ = exits.send((instance, r));
                    continue;
                }
                c = rx.recv() => c,
            }
        };
        match ctl {
            Some(Ctl::Cpu(reply)) => {
                let _ = reply.send(handle.cpu_usage().await);
            }
            Some(Ctl::Stop(grace, reply)) => {
                let _ = reply.send(handle.stop(grace).await);
            }
            Some(Ctl::Remove(reply)) => {
                let _ = reply.send(handle.remove().await);
                return;
            }
            None => {
                // The driver is gone without removing it: remove it now, whatever happened.
                if let Err(e) = handle.remove().await {
                    tracing::warn!(instance, error = %e, "cannot remove an abandoned instance");
                }
                return;
            }
        }
    }
}

/// Copy `lines` to the file at `path` and forward them, tagged with `instance`, to `out`; ends when
/// the runtime closes the stream. Returns how many lines were written.
pub(super) fn follow_log(
    instance: u32,
    path: PathBuf,
    mut lines: mpsc::Receiver<LogLine>,
    out: mpsc::UnboundedSender<(u32, LogLine)>,
) -> JoinHandle<u64> {
    tokio::spawn(async move {
        let mut file = match open_log(&path).await {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot create the instance log");
                None
            }
        };
        let mut written = 0;
        while let Some(line) = lines.recv().await {
            if let Some(f) = file.as_mut() {
                let tag = match line.stream {
                    Stream::Stdout => "",
                    Stream::Stderr => "[stderr] ",
                };
                let text = format!("{tag}{}\n", line.text);
                if let Err(e) = f.write_all(text.as_bytes()).await {
                    tracing::warn!(path = %path.display(), error = %e, "cannot write the instance log");
                    file = None;
                } else {
                    written += 1;
                }
            }
            let _ = out.send((instance, line));
        }
        if let Some(mut f) = file
            && let Err(e) = f.flush().await
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the instance log");
        }
        written
    })
}

async fn open_log(path: &Path) -> std::io::Result<tokio::io::BufWriter<tokio::fs::File>> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    Ok(tokio::io::BufWriter::new(
        tokio::fs::File::create(path).await?,
    ))
}
