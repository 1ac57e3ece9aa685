//! One engine's side of a containers case: runs `docker` or `strata` commands, records a
//! normalised transcript of what each step printed and how it exited, and removes what the
//! case made (containers, volumes, images) when the case ends.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::differential::Differential;

/// How much of a step's result the two engines must agree on.
#[derive(Clone, Copy, Debug)]
pub enum Cmp {
    /// Exit code, stdout and stderr.
    Full,
    /// Exit code and stdout (stderr wording is the engine's own).
    Out,
    /// Exit code and stdout lines as a set (order is not part of the contract).
    Sorted,
    /// Exit code only.
    Code,
    /// Nothing: a setup step whose effect a later step checks.
    Quiet,
}

/// Which engine a side drives.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The real Docker Engine, the oracle.
    Docker,
    /// strata, the engine under test.
    Strata,
}

/// What one command did.
pub struct Step {
    /// Exit code (-1 when killed by a signal or timed out).
    pub code: i32,
    /// Normalised stdout.
    pub stdout: String,
    /// Normalised stderr.
    pub stderr: String,
}

/// Every command a case runs is given this long before its client is killed.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// One engine's run of one case.
pub struct Side<'a> {
    d: &'a Differential,
    /// Which engine this side drives.
    pub engine: Engine,
    case: &'static str,
    dir: PathBuf,
    log: RefCell<Vec<String>>,
    names: RefCell<Vec<String>>,
    unnamed: RefCell<Vec<String>>,
    volumes: RefCell<Vec<String>>,
    images: RefCell<Vec<String>>,
}

