//! Driving `nvidia-cuda-mps-control`: start a daemon with `-d`, wait for its control socket,
//! stop it with `quit` on stdin, and make sure it is gone.
//!
//! Blocking code on purpose: it runs on a blocking thread for the async API and directly in
//! `Drop`, so one implementation serves both. Every wait polls with a deadline; nothing sleeps
//! a fixed time.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::error::MpsError;
use super::record::{DaemonPaths, DaemonRecord};
use crate::runtime::process::env::{
    CUDA_MPS_ACTIVE_THREAD_PERCENTAGE, CUDA_MPS_LOG_DIRECTORY, CUDA_MPS_PIPE_DIRECTORY,
    CUDA_VISIBLE_DEVICES,
};
use crate::runtime::process::procfs::ProcFs;

/// How often the file system and process table are polled while waiting.
const POLL: Duration = Duration::from_millis(10);

/// Poll `done` until it holds or `within` passes; returns whether it held.
fn poll_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        thread::sleep(POLL.min(deadline - now));
    }
}

/// The control binary's command with the daemon's environment: its GPU, pipe and log directory.
fn control_command(binary: &Path, gpu_uuid: &str, pipe_dir: &Path, log_dir: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env(CUDA_VISIBLE_DEVICES, gpu_uuid)
        .env(CUDA_MPS_PIPE_DIRECTORY, pipe_dir)
        .env(CUDA_MPS_LOG_DIRECTORY, log_dir)
        // A percentage inherited from the agent would become every client's default.
        .env_remove(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE);
    cmd
}

