//! Line-by-line reading of package databases (dpkg's status, apk's installed), with a
//! bound on each line so that a corrupt or hostile file cannot make a scan hold it whole.

use std::io::{BufRead, BufReader, Read};

use super::CatalogError;

/// The longest line a package database may have (1 MiB). dpkg's and apk's lines are
/// fields of one package; the longest real ones (a long `Description` line, a `Depends`
/// list) are a few KiB.
pub const MAX_LINE: usize = 1 << 20;

/// Reads a file's lines one at a time, into one reused buffer of at most [`MAX_LINE`]
/// bytes, counting them from 1.
pub struct Lines<'a> {
    reader: BufReader<&'a mut dyn Read>,
    path: &'a str,
    buf: Vec<u8>,
    number: usize,
    unterminated: bool,
}

impl<'a> Lines<'a> {
    /// Lines of `content`, the file at `path` (named in errors).
    pub fn new(path: &'a str, content: &'a mut dyn Read) -> Self {
        Lines {
            reader: BufReader::with_capacity(64 * 1024, content),
            path,
            buf: Vec::new(),
            number: 0,
            unterminated: false,
        }
    }

    /// The next line without its `\n` (and a `\r` before it), decoded as UTF-8 with
    /// invalid bytes replaced (package databases are UTF-8; a stray byte in a description
    /// must not stop a scan), or `None` at the end.
    pub fn next_line(
        &mut self,
    ) -> Result<Option<(usize, std::borrow::Cow<'_, str>)>, CatalogError> {
        self.buf.clear();
        let limit = MAX_LINE as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| CatalogError::Io {
                path: self.path.to_owned(),
                source,
            })?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        self.unterminated = self.buf.last() != Some(&b'\n');
        if !self.unterminated {
            self.buf.pop();
        } else if self.buf.len() > MAX_LINE {
            return Err(malformed(
                self.path,
                self.number,
                format!("the line is longer than {MAX_LINE} bytes; this is not a package database"),
            ));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((self.number, String::from_utf8_lossy(&self.buf))))
    }

    /// Whether the last line read had no `\n`: the file ends mid-line (truncated, for a
    /// database that always ends its lines).
    pub fn ended_mid_line(&self) -> bool {
        self.unterminated
    }
}

/// A [`CatalogError::Malformed`] for the file at `path`, at `line`.
pub fn malformed(path: &str, line: usize, reason: String) -> CatalogError {
    CatalogError::Malformed {
        path: path.to_owned(),
        line,
        reason,
    }
}
