//! The record of every process group the runtime started, kept in the state directory so that an
//! agent restarted after a crash can find and kill exactly its own leftovers.
//!
//! A record names the group (pgid = leader pid) together with the leader's start time, so a PID
//! reused by an unrelated process after the leader died is never mistaken for it. The file is
//! rewritten atomically ([`crate::fsio::write_atomic`]) under a mutex: one agent owns one state
//! directory (two agents sharing one are not supported).

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::super::RuntimeError;
use crate::fsio::write_atomic;

/// One started process group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The handle's name (`pid:<pgid>`).
    pub name: String,
    /// The launch's object name (`ws-<task8>-a<attempt>-i<instance>`), also the log file's stem.
    pub object_name: String,
    /// Process group id.
    pub pgid: i32,
    /// Leader pid (equal to the pgid: the leader created the group).
    pub leader_pid: i32,
    /// The leader's start time, clock ticks after boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// Node id of the agent that started it.
    pub node: String,
    /// Task id.
    pub task: Uuid,
    /// Attempt number.
    pub attempt: u32,
    /// Instance index.
    pub instance: u32,
    /// The cgroup created for it, if any.
    #[serde(default)]
    pub cgroup: Option<PathBuf>,
    /// Its log file.
    pub log: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RegistryFile {
    version: u32,
    groups: Vec<GroupRecord>,
}

const VERSION: u32 = 1;

/// The registry file and the groups this runtime instance started itself.
#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    /// (pgid, start time) of groups started through this instance and not yet removed; a
    /// reconciliation in the same process leaves them alone.
    lock: Mutex<HashSet<(i32, u64)>>,
}

impl Registry {
    /// The registry stored at `path` (created on first write).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: Mutex::new(HashSet::new()),
        }
    }

    /// Where it is stored.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn guard(&self) -> MutexGuard<'_, HashSet<(i32, u64)>> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> Result<Vec<GroupRecord>, RuntimeError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(RuntimeError::Io {
                    what: format!("reading the process registry {}", self.path.display()),
                    source,
                });
            }
        };
        let file: RegistryFile = serde_json::from_slice(&bytes).map_err(|e| RuntimeError::Io {
            what: format!(
                "parsing the process registry {} (expected version {VERSION} JSON)",
                self.path.display()
            ),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
        if file.version != VERSION {
            return Err(RuntimeError::Io {
                what: format!("reading the process registry {}", self.path.display()),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("version {} is not supported (only {VERSION})", file.version),
                ),
            });
        }
        Ok(file.groups)
    }

    fn write(&self, groups: Vec<GroupRecord>) -> Result<(), RuntimeError> {
        let file = RegistryFile {
            version: VERSION,
            groups,
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| RuntimeError::Io {
            what: "encoding the process registry".into(),
            source: io::Error::other(e),
        })?;
        write_atomic(&self.path, &bytes).map_err(|source| RuntimeError::Io {
            what: format!("writing the process registry {}", self.path.display()),
            source,
        })
    }

    /// Every recorded group.
    pub fn load(&self) -> Result<Vec<GroupRecord>, RuntimeError> {
        let _g = self.guard();
        self.read()
    }

    /// Record a group this instance just started.
    pub fn add(&self, record: GroupRecord) -> Result<(), RuntimeError> {
        let mut own = self.guard();
        let mut groups = self.read()?;
        groups.retain(|g| !(g.pgid == record.pgid && g.start_time == record.start_time));
        let key = (record.pgid, record.start_time);
        groups.push(record);
        self.write(groups)?;
        own.insert(key);
        Ok(())
    }

    /// Forget a group (it is gone).
    pub fn remove(&self, pgid: i32, start_time: u64) -> Result<(), RuntimeError> {
        let mut own = self.guard();
        own.remove(&(pgid, start_time));
        let mut groups = self.read()?;
        let before = groups.len();
        groups.retain(|g| !(g.pgid == pgid && g.start_time == start_time));
        if groups.len() != before {
            self.write(groups)?;
        }
        Ok(())
    }

    /// Whether this instance started that group and still manages it.
    pub fn is_own(&self, pgid: i32, start_time: u64) -> bool {
        self.guard().contains(&(pgid, start_time))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rec(pgid: i32, start: u64) -> GroupRecord {
        GroupRecord {
            name: format!("pid:{pgid}"),
            object_name: "ws-00000000-a1-i0".into(),
            pgid,
            leader_pid: pgid,
            start_time: start,
            node: "n".into(),
            task: Uuid::nil(),
            attempt: 1,
            instance: 0,
            cgroup: None,
            log: "/x.log".into(),
        }
    }

    #[test]
    fn add_remove_and_survive_a_new_instance() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.json");
        let r = Registry::new(path.clone());
        assert!(r.load().unwrap().is_empty());
        r.add(rec(10, 1)).unwrap();
        r.add(rec(11, 2)).unwrap();
        r.add(rec(10, 1)).unwrap();
        assert!(r.is_own(10, 1));
        assert!(!r.is_own(10, 2));
        let fresh = Registry::new(path);
        assert_eq!(fresh.load().unwrap(), vec![rec(11, 2), rec(10, 1)]);
        assert!(!fresh.is_own(10, 1), "ownership is per instance");
        r.remove(10, 1).unwrap();
        r.remove(10, 1).unwrap();
        assert!(!r.is_own(10, 1));
        assert_eq!(fresh.load().unwrap(), vec![rec(11, 2)]);
    }

    #[test]
    fn corrupt_or_future_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.json");
        std::fs::write(&path, b"{nope").unwrap();
        let e = Registry::new(path.clone()).load().unwrap_err();
        assert!(e.to_string().contains("registry.json"), "{e}");
        std::fs::write(&path, br#"{"version": 9, "groups": []}"#).unwrap();
        let e = Registry::new(path).load().unwrap_err();
        assert!(e.to_string().contains("version 9"), "{e}");
    }
}
