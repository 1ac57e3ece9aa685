//! Container logs in Docker's `json-file` format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`.
//!
//! A line longer than 16 KiB is split into several entries (as Docker does); output that
//! ends without a newline is written as an entry without one.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Longest `log` value of one entry (Docker's buffer size).
pub const MAX_ENTRY: usize = 16 * 1024;

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The text, with its newline if it had one.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
}

/// Splits `buf` into complete entries: every chunk ending in `\n`, and every run of
/// [`MAX_ENTRY`] bytes without one. Returns the entries' byte ranges and how many bytes
/// were consumed; the rest is a partial line to keep for later.
pub fn split_lines(buf: &[u8]) -> (Vec<std::ops::Range<usize>>, usize) {
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let rest = &buf[start..];
        match rest.iter().take(MAX_ENTRY).position(|&b| b == b'\n') {
            Some(i) => {
                out.push(start..start + i + 1);
                start += i + 1;
            }
            None if rest.len() >= MAX_ENTRY => {
                out.push(start..start + MAX_ENTRY);
                start += MAX_ENTRY;
            }
            None => return (out, start),
        }
    }
}

/// A container's log file as its driver keeps it (see [`crate::log_driver`]): entries
/// appended; past `max-size`, `ctr.log` becomes `ctr.log.1` (the older ones move up, the
/// oldest beyond `max-file` goes) and a new `ctr.log` starts. `none` keeps nothing.
pub struct LogFile {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
    written: u64,
    rotation: crate::log_driver::Rotation,
}

impl LogFile {
    /// Opens (creating) `path` for appending as `rotation` says.
    pub fn open(
        path: &std::path::Path,
        rotation: crate::log_driver::Rotation,
    ) -> io::Result<LogFile> {
        let file = if rotation.keep {
            Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )
        } else {
            None
        };
        let written = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            written,
            rotation,
        })
    }

    /// A log that keeps nothing (an exec's output is not the container's log).
    pub fn discard() -> LogFile {
        LogFile {
            path: std::path::PathBuf::new(),
            file: None,
            written: 0,
            rotation: crate::log_driver::Rotation {
                keep: false,
                max_size: None,
                max_files: 1,
            },
        }
    }

    /// Appends one entry's line, rotating first when it would pass `max-size`.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        if let Some(max) = self.rotation.max_size
            && self.written > 0
            && self.written + line.len() as u64 > max
        {
            self.rotate()?;
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(line)?;
            self.written += line.len() as u64;
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let n = self.rotation.max_files;
        if n <= 1 {
            // One file: it starts over.
            self.file = Some(std::fs::File::create(&self.path)?);
            self.written = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(rotated(&self.path, n - 1));
        for i in (1..n - 1).rev() {
            let _ = std::fs::rename(rotated(&self.path, i), rotated(&self.path, i + 1));
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        );
        self.written = 0;
        Ok(())
    }
}

/// The `i`th older file of the log at `path` (`ctr.log.1` is the newest of them).
pub fn rotated(path: &std::path::Path, i: u32) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{i}"));
    s.into()
}

/// The older files of the log at `path` that exist, oldest first: read them before it.
pub fn older_files(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = (1..)
        .map(|i| rotated(path, i))
        .take_while(|p| p.exists())
        .collect();
    out.reverse();
    out
}

/// Where a stream's entries go: the shared log file, and optionally an attached writer
/// (a `docker run` in the foreground prints the raw output too).
pub struct LogSink {
    /// The log file, shared by stdout and stderr.
    pub file: Arc<Mutex<LogFile>>,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// Also write the raw bytes here.
    pub attach: Option<Box<dyn Write + Send>>,
}

impl LogSink {
    fn entry(&mut self, bytes: &[u8]) -> io::Result<()> {
        let e = LogEntry {
            log: String::from_utf8_lossy(bytes).into_owned(),
            stream: self.stream.to_string(),
            time: crate::record::now_rfc3339(),
        };
        let mut line = serde_json::to_vec(&e).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut f = self
            .file
            .lock()
            .map_err(|_| io::Error::other("log lock poisoned"))?;
        f.write_line(&line)
    }
}

