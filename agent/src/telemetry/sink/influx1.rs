//! InfluxDB 1.x write API (`POST /write?db=…&precision=ns[&rp=…]`), for sites still on 1.x.
//! Basic-auth credentials when configured (sent as a header, never in the URL), gzip bodies, and the
//! [`Dialect::V1`] line protocol (no `u` integers).

use super::config::{ConfigError, InfluxV1Config, Secret, check_url};
use super::transport::{LineProtocolWriter, WriteError, gzip};
use crate::telemetry::point::Dialect;
use bytes::Bytes;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use std::time::Duration;

/// Writes to an InfluxDB 1.x database.
#[derive(Debug)]
pub struct InfluxV1Writer {
    client: reqwest::Client,
    url: reqwest::Url,
    auth: Option<(String, Secret)>,
    gzip: bool,
    target: String,
    request_timeout: Duration,
}

impl InfluxV1Writer {
    /// Builds the client; reads the password now.
    pub fn new(cfg: &InfluxV1Config, request_timeout: Duration) -> Result<Self, ConfigError> {
        let mut url = check_url(&cfg.url)?;
        let path = format!("{}/write", url.path().trim_end_matches('/'));
        url.set_path(&path);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("db", &cfg.database);
            q.append_pair("precision", "ns");
            if let Some(rp) = &cfg.retention_policy {
                q.append_pair("rp", rp);
            }
        }
        let auth = match &cfg.auth {
            Some(a) => Some((a.username.clone(), a.password.read()?)),
            None => None,
        };
        let target = format!("{url} (InfluxDB v1 API)");
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(request_timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| ConfigError::HttpClient {
                target: target.clone(),
                source: Box::new(e),
            })?;
        Ok(Self {
            client,
            url,
            auth,
            gzip: cfg.gzip,
            target,
            request_timeout,
        })
    }
}

impl LineProtocolWriter for InfluxV1Writer {
    async fn write(&self, lines: Bytes) -> Result<(), WriteError> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "text/plain; charset=utf-8");
        request = if self.gzip {
            let packed = tokio::task::spawn_blocking(move || gzip(&lines))
                .await
                .map_err(|e| WriteError::Body(std::io::Error::other(e)))?
                .map_err(WriteError::Body)?;
            request.header(CONTENT_ENCODING, "gzip").body(packed)
        } else {
            request.body(lines)
        };
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password.expose()));
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                WriteError::Timeout(self.request_timeout)
            } else {
                WriteError::Request {
                    source: Box::new(e),
                }
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let message = response
            .text()
            .await
            .unwrap_or_else(|e| format!("(answer unreadable: {e})"));
        Err(WriteError::from_status(status.as_u16(), message))
    }

    fn target(&self) -> &str {
        &self.target
    }

    fn dialect(&self) -> Dialect {
        Dialect::V1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_url_keeps_a_path_prefix_and_encodes_names() {
        let cfg = InfluxV1Config {
            url: "http://127.0.0.1:8086/influx/".into(),
            database: "tele metry".into(),
            retention_policy: Some("autogen".into()),
            auth: None,
            gzip: true,
        };
        let w = InfluxV1Writer::new(&cfg, Duration::from_secs(1)).unwrap();
        assert_eq!(
            w.url.as_str(),
            "http://127.0.0.1:8086/influx/write?db=tele+metry&precision=ns&rp=autogen"
        );
    }
}
