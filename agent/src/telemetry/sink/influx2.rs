//! InfluxDB 2.x write API (`POST /api/v2/write?org=…&bucket=…&precision=ns`) through the
//! `influxdb2` crate, as DESIGN §4 asks. Also what VictoriaMetrics, InfluxDB 3 and other
//! compatible stores accept.
//!
//! How the crate is used (influxdb2 0.5.2): its `write_line_protocol` sends raw line protocol but
//! cannot gzip (the header-setting variant is private); its `write` gzips (with the crate's
//! `gzip` feature, `Content-Encoding: gzip`) a stream of `WriteDataPoint`s. We implement
//! `WriteDataPoint` for a body of lines already encoded by `telemetry::point`, so that one encoder
//! (with our escaping rules and counted skips) serves every sink and the body is still gzipped by
//! the crate. Request timeouts are set on the `reqwest` client handed to the crate.
//!
//! Limits of the crate: the base URL's path is replaced by `/api/v2/write` (no path prefix behind
//! a reverse proxy), and an invalid URL makes it panic, so the URL is checked before it is given.

use super::config::{ConfigError, InfluxV2Config, check_url};
use super::transport::{LineProtocolWriter, WriteError};
use crate::telemetry::point::Dialect;
use bytes::Bytes;
use influxdb2::RequestError;
use influxdb2::models::WriteDataPoint;
use std::io;
use std::time::Duration;

/// Writes to an InfluxDB 2.x (or compatible) bucket.
#[derive(Debug)]
pub struct InfluxV2Writer {
    client: influxdb2::Client,
    bucket: String,
    target: String,
    request_timeout: Duration,
}

impl InfluxV2Writer {
    /// Builds the client; reads the token now.
    pub fn new(cfg: &InfluxV2Config, request_timeout: Duration) -> Result<Self, ConfigError> {
        let url = check_url(&cfg.url)?;
        let token = match &cfg.token {
            Some(source) => source.read()?.expose().to_owned(),
            None => String::new(),
        };
        let target = format!(
            "{url} (InfluxDB v2 API, org {}, bucket {})",
            cfg.org, cfg.bucket
        );
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(request_timeout.min(Duration::from_secs(5)));
        let mut builder =
            influxdb2::ClientBuilder::with_builder(http, url.as_str(), &cfg.org, token);
        if cfg.gzip {
            builder = builder.gzip(true);
        }
        let client = builder.build().map_err(|e| ConfigError::HttpClient {
            target: target.clone(),
            source: Box::new(e),
        })?;
        Ok(Self {
            client,
            bucket: cfg.bucket.clone(),
            target,
            request_timeout,
        })
    }
}

/// A body of complete, already-escaped lines, handed to the crate as one "data point".
struct EncodedLines(Bytes);

impl WriteDataPoint for EncodedLines {
    fn write_data_point_to<W: io::Write>(&self, mut w: W) -> io::Result<()> {
        w.write_all(&self.0)
    }
}

impl LineProtocolWriter for InfluxV2Writer {
    async fn write(&self, lines: Bytes) -> Result<(), WriteError> {
        let body = futures_util::stream::iter([EncodedLines(lines)]);
        self.client
            .write(&self.bucket, body)
            .await
            .map_err(|e| match e {
                RequestError::Http { status, text } => {
                    WriteError::from_status(status.as_u16(), text)
                }
                RequestError::ReqwestProcessing { source } if source.is_timeout() => {
                    WriteError::Timeout(self.request_timeout)
                }
                other => WriteError::Request {
                    source: Box::new(other),
                },
            })
    }

    fn target(&self) -> &str {
        &self.target
    }

    fn dialect(&self) -> Dialect {
        Dialect::V2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_url_is_an_error_not_a_panic() {
        let cfg = InfluxV2Config {
            url: "not a url".into(),
            org: "o".into(),
            bucket: "b".into(),
            token: None,
            gzip: true,
        };
        let err = InfluxV2Writer::new(&cfg, Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains("not a url"), "{err}");
    }

    #[test]
    fn the_target_names_the_bucket_and_not_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "tok123").unwrap();
        let cfg = InfluxV2Config {
            url: "http://127.0.0.1:1".into(),
            org: "o".into(),
            bucket: "b".into(),
            token: Some(super::super::config::TokenSource::File(token)),
            gzip: false,
        };
        let w = InfluxV2Writer::new(&cfg, Duration::from_secs(1)).unwrap();
        assert!(w.target().contains("bucket b"));
        assert!(!w.target().contains("tok123"));
    }
}
