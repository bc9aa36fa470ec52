//! The on-disk spool: where batches wait while the database is unreachable, so that an outage costs
//! no data and a restart of the agent neither.
//!
//! Layout: `<dir>/seg-<20-digit sequence>.lp`, append-only files of line protocol, replayed oldest
//! first, one segment per write request. Each append is `fsync`ed. A segment is never split, so a
//! batch lands whole in one segment. Bound: the total size never exceeds `max_bytes`; to make room
//! the **oldest** segment is dropped (recent telemetry is worth more while an outage lasts, and this
//! keeps the spool a FIFO) and the caller counts and logs its points. A batch larger than the
//! whole bound is refused (counted the same way). At start-up the segments left by an earlier run
//! are found again; a line cut short by a crash is cut off and reported.
//!
//! Batches the server refused as invalid go to `<dir>/rejected/rejected-<sequence>.lp`, with the
//! server's answer as `#` comment lines, so they can be inspected and re-posted by hand.
//!
//! This is blocking file I/O; the network sink calls it from `spawn_blocking`.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A spool operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file operation failed.
    #[error("telemetry spool: cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The background task doing spool I/O did not finish (runtime shutting down).
    #[error("telemetry spool: the I/O task did not complete: {0}")]
    Task(String),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    seq: u64,
    bytes: u64,
    lines: u64,
}

/// A segment dropped to respect the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub lines: u64,
    pub bytes: u64,
}

/// What [`Spool::append`] had to do besides appending.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct AppendOutcome {
    /// Oldest segments dropped to make room.
    pub dropped: Vec<Dropped>,
    /// The batch itself was refused: it alone exceeds the bound.
    pub refused: bool,
}

/// What [`Spool::open`] found from an earlier run.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Recovered {
    pub segments: usize,
    pub lines: u64,
    pub bytes: u64,
    /// Bytes of an incomplete last line cut off (a crash mid-append).
    pub truncated_bytes: u64,
    /// Segments dropped because the earlier spool exceeds the current bound.
    pub dropped: Vec<Dropped>,
}

/// One segment read for replay.
#[derive(Debug)]
pub(crate) struct SegmentData {
    pub seq: u64,
    pub data: Vec<u8>,
    pub lines: u64,
}

/// The spool of one sink.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    /// The newest segment, open for appending (`None`: the next append starts a new one).
    open: Option<File>,
    next_seq: u64,
    bytes: u64,
    lines: u64,
}

