//! Following a container's output: the engine's demultiplexed stdout/stderr frames become
//! [`LogLine`]s for the executor and lines in a log file per container.
//!
//! The engine's frames are not lines (a long line arrives in pieces, a frame may hold several), so
//! each stream goes through a [`LineSplitter`]; the splitting is pure and property-tested.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

use crate::runtime::{LogLine, Stream};

/// Cuts a byte stream into lines (without `\n` or a trailing `\r`; invalid UTF-8 replaced).
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feed one chunk; returns the lines it completed. A line ends at `\n`, `\r\n` or a lone `\r`
    /// (progress redraws such as gpu-burn's, each with a new figure of merit), as in the process and
    /// Kubernetes runtimes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in chunk {
            match b {
                b'\n' => {
                    if self.pending.last() == Some(&b'\r') {
                        self.pending.pop();
                    }
                    lines.push(Self::text(std::mem::take(&mut self.pending)));
                }
                _ => {
                    if self.pending.last() == Some(&b'\r') {
                        self.pending.pop();
                        lines.push(Self::text(std::mem::take(&mut self.pending)));
                    }
                    self.pending.push(b);
                }
            }
        }
        lines
    }

    /// The unterminated last line, if any, once the stream has ended.
    pub fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty()).then(|| Self::text(std::mem::take(&mut self.pending)))
    }

    fn text(mut bytes: Vec<u8>) -> String {
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Where the follower sends lines: the executor's channel (dropped at the end of the stream) and the
/// container's log file.
struct Sinks {
    tx: Option<mpsc::Sender<LogLine>>,
    file: BufWriter<tokio::fs::File>,
    path: PathBuf,
    file_failed: bool,
}

impl Sinks {
    async fn emit(&mut self, stream: Stream, text: String) {
        if !self.file_failed {
            let written = async {
                self.file.write_all(text.as_bytes()).await?;
                self.file.write_all(b"\n").await
            }
            .await;
            if let Err(e) = written {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot write container log file; lines still reach the executor");
                self.file_failed = true;
            }
        }
        let line = LogLine {
            stream,
            text,
            at_ns: now_ns(),
        };
        // A receiver that went away only stops the channel; the file keeps everything.
        if let Some(tx) = &self.tx
            && tx.send(line).await.is_err()
        {
            self.tx = None;
        }
    }

    async fn flush(&mut self) {
        if self.file_failed {
            return;
        }
        if let Err(e) = self.file.flush().await {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot flush container log file");
            self.file_failed = true;
        }
    }
}

/// Follow container `id`'s stdout and stderr from its start until the stream ends (the container
/// exited or was removed), sending each line to `tx` and appending it to `file`.
pub(crate) async fn follow(
    docker: Docker,
    id: String,
    file: tokio::fs::File,
    path: PathBuf,
    tx: mpsc::Sender<LogLine>,
) {
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..LogsOptions::default()
    };
    let mut stream = docker.logs(&id, Some(options));
    let mut sinks = Sinks {
        tx: Some(tx),
        file: BufWriter::new(file),
        path,
        file_failed: false,
    };
    let mut out = LineSplitter::default();
    let mut err = LineSplitter::default();
    while let Some(frame) = stream.next().await {
        let (which, splitter, message) = match frame {
            Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                (Stream::Stdout, &mut out, message)
            }
            Ok(LogOutput::StdErr { message }) => (Stream::Stderr, &mut err, message),
            Ok(LogOutput::StdIn { .. }) => continue,
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "container log stream broke off");
                break;
            }
        };
        for line in splitter.push(&message) {
            sinks.emit(which, line).await;
        }
        sinks.flush().await;
    }
    for (which, splitter) in [(Stream::Stdout, &mut out), (Stream::Stderr, &mut err)] {
        if let Some(line) = splitter.finish() {
            sinks.emit(which, line).await;
        }
    }
    sinks.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn progress_redraws_with_a_lone_carriage_return_are_lines() {
        let mut s = LineSplitter::default();
        let mut lines = s.push(b"10.0% (100 Gflop/s)\r20.0% (110 Gflop/s)\r");
        lines.extend(s.push(b"\r\ndone\r\n"));
        assert_eq!(
            lines,
            vec!["10.0% (100 Gflop/s)", "20.0% (110 Gflop/s)", "", "done"]
        );
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn splits_frames_into_lines() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"rea"), Vec::<String>::new());
        assert_eq!(
            s.push(b"dy\r\nfom=1 items/s\nfom="),
            vec!["ready", "fom=1 items/s"]
        );
        assert_eq!(s.push(b"2\n"), vec!["fom=2"]);
        assert_eq!(s.finish(), None);
        s.push(b"tail without newline");
        assert_eq!(s.finish().as_deref(), Some("tail without newline"));
        assert_eq!(s.push(b"\xff\n"), vec!["\u{fffd}"]);
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_lines(
            lines in proptest::collection::vec("[a-z =.0-9/]{0,20}", 0..12),
            cuts in proptest::collection::vec(0usize..400, 0..10),
        ) {
            let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut s = LineSplitter::default();
            let mut got = Vec::new();
            let mut start = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                got.extend(s.push(&bytes[start..c]));
                start = c;
            }
            prop_assert_eq!(s.finish(), None);
            prop_assert_eq!(got, lines);
        }
    }
}
