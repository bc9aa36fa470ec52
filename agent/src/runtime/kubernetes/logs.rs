//! Following a pod's log (`GET …/pods/<name>/log?follow=true`) and cutting it into [`LogLine`]s.
//!
//! The kubelet merges stdout and stderr into one stream, so every line is reported as
//! [`Stream::Stdout`]. Lines end at `\n` or at a lone `\r`: progress meters (gpu-burn) redraw one
//! terminal line with `\r`, and each redraw carries a figure of merit worth its own timestamp.
//! Bytes that are not UTF-8 are replaced, never allowed to end the stream.

use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::runtime::{LogLine, Stream};

/// Cuts a byte stream into lines, however the bytes are chunked.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feed the next chunk; returns the lines it completed (empty lines are dropped).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in chunk {
            if b == b'\n' || b == b'\r' {
                self.flush_into(&mut lines);
            } else {
                self.partial.push(b);
            }
        }
        lines
    }

    /// The unterminated rest, at the end of the stream.
    pub fn finish(mut self) -> Option<String> {
        let mut lines = Vec::new();
        self.flush_into(&mut lines);
        lines.pop()
    }

    fn flush_into(&mut self, lines: &mut Vec<String>) {
        if !self.partial.is_empty() {
            lines.push(String::from_utf8_lossy(&self.partial).into_owned());
            self.partial.clear();
        }
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Read `stream` to its end, sending each line to `logs`; returns when the log ends, the reader
/// fails (logged), or nobody listens any more. Dropping `logs` at the end tells the executor the
/// output is over.
pub async fn forward(
    pod: String,
    stream: impl futures_util::AsyncBufRead + Send + Unpin,
    logs: mpsc::Sender<LogLine>,
) {
    let mut stream = stream;
    let mut splitter = LineSplitter::default();
    loop {
        let chunk = match stream.fill_buf().await {
            Ok([]) => break,
            Ok(chunk) => chunk.to_vec(),
            Err(e) => {
                tracing::warn!(pod = %pod, error = %e, "log stream of pod broke off");
                break;
            }
        };
        stream.consume_unpin(chunk.len());
        for text in splitter.push(&chunk) {
            if !send(&logs, text).await {
                return;
            }
        }
    }
    if let Some(text) = splitter.finish() {
        send(&logs, text).await;
    }
}

async fn send(logs: &mpsc::Sender<LogLine>, text: String) -> bool {
    logs.send(LogLine {
        stream: Stream::Stdout,
        text,
        at_ns: now_ns(),
    })
    .await
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split_all(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out: Vec<String> = chunks.iter().flat_map(|c| s.push(c)).collect();
        out.extend(s.finish());
        out
    }

    #[test]
    fn newlines_carriage_returns_and_the_unterminated_rest() {
        assert_eq!(
            split_all(&[
                b"ready\r\n10.0%  (5 Gflop/s)\r20.0",
                b"%  (6 Gflop/s)\rdone"
            ]),
            vec!["ready", "10.0%  (5 Gflop/s)", "20.0%  (6 Gflop/s)", "done"]
        );
        assert_eq!(split_all(&[b"\xffbad\n"]), vec!["\u{fffd}bad"]);
    }

    #[tokio::test]
    async fn forwards_every_line_then_drops_the_sender() {
        let (tx, mut rx) = mpsc::channel(8);
        let body: &[u8] = b"one\ntwo\nthree";
        forward("p".into(), futures_util::io::Cursor::new(body), tx).await;
        let mut got = Vec::new();
        while let Some(l) = rx.recv().await {
            assert_eq!(l.stream, Stream::Stdout);
            got.push(l.text);
        }
        assert_eq!(got, vec!["one", "two", "three"]);
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_lines(
            lines in proptest::collection::vec("[a-z0-9 %().]{1,12}", 0..8),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let text = lines.join("\n");
            let bytes = text.as_bytes();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for p in points {
                chunks.push(&bytes[at..p]);
                at = p;
            }
            chunks.push(&bytes[at..]);
            prop_assert_eq!(split_all(&chunks), lines);
        }
    }
}
