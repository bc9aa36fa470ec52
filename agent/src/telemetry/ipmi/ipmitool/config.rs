//! How ipmitool is told which BMC to talk to: interface, address, user, password source, cipher suite,
//! privilege and retries, turned into ipmitool's global options by a pure function. The password itself
//! never becomes an argument: ipmitool reads it from a file (`-f`) or its environment (`-E`).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
/// A password that never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The password, for the child process's environment only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where ipmitool gets the LAN password from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// A file holding the password (`ipmitool -f FILE`).
    File(PathBuf),
    /// The password itself, handed to ipmitool in its environment (`IPMI_PASSWORD`, `ipmitool -E`).
    Env(Secret),
}

/// LAN protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanProtocol {
    /// RMCP+ / IPMI 2.0 (`-I lanplus`), optionally with a fixed cipher suite (`-C N`). Without one,
    /// ipmitool asks the BMC which suites it has, which costs seconds on BMCs that do not answer that.
    Lanplus {
        /// Cipher suite id, e.g. 3 or 17.
        cipher_suite: Option<u8>,
    },
    /// RMCP / IPMI 1.5 (`-I lan`).
    Lan,
}

/// Session privilege level (`-L`); reading sensors needs `User`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// `USER`.
    User,
    /// `OPERATOR`.
    Operator,
    /// `ADMINISTRATOR`.
    Administrator,
}

impl Privilege {
    fn as_arg(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Operator => "OPERATOR",
            Self::Administrator => "ADMINISTRATOR",
        }
    }
}

/// A BMC reached over the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanTarget {
    /// Host name or address of the BMC.
    pub host: String,
    /// UDP port (623 by default).
    pub port: u16,
    /// User name.
    pub username: String,
    /// Password source.
    pub password: Password,
    /// Protocol.
    pub protocol: LanProtocol,
    /// Privilege level; `None` keeps ipmitool's default (ADMINISTRATOR).
    pub privilege: Option<Privilege>,
    /// ipmitool's per-request timeout in seconds (`-N`); `None` keeps its default.
    pub request_timeout_s: Option<u32>,
    /// ipmitool's retries per request (`-R`); `None` keeps its default.
    pub retries: Option<u32>,
}

/// Which BMC and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpmiTarget {
    /// The local BMC through the kernel driver (`-I open`), device `/dev/ipmiN` (`-d N`).
    Local {
        /// Device number; `None` for `/dev/ipmi0`.
        device: Option<u32>,
    },
    /// A BMC over the LAN.
    Lan(LanTarget),
}

/// Configuration of [`IpmitoolClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpmitoolConfig {
    /// The ipmitool program (name on PATH or full path).
    pub program: PathBuf,
    /// The BMC.
    pub target: IpmiTarget,
    /// Time limit for one ipmitool run; the process is killed after it.
    pub command_timeout: Duration,
    /// Directory for the SDR cache files; `None` for a private temporary directory.
    pub cache_dir: Option<PathBuf>,
}

impl IpmitoolConfig {
    /// The local BMC (`/dev/ipmi0`) with defaults.
    pub fn local() -> Self {
        Self::new(IpmiTarget::Local { device: None })
    }

    /// A BMC over RMCP+ on `host:port` with defaults.
    pub fn lanplus(
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
        password: Password,
    ) -> Self {
        Self::new(IpmiTarget::Lan(LanTarget {
            host: host.into(),
            port,
            username: username.into(),
            password,
            protocol: LanProtocol::Lanplus { cipher_suite: None },
            privilege: None,
            request_timeout_s: None,
            retries: None,
        }))
    }

    fn new(target: IpmiTarget) -> Self {
        Self {
            program: "ipmitool".into(),
            target,
            command_timeout: Duration::from_secs(15),
            cache_dir: None,
        }
    }
}

/// ipmitool's global options for a target, in order, without any secret.
pub fn global_args(target: &IpmiTarget) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    match target {
        IpmiTarget::Local { device } => {
            args.extend(["-I".into(), "open".into()]);
            if let Some(n) = device {
                args.extend(["-d".into(), n.to_string().into()]);
            }
        }
        IpmiTarget::Lan(lan) => {
            match lan.protocol {
                LanProtocol::Lanplus { cipher_suite } => {
                    args.extend(["-I".into(), "lanplus".into()]);
                    if let Some(cs) = cipher_suite {
                        args.extend(["-C".into(), cs.to_string().into()]);
                    }
                }
                LanProtocol::Lan => args.extend(["-I".into(), "lan".into()]),
            }
            args.extend(["-H".into(), lan.host.clone().into()]);
            args.extend(["-p".into(), lan.port.to_string().into()]);
            args.extend(["-U".into(), lan.username.clone().into()]);
            match &lan.password {
                Password::File(path) => args.extend(["-f".into(), path.clone().into_os_string()]),
                Password::Env(_) => args.push("-E".into()),
            }
            if let Some(p) = lan.privilege {
                args.extend(["-L".into(), p.as_arg().into()]);
            }
            if let Some(n) = lan.request_timeout_s {
                args.extend(["-N".into(), n.to_string().into()]);
            }
            if let Some(n) = lan.retries {
                args.extend(["-R".into(), n.to_string().into()]);
            }
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn local_arguments() {
        assert_eq!(
            strings(&global_args(&IpmiTarget::Local { device: None })),
            ["-I", "open"]
        );
        assert_eq!(
            strings(&global_args(&IpmiTarget::Local { device: Some(1) })),
            ["-I", "open", "-d", "1"]
        );
    }

    #[test]
    fn lan_arguments_carry_the_password_file_not_the_password() {
        let mut cfg = IpmitoolConfig::lanplus(
            "10.0.0.5",
            623,
            "admin",
            Password::File("/etc/bmc.pw".into()),
        );
        let IpmiTarget::Lan(lan) = &mut cfg.target else {
            unreachable!()
        };
        lan.protocol = LanProtocol::Lanplus {
            cipher_suite: Some(17),
        };
        lan.privilege = Some(Privilege::User);
        lan.request_timeout_s = Some(1);
        lan.retries = Some(2);
        let args = strings(&global_args(&cfg.target));
        let expected =
            "-I lanplus -C 17 -H 10.0.0.5 -p 623 -U admin -f /etc/bmc.pw -L USER -N 1 -R 2";
        assert_eq!(args.join(" "), expected);
    }
}
