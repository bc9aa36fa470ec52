//! The real [`BmcClient`]: runs `ipmitool` (see the module doc of `ipmi` for why). Discovery dumps the
//! SDR repository and writes the records of interest to a private SDR cache file; each read is one
//! `ipmitool -S CACHE sdr elist all`. Secrets never appear on the command line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

mod config;

pub use config::{
    IpmiTarget, IpmitoolConfig, LanProtocol, LanTarget, Password, Privilege, Secret, global_args,
};

use super::model::{DcmiPower, Sensor, SensorValue};
use super::{BmcClient, BmcError, sdr, text};

/// Where the SDR cache files live.
#[derive(Debug)]
enum CacheDir {
    Temp(tempfile::TempDir),
    Given(PathBuf),
}

impl CacheDir {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(dir) => dir.path(),
            Self::Given(path) => path,
        }
    }
}

/// [`BmcClient`] running `ipmitool`.
#[derive(Debug)]
pub struct IpmitoolClient {
    config: IpmitoolConfig,
    args: Vec<OsString>,
    cache: CacheDir,
    sensors: Vec<Sensor>,
    dcmi: bool,
}

const FULL_DUMP: &str = "sdr-repository.bin";
const SAMPLED_CACHE: &str = "sdr-sampled.bin";

impl IpmitoolClient {
    /// Prepares a client; nothing is sent to the BMC yet. Fails when the cache directory cannot be
    /// created or the password file does not exist.
    pub fn new(config: IpmitoolConfig) -> Result<Self, BmcError> {
        if let IpmiTarget::Lan(LanTarget {
            password: Password::File(path),
            ..
        }) = &config.target
            && !path.is_file()
        {
            return Err(BmcError::Cache {
                path: path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the IPMI password file does not exist or is not a regular file",
                ),
            });
        }
        let cache = match &config.cache_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| BmcError::Cache {
                    path: dir.clone(),
                    source,
                })?;
                CacheDir::Given(dir.clone())
            }
            None => CacheDir::Temp(
                tempfile::Builder::new()
                    .prefix("wattsweep-ipmi-")
                    .tempdir()
                    .map_err(|source| BmcError::Cache {
                        path: std::env::temp_dir(),
                        source,
                    })?,
            ),
        };
        let args = global_args(&config.target);
        Ok(Self {
            config,
            args,
            cache,
            sensors: Vec::new(),
            dcmi: false,
        })
    }

    /// Whether the last discovery found a DCMI power reading.
    pub fn has_dcmi(&self) -> bool {
        self.dcmi
    }

    fn command_line(&self, extra: &[OsString]) -> String {
        std::iter::once(self.config.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .chain(extra.iter().map(OsString::as_os_str))
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs ipmitool with the global options and `extra`; returns stdout.
    async fn run(&self, extra: &[OsString]) -> Result<String, BmcError> {
        let command = self.command_line(extra);
        let mut cmd = Command::new(&self.config.program);
        cmd.args(&self.args)
            .args(extra)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let IpmiTarget::Lan(LanTarget {
            password: Password::Env(secret),
            ..
        }) = &self.config.target
        {
            cmd.env("IPMI_PASSWORD", secret.expose());
        }
        let child = cmd.spawn().map_err(|source| BmcError::Spawn {
            command: command.clone(),
            source,
        })?;
        let output =
            match tokio::time::timeout(self.config.command_timeout, child.wait_with_output()).await
            {
                Err(_) => {
                    return Err(BmcError::Timeout {
                        command,
                        timeout: self.config.command_timeout,
                    });
                }
                Ok(Err(source)) => return Err(BmcError::Wait { command, source }),
                Ok(Ok(output)) => output,
            };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            let text = if stderr.trim().is_empty() {
                stdout
            } else {
                stderr
            };
            return Err(BmcError::Failed {
                command,
                status: output.status.to_string(),
                output: shorten(text.trim()),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Asks for a DCMI power reading once: a BMC that just answered the SDR dump but fails this has
    /// no DCMI power reading (ipmi_sim answers "Invalid command").
    async fn probe_dcmi(&self) -> Result<bool, BmcError> {
        match self.run(&dcmi_args()).await {
            Ok(out) => match text::parse_dcmi_power(&out) {
                Ok(_) => Ok(true),
                Err(e) => {
                    tracing::info!(bmc = %self.describe(), error = %e, "BMC has no usable DCMI power reading");
                    Ok(false)
                }
            },
            Err(BmcError::Failed { output, .. }) => {
                tracing::info!(bmc = %self.describe(), answer = %output, "BMC has no DCMI power reading");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

fn dcmi_args() -> [OsString; 3] {
    ["dcmi".into(), "power".into(), "reading".into()]
}

/// At most 400 characters of tool output in an error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(400) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

async fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), BmcError> {
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(|source| BmcError::Cache {
            path: tmp.clone(),
            source,
        })?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|source| BmcError::Cache {
            path: path.to_path_buf(),
            source,
        })
}

impl BmcClient for IpmitoolClient {
    fn describe(&self) -> String {
        match &self.config.target {
            IpmiTarget::Local { device } => format!("local /dev/ipmi{}", device.unwrap_or(0)),
            IpmiTarget::Lan(lan) => {
                let proto = match lan.protocol {
                    LanProtocol::Lanplus { .. } => "lanplus",
                    LanProtocol::Lan => "lan",
                };
                format!("{}@{}:{} ({proto})", lan.username, lan.host, lan.port)
            }
        }
    }

    async fn list_sensors(&mut self) -> Result<Vec<Sensor>, BmcError> {
        let dump_path = self.cache.path().join(FULL_DUMP);
        match tokio::fs::remove_file(&dump_path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(BmcError::Cache {
                    path: dump_path,
                    source: e,
                });
            }
            _ => {}
        }
        self.run(&[
            "sdr".into(),
            "dump".into(),
            dump_path.clone().into_os_string(),
        ])
        .await?;
        let dump = tokio::fs::read(&dump_path)
            .await
            .map_err(|source| BmcError::Cache {
                path: dump_path,
                source,
            })?;
        let found = sdr::discover(&dump).map_err(|source| BmcError::Sdr {
            target: self.describe(),
            source,
        })?;
        let cache: Vec<u8> = found.iter().flat_map(|d| d.raw.iter().copied()).collect();
        replace_file(&self.cache.path().join(SAMPLED_CACHE), &cache).await?;
        self.sensors = found.into_iter().map(|d| d.sensor).collect();
        self.dcmi = self.probe_dcmi().await?;
        Ok(self.sensors.clone())
    }

    async fn read_sensors(&mut self) -> Result<Vec<SensorValue>, BmcError> {
        if self.sensors.is_empty() {
            return Ok(Vec::new());
        }
        let cache = self.cache.path().join(SAMPLED_CACHE).into_os_string();
        let extra: [OsString; 5] = [
            "-S".into(),
            cache,
            "sdr".into(),
            "elist".into(),
            "all".into(),
        ];
        let out = self.run(&extra).await?;
        let rows = text::parse_elist(&out);
        let (values, matched) = text::match_rows(&self.sensors, &rows);
        if matched == 0 {
            return Err(BmcError::NoRowsMatched {
                command: self.command_line(&extra),
                rows: rows.len(),
                sensors: self.sensors.len(),
            });
        }
        Ok(values)
    }

    async fn read_dcmi_power(&mut self) -> Result<Option<DcmiPower>, BmcError> {
        if !self.dcmi {
            return Ok(None);
        }
        let out = self.run(&dcmi_args()).await?;
        text::parse_dcmi_power(&out)
            .map(Some)
            .map_err(|source| BmcError::Dcmi {
                target: self.describe(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn env_password_is_never_on_the_command_line_nor_in_debug_output() {
        let password = "hunter2-very-secret";
        let mut cfg =
            IpmitoolConfig::lanplus("bmc", 623, "u", Password::Env(Secret::new(password)));
        let IpmiTarget::Lan(lan) = &mut cfg.target else {
            unreachable!()
        };
        lan.protocol = LanProtocol::Lan;
        let args = strings(&global_args(&cfg.target));
        assert_eq!(args.join(" "), "-I lan -H bmc -p 623 -U u -E");
        assert!(!format!("{cfg:?}").contains(password));
        let client = IpmitoolClient::new(cfg).unwrap();
        assert!(!client.command_line(&dcmi_args()).contains(password));
        assert!(!format!("{client:?}").contains(password));
        assert_eq!(client.describe(), "u@bmc:623 (lan)");
    }

    #[test]
    fn a_missing_password_file_is_refused_up_front() {
        let cfg =
            IpmitoolConfig::lanplus("bmc", 623, "u", Password::File("/nonexistent/pw".into()));
        let err = IpmitoolClient::new(cfg).unwrap_err();
        assert!(
            matches!(err, BmcError::Cache { ref path, .. } if path == Path::new("/nonexistent/pw"))
        );
        assert!(err.to_string().contains("/nonexistent/pw"));
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error() {
        let mut cfg = IpmitoolConfig::local();
        cfg.program = "/nonexistent/ipmitool".into();
        let mut client = IpmitoolClient::new(cfg).unwrap();
        let err = client.list_sensors().await.unwrap_err();
        assert!(matches!(err, BmcError::Spawn { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("/nonexistent/ipmitool -I open sdr dump")
        );
    }

    #[tokio::test]
    async fn a_hanging_program_is_killed_at_the_timeout() {
        // `sleep 30 -I open …` exits with an error at once on most systems; use a shell that ignores
        // its arguments and hangs instead.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("hang.sh");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut cfg = IpmitoolConfig::local();
        cfg.program = script;
        cfg.command_timeout = Duration::from_millis(200);
        let mut client = IpmitoolClient::new(cfg).unwrap();
        let err = client.list_sensors().await.unwrap_err();
        assert!(matches!(err, BmcError::Timeout { .. }), "{err}");
    }

    #[test]
    fn long_output_is_shortened() {
        let long = "x".repeat(1000);
        assert_eq!(shorten(&long).chars().count(), 401);
        assert_eq!(shorten("short"), "short");
    }
}
