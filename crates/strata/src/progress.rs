//! Docker-like per-layer progress lines from transport progress events.
//!
//! On a terminal (stderr) each blob gets an indicatif bar,
//! `<12-hex>: Downloading [====>    ] 12.3MB/45.6MB`, that turns into `Pull complete`;
//! otherwise one plain line per finished blob (`<12-hex>: Pull complete`); nothing when quiet.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use oci::Digest;
use transport::ProgressEvent;

use crate::render::human_size;

/// Which words the lines use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `Downloading` / `Pull complete` / `Already exists`.
    Pull,
    /// `Pushing` / `Pushed` / `Layer already exists`.
    Push,
    /// `Copying` / `Copied` / `Already exists`.
    Copy,
}

impl Verb {
    fn active(self) -> &'static str {
        match self {
            Verb::Pull => "Downloading",
            Verb::Push => "Pushing",
            Verb::Copy => "Copying",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Verb::Pull => "Pull complete",
            Verb::Push => "Pushed",
            Verb::Copy => "Copied",
        }
    }

    fn skipped(self) -> &'static str {
        match self {
            Verb::Push => "Layer already exists",
            Verb::Pull | Verb::Copy => "Already exists",
        }
    }
}

enum Mode {
    Quiet,
    Plain,
    Bars {
        multi: MultiProgress,
        bars: HashMap<Digest, ProgressBar>,
    },
}

/// Turns [`ProgressEvent`]s into lines on stderr. Shareable between the copy engine's tasks.
pub struct Progress {
    verb: Verb,
    mode: Mutex<Mode>,
    hidden: Mutex<Vec<Digest>>,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn new(verb: Verb, quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: HashMap::new(),
            }
        } else {
            Mode::Plain
        };
        Progress {
            verb,
            mode: Mutex::new(mode),
            hidden: Mutex::new(Vec::new()),
        }
    }

    /// Shows nothing for this blob (Docker has no line for an image's config).
    pub fn hide(&self, digest: &Digest) {
        self.hidden
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(digest.clone());
    }

    fn is_hidden(&self, event: &ProgressEvent) -> bool {
        // Docker shows layers only: an image's config gets no line on pull or push.
        if let ProgressEvent::BlobSkipped {
            digest, media_type, ..
        }
        | ProgressEvent::BlobMounted {
            digest, media_type, ..
        }
        | ProgressEvent::BlobStarted {
            digest, media_type, ..
        } = event
            && self.verb != Verb::Copy
            && (media_type == oci::media::OCI_CONFIG || media_type == oci::media::DOCKER_CONFIG)
        {
            self.hide(digest);
        }
        let digest = match event {
            ProgressEvent::BlobSkipped { digest, .. }
            | ProgressEvent::BlobMounted { digest, .. }
            | ProgressEvent::BlobStarted { digest, .. }
            | ProgressEvent::BlobProgress { digest, .. }
            | ProgressEvent::BlobDone { digest } => digest,
            _ => return false,
        };
        self.hidden
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(digest)
    }

    /// Shows one event.
    pub fn handle(&self, event: &ProgressEvent) {
        if self.is_hidden(event) {
            return;
        }
        let mut mode = self.mode.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *mode {
            Mode::Quiet => {}
            Mode::Plain => {
                if let Some(line) = plain_line(self.verb, event) {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            }
            Mode::Bars { multi, bars } => self.draw(multi, bars, event),
        }
    }

    fn draw(
        &self,
        multi: &MultiProgress,
        bars: &mut HashMap<Digest, ProgressBar>,
        event: &ProgressEvent,
    ) {
        match event {
            ProgressEvent::BlobSkipped { digest, .. } => {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(done_style());
                bar.set_prefix(digest.short().to_string());
                bar.finish_with_message(self.verb.skipped());
            }
            ProgressEvent::BlobMounted { digest, from, .. } => {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(done_style());
                bar.set_prefix(digest.short().to_string());
                bar.finish_with_message(format!("Mounted from {from}"));
            }
            ProgressEvent::BlobStarted {
                digest,
                size,
                offset,
                ..
            } => {
                let bar = bars
                    .entry(digest.clone())
                    .or_insert_with(|| multi.add(ProgressBar::new(*size)));
                bar.set_style(bar_style());
                bar.set_prefix(digest.short().to_string());
                bar.set_message(self.verb.active());
                bar.set_length(*size);
                bar.set_position(*offset);
            }
            ProgressEvent::BlobProgress { digest, bytes } => {
                if let Some(bar) = bars.get(digest) {
                    bar.set_position(*bytes);
                }
            }
            ProgressEvent::BlobDone { digest } => {
                if let Some(bar) = bars.remove(digest) {
                    bar.set_style(done_style());
                    bar.finish_with_message(self.verb.done());
                }
            }
            _ => {}
        }
    }

    /// Ends any bars still drawn (after an error, say).
    pub fn finish(&self) {
        let mut mode = self.mode.lock().unwrap_or_else(|e| e.into_inner());
        if let Mode::Bars { bars, .. } = &mut *mode {
            for (_, bar) in bars.drain() {
                bar.abandon();
            }
        }
    }
}

/// The line Docker prints for an event without a terminal, if any.
fn plain_line(verb: Verb, event: &ProgressEvent) -> Option<String> {
    match event {
        ProgressEvent::BlobSkipped { digest, .. } => {
            Some(format!("{}: {}", digest.short(), verb.skipped()))
        }
        ProgressEvent::BlobMounted { digest, from, .. } => {
            Some(format!("{}: Mounted from {from}", digest.short()))
        }
        ProgressEvent::BlobDone { digest } => Some(format!("{}: {}", digest.short(), verb.done())),
        _ => None,
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg} [{bar:50}] {docker_bytes}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .with_key(
            "docker_bytes",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let total = s.len().unwrap_or(0);
                let _ = write!(w, "{}/{}", human_size(s.pos()), human_size(total));
            },
        )
}

fn done_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg}").unwrap_or_else(|_| ProgressStyle::default_bar())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_read_like_docker() {
        let d = Digest::sha256_of(b"");
        let size = 0;
        for (verb, event, want) in [
            (
                Verb::Pull,
                ProgressEvent::BlobDone { digest: d.clone() },
                Some("e3b0c44298fc: Pull complete"),
            ),
            (
                Verb::Pull,
                ProgressEvent::BlobSkipped {
                    digest: d.clone(),
                    size,
                    media_type: oci::media::OCI_LAYER_GZIP.to_string(),
                },
                Some("e3b0c44298fc: Already exists"),
            ),
            (
                Verb::Push,
                ProgressEvent::BlobSkipped {
                    digest: d.clone(),
                    size,
                    media_type: oci::media::OCI_LAYER_GZIP.to_string(),
                },
                Some("e3b0c44298fc: Layer already exists"),
            ),
            (
                Verb::Push,
                ProgressEvent::BlobDone { digest: d.clone() },
                Some("e3b0c44298fc: Pushed"),
            ),
            (
                Verb::Pull,
                ProgressEvent::BlobProgress {
                    digest: d.clone(),
                    bytes: 3,
                },
                None,
            ),
        ] {
            assert_eq!(plain_line(verb, &event).as_deref(), want, "{event:?}");
        }
    }
}
