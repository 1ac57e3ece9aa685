//! The attach socket's wire format: frames of a kind byte, a big-endian `u32` length and
//! that many bytes. Framing keeps stdout and stderr apart without a terminal, and carries
//! resizes, detaches and the exit code beside the data.

use std::io::{self, Read, Write};

/// Client to monitor: bytes for the container's stdin.
pub const STDIN: u8 = 0;
/// Monitor to client: container stdout (all output with a terminal).
pub const STDOUT: u8 = 1;
/// Monitor to client: container stderr.
pub const STDERR: u8 = 2;
/// Monitor to client: the container exited; payload the exit code (`i32`, big-endian).
pub const EXIT: u8 = 3;
/// Client to monitor, first frame: payload one byte, 1 when the client sends stdin.
pub const HELLO: u8 = 4;
/// Client to monitor: the client's stdin ended.
pub const CLOSE_STDIN: u8 = 5;
/// Client to monitor: the client's terminal size, rows then columns (`u16` each).
pub const RESIZE: u8 = 6;
/// Client to monitor: the client detaches (its detach keys were typed).
pub const DETACH: u8 = 7;
/// Monitor to client: the monitor failed (its container did not start, or its exit could
/// not be handled); payload the error, UTF-8. The monitor's last frame.
pub const FAILED: u8 = 8;

/// Longest payload accepted: more is a broken peer.
const MAX_PAYLOAD: usize = 1 << 20;

/// Writes one frame in one `write_all`, so frames from several threads sharing a locked
/// writer never interleave.
pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.push(kind);
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)
}

/// Reads one frame; `None` at end of stream between frames.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(io::Error::other(format!("attach frame of {len} bytes")));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// The payload of a [`RESIZE`] frame.
pub fn resize_payload(rows: u16, cols: u16) -> [u8; 4] {
    let [r0, r1] = rows.to_be_bytes();
    let [c0, c1] = cols.to_be_bytes();
    [r0, r1, c0, c1]
}

/// Rows and columns from a [`RESIZE`] payload.
pub fn parse_resize(p: &[u8]) -> Option<(u16, u16)> {
    match p {
        [r0, r1, c0, c1] => Some((
            u16::from_be_bytes([*r0, *r1]),
            u16::from_be_bytes([*c0, *c1]),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, STDOUT, b"hello").unwrap();
        write_frame(&mut buf, EXIT, &7i32.to_be_bytes()).unwrap();
        write_frame(&mut buf, RESIZE, &resize_payload(40, 120)).unwrap();
        let mut r = &buf[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((STDOUT, b"hello".to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), Some((EXIT, vec![0, 0, 0, 7])));
        let (kind, p) = read_frame(&mut r).unwrap().unwrap();
        assert_eq!((kind, parse_resize(&p)), (RESIZE, Some((40, 120))));
        assert_eq!(read_frame(&mut r).unwrap(), None);
        // A frame cut short is an error, not a clean end.
        let mut cut = &buf[..3];
        assert!(read_frame(&mut cut).is_err());
        assert_eq!(parse_resize(&[1, 2, 3]), None);
    }
}
