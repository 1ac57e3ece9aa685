//! The live build view on a terminal, as BuildKit draws it: a header with the time so far
//! and the steps done (`[+] Building 2.5s (8/8) FINISHED`), one line per step with its
//! timer, the last lines of output of the steps still running, and each cache miss with
//! the input that changed. Finished steps collapse to their one line. The block is redrawn
//! in place ten times a second; `--progress plain` and pipes get the plain log instead.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Output lines shown under a running step (BuildKit shows the last few).
const TAIL: usize = 6;

/// One step as the view knows it.
#[derive(Debug, Clone)]
struct StepView {
    label: String,
    text: String,
    started: Instant,
    ended: Option<Duration>,
    cached: bool,
    canceled: bool,
    miss: Option<String>,
    tail: Vec<String>,
}

/// What the view draws: the steps in order, and the image once written.
#[derive(Debug)]
struct State {
    started: Instant,
    steps: Vec<(usize, StepView)>,
    image: Option<(String, Vec<String>)>,
    finished: Option<bool>,
    drawn: usize,
}

/// The view; events come from the build, the drawing from a thread of its own.
pub struct Tty {
    state: Arc<Mutex<State>>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Tty {
    /// Starts drawing on stderr.
    pub fn start() -> Tty {
        let state = Arc::new(Mutex::new(State {
            started: Instant::now(),
            steps: Vec::new(),
            image: None,
            finished: None,
            drawn: 0,
        }));
        let shared = state.clone();
        let ticker = std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let Ok(mut s) = shared.lock() else { return };
                if s.finished.is_some() {
                    return;
                }
                draw(&mut s, &mut std::io::stderr());
            }
        });
        Tty {
            state,
            ticker: Some(ticker),
        }
    }

    /// Takes one build event.
    pub fn event(&self, e: &build::Event) {
        if let Ok(mut s) = self.state.lock() {
            apply(&mut s, e, Instant::now());
        }
    }

    /// Draws the last frame (`FINISHED`, or `ERROR` when `ok` is false) and stops.
    pub fn finish(&mut self, ok: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.finished = Some(ok);
            draw(&mut s, &mut std::io::stderr());
        }
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        if self.ticker.is_some() {
            self.finish(false);
        }
    }
}

/// The step label as BuildKit writes it: `1/4`, or `builder 2/3` for a named stage (the
/// plain log's too).
pub fn label(stage: &str, index: usize, total: usize) -> String {
    if stage.starts_with("stage-") {
        format!("{index}/{total}")
    } else {
        format!("{stage} {index}/{total}")
    }
}

fn step(s: &mut State, id: usize) -> Option<&mut StepView> {
    s.steps.iter_mut().find(|(i, _)| *i == id).map(|(_, v)| v)
}

fn apply(s: &mut State, e: &build::Event, now: Instant) {
    use build::Event;
    match e {
        Event::Step {
            id,
            stage,
            index,
            total,
            text,
        } => s.steps.push((
            *id,
            StepView {
                label: label(stage, *index, *total),
                text: text.clone(),
                started: now,
                ended: None,
                cached: false,
                canceled: false,
                miss: None,
                tail: Vec::new(),
            },
        )),
        Event::Cached { id } => {
            if let Some(v) = step(s, *id) {
                v.cached = true;
                v.ended = Some(Duration::ZERO);
            }
        }
        Event::Miss { id, reason } => {
            if let Some(v) = step(s, *id) {
                v.miss = Some(reason.clone());
            }
        }
        Event::Output { id, line } => {
            if let Some(v) = step(s, *id) {
                v.tail.push(line.clone());
                if v.tail.len() > TAIL {
                    v.tail.remove(0);
                }
            }
        }
        Event::Done { id, seconds } => {
            if let Some(v) = step(s, *id) {
                v.ended = Some(Duration::from_secs_f64(seconds.max(0.0)));
            }
        }
        Event::Canceled { id } => {
            if let Some(v) = step(s, *id) {
                v.canceled = true;
                v.ended = Some(now - v.started);
            }
        }
        Event::Image { id, tags } => s.image = Some((id.to_string(), tags.clone())),
        _ => {}
    }
}

