//! IPMI platform sensors: every temperature, power, current, voltage and fan sensor of the node's BMC,
//! plus the DCMI power reading where the BMC has it, sampled about once a second so that planners see
//! platform power (PSU input) and inlet/exhaust/per-GPU temperatures next to the GPU telemetry.
//!
//! # Transport: the `ipmitool` program, not a Rust crate
//!
//! The BMC is reached through [`IpmitoolClient`], which runs `ipmitool` as a subprocess: `-I open` for the
//! local kernel interface (`/dev/ipmi0`), `-I lanplus` (RMCP+, IPMI 2.0) or `-I lan` (RMCP, IPMI 1.5) over
//! the network. The password is passed as a file (`-f FILE`) or through the child's environment (`-E`,
//! `IPMI_PASSWORD`), never on the command line. Reasons:
//!
//! - `ipmitool` is installed on practically every GPU node and has met the whole zoo of vendor BMCs:
//!   cipher suites 3 and 17, IPMB bridging to sensors owned by other controllers (Intel ME, satellite
//!   MCs), DCMI quirks. The maintained pure-Rust crate, `ipmi-rs` 0.6, has `todo!()` for HMAC-SHA256
//!   (cipher suite 17, the only one many current BMCs accept): it would panic against them. Its API is
//!   blocking, and its SDR iterator ends silently on a transport error, which would look like a BMC
//!   with fewer sensors instead of a BMC that stopped answering.
//! - The cost is a process per sample: a few milliseconds locally, one RMCP+ session set-up over the
//!   LAN; both fit a 1 s period.
//! - Text parsing is kept to a minimum. Discovery reads the SDR repository as raw bytes
//!   (`sdr dump`, parsed in [`sdr`]) so names, units, owners and entities are exact. Those records of
//!   interest are written back as an SDR cache file, and each sample is one `ipmitool -S CACHE sdr elist
//!   all`: ipmitool then reads only the selected sensors (one Get Sensor Reading each, no SDR walk per
//!   sample) and converts raw values with the SDR's factors. Its rows are parsed in [`text`].
//!
//! Everything sits behind [`BmcClient`]; [`FakeBmc`] is an in-memory BMC for tests. [`IpmiSampler`]
//! drives a client on tokio: discovery, periodic reads, a `down`/`up` status with backoff and
//! re-discovery, and a clean stop.

mod fake;
mod ipmitool;
mod model;
pub mod sampler;
pub mod sdr;
pub mod text;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

pub use fake::FakeBmc;
pub use ipmitool::{
    IpmiTarget, IpmitoolClient, IpmitoolConfig, LanProtocol, LanTarget, Password, Privilege,
    Secret, global_args,
};
pub use model::{
    DcmiPower, DcmiReading, Entity, IpmiSample, Reading, Sensor, SensorKey, SensorKind,
    SensorOwner, SensorValue, Unit, unix_ns,
};
pub use sampler::{IpmiSampler, SamplerConfig, SamplerError, SourceState, SourceStatus};

/// A connection to one BMC: discover its sensors, read them, read DCMI power.
///
/// Methods take `&mut self` because a client remembers what the last discovery found (the real one
/// keeps an SDR cache file for it).
pub trait BmcClient: Send + 'static {
    /// Human description of the BMC for logs and errors (`local /dev/ipmi0`, `admin@10.0.0.5:623`).
    fn describe(&self) -> String;

    /// Enumerates the SDR repository and returns the sensors worth sampling, in repository order.
    /// Also finds out whether the BMC answers DCMI power readings.
    fn list_sensors(&mut self) -> impl Future<Output = Result<Vec<Sensor>, BmcError>> + Send;

    /// Reads the sensors found by the last [`BmcClient::list_sensors`]: one value per sensor, keyed.
    fn read_sensors(&mut self) -> impl Future<Output = Result<Vec<SensorValue>, BmcError>> + Send;

    /// Reads DCMI power; `Ok(None)` when the BMC has no DCMI power reading.
    fn read_dcmi_power(
        &mut self,
    ) -> impl Future<Output = Result<Option<DcmiPower>, BmcError>> + Send;
}

/// Why a BMC could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BmcError {
    /// The ipmitool program could not be started.
    #[error(
        "cannot start `{command}`: {source} (is ipmitool installed and on PATH, or configured with its full path?)"
    )]
    Spawn {
        /// The command line (no secrets on it).
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the ipmitool process failed.
    #[error("waiting for `{command}` failed: {source}")]
    Wait {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// ipmitool did not finish in time; the process was killed.
    #[error(
        "`{command}` did not finish within {timeout:?}; the BMC is not answering (process killed)"
    )]
    Timeout {
        /// The command line.
        command: String,
        /// The time limit.
        timeout: Duration,
    },
    /// ipmitool exited with an error.
    #[error("`{command}` failed ({status}): {output}")]
    Failed {
        /// The command line.
        command: String,
        /// Exit status as text.
        status: String,
        /// What ipmitool printed (stderr, or stdout when stderr is empty), shortened.
        output: String,
    },
    /// The SDR cache file could not be written or read.
    #[error("SDR cache file {path}: {source}")]
    Cache {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The SDR repository dumped from the BMC is malformed.
    #[error("SDR repository of {target}: {source}")]
    Sdr {
        /// The BMC.
        target: String,
        /// What is wrong.
        #[source]
        source: sdr::SdrError,
    },
    /// The DCMI power reading could not be read from ipmitool's output.
    #[error("DCMI power reading of {target}: {source}")]
    Dcmi {
        /// The BMC.
        target: String,
        /// What is wrong.
        #[source]
        source: text::DcmiParseError,
    },
    /// `sdr elist` printed nothing that matches the discovered sensors (the SDR changed or the output
    /// is not what this parser knows); the sampler re-discovers.
    #[error(
        "`{command}` printed {rows} sensor rows, none matching the {sensors} discovered sensors"
    )]
    NoRowsMatched {
        /// The command line.
        command: String,
        /// Rows parsed.
        rows: usize,
        /// Sensors expected.
        sensors: usize,
    },
    /// A BMC that is not a process (the in-memory one) is unavailable.
    #[error("{target} is unavailable: {reason}")]
    Unavailable {
        /// The BMC.
        target: String,
        /// Why.
        reason: String,
    },
}
