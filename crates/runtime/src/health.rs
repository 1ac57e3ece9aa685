//! Health checks (`HEALTHCHECK`, `--health-*`): the container's monitor runs the probe in
//! the running container every interval and keeps Docker's health record
//! (`State.Health`: status, failing streak, the last five results) in the container's
//! directory, where `ps` and `inspect` read it.
//!
//! Docker's rules: the status starts as `starting`; a probe that exits 0 makes it
//! `healthy` and resets the streak; a failure adds to the streak, except during the start
//! period while the container has never been healthy; `retries` failures in a row make
//! it `unhealthy`. A probe that outlives its timeout is a failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oci::config::Healthcheck;
use serde::{Deserialize, Serialize};

use crate::container::Container;
use crate::exec::ExecOptions;
use crate::oci_runtime::OciRuntime;
use crate::record::{now_rfc3339, read_json, write_state};

/// Docker's defaults: a probe every 30 s, 30 s to answer, 3 failures in a row.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: i64 = 3;
/// Docker keeps the last five results, each with at most 4096 bytes of output.
const MAX_LOG_ENTRIES: usize = 5;
const MAX_OUTPUT: u64 = 4096;

/// `State.Health` of `inspect`, as Docker writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Failures in a row.
    pub failing_streak: i64,
    /// The last results, oldest first.
    pub log: Vec<ProbeResult>,
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeResult {
    /// When it started (RFC 3339).
    pub start: String,
    /// When it ended.
    pub end: String,
    /// Its exit code (-1 when it timed out or could not run).
    pub exit_code: i32,
    /// Its output, stdout and stderr together, cut at 4096 bytes.
    pub output: String,
}

impl Health {
    /// The record of a container just started.
    pub fn starting() -> Health {
        Health {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    /// Takes one result: Docker's status rules (see the module doc). `in_start_period`:
    /// the container started less than its start period ago.
    pub fn record(&mut self, result: ProbeResult, retries: i64, in_start_period: bool) {
        if result.exit_code == 0 {
            self.failing_streak = 0;
            self.status = "healthy".into();
        } else if !(in_start_period && self.status != "healthy") {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = "unhealthy".into();
            }
        }
        self.log.push(result);
        if self.log.len() > MAX_LOG_ENTRIES {
            self.log.remove(0);
        }
    }
}

/// The health check a container runs: the run flags' over the image's (see [`merged`]);
/// `None` when neither has one or the test is `NONE`.
pub fn effective(image: Option<&Healthcheck>, run: Option<&Healthcheck>) -> Option<Healthcheck> {
    let merged = merged(image, run)?;
    match merged.test.as_deref() {
        None | Some([]) => None,
        Some([none]) if none == "NONE" => None,
        _ => Some(merged),
    }
}

/// The container's `Config.Healthcheck`: the run flags' over the image's, field by field
/// (Docker's merge: an empty test or a zero duration takes the image's; `NONE` stays).
pub fn merged(image: Option<&Healthcheck>, run: Option<&Healthcheck>) -> Option<Healthcheck> {
    Some(match (image, run) {
        (None, None) => return None,
        (Some(i), None) => i.clone(),
        (None, Some(r)) => r.clone(),
        (Some(i), Some(r)) => {
            let pick = |a: Option<i64>, b: Option<i64>| a.filter(|&v| v != 0).or(b);
            Healthcheck {
                test: r.test.clone().filter(|t| !t.is_empty()).or(i.test.clone()),
                interval: pick(r.interval, i.interval),
                timeout: pick(r.timeout, i.timeout),
                start_period: pick(r.start_period, i.start_period),
                start_interval: pick(r.start_interval, i.start_interval),
                retries: pick(r.retries, i.retries),
                extra: Default::default(),
            }
        }
    })
}

/// The probe's command line: `CMD` runs its arguments, `CMD-SHELL` runs `/bin/sh -c`.
pub fn probe_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first()? {
        (kind, rest) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        (kind, [cmd]) if kind == "CMD-SHELL" => {
            Some(vec!["/bin/sh".into(), "-c".into(), cmd.clone()])
        }
        _ => None,
    }
}

/// Where a container's health record lives.
pub fn record_path(container_dir: &Path) -> PathBuf {
    container_dir.join("health.json")
}

/// A container's health record, if it has a health check and has been started.
pub fn read(container_dir: &Path) -> Option<Health> {
    read_json(&record_path(container_dir)).ok()
}