/// Copies `r` (a container's stdout or stderr pipe) into `sink` until end of file.
pub fn pump(mut r: impl Read, mut sink: LogSink) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A terminal's master reads EIO once every process has closed the other side.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => return Err(e),
        };
        if let Some(a) = sink.attach.as_mut() {
            // A closed terminal must not stop the log.
            if a.write_all(&buf[..n]).and_then(|()| a.flush()).is_err() {
                sink.attach = None;
            }
        }
        pending.extend_from_slice(&buf[..n]);
        let (ranges, used) = split_lines(&pending);
        for range in ranges {
            sink.entry(&pending[range])?;
        }
        pending.drain(..used);
    }
    if !pending.is_empty() {
        sink.entry(&pending)?;
    }
    Ok(())
}

/// The complete entries of the log file `path` from byte `offset` on, and the offset
/// after the last complete line: call again with it to follow the log (`logs -f`).
pub fn read_from(path: &std::path::Path, offset: u64) -> io::Result<(Vec<LogEntry>, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e),
    };
    f.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&bytes[..complete]);
    Ok((read_entries(&text), offset + complete as u64))
}

/// Reads a log file's entries (malformed lines are skipped, as `docker logs` does).
pub fn read_entries(text: &str) -> Vec<LogEntry> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_driver::LogConfig;

    #[test]
    fn rotation_keeps_max_file_files_of_max_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let c = LogConfig::parse(None, &["max-size=100".into(), "max-file=3".into()]).unwrap();
        let mut log = LogFile::open(&path, c.rotation().unwrap()).unwrap();
        for i in 0..10 {
            log.write_line(format!("{i:039}\n").as_bytes()).unwrap();
        }
        // 40-byte lines, two per file: 8,9 in ctr.log, 6,7 in .1, 4,5 in .2; .3 never.
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(older_files(&path), [rotated(&path, 2), rotated(&path, 1)]);
        assert!(read(&path).starts_with(&format!("{:039}", 8)));
        assert!(read(&rotated(&path, 2)).starts_with(&format!("{:039}", 4)));
        assert!(!rotated(&path, 3).exists());
        let none = LogConfig::parse(Some("none"), &[]).unwrap();
        let mut log =
            LogFile::open(&dir.path().join("none.log"), none.rotation().unwrap()).unwrap();
        log.write_line(b"x\n").unwrap();
        assert!(!dir.path().join("none.log").exists());
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn splits_like_docker() {
        let big = vec![b'x'; MAX_ENTRY + 5];
        for (input, want, used) in [
            (&b""[..], vec![], 0),
            (b"a\nbb\n", vec![0..2, 2..5], 5),
            (b"a\npartial", vec![0..2], 2),
            (b"\n\n", vec![0..1, 1..2], 2),
            (&big[..], vec![0..MAX_ENTRY], MAX_ENTRY),
        ] {
            assert_eq!(split_lines(input), (want, used));
        }
    }

    #[test]
    fn pumps_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let file = Arc::new(Mutex::new(
            LogFile::open(&path, LogConfig::default().rotation().unwrap()).unwrap(),
        ));
        let sink = LogSink {
            file: file.clone(),
            stream: "stderr",
            attach: None,
        };
        pump(&b"one\ntwo \"q\"\nlast"[..], sink).unwrap();
        let got = read_entries(&std::fs::read_to_string(&path).unwrap());
        let logs: Vec<(&str, &str)> = got
            .iter()
            .map(|e| (e.log.as_str(), e.stream.as_str()))
            .collect();
        assert_eq!(
            logs,
            [
                ("one\n", "stderr"),
                ("two \"q\"\n", "stderr"),
                ("last", "stderr")
            ]
        );
        assert!(got[0].time.ends_with('Z') && got[0].time.contains('T'));
        // Following: a partial last line waits for its newline.
        let (all, end) = read_from(&path, 0).unwrap();
        assert_eq!(all.len(), 3);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(br#"{"log":"more\n","stream":"stdout","time":"t"}"#)
            .unwrap();
        assert_eq!(read_from(&path, end).unwrap(), (vec![], end));
        f.write_all(b"\n").unwrap();
        let (more, _) = read_from(&path, end).unwrap();
        assert_eq!(more[0].log, "more\n");
    }
}
