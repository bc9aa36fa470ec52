//! Real database servers for the sink integration tests: VictoriaMetrics (InfluxDB v2 write API)
//! and InfluxDB 1.6 (v1 API), each started on free loopback ports with a temporary data directory,
//! polled on its health endpoint until ready, stoppable and restartable on the same port and data,
//! and killed when dropped. Plus readers that fetch what the servers stored.
//!
//! A missing server binary fails the test with a message saying to run `deploy/test.sh`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its health endpoint after starting.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// Finds a server binary on `PATH` (or in `/usr/bin`, where the Debian packages put them).
pub fn binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "server binary `{name}` not found on PATH or in /usr/bin. These tests need real \
                 servers: run deploy/test.sh (it installs the Debian packages victoria-metrics \
                 and influxdb), or `apt-get install -y victoria-metrics influxdb`."
            )
        })
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    VictoriaMetrics,
    InfluxDb1,
}

/// A running (or stopped) server owned by a test.
pub struct Server {
    kind: Kind,
    bin: PathBuf,
    pub port: u16,
    rpc_port: u16,
    data: tempfile::TempDir,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Server {
    /// Starts VictoriaMetrics and waits until `/health` answers.
    pub async fn victoria_metrics() -> Self {
        Self::launch(Kind::VictoriaMetrics, binary("victoria-metrics")).await
    }

    /// Starts InfluxDB 1.x, waits until `/ping` answers, and creates database `db`.
    pub async fn influxdb1(db: &str) -> Self {
        let server = Self::launch(Kind::InfluxDb1, binary("influxd")).await;
        server
            .influx_query_post(&format!("CREATE DATABASE \"{db}\""))
            .await;
        server
    }

    async fn launch(kind: Kind, bin: PathBuf) -> Self {
        let mut server = Self {
            kind,
            bin,
            port: free_port(),
            rpc_port: free_port(),
            data: tempfile::tempdir().unwrap(),
            child: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        server.start().await;
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.data.path().join("server.log")
    }

    /// (Re)starts the server on the same port and data directory; returns once it is ready.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "{:?} already running", self.kind);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut cmd = Command::new(&self.bin);
        match self.kind {
            Kind::VictoriaMetrics => {
                cmd.arg(format!(
                    "-storageDataPath={}",
                    self.data.path().join("vm").display()
                ))
                .arg(format!("-httpListenAddr=127.0.0.1:{}", self.port))
                .arg("-loggerLevel=WARN");
            }
            Kind::InfluxDb1 => {
                let conf = self.data.path().join("influxdb.conf");
                fs::write(
                    &conf,
                    influx_config(self.data.path(), self.port, self.rpc_port),
                )
                .unwrap();
                cmd.arg("run").arg("-config").arg(conf);
            }
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let path = match self.kind {
            Kind::VictoriaMetrics => "/health",
            Kind::InfluxDb1 => "/ping",
        };
        let url = format!("{}{path}", self.url());
        let started = Instant::now();
        loop {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "{:?} exited ({status}) before it was ready; log:\n{}",
                    self.kind,
                    self.log_tail()
                );
            }
            assert!(
                started.elapsed() < READY_DEADLINE,
                "{:?} not ready at {url} after {READY_DEADLINE:?}; log:\n{}",
                self.kind,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 30 s) and waits for it to exit.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn influx_query_post(&self, q: &str) {
        let r = self
            .http
            .post(format!("{}/query", self.url()))
            .form(&[("q", q)])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{q}: {}", r.text().await.unwrap());
    }

    /// InfluxDB 1.x: `SELECT * FROM "<measurement>"` with nanosecond times, as rows of
    /// column → value.
    pub async fn influx_select(
        &self,
        db: &str,
        measurement: &str,
    ) -> Vec<BTreeMap<String, serde_json::Value>> {
        assert_eq!(self.kind, Kind::InfluxDb1);
        let q = format!("SELECT * FROM \"{measurement}\"");
        let body: serde_json::Value = self
            .http
            .get(format!("{}/query", self.url()))
            .query(&[("db", db), ("q", &q), ("epoch", "ns")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let result = &body["results"][0];
        assert!(result.get("error").is_none(), "{q}: {body}");
        let Some(series) = result["series"].as_array() else {
            return Vec::new();
        };
        let mut rows = Vec::new();
        for s in series {
            let columns: Vec<String> = s["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect();
            for values in s["values"].as_array().unwrap() {
                let row = columns
                    .iter()
                    .cloned()
                    .zip(values.as_array().unwrap().iter().cloned())
                    .filter(|(_, v)| !v.is_null())
                    .collect();
                rows.push(row);
            }
        }
        rows
    }

    /// VictoriaMetrics: the series whose name matches the regex `name_re`, once they hold at least
    /// `samples` samples in all (recent writes become searchable a moment after they are
    /// acknowledged), or whatever is there after 30 s — the caller's comparison then fails.
    pub async fn vm_export_settled(&self, name_re: &str, samples: usize) -> Vec<VmSeries> {
        let started = Instant::now();
        loop {
            let series = self.vm_export(name_re).await;
            let n: usize = series.iter().map(|s| s.samples.len()).sum();
            if n >= samples || started.elapsed() > Duration::from_secs(30) {
                return series;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// VictoriaMetrics: every stored series whose name matches the regex `name_re`, now.
    pub async fn vm_export(&self, name_re: &str) -> Vec<VmSeries> {
        assert_eq!(self.kind, Kind::VictoriaMetrics);
        let flush = self
            .http
            .get(format!("{}/internal/force_flush", self.url()))
            .send()
            .await
            .unwrap();
        assert!(flush.status().is_success());
        let text = self
            .http
            .get(format!("{}/api/v1/export", self.url()))
            .query(&[("match[]", format!("{{__name__=~\"{name_re}\"}}"))])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let labels = v["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                let ts = v["timestamps"].as_array().unwrap();
                let vals = v["values"].as_array().unwrap();
                let samples = ts
                    .iter()
                    .zip(vals)
                    .map(|(t, v)| (t.as_i64().unwrap(), v.as_f64().unwrap()))
                    .collect();
                VmSeries { labels, samples }
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One VictoriaMetrics series: labels (with `__name__`) and (milliseconds, value) samples.
#[derive(Debug, Clone)]
pub struct VmSeries {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(i64, f64)>,
}

fn influx_config(dir: &Path, http_port: u16, rpc_port: u16) -> String {
    let d = dir.display();
    format!(
        r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
[continuous_queries]
  enabled = false
"#
    )
}

/// Bytes in the spool's segment files right now (what is on disk, not what the sink reports).
pub fn spool_bytes_on_disk(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Now, in nanoseconds since the epoch, rounded down to a millisecond (VictoriaMetrics keeps
/// milliseconds).
pub fn now_ms_in_ns() -> i64 {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    ns - ns % 1_000_000
}

/// A file holding a dummy API token (the sink reads tokens from files, never from argv).
pub fn token_file(dir: &Path) -> PathBuf {
    let path = dir.join("token");
    fs::write(&path, "test-token\n").unwrap();
    path
}

/// Shows the sink's `tracing` output (warnings about outages, drops…) in the test's output.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "wattsweep_agent=info".into()),
        )
        .with_test_writer()
        .try_init();
}
