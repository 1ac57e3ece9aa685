//! Detach keys: the key sequence after which an attached client lets go of a container
//! (Docker's default Ctrl-P Ctrl-Q), written as Docker's `--detach-keys` value.

use crate::RuntimeError;

/// Docker's default detach keys.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Docker's names of the control characters, by code (`ctrl-@` is 0).
const CONTROL_NAMES: [&str; 32] = [
    "ctrl-@", "ctrl-a", "ctrl-b", "ctrl-c", "ctrl-d", "ctrl-e", "ctrl-f", "ctrl-g", "ctrl-h",
    "ctrl-i", "ctrl-j", "ctrl-k", "ctrl-l", "ctrl-m", "ctrl-n", "ctrl-o", "ctrl-p", "ctrl-q",
    "ctrl-r", "ctrl-s", "ctrl-t", "ctrl-u", "ctrl-v", "ctrl-w", "ctrl-x", "ctrl-y", "ctrl-z",
    "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_",
];

/// A parsed detach key sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl DetachKeys {
    /// Parses Docker's syntax: comma-separated keys, each one character or `ctrl-<c>`
    /// (`a`–`z`, `@`, `[`, `\`, `]`, `^`, `_`), as Docker's `term.ToBytes` reads it.
    pub fn parse(spec: &str) -> Result<DetachKeys, RuntimeError> {
        let mut codes = Vec::new();
        for key in spec.split(',') {
            if key.len() == 1 {
                codes.push(key.as_bytes()[0]);
            } else if let Some(code) = CONTROL_NAMES.iter().position(|n| *n == key) {
                codes.push(code as u8);
            } else if key == "DEL" {
                codes.push(127);
            } else {
                return Err(RuntimeError::InvalidOptions(format!(
                    "Invalid detach keys ({spec}) provided"
                )));
            }
        }
        Ok(DetachKeys(codes))
    }

    /// The key codes, in order.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Default for DetachKeys {
    fn default() -> Self {
        DetachKeys(vec![16, 17])
    }
}

/// Watches input for the detach sequence. Bytes that may begin it are held back until the
/// sequence completes (they are then swallowed) or breaks (they are passed on).
#[derive(Debug, Clone)]
pub struct Escape {
    keys: Vec<u8>,
    held: usize,
}

impl Escape {
    /// A watcher for `keys`.
    pub fn new(keys: &DetachKeys) -> Escape {
        Escape {
            keys: keys.0.clone(),
            held: 0,
        }
    }

    /// Feeds `input`; returns the bytes to pass on, and whether the sequence completed
    /// (what follows it in `input` is dropped: the client is leaving).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    self.held = 0;
                    return (out, true);
                }
                continue;
            }
            // The sequence broke: what was held was input after all.
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if b == self.keys[0] {
                self.held = 1;
                if self.keys.len() == 1 {
                    self.held = 0;
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

/// A reader that ends (reads end of file) when the detach keys are typed, after calling
/// `on_detach`; the keys themselves are not passed on.
pub struct EscapeReader<R> {
    inner: R,
    escape: Escape,
    pending: Vec<u8>,
    on_detach: Option<Box<dyn FnOnce() + Send>>,
}

impl<R: std::io::Read> EscapeReader<R> {
    /// Watches `inner` for `keys`.
    pub fn new(inner: R, keys: &DetachKeys, on_detach: Box<dyn FnOnce() + Send>) -> Self {
        EscapeReader {
            inner,
            escape: Escape::new(keys),
            pending: Vec::new(),
            on_detach: Some(on_detach),
        }
    }
}

impl<R: std::io::Read> std::io::Read for EscapeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if !self.pending.is_empty() {
                let n = buf.len().min(self.pending.len());
                buf[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                return Ok(n);
            }
            if self.on_detach.is_none() {
                return Ok(0);
            }
            let mut chunk = [0u8; 4096];
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                return Ok(0);
            }
            let (out, detach) = self.escape.feed(&chunk[..n]);
            self.pending = out;
            if detach && let Some(f) = self.on_detach.take() {
                f();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_syntax() {
        let ok: &[(&str, &[u8])] = &[
            ("ctrl-p,ctrl-q", &[16, 17]),
            ("ctrl-x,y", &[24, b'y']),
            ("a", b"a"),
            ("ctrl-@,ctrl-[,ctrl-_", &[0, 27, 31]),
            ("ctrl-a,DEL", &[1, 127]),
        ];
        for (spec, want) in ok {
            assert_eq!(DetachKeys::parse(spec).unwrap().bytes(), *want, "{spec}");
        }
        for bad in ["", "foo", "ctrl-", "ctrl-A", "ctrl-1", "a,,b", "ctrl-p,"] {
            let e = DetachKeys::parse(bad).unwrap_err().to_string();
            assert_eq!(e, format!("Invalid detach keys ({bad}) provided"), "{bad}");
        }
        assert_eq!(
            DetachKeys::parse(DEFAULT_DETACH_KEYS).unwrap(),
            DetachKeys::default()
        );
    }

    #[test]
    fn escape_matches_across_reads() {
        let keys = DetachKeys::parse("ctrl-p,ctrl-q").unwrap();
        /// Reads, the bytes passed on, whether it detached.
        type Case<'a> = (&'a [&'a [u8]], &'a [u8], bool);
        let cases: &[Case] = &[
            (&[b"ls\r"], b"ls\r", false),
            (&[b"a\x10\x11b"], b"a", true),
            (&[b"\x10", b"\x11"], b"", true),
            (&[b"\x10", b"x"], b"\x10x", false),
            (&[b"\x10\x10\x11"], b"\x10", true),
            (&[b"\x11\x10"], b"\x11", false),
        ];
        for (reads, want, detached) in cases {
            let mut e = Escape::new(&keys);
            let mut out = Vec::new();
            let mut done = false;
            for r in *reads {
                let (o, d) = e.feed(r);
                out.extend(o);
                done |= d;
            }
            assert_eq!((&out[..], done), (*want, *detached), "{reads:?}");
        }
        let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = detached.clone();
        let mut r = EscapeReader::new(
            &b"ab\x10\x11cd"[..],
            &keys,
            Box::new(move || flag.store(true, std::sync::atomic::Ordering::SeqCst)),
        );
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut got).unwrap();
        assert_eq!(got, b"ab");
        assert!(detached.load(std::sync::atomic::Ordering::SeqCst));
        let mut none = Escape::new(&DetachKeys(Vec::new()));
        assert_eq!(none.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