impl Spool {
    /// Opens (creating) the spool in `dir` and takes over the segments found there.
    pub fn open(
        dir: &Path,
        max_bytes: u64,
        segment_bytes: u64,
    ) -> Result<(Self, Recovered), SpoolError> {
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let mut seqs = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err("list directory", dir))? {
            let entry = entry.map_err(io_err("list directory", dir))?;
            if let Some(seq) = entry.file_name().to_str().and_then(parse_segment_name) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let mut spool = Self {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes,
            segments: VecDeque::new(),
            open: None,
            next_seq: seqs.last().map_or(0, |s| s + 1),
            bytes: 0,
            lines: 0,
        };
        let mut recovered = Recovered::default();
        for seq in seqs {
            let path = spool.path(seq);
            let data = fs::read(&path).map_err(io_err("read segment", &path))?;
            let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            if complete < data.len() {
                recovered.truncated_bytes += (data.len() - complete) as u64;
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err("open segment", &path))?;
                file.set_len(complete as u64)
                    .map_err(io_err("truncate segment", &path))?;
            }
            if complete == 0 {
                fs::remove_file(&path).map_err(io_err("remove empty segment", &path))?;
                continue;
            }
            let lines = data[..complete].iter().filter(|&&b| b == b'\n').count() as u64;
            spool.segments.push_back(Segment {
                seq,
                bytes: complete as u64,
                lines,
            });
            spool.bytes += complete as u64;
            spool.lines += lines;
        }
        while spool.bytes > spool.max_bytes {
            recovered.dropped.push(spool.drop_oldest()?);
        }
        recovered.segments = spool.segments.len();
        recovered.lines = spool.lines;
        recovered.bytes = spool.bytes;
        Ok((spool, recovered))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    pub fn lines(&self) -> u64 {
        self.lines
    }
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("seg-{seq:020}.lp"))
    }

    /// Appends a batch (whole lines), dropping the oldest segments if needed to stay in bound.
    pub fn append(&mut self, data: &[u8], lines: u64) -> Result<AppendOutcome, SpoolError> {
        let mut outcome = AppendOutcome::default();
        let len = data.len() as u64;
        if len > self.max_bytes {
            outcome.refused = true;
            return Ok(outcome);
        }
        while self.bytes + len > self.max_bytes {
            outcome.dropped.push(self.drop_oldest()?);
        }
        let room_in_open = self
            .segments
            .back()
            .is_some_and(|s| s.bytes + len <= self.segment_bytes);
        if !room_in_open {
            self.open = None;
        }
        if self.open.is_none() {
            let seq = self.next_seq;
            let path = self.path(seq);
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)
                .map_err(io_err("create segment", &path))?;
            self.next_seq += 1;
            self.open = Some(file);
            self.segments.push_back(Segment {
                seq,
                bytes: 0,
                lines: 0,
            });
        }
        let (Some(file), Some(segment)) = (self.open.as_mut(), self.segments.back_mut()) else {
            return Err(SpoolError::Task("spool lost its open segment".into()));
        };
        let path = self.dir.join(format!("seg-{:020}.lp", segment.seq));
        let written = file.write_all(data).and_then(|()| file.sync_data());
        if let Err(source) = written {
            // Leave no partial batch behind: a later replay must see whole lines only.
            let _ = file.set_len(segment.bytes);
            self.open = None;
            return Err(SpoolError::Io {
                action: "append to segment",
                path,
                source,
            });
        }
        segment.bytes += len;
        segment.lines += lines;
        self.bytes += len;
        self.lines += lines;
        Ok(outcome)
    }

    fn drop_oldest(&mut self) -> Result<Dropped, SpoolError> {
        let Some(oldest) = self.segments.pop_front() else {
            return Ok(Dropped { lines: 0, bytes: 0 });
        };
        if self.segments.is_empty() {
            self.open = None;
        }
        self.bytes -= oldest.bytes;
        self.lines -= oldest.lines;
        let path = self.path(oldest.seq);
        fs::remove_file(&path).map_err(io_err("remove segment", &path))?;
        Ok(Dropped {
            lines: oldest.lines,
            bytes: oldest.bytes,
        })
    }

    /// Reads the oldest segment for replay. It is closed for appending, so that it stays exactly
    /// what was read until [`Spool::remove`].
    pub fn oldest(&mut self) -> Result<Option<SegmentData>, SpoolError> {
        let Some(&oldest) = self.segments.front() else {
            return Ok(None);
        };
        if self.segments.len() == 1 {
            self.open = None;
        }
        let path = self.path(oldest.seq);
        let data = fs::read(&path).map_err(io_err("read segment", &path))?;
        Ok(Some(SegmentData {
            seq: oldest.seq,
            data,
            lines: oldest.lines,
        }))
    }

    /// Removes the oldest segment after it was delivered (or set aside as rejected).
    pub fn remove(&mut self, seq: u64) -> Result<(), SpoolError> {
        if self.segments.front().is_some_and(|s| s.seq == seq) {
            self.drop_oldest()?;
        }
        Ok(())
    }

    /// Keeps a batch the server refused, with the server's answer, under `rejected/`.
    pub fn set_aside(&mut self, data: &[u8], reason: &str) -> Result<PathBuf, SpoolError> {
        let dir = self.dir.join("rejected");
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let path = dir.join(format!("rejected-{:020}.lp", self.next_seq));
        self.next_seq += 1;
        let mut header = String::new();
        for line in reason.lines() {
            header.push_str("# ");
            header.push_str(line);
            header.push('\n');
        }
        let mut file = File::create_new(&path).map_err(io_err("create", &path))?;
        file.write_all(header.as_bytes())
            .and_then(|()| file.write_all(data))
            .and_then(|()| file.sync_data())
            .map_err(io_err("write", &path))?;
        Ok(path)
    }
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".lp")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(from: u64, n: u64) -> String {
        (from..from + n)
            .map(|i| format!("m v={i:04}i {i:04}\n"))
            .collect()
    }

    fn replay_all(spool: &mut Spool) -> String {
        let mut all = String::new();
        while let Some(seg) = spool.oldest().unwrap() {
            all.push_str(std::str::from_utf8(&seg.data).unwrap());
            spool.remove(seg.seq).unwrap();
        }
        all
    }

    #[test]
    fn replays_in_order_across_segments_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, rec) = Spool::open(dir.path(), 10_000, 100).unwrap();
        assert_eq!(rec, Recovered::default());
        let mut expected = String::new();
        for k in 0..10 {
            let b = batch(k * 5, 5);
            spool.append(b.as_bytes(), 5).unwrap();
            expected.push_str(&b);
        }
        assert!(spool.segments.len() > 1);
        assert_eq!(spool.lines(), 50);
        drop(spool);

        let (mut spool, rec) = Spool::open(dir.path(), 10_000, 100).unwrap();
        assert_eq!(rec.lines, 50);
        assert_eq!(rec.bytes, expected.len() as u64);
        // Appends after a restart go after what was recovered.
        let tail = batch(50, 2);
        spool.append(tail.as_bytes(), 2).unwrap();
        expected.push_str(&tail);
        assert_eq!(replay_all(&mut spool), expected);
        assert!(spool.is_empty());
        assert_eq!((spool.bytes(), spool.lines()), (0, 0));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_full_spool_drops_its_oldest_segments_and_never_exceeds_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let one = batch(0, 4).len() as u64;
        let (mut spool, _) = Spool::open(dir.path(), one * 3, one).unwrap();
        let mut dropped_lines = 0;
        for k in 0..10 {
            let b = batch(k * 4, 4);
            let out = spool.append(b.as_bytes(), 4).unwrap();
            dropped_lines += out.dropped.iter().map(|d| d.lines).sum::<u64>();
            assert!(spool.bytes() <= one * 3);
            let on_disk: u64 = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum();
            assert_eq!(on_disk, spool.bytes());
        }
        assert_eq!(dropped_lines, 28);
        // What is left is the newest three batches, in order.
        assert_eq!(replay_all(&mut spool), batch(28, 12));
    }

    #[test]
    fn a_batch_larger_than_the_bound_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(dir.path(), 10, 5).unwrap();
        let out = spool.append(b"m v=1i 1\nm v=2i 2\n", 2).unwrap();
        assert!(out.refused);
        assert!(spool.is_empty());
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_cut_off_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("seg-00000000000000000007.lp"),
            "m v=1i 1\nm v=2",
        )
        .unwrap();
        fs::write(dir.path().join("seg-00000000000000000008.lp"), "m v=").unwrap();
        fs::write(dir.path().join("unrelated.txt"), "x").unwrap();
        let (mut spool, rec) = Spool::open(dir.path(), 1000, 100).unwrap();
        assert_eq!(rec.truncated_bytes, 9);
        assert_eq!((rec.segments, rec.lines), (1, 1));
        spool.append(b"m v=3i 3\n", 1).unwrap();
        assert_eq!(replay_all(&mut spool), "m v=1i 1\nm v=3i 3\n");
        assert!(spool.path(9).ends_with("seg-00000000000000000009.lp"));
    }

    #[test]
    fn a_spool_larger_than_a_new_bound_is_trimmed_from_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(dir.path(), 1000, 10).unwrap();
        for k in 0..5 {
            spool.append(batch(k, 1).as_bytes(), 1).unwrap();
        }
        drop(spool);
        let (mut spool, rec) = Spool::open(dir.path(), 30, 10).unwrap();
        assert_eq!(rec.dropped.len(), 3);
        assert_eq!(replay_all(&mut spool), batch(3, 2));
    }

    #[test]
    fn rejected_batches_are_kept_with_the_reason_as_comments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(dir.path(), 1000, 100).unwrap();
        let path = spool
            .set_aside(b"m v=1i 1\n", "HTTP 400\nunable to parse")
            .unwrap();
        assert_eq!(
            fs::read_to_string(path).unwrap(),
            "# HTTP 400\n# unable to parse\nm v=1i 1\n"
        );
        // Rejected files are not segments: a restart does not replay them.
        drop(spool);
        let (spool, rec) = Spool::open(dir.path(), 1000, 100).unwrap();
        assert!(spool.is_empty() && rec.lines == 0);
    }
}