/// The frame for `s` at `now`, `width` columns wide: every line fits, so the next frame
/// can move up over exactly these lines.
fn frame(s: &State, now: Instant, width: usize) -> Vec<String> {
    let done = s.steps.iter().filter(|(_, v)| v.ended.is_some()).count();
    let status = match s.finished {
        Some(true) => " FINISHED",
        Some(false) => " ERROR",
        None => "",
    };
    let mut lines = vec![format!(
        "[+] Building {:.1}s ({done}/{}){status}",
        (now - s.started).as_secs_f64(),
        s.steps.len()
    )];
    let row = |left: String, secs: Option<f64>| {
        let right = secs.map(|t| format!("{t:.1}s")).unwrap_or_default();
        fit(&left, &right, width)
    };
    for (_, v) in &s.steps {
        let prefix = if v.cached {
            "CACHED "
        } else if v.canceled {
            "CANCELED "
        } else if s.finished == Some(false) && v.ended.is_none() {
            "ERROR "
        } else {
            ""
        };
        let took = v.ended.unwrap_or_else(|| now - v.started);
        lines.push(row(
            format!(" => {prefix}[{}] {}", v.label, v.text),
            Some(took.as_secs_f64()),
        ));
        if let Some(reason) = &v.miss {
            lines.push(row(format!(" => => cache miss: {reason}"), None));
        }
        if v.ended.is_none() {
            for l in &v.tail {
                lines.push(row(format!(" => => # {l}"), None));
            }
        }
    }
    if let Some((id, tags)) = &s.image {
        lines.push(row(" => exporting to image".into(), Some(0.0)));
        lines.push(row(format!(" => => writing image {id}"), Some(0.0)));
        for t in tags {
            lines.push(row(format!(" => => naming to {t}"), Some(0.0)));
        }
    }
    lines
}

/// `left` and `right` on one line of `width` columns: the right part flush right, the
/// left one cut (with `…`) to make room.
fn fit(left: &str, right: &str, width: usize) -> String {
    let width = width.max(20);
    let room = width.saturating_sub(right.chars().count() + 1);
    let mut l: String = left.chars().take(room).collect();
    if left.chars().count() > room && room > 0 {
        l.pop();
        l.push('…');
    }
    let pad = width - l.chars().count() - right.chars().count();
    if right.is_empty() {
        l
    } else {
        format!("{l}{}{right}", " ".repeat(pad))
    }
}

/// Redraws the block over the previous frame.
fn draw(s: &mut State, out: &mut dyn Write) {
    let width = terminal_width();
    let lines = frame(s, Instant::now(), width);
    let mut buf = String::new();
    if s.drawn > 0 {
        buf.push_str(&format!("\x1b[{}A", s.drawn));
    }
    for l in &lines {
        buf.push_str("\r\x1b[K");
        buf.push_str(l);
        buf.push('\n');
    }
    // A frame shorter than the last one leaves no stale lines below.
    buf.push_str("\x1b[J");
    s.drawn = lines.len();
    let _ = out.write_all(buf.as_bytes());
    let _ = out.flush();
}

/// The terminal's width, 80 when it cannot be told.
fn terminal_width() -> usize {
    rustix::termios::tcgetwinsize(std::io::stderr())
        .ok()
        .map(|w| w.ws_col as usize)
        .filter(|&w| w > 0)
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            started: Instant::now(),
            steps: Vec::new(),
            image: None,
            finished: None,
            drawn: 0,
        }
    }

    #[test]
    fn frames_read_like_buildkits() {
        let mut s = state();
        let t0 = s.started;
        let step = |id, index, text: &str| build::Event::Step {
            id,
            stage: "stage-0".into(),
            index,
            total: 3,
            text: text.into(),
        };
        apply(&mut s, &step(1, 1, "FROM bb"), t0);
        apply(&mut s, &build::Event::Cached { id: 1 }, t0);
        apply(&mut s, &step(2, 2, "RUN make"), t0);
        apply(
            &mut s,
            &build::Event::Miss {
                id: 2,
                reason: "the file src/main.c changed".into(),
            },
            t0,
        );
        for i in 0..8 {
            apply(
                &mut s,
                &build::Event::Output {
                    id: 2,
                    line: format!("line {i}"),
                },
                t0,
            );
        }
        let lines = frame(&s, t0 + Duration::from_millis(1500), 60);
        assert_eq!(lines[0], "[+] Building 1.5s (1/2)");
        assert_eq!(lines[1], format!("{:<56}0.0s", " => CACHED [1/3] FROM bb"));
        assert_eq!(lines[2], format!("{:<56}1.5s", " => [2/3] RUN make"));
        assert_eq!(lines[3], " => => cache miss: the file src/main.c changed");
        // The last six lines of a running step's output.
        assert_eq!(lines[4], " => => # line 2");
        assert_eq!(lines.len(), 4 + TAIL);
        apply(
            &mut s,
            &build::Event::Done {
                id: 2,
                seconds: 2.0,
            },
            t0,
        );
        s.finished = Some(true);
        let lines = frame(&s, t0 + Duration::from_secs(3), 60);
        assert_eq!(lines[0], "[+] Building 3.0s (2/2) FINISHED");
        // Finished steps collapse: no output lines any more.
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| l.chars().count() <= 60));
    }

    #[test]
    fn long_lines_are_cut_to_the_width() {
        let l = fit(" => [1/2] RUN a very long command line indeed", "12.3s", 30);
        assert_eq!(l.chars().count(), 30);
        assert!(l.ends_with("… 12.3s") || l.ends_with("…12.3s"), "{l}");
    }
}
