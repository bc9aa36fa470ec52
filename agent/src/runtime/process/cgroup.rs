//! cgroup v2 accounting for workload processes, where the unified hierarchy is mounted and the
//! agent may create groups in it.
//!
//! A cgroup counts the CPU time of every process in it, including ones that left the process
//! group or were reparented away, and `cgroup.kill` (Linux 5.14+) kills all of them at once. The
//! runtime creates `<root>/<name>` for an instance, moves the leader in right after the spawn
//! (plus any group member forked in between), reads `cpu.stat`, and removes the directory once
//! the instance is gone. Where the hierarchy is v1 (as on the development machine), absent or not
//! writable, the runtime falls back to the process tree in `/proc` ([`super::procfs`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether and where to use cgroup v2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CgroupMode {
    /// Use `<cgroup2 mount>/wattsweep` when a cgroup2 file system is mounted and writable.
    #[default]
    Auto,
    /// Never; account through the process tree.
    Disabled,
    /// Use this directory (a delegated subtree, e.g. a systemd unit's `Delegate=yes` cgroup).
    Root(PathBuf),
}

/// The mount point of the cgroup2 file system in a `/proc/self/mountinfo` text (pure).
pub fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (pre, post) = line.split_once(" - ")?;
        let fstype = post.split_ascii_whitespace().next()?;
        if fstype != "cgroup2" {
            return None;
        }
        pre.split_ascii_whitespace()
            .nth(4)
            .map(|p| PathBuf::from(unescape_mount_path(p)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape_mount_path(p: &str) -> String {
    let bytes = p.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'\\')
            .then(|| bytes.get(i + 1..i + 4))
            .flatten()
            .and_then(|o| std::str::from_utf8(o).ok())
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match escaped {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `usage_usec` from a `cpu.stat` text (pure).
pub fn parse_cpu_stat_usage_usec(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_ascii_whitespace();
        (it.next()? == "usage_usec")
            .then(|| it.next()?.parse().ok())
            .flatten()
    })
}

/// The directory under which instance cgroups are created, or `None` to use the process tree.
/// `Auto` creates `<mount>/wattsweep` if needed and gives up quietly when it cannot.
pub fn resolve_root(mode: &CgroupMode) -> Option<PathBuf> {
    let root = match mode {
        CgroupMode::Disabled => return None,
        CgroupMode::Root(p) => p.clone(),
        CgroupMode::Auto => {
            let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
            cgroup2_mount(&mountinfo)?.join("wattsweep")
        }
    };
    match fs::create_dir_all(&root) {
        Ok(()) if root.join("cgroup.procs").exists() => Some(root),
        Ok(()) => {
            tracing::debug!(root = %root.display(), "not a cgroup v2 directory; CPU accounting uses the process tree");
            None
        }
        Err(e) => {
            tracing::debug!(root = %root.display(), error = %e, "cgroup v2 root not writable; CPU accounting uses the process tree");
            None
        }
    }
}

/// One instance's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    /// A handle on an existing cgroup directory (from a registry record).
    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Create `<root>/<name>` and move `pids` into it. On failure the directory is removed again.
    pub fn create(root: &Path, name: &str, pids: &[i32]) -> io::Result<Self> {
        let dir = root.join(name);
        fs::create_dir(&dir)?;
        let cg = Self { dir };
        for pid in pids {
            if let Err(e) = fs::write(cg.dir.join("cgroup.procs"), pid.to_string()) {
                // A member that already exited cannot be moved; anything else is fatal.
                if e.raw_os_error() != Some(nix::libc::ESRCH) {
                    let _ = fs::remove_dir(&cg.dir);
                    return Err(e);
                }
            }
        }
        Ok(cg)
    }

    /// CPU time of everything that ran in it, seconds.
    pub fn cpu_seconds(&self) -> io::Result<f64> {
        let text = fs::read_to_string(self.dir.join("cpu.stat"))?;
        parse_cpu_stat_usage_usec(&text)
            .map(|us| us as f64 / 1e6)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}/cpu.stat has no usage_usec line", self.dir.display()),
                )
            })
    }

    /// SIGKILL everything in it through `cgroup.kill`; `false` where the kernel lacks it.
    pub fn kill(&self) -> io::Result<bool> {
        let path = self.dir.join("cgroup.kill");
        if !path.exists() {
            return Ok(false);
        }
        fs::write(path, "1").map(|()| true)
    }

    /// Remove the directory (it must be empty of processes); a missing one is fine.
    pub fn remove(&self) -> io::Result<()> {
        match fs::remove_dir(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Remove the directory, retrying while killed processes are still leaving it (`EBUSY`),
    /// for at most `within`.
    pub async fn remove_within(&self, within: Duration) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match self.remove() {
                Err(e) if tokio::time::Instant::now() < deadline && is_busy(&e) => {
                    tokio::time::sleep(RETRY).await;
                }
                other => return other,
            }
        }
    }

    /// [`Cgroup::remove_within`] for threads that cannot await.
    pub fn remove_within_blocking(&self, within: Duration) -> io::Result<()> {
        let deadline = std::time::Instant::now() + within;
        loop {
            match self.remove() {
                Err(e) if std::time::Instant::now() < deadline && is_busy(&e) => {
                    std::thread::sleep(RETRY);
                }
                other => return other,
            }
        }
    }
}

