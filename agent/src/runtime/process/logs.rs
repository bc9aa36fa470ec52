//! A workload's output: split into lines, time-stamped, streamed to the executor and kept in a
//! per-instance log file.
//!
//! Lines end at `\n`, `\r\n` or a lone `\r`: progress meters such as gpu-burn's rewrite one
//! terminal line with `\r`, and each rewrite carries a fresh figure of merit. Over-long lines are
//! cut at [`MAX_LINE_BYTES`] so a workload that never prints a newline cannot grow memory without
//! bound. Invalid UTF-8 is replaced, never fatal.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

use super::super::{LogLine, Stream};

/// Longest line kept in one piece, bytes.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Splits a byte stream into lines (pure; chunk boundaries do not matter).
#[derive(Debug, Clone)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
    after_cr: bool,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::new(MAX_LINE_BYTES)
    }
}

impl LineSplitter {
    /// A splitter cutting lines longer than `max` bytes (at least 1).
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max: max.max(1),
            after_cr: false,
        }
    }

    /// Feed bytes; returns the lines they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, false);
            match b {
                b'\n' if after_cr => {}
                b'\n' => lines.push(self.take()),
                b'\r' => {
                    lines.push(self.take());
                    self.after_cr = true;
                }
                _ => {
                    if self.buf.len() >= self.max {
                        lines.push(self.take());
                    }
                    self.buf.push(b);
                }
            }
        }
        lines
    }

    /// The unterminated last line, if any.
    pub fn finish(&mut self) -> Option<String> {
        self.after_cr = false;
        (!self.buf.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> String {
        let line = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        line
    }
}

/// Now, unix nanoseconds.
pub fn unix_ns_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The log file's line format: `<unix ns> <out|err> <text>`.
pub fn format_log_line(line: &LogLine) -> String {
    let stream = match line.stream {
        Stream::Stdout => "out",
        Stream::Stderr => "err",
    };
    format!("{} {stream} {}\n", line.at_ns, line.text)
}

/// Read both streams to their end, sending every line to `logs` (while anyone listens) and
/// appending it to the file at `log_path` (while it can be written). Returns when both streams
/// are closed, i.e. when every process holding them has exited; dropping `logs` then tells the
/// executor the output has ended.
pub async fn pump<O, E>(mut stdout: O, mut stderr: E, logs: mpsc::Sender<LogLine>, log_path: &Path)
where
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let mut file = match tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .await
    {
        Ok(f) => Some(BufWriter::new(f)),
        Err(e) => {
            tracing::warn!(path = %log_path.display(), error = %e, "cannot open the workload log file; lines are only streamed");
            None
        }
    };
    let (mut out_split, mut err_split) = (LineSplitter::default(), LineSplitter::default());
    let (mut out_buf, mut err_buf) = (vec![0u8; 8192], vec![0u8; 8192]);
    let (mut out_open, mut err_open) = (true, true);
    let mut listening = true;
    while out_open || err_open {
        let (stream, lines) = tokio::select! {
            r = stdout.read(&mut out_buf), if out_open => match r {
                Ok(n) if n > 0 => (Stream::Stdout, out_split.push(&out_buf[..n])),
                _ => { out_open = false; (Stream::Stdout, out_split.finish().into_iter().collect()) }
            },
            r = stderr.read(&mut err_buf), if err_open => match r {
                Ok(n) if n > 0 => (Stream::Stderr, err_split.push(&err_buf[..n])),
                _ => { err_open = false; (Stream::Stderr, err_split.finish().into_iter().collect()) }
            },
        };
        if lines.is_empty() {
            continue;
        }
        let at_ns = unix_ns_now();
        for text in lines {
            let line = LogLine {
                stream,
                text,
                at_ns,
            };
            if let Some(f) = file.as_mut()
                && let Err(e) = f.write_all(format_log_line(&line).as_bytes()).await
            {
                tracing::warn!(path = %log_path.display(), error = %e, "workload log file write failed; lines are only streamed from now on");
                file = None;
            }
            if listening && logs.send(line).await.is_err() {
                listening = false;
            }
        }
        if let Some(f) = file.as_mut()
            && let Err(e) = f.flush().await
        {
            tracing::warn!(path = %log_path.display(), error = %e, "workload log file flush failed");
            file = None;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn split_all(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut s = LineSplitter::new(max);
        let mut out: Vec<String> = chunks.iter().flat_map(|c| s.push(c)).collect();
        out.extend(s.finish());
        out
    }

    #[test]
    fn newline_crlf_and_lone_cr_end_lines() {
        assert_eq!(
            split_all(&[b"a\nb\r\nc\rd", b"\r", b"\ne\n\nf"], 100),
            vec!["a", "b", "c", "d", "e", "", "f"]
        );
    }

    #[test]
    fn long_lines_are_cut_and_bad_utf8_replaced() {
        assert_eq!(split_all(&[b"abcdefg\n"], 3), vec!["abc", "def", "g"]);
        assert_eq!(split_all(&[b"abc\ndef"], 3), vec!["abc", "def"]);
        assert_eq!(split_all(&[b"x\xffy\n"], 100), vec!["x\u{fffd}y"]);
    }

    #[test]
    fn log_file_format() {
        let l = LogLine {
            stream: Stream::Stderr,
            text: "boom".into(),
            at_ns: 17,
        };
        assert_eq!(format_log_line(&l), "17 err boom\n");
    }

    #[tokio::test]
    async fn pump_streams_both_outputs_and_keeps_them_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        let (tx, mut rx) = mpsc::channel(16);
        pump(&b"one\ntwo"[..], &b"err\n"[..], tx, &path).await;
        let mut got = Vec::new();
        while let Some(l) = rx.recv().await {
            assert!(l.at_ns > 0);
            got.push((l.stream, l.text));
        }
        got.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            got,
            vec![
                (Stream::Stderr, "err".to_string()),
                (Stream::Stdout, "one".to_string()),
                (Stream::Stdout, "two".to_string())
            ]
        );
        let file = std::fs::read_to_string(&path).unwrap();
        assert_eq!(file.lines().count(), 3);
        assert!(file.lines().any(|l| l.ends_with(" out two")), "{file}");
    }

    #[tokio::test]
    async fn pump_keeps_reading_when_nobody_listens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        pump(&b"1\n2\n3\n"[..], &b""[..], tx, &path).await;
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }

    proptest! {
        /// Where the chunks are cut never changes the lines.
        #[test]
        fn chunking_does_not_matter(data in prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'\n', b'\r', 0xff]), 0..200),
                                    cuts in prop::collection::vec(0usize..200, 0..10),
                                    max in 1usize..20) {
            let whole = split_all(&[&data], max);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            let chunks: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
            prop_assert_eq!(split_all(&chunks, max), whole);
        }

        /// Without line breaks in the text, joining lines with `\n` gives the input back.
        #[test]
        fn lines_round_trip(lines in prop::collection::vec("[a-z ]{0,30}", 0..10)) {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            prop_assert_eq!(split_all(&[text.as_bytes()], 1000), lines);
        }
    }
}