/// Run `cmd` (stdin `input`, output to `out_file`) and wait for it at most `within`; the
/// command's output is returned with a failure.
fn run(
    mut cmd: Command,
    input: Option<&[u8]>,
    out_file: &Path,
    within: Duration,
) -> Result<(), String> {
    let out =
        File::create(out_file).map_err(|e| format!("cannot create {}: {e}", out_file.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot share {}: {e}", out_file.display()))?;
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(out)
    .stderr(err);
    let mut child = cmd.spawn().map_err(|e| format!("cannot run it: {e}"))?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        // A client that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(bytes);
    }
    let mut status = None;
    let finished = poll_until(within, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    let output = || {
        std::fs::read_to_string(out_file)
            .map(|s| {
                s.trim()
                    .chars()
                    .rev()
                    .take(2000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "it did not return within {within:?}; output: {}",
            output()
        ));
    }
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("it exited with {s}; output: {}", output())),
        None => Err("it vanished without a status".into()),
    }
}

/// The live pid named by the daemon's pid file, if any.
fn daemon_pid(paths: &DaemonPaths, procfs: &ProcFs) -> Option<(i32, u64)> {
    let pid: i32 = std::fs::read_to_string(paths.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let stat = procfs.stat(pid).filter(|s| !s.is_dead())?;
    Some((pid, stat.start_time))
}

/// Start the daemon for `gpu_uuid` and wait until it is ready: its control socket exists and
/// its pid file names a running process.
pub(crate) fn start(
    binary: &Path,
    gpu_uuid: &str,
    paths: &DaemonPaths,
    ready_timeout: Duration,
    stop_timeout: Duration,
    procfs: &ProcFs,
) -> Result<DaemonRecord, MpsError> {
    for dir in [&paths.pipe_dir, &paths.log_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| MpsError::io(format!("creating {}", dir.display()), e))?;
    }
    if paths.record.exists() {
        let old = DaemonRecord::load(&paths.record)?;
        if old.is_running(procfs) {
            return Err(MpsError::AlreadyRunning {
                gpu: gpu_uuid.to_string(),
                pid: old.pid,
                pipe_dir: old.pipe_dir,
            });
        }
        remove_file(&paths.record)?;
    }
    // Files a dead daemon left would make readiness look immediate.
    remove_file(&paths.control())?;
    remove_file(&paths.pid_file())?;

    let mut cmd = control_command(binary, gpu_uuid, &paths.pipe_dir, &paths.log_dir);
    cmd.arg("-d");
    run(
        cmd,
        None,
        &paths.log_dir.join("wattsweep-start.out"),
        ready_timeout,
    )
    .map_err(|reason| MpsError::StartFailed {
        gpu: gpu_uuid.to_string(),
        reason: format!("`{} -d`: {reason}", binary.display()),
    })?;

    let mut found = None;
    let ready = poll_until(ready_timeout, || {
        found = daemon_pid(paths, procfs);
        found.is_some() && paths.control().exists()
    });
    let record = found.map(|(pid, start_time)| DaemonRecord {
        gpu_uuid: gpu_uuid.to_string(),
        pid,
        start_time,
        pipe_dir: paths.pipe_dir.clone(),
        log_dir: paths.log_dir.clone(),
        binary: binary.to_path_buf(),
    });
    match (ready, record) {
        (true, Some(record)) => {
            if let Err(e) = record.save(&paths.record) {
                let _ = stop(Some(binary), &record, &paths.record, stop_timeout, procfs);
                return Err(e);
            }
            Ok(record)
        }
        (_, half_started) => {
            if let Some(r) = half_started {
                let _ = stop(Some(binary), &r, &paths.record, stop_timeout, procfs);
            }
            Err(MpsError::NotReady {
                gpu: gpu_uuid.to_string(),
                waited: ready_timeout,
                pipe_dir: paths.pipe_dir.clone(),
            })
        }
    }
}

/// Stop the recorded daemon: `quit` through the control binary (SIGTERM by the recorded pid when
/// there is no binary or `quit` fails), wait until the daemon is gone, SIGKILL it by its
/// recorded pid as a last resort. The pid is signalled only while its start time matches. The
/// record and the daemon's stale socket and pid file are removed once it is gone. Returns
/// whether the daemon was running.
pub(crate) fn stop(
    binary: Option<&Path>,
    record: &DaemonRecord,
    record_path: &Path,
    timeout: Duration,
    procfs: &ProcFs,
) -> Result<bool, MpsError> {
    let was_running = record.is_running(procfs);
    if was_running {
        let asked = match binary {
            Some(binary) => {
                let cmd =
                    control_command(binary, &record.gpu_uuid, &record.pipe_dir, &record.log_dir);
                let out = record.log_dir.join("wattsweep-quit.out");
                run(cmd, Some(b"quit\n"), &out, timeout)
                    .map_err(|reason| tracing::warn!(gpu = %record.gpu_uuid, %reason, "MPS `quit` failed; signalling the daemon"))
                    .is_ok()
            }
            None => false,
        };
        if !asked {
            signal_if_same(record, Signal::SIGTERM, procfs);
        }
        if !poll_until(timeout, || !record.is_running(procfs)) {
            tracing::warn!(gpu = %record.gpu_uuid, pid = record.pid, "MPS daemon still runs; sending SIGKILL");
            signal_if_same(record, Signal::SIGKILL, procfs);
            if !poll_until(timeout, || !record.is_running(procfs)) {
                return Err(MpsError::StopFailed {
                    gpu: record.gpu_uuid.clone(),
                    pid: record.pid,
                    reason: format!(
                        "it survived `quit`/SIGTERM and SIGKILL ({timeout:?} after each)"
                    ),
                });
            }
        }
    }
    remove_file(&record.pipe_dir.join(super::record::CONTROL_SOCKET))?;
    remove_file(&record.pipe_dir.join(super::record::PID_FILE))?;
    remove_file(record_path)?;
    Ok(was_running)
}

/// Signal the recorded daemon, only if its pid still names the same process.
fn signal_if_same(record: &DaemonRecord, sig: Signal, procfs: &ProcFs) {
    if record.is_running(procfs) {
        let _ = kill(Pid::from_raw(record.pid), sig);
    }
}

fn remove_file(path: &Path) -> Result<(), MpsError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(MpsError::io(format!("removing {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

/// Find `name` in the directories of `path_var` (a `PATH` value): the first executable file.
pub fn find_on_path(name: &str, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// A regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn path_lookup_finds_the_first_executable() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(a.path().join("tool"), "not executable").unwrap();
        let exe = b.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([a.path(), b.path()]).unwrap();
        assert_eq!(find_on_path("tool", &path), Some(exe));
        assert_eq!(find_on_path("other", &path), None);
        assert_eq!(find_on_path("tool", std::ffi::OsStr::new("")), None);
    }

    #[test]
    fn run_reports_exit_status_output_and_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut ok = Command::new("sh");
        ok.args(["-c", "read x; test \"$x\" = quit"]);
        assert_eq!(
            run(ok, Some(b"quit\n"), &out, Duration::from_secs(30)),
            Ok(())
        );
        let mut fail = Command::new("sh");
        fail.args(["-c", "echo broken pipe dir >&2; exit 4"]);
        let e = run(fail, None, &out, Duration::from_secs(30)).unwrap_err();
        assert!(e.contains("broken pipe dir") && e.contains('4'), "{e}");
        let mut hang = Command::new("sleep");
        hang.arg("1000");
        let e = run(hang, None, &out, Duration::from_millis(50)).unwrap_err();
        assert!(e.contains("did not return"), "{e}");
    }
}