/// Between attempts to remove a cgroup that still has exiting processes.
const RETRY: Duration = Duration::from_millis(20);

fn is_busy(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::libc::EBUSY)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn finds_the_cgroup2_mount() {
        let v2 = "25 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(cgroup2_mount(v2), Some(PathBuf::from("/sys/fs/cgroup")));
        let hybrid = "30 25 0:26 / /sys/fs/cgroup/cpu rw shared:10 - cgroup cgroup rw,cpu\n\
                      31 25 0:27 / /sys/fs/cgroup/my\\040unified rw shared:11 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/my unified"))
        );
        assert_eq!(
            cgroup2_mount("30 25 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"),
            None
        );
        assert_eq!(cgroup2_mount("garbage\n - \n"), None);
    }

    #[test]
    fn reads_usage_from_cpu_stat() {
        let text = "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 0\n";
        assert_eq!(parse_cpu_stat_usage_usec(text), Some(1_500_000));
        assert_eq!(parse_cpu_stat_usage_usec("user_usec 3\n"), None);
        assert_eq!(parse_cpu_stat_usage_usec("usage_usec x\n"), None);
    }

    #[test]
    fn disabled_and_non_cgroup_roots_fall_back_to_the_process_tree() {
        assert_eq!(resolve_root(&CgroupMode::Disabled), None);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve_root(&CgroupMode::Root(dir.path().join("x"))), None);
    }

    /// A cgroup directory faked with plain files: the file protocol (cgroup.procs, cpu.stat,
    /// cgroup.kill) as the runtime speaks it.
    #[test]
    fn cgroup_file_protocol_on_a_fake_directory() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.procs"), "").unwrap();
        assert_eq!(
            resolve_root(&CgroupMode::Root(root.path().to_path_buf())),
            Some(root.path().to_path_buf())
        );
        let cg = Cgroup::create(root.path(), "ws-1", &[]).unwrap();
        fs::write(cg.dir().join("cpu.stat"), "usage_usec 2500000\n").unwrap();
        assert!((cg.cpu_seconds().unwrap() - 2.5).abs() < 1e-12);
        assert!(!cg.kill().unwrap(), "no cgroup.kill file");
        fs::write(cg.dir().join("cgroup.kill"), "").unwrap();
        assert!(cg.kill().unwrap());
        assert_eq!(
            fs::read_to_string(cg.dir().join("cgroup.kill")).unwrap(),
            "1"
        );
        for f in ["cpu.stat", "cgroup.kill"] {
            fs::remove_file(cg.dir().join(f)).unwrap();
        }
        cg.remove().unwrap();
        cg.remove().unwrap();
        assert!(!cg.dir().exists());
    }
}
