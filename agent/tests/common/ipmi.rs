//! A real BMC for the IPMI integration tests: `ipmi_sim` (Debian `openipmi`) on a free loopback UDP port,
//! configured from `tests/fixtures/ipmi/` (LAN config template and emulator command file), driven through
//! its console on stdin, killed and restarted on the same port. Include with
//! `#[path = "common/ipmi.rs"] mod ipmi_sim;` (kept apart from any shared `common/mod.rs`).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use wattsweep_agent::telemetry::ipmi::{
    IpmiTarget, IpmitoolConfig, LanProtocol, Password, Privilege,
};

/// User configured in `lan.conf.in`.
pub const USER: &str = "wattsweep";
/// Password written into the LAN config and the password file
/// (IPMI 1.5 allows at most 16 bytes.)
pub const PASSWORD: &str = "ws-test-pw-0123";
/// Longest wait for the simulator to answer after a start.
const READY_DEADLINE: Duration = Duration::from_secs(30);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ipmi")
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Fails the test, with what to do, when ipmi_sim or ipmitool is missing. Never skips.
pub fn require_tools() {
    for (program, package) in [("ipmi_sim", "openipmi"), ("ipmitool", "ipmitool")] {
        assert!(
            on_path(program),
            "`{program}` (Debian package `{package}`) is not on PATH: the IPMI integration tests need a real \
             BMC simulator and client. Run `deploy/test.sh`, which installs them (or `apt-get install -y \
             openipmi ipmitool`)."
        );
    }
}

fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port");
    socket.local_addr().expect("local address").port()
}

/// A running (or killed) ipmi_sim.
pub struct SimBmc {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    starts: u32,
}

impl SimBmc {
    /// Starts ipmi_sim on a free port and waits until it answers.
    pub fn start() -> Self {
        require_tools();
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("password"), format!("{PASSWORD}\n"))
            .expect("password file");
        let mut sim = Self {
            dir,
            port: 0,
            child: None,
            stdin: None,
            starts: 0,
        };
        let mut last_failure = String::new();
        // A port taken between probing and binding makes ipmi_sim exit: try a few ports.
        for _ in 0..5 {
            sim.port = free_udp_port();
            match sim.launch() {
                Ok(()) => return sim,
                Err(why) => {
                    sim.kill();
                    last_failure = why;
                }
            }
        }
        panic!("ipmi_sim did not come up on any of 5 ports; last failure: {last_failure}");
    }

    /// The UDP port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The password file for `ipmitool -f`.
    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("password")
    }

    fn log_path(&self) -> PathBuf {
        self.dir
            .path()
            .join(format!("ipmi_sim-{}.log", self.starts))
    }

    /// The last lines ipmi_sim printed (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn launch(&mut self) -> Result<(), String> {
        self.starts += 1;
        let conf = std::fs::read_to_string(fixtures().join("lan.conf.in"))
            .expect("lan.conf.in fixture")
            .replace("@PORT@", &self.port.to_string())
            .replace("@PASSWORD@", PASSWORD);
        let conf_path = self.dir.path().join("lan.conf");
        std::fs::write(&conf_path, conf).expect("write lan.conf");
        let state = self.dir.path().join(format!("state-{}", self.starts));
        std::fs::create_dir_all(&state).expect("state directory");
        let log = std::fs::File::create(self.log_path()).expect("ipmi_sim log file");
        let mut child = Command::new("ipmi_sim")
            .arg("-c")
            .arg(&conf_path)
            .arg("-f")
            .arg(fixtures().join("bmc.emu"))
            .arg("-s")
            .arg(&state)
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log file handle"))
            .stderr(log)
            .spawn()
            .expect("start ipmi_sim");
        self.stdin = child.stdin.take();
        self.child = Some(child);
        self.wait_ready()
    }

    /// Polls with ipmitool until the simulator answers a sensor listing (no fixed sleep).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("ipmi_sim exited ({status}):\n{}", self.log_tail()));
            }
            let out = self.ipmitool(&["sdr", "elist", "full"]);
            if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("PSU1 Input") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "ipmi_sim on port {} did not answer within {READY_DEADLINE:?}; ipmitool said {}\n{}",
                    self.port,
                    String::from_utf8_lossy(&out.stderr),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs ipmitool against the simulator directly (an independent view of what it holds).
    pub fn ipmitool(&self, args: &[&str]) -> std::process::Output {
        let port = self.port.to_string();
        let password = self.password_file();
        Command::new("ipmitool")
            .args([
                "-I",
                "lanplus",
                "-C",
                "3",
                "-H",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                USER,
                "-N",
                "1",
                "-R",
                "1",
            ])
            .arg("-f")
            .arg(&password)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ipmitool")
    }

    /// Client configuration for RMCP+ (cipher suite 3: ipmi_sim has no 17), with short LAN timeouts so
    /// an outage is noticed within seconds.
    pub fn lanplus_config(&self) -> IpmitoolConfig {
        self.config(
            LanProtocol::Lanplus {
                cipher_suite: Some(3),
            },
            Password::File(self.password_file()),
        )
    }

    /// Client configuration for IPMI 1.5 (`-I lan`).
    pub fn lan15_config(&self) -> IpmitoolConfig {
        self.config(LanProtocol::Lan, Password::File(self.password_file()))
    }

    /// Client configuration with any protocol and password source.
    pub fn config(&self, protocol: LanProtocol, password: Password) -> IpmitoolConfig {
        let mut cfg = IpmitoolConfig::lanplus("127.0.0.1", self.port, USER, password);
        if let IpmiTarget::Lan(lan) = &mut cfg.target {
            lan.protocol = protocol;
            lan.privilege = Some(Privilege::Administrator);
            lan.request_timeout_s = Some(1);
            lan.retries = Some(1);
        }
        cfg.command_timeout = Duration::from_secs(10);
        cfg.cache_dir = Some(self.dir.path().join("sdr-cache"));
        cfg
    }

    /// Sends one emulator command (ipmi_sim_cmd(5)) through the console.
    pub fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("ipmi_sim is running");
        writeln!(stdin, "{line}").expect("write to ipmi_sim's console");
        stdin.flush().expect("flush ipmi_sim's console");
    }

    /// Sets the raw byte of an analog sensor of the BMC (LUN 0), without an event.
    pub fn set_raw(&mut self, sensor_number: u8, raw: u8) {
        self.command(&format!(
            "sensor_set_value 0x20 0 0x{sensor_number:02x} {raw} 0"
        ));
    }

    /// Kills the simulator (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the simulator again on the same port, with its initial sensor values.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(why) = self.launch() {
            panic!("ipmi_sim did not restart on port {}: {why}", self.port);
        }
    }
}

impl Drop for SimBmc {
    fn drop(&mut self) {
        self.kill();
    }
}
