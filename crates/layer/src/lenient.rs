//! Tolerance for tars whose last entry's padding was never written.
//!
//! Go's `archive/tar` reader treats end-of-stream inside the zero padding after an entry's
//! data as the end of the archive, and some Go writers (umoci, among others) produce
//! such tars, with neither the padding nor the two zero end blocks. The `tar` crate
//! refuses them. [`PaddedEnd`] supplies the missing padding, and only that: the window
//! where zeros may be made up is set per entry, from its data end to the next 512-byte
//! boundary, so a stream cut inside a header or inside file data is still an error.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

const BLOCK: u64 = 512;

/// Where end-of-stream may be padded with zeros: `[start, end)` in stream offsets.
#[derive(Clone, Default)]
pub(crate) struct PadWindow(Rc<Cell<(u64, u64)>>);

impl PadWindow {
    /// Allows padding after an entry whose data ends at `data_end`.
    pub(crate) fn after_data(&self, data_end: u64) {
        let end = data_end.div_ceil(BLOCK) * BLOCK;
        self.0.set((data_end, end));
    }

    /// Allows no padding.
    pub(crate) fn close(&self) {
        self.0.set((0, 0));
    }
}

/// A reader that makes up the zero padding of a tar's last entry when the stream ends
/// inside the current [`PadWindow`].
pub(crate) struct PaddedEnd<R> {
    inner: R,
    pos: u64,
    window: PadWindow,
}

impl<R: Read> PaddedEnd<R> {
    pub(crate) fn new(inner: R, window: PadWindow) -> PaddedEnd<R> {
        PaddedEnd {
            inner,
            pos: 0,
            window,
        }
    }
}

impl<R: Read> Read for PaddedEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let (start, end) = self.window.0.get();
            if start <= self.pos && self.pos < end {
                n = buf.len().min((end - self.pos) as usize);
                buf[..n].fill(0);
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], window: (u64, u64)) -> io::Result<Vec<u8>> {
        let w = PadWindow::default();
        w.0.set(window);
        let mut out = Vec::new();
        PaddedEnd::new(data, w).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn pads_only_inside_the_window() {
        let data = vec![1u8; 515];
        // EOF at 515, window [515, 1024): padded to the block boundary.
        assert_eq!(read_all(&data, (515, 1024)).unwrap().len(), 1024);
        // EOF before the data end: nothing made up.
        assert_eq!(read_all(&data, (600, 1024)).unwrap().len(), 515);
        // No window.
        assert_eq!(read_all(&data, (0, 0)).unwrap().len(), 515);
        let w = PadWindow::default();
        w.after_data(515);
        assert_eq!(w.0.get(), (515, 1024));
        w.after_data(1024);
        assert_eq!(w.0.get(), (1024, 1024));
    }
}