impl<'a> Side<'a> {
    /// A side for `case`, with a fresh host directory of its own (for bind mounts, env files).
    pub fn new(d: &'a Differential, engine: Engine, case: &'static str) -> Side<'a> {
        let tag = if engine == Engine::Docker {
            "docker"
        } else {
            "strata"
        };
        let dir = d.strata.path("diff-containers").join(case).join(tag);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Side {
            d,
            engine,
            case,
            dir,
            log: RefCell::new(Vec::new()),
            names: RefCell::new(Vec::new()),
            unnamed: RefCell::new(Vec::new()),
            volumes: RefCell::new(Vec::new()),
            images: RefCell::new(Vec::new()),
        }
    }

    /// The case's host directory on this side (`@dir` in arguments; `<dir>` in output).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The case's container name (`@name` in arguments). Every name given to `--name` (or
    /// as `rename`'s new name) is removed when the case ends.
    pub fn name(&self) -> String {
        format!("dc-{}", self.case.replace('_', "-"))
    }

    /// A volume name for the case (`@vol` in arguments), removed when the case ends.
    pub fn volume(&self) -> String {
        let v = format!("dcv-{}", self.case.replace('_', "-"));
        if !self.volumes.borrow().contains(&v) {
            self.volumes.borrow_mut().push(v.clone());
        }
        v
    }

    /// An image tag for the case (`@image` in arguments), removed when the case ends.
    pub fn image(&self) -> String {
        let i = format!("dci-{}:latest", self.case.replace('_', "-"));
        if !self.images.borrow().contains(&i) {
            self.images.borrow_mut().push(i.clone());
        }
        i
    }

    /// The arguments with `@dir`, `@name`, `@vol` and `@image` filled in, and
    /// `--network none` added to `run`/`create` that name no network (Docker has no bridge
    /// here; both engines get the same network).
    fn args(&self, args: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = args
            .iter()
            .map(|a| {
                let mut a = a.replace("@dir", self.dir.to_str().unwrap());
                if a.contains("@name") {
                    a = a.replace("@name", &self.name());
                }
                if a.contains("@vol") {
                    a = a.replace("@vol", &self.volume());
                }
                if a.contains("@image") {
                    a = a.replace("@image", &self.image());
                }
                a
            })
            .collect();
        // Whatever the case names, it removes when it ends.
        for (i, a) in out.iter().enumerate() {
            let named = i > 0 && out[i - 1] == "--name";
            let renamed = i == 2 && out[0] == "rename";
            if (named || renamed) && !self.names.borrow().contains(a) {
                self.names.borrow_mut().push(a.clone());
            }
        }
        let creates = matches!(args.first(), Some(&"run") | Some(&"create"));
        if creates && !args.iter().any(|a| a.starts_with("--network")) {
            out.insert(1, "--network".into());
            out.insert(2, "none".into());
        }
        // A `run` the case leaves unnamed (mostly `--rm` ones) gets a name of the case's
        // own, so that a container the engine should have removed is seen at the end.
        if args.first() == Some(&"run") && !out.iter().any(|a| a == "--name") {
            let n = format!("{}-unnamed{}", self.name(), self.unnamed.borrow().len());
            self.unnamed.borrow_mut().push(n.clone());
            self.names.borrow_mut().push(n.clone());
            out.insert(1, "--name".into());
            out.insert(2, n);
        }
        out
    }

    /// The engine's client with `args` (as given, no substitution), stdin closed.
    fn client(&self, args: &[String]) -> Command {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match self.engine {
            Engine::Docker => self.d.docker.cmd(&args),
            Engine::Strata => self.d.strata.cmd(&args),
        }
    }

    /// Runs a step and records it as `cmp` says; returns what it did.
    pub fn step(&self, args: &[&str], cmp: Cmp) -> Step {
        self.step_with(args, None, &[], cmp)
    }

    /// Runs a step with `input` on its stdin.
    pub fn step_in(&self, args: &[&str], input: &str, cmp: Cmp) -> Step {
        self.step_with(args, Some(input), &[], cmp)
    }

    /// Runs a step with `env` set in the client's environment.
    pub fn step_env(&self, args: &[&str], env: &[(&str, &str)], cmp: Cmp) -> Step {
        self.step_with(args, None, env, cmp)
    }

    fn step_with(
        &self,
        args: &[&str],
        input: Option<&str>,
        env: &[(&str, &str)],
        cmp: Cmp,
    ) -> Step {
        let full = self.args(args);
        let mut cmd = self.client(&full);
        cmd.envs(env.iter().copied());
        let (code, out, err) = run_bounded(cmd, input);
        let step = Step {
            code,
            stdout: self.normalise(&out, false),
            stderr: self.normalise(&err, true),
        };
        self.record(args, &step, cmp);
        step
    }

    /// Records a value the case computed (a file on the host, a parsed field).
    pub fn note(&self, what: &str, value: &str) {
        let v = self.normalise(value, false);
        self.log.borrow_mut().push(format!("# {what}: {v}"));
    }

    fn record(&self, args: &[&str], s: &Step, cmp: Cmp) {
        let mut e = format!("$ {}", args.join(" "));
        match cmp {
            Cmp::Quiet => return,
            Cmp::Code => e.push_str(&format!("\n=> exit {}", s.code)),
            Cmp::Out => e.push_str(&format!("\n=> exit {}\nstdout:\n{}", s.code, s.stdout)),
            Cmp::Sorted => {
                let mut lines: Vec<&str> = s.stdout.lines().collect();
                lines.sort_unstable();
                e.push_str(&format!(
                    "\n=> exit {}\nstdout (sorted):\n{}",
                    s.code,
                    lines.join("\n")
                ));
            }
            Cmp::Full => e.push_str(&format!(
                "\n=> exit {}\nstdout:\n{}\nstderr:\n{}",
                s.code, s.stdout, s.stderr
            )),
        }
        self.log.borrow_mut().push(e);
    }

    /// Only what legitimately differs is rewritten: this side's host directory, container
    /// and image IDs (full or short, also as default hostnames), and in messages the program
    /// name.
    fn normalise(&self, text: &str, message: bool) -> String {
        let t = text.replace(self.dir.to_str().unwrap(), "<dir>");
        let t = recent_ages(&hex_ids(&t));
        if message {
            t.replace("docker", "<prog>").replace("strata", "<prog>")
        } else {
            t
        }
    }

    /// Records the containers `run` left that the case did not name (an `--rm` one that
    /// outlived its command is a difference), removes what the case made and returns its
    /// transcript.
    pub fn finish(self) -> Vec<String> {
        for n in self.unnamed.borrow().iter() {
            let args = [
                "inspect".into(),
                "-f".into(),
                "{{.State.Status}}".into(),
                n.clone(),
            ];
            let out = self.client(&args).output().expect("client runs");
            if out.status.success() {
                let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
                self.note("container left behind", &format!("{n} ({state})"));
            }
        }
        for n in self.names.borrow().iter() {
            // Retried: a failed removal is a case's finding, never a leak of the suite.
            for _ in 0..10 {
                let rm = ["rm".into(), "-f".into(), "-v".into(), n.clone()];
                let out = self.client(&rm).output().expect("client runs");
                let gone = String::from_utf8_lossy(&out.stderr).contains("No such container");
                if out.status.success() || gone {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        for v in self.volumes.borrow().iter() {
            let _ = self
                .client(&["volume".into(), "rm".into(), "-f".into(), v.clone()])
                .output();
        }
        for i in self.images.borrow().iter() {
            let _ = self
                .client(&["rmi".into(), "-f".into(), i.clone()])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        self.log.into_inner()
    }
}

/// Runs `cmd` with `input` on stdin (closed when None), killing it after [`STEP_TIMEOUT`].
fn run_bounded(mut cmd: Command, input: Option<&str>) -> (i32, String, String) {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // The strata binary lives in a target directory other builds relink: while it is being
    // replaced it is briefly missing, so a spawn that finds nothing is retried (10 s at most).
    let mut tries = 0;
    let mut child = loop {
        match cmd.spawn() {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("{cmd:?}: {e}"),
        }
    };
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_string();
        // A writer thread: a client that never reads its stdin must not block the test.
        std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
    }
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + STEP_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = String::from_utf8_lossy(&out_t.join().unwrap()).into_owned();
    let mut err = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    let code = match status {
        Some(st) => st.code().unwrap_or(-1),
        None => {
            err.push_str("\n(timed out: killed after 60 s)");
            -1
        }
    };
    (code, out, err)
}

/// Replaces the ages under a minute that `ps` prints (`Less than a second ago`, `1 second
/// ago`, `N seconds ago`) with `<seconds> ago`: how long a command took differs from run to
/// run (the ages from a minute on, and each form's wording, are table-tested in the CLI).
pub fn recent_ages(text: &str) -> String {
    let t = text
        .replace("Less than a second ago", "<seconds> ago")
        .replace(" 1 second ago", " <seconds> ago");
    let t = up_seconds(&t);
    let mut out = String::with_capacity(t.len());
    let mut rest = t.as_str();
    while let Some(i) = rest.find(" seconds ago") {
        let head = &rest[..i];
        let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && head[..head.len() - digits].ends_with(' ') {
            out.push_str(&head[..head.len() - digits]);
            out.push_str("<seconds>");
        } else {
            out.push_str(head);
            out.push_str(" seconds");
        }
        out.push_str(" ago");
        rest = &rest[i + " seconds ago".len()..];
    }
    out.push_str(rest);
    out
}

/// Replaces every run of lowercase hex digits 12 or 64 long (a whole word) with `<id>`.
pub fn hex_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hex = word
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        if hex && (word.len() == 64 || word.len() == 12) {
            out.push_str("<id>");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// `Up Less than a second`, `Up 1 second`, `Up 12 seconds` (a running container's STATUS,
/// which has no `ago`) as `Up <seconds>`: how long a container has run when `ps` looks
/// depends on the machine's speed.
fn up_seconds(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("Up ") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let unit = if let Some(r) = rest.strip_prefix("Less than a second") {
            Some(r)
        } else if digits > 0 {
            let after = &rest[digits..];
            after
                .strip_prefix(" seconds")
                .or_else(|| after.strip_prefix(" second"))
        } else {
            None
        };
        // Only a whole word: not `Up 3 secondsx`, and `ago` forms are left to the caller.
        match unit {
            Some(r) if !r.starts_with(|c: char| c.is_alphanumeric()) && !r.starts_with(" ago") => {
                out.push_str("<seconds>");
                rest = r;
            }
            _ => {}
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn recent_ages_hide_only_ages_under_a_minute() {
    for (input, want) in [
        (
            "Exited (0) Less than a second ago",
            "Exited (0) <seconds> ago",
        ),
        ("Exited (0) 1 second ago", "Exited (0) <seconds> ago"),
        (
            "Up 12 seconds ago\nUp 3 seconds ago",
            "Up <seconds> ago\nUp <seconds> ago",
        ),
        (
            "Exited (0) About a minute ago",
            "Exited (0) About a minute ago",
        ),
        ("Exited (0) 5 minutes ago", "Exited (0) 5 minutes ago"),
        (
            "x seconds ago; v2 seconds ago",
            "x seconds ago; v2 seconds ago",
        ),
        (
            "Up Less than a second (Paused)\nUp 1 second\nUp 42 seconds (healthy)",
            "Up <seconds> (Paused)\nUp <seconds>\nUp <seconds> (healthy)",
        ),
        (
            "Up 2 minutes\nUp About a minute",
            "Up 2 minutes\nUp About a minute",
        ),
    ] {
        assert_eq!(recent_ages(input), want, "{input}");
    }
}