/// The probe loop of one run of a container; stops when dropped.
pub struct Checker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checker {
    /// Starts probing `c` (just started) as its health check says; `None` without one.
    pub fn start(c: &Container, runtime: &OciRuntime) -> Option<Checker> {
        // `create` merged the image's check into the options.
        let check = effective(None, c.record.options.healthcheck.as_ref())?;
        let cmd = probe_command(check.test.as_deref()?)?;
        let path = record_path(&c.dir.0);
        write_state(&path, &Health::starting()).ok()?;
        let nanos = |v: Option<i64>, d: Duration| {
            v.filter(|&n| n > 0)
                .map_or(d, |n| Duration::from_nanos(n as u64))
        };
        let interval = nanos(check.interval, DEFAULT_INTERVAL);
        let timeout = nanos(check.timeout, DEFAULT_TIMEOUT);
        let start_period = nanos(check.start_period, Duration::ZERO);
        let retries = check.retries.filter(|&r| r > 0).unwrap_or(DEFAULT_RETRIES);
        let stop = Arc::new(AtomicBool::new(false));
        let (c, runtime, flag) = (c.clone(), runtime.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut health = Health::starting();
            while !flag.load(Ordering::SeqCst) {
                if !sleep_unless(&flag, interval) {
                    return;
                }
                let result = probe(&c, &runtime, &cmd, timeout);
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                health.record(result, retries, started.elapsed() < start_period);
                let _ = write_state(&path, &health);
            }
        });
        Some(Checker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sleeps `d` in short steps; false when told to stop meanwhile.
fn sleep_unless(stop: &AtomicBool, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
    }
    !stop.load(Ordering::SeqCst)
}

/// Runs the probe once in the container, output to a file in its directory; a probe
/// still running after `timeout` is a failure (it is left to end with the container).
fn probe(c: &Container, runtime: &OciRuntime, cmd: &[String], timeout: Duration) -> ProbeResult {
    let start = now_rfc3339();
    let out_path = c
        .dir
        .0
        .join(format!("health-probe-{}.out", std::process::id()));
    let failed = |why: String| ProbeResult {
        start: start.clone(),
        end: now_rfc3339(),
        exit_code: -1,
        output: why,
    };
    let file = match std::fs::File::create(&out_path) {
        Ok(f) => f,
        Err(e) => return failed(format!("health check output: {e}")),
    };
    let (out, err) = match (file.try_clone(), file.try_clone()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return failed("health check output: cannot share the file".into()),
    };
    let opts = ExecOptions {
        cmd: cmd.to_vec(),
        ..Default::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let (c2, rt2) = (c.clone(), runtime.clone());
    std::thread::spawn(move || {
        let _ = tx.send(c2.exec(&rt2, &opts, [Stdio::null(), out.into(), err.into()]));
    });
    let result = match rx.recv_timeout(timeout) {
        Ok(Ok(code)) => {
            let output = read_output(&out_path);
            ProbeResult {
                start,
                end: now_rfc3339(),
                exit_code: code,
                output,
            }
        }
        Ok(Err(e)) => failed(e.to_string()),
        Err(_) => failed(format!(
            "Health check exceeded timeout ({})",
            oci::go_duration::format(timeout)
        )),
    };
    let _ = std::fs::remove_file(&out_path);
    result
}

/// At most [`MAX_OUTPUT`] bytes of the probe's output.
fn read_output(path: &Path) -> String {
    use std::io::Read;
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(MAX_OUTPUT).read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> ProbeResult {
        ProbeResult {
            start: "s".into(),
            end: "e".into(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn status_follows_dockers_rules() {
        let mut h = Health::starting();
        // Failures in the start period do not count while never healthy.
        h.record(result(1), 2, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0));
        h.record(result(0), 2, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        // Once healthy, failures count even in the start period.
        h.record(result(1), 2, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 1));
        h.record(result(7), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        h.record(result(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            h.record(result(0), 2, false);
        }
        assert_eq!(h.log.len(), MAX_LOG_ENTRIES);
    }

    #[test]
    fn run_flags_lay_over_the_image_check() {
        let image = Healthcheck {
            test: Some(vec!["CMD-SHELL".into(), "img".into()]),
            interval: Some(5),
            retries: Some(4),
            ..Default::default()
        };
        let run = Healthcheck {
            interval: Some(0),
            timeout: Some(9),
            ..Default::default()
        };
        let m = effective(Some(&image), Some(&run)).unwrap();
        assert_eq!(m.test, image.test);
        assert_eq!(
            (m.interval, m.timeout, m.retries),
            (Some(5), Some(9), Some(4))
        );
        let none = Healthcheck {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        };
        assert!(effective(Some(&image), Some(&none)).is_none());
        assert!(effective(None, None).is_none());
        assert_eq!(effective(None, Some(&image)).unwrap().test, image.test);
    }

    #[test]
    fn probe_commands_as_docker_runs_them() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            probe_command(&v(&["CMD", "true", "x"])),
            Some(v(&["true", "x"]))
        );
        assert_eq!(
            probe_command(&v(&["CMD-SHELL", "exit 1"])),
            Some(v(&["/bin/sh", "-c", "exit 1"]))
        );
        assert_eq!(probe_command(&v(&["CMD"])), None);
        assert_eq!(probe_command(&v(&["NONE"])), None);
    }
}
