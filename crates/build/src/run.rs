//! RUN through the `runtime` crate: a container over the stage's layers, run to its end;
//! its overlay upper directory is the step's layer.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use dockerfile::{NetworkMode, Run, ShellOrExec};
use runtime::{Attach, Container, OciRuntime, RunOptions};
use store::Store;

use crate::BuildError;

/// Names of RUN containers: `strata-build-<builder pid>-<n>`. Whose they are is in their
/// owner file ([`runtime::container::create_owned`]): once the build is gone, any command
/// that opens the store reaps them.
const BUILD_CONTAINER_PREFIX: &str = "strata-build-";

/// Numbers the RUN containers of this process.
static NEXT_CONTAINER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The argv of a RUN: exec form as is; shell form through the stage's SHELL (default
/// `/bin/sh -c`). A RUN that is only a heredocs (`RUN <<EOF`) runs the heredoc's body as
/// the script; other heredocs are handed to the shell as written, which reads them itself.
pub fn argv(shell: Option<&[String]>, r: &Run) -> Vec<String> {
    let mut sh = shell
        .map(<[String]>::to_vec)
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    match &r.command {
        ShellOrExec::Exec(v) => v.clone(),
        ShellOrExec::Shell(s) => {
            let trimmed = s.trim();
            if r.heredocs.len() == 1
                && trimmed.starts_with("<<")
                && !trimmed.contains(char::is_whitespace)
            {
                sh.push(r.heredocs[0].data.clone());
                return sh;
            }
            let mut script = s.clone();
            for h in &r.heredocs {
                script.push('\n');
                script.push_str(&h.data);
                if !h.data.ends_with('\n') {
                    script.push('\n');
                }
                script.push_str(&h.name);
            }
            sh.push(script);
            sh
        }
    }
}

/// The proxy build args every RUN sees without an `ARG` line (BuildKit's predefined
/// `HTTP_PROXY`, `HTTPS_PROXY`, `FTP_PROXY`, `NO_PROXY`, `ALL_PROXY`, any case), each set
/// in both its upper- and lower-case form, as BuildKit's executor sets them. They are
/// kept out of the cache key, the config and the history.
pub fn proxy_env(build_args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    const PROXIES: [&str; 5] = [
        "http_proxy",
        "https_proxy",
        "ftp_proxy",
        "no_proxy",
        "all_proxy",
    ];
    let mut out = BTreeMap::new();
    for p in PROXIES {
        // The last of several spellings wins, as in BuildKit's loop over the args.
        if let Some(v) = build_args
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(p))
            .map(|(_, v)| v)
            .next_back()
            && !v.is_empty()
        {
            out.insert(p.to_ascii_uppercase(), v.clone());
            out.insert(p.to_string(), v.clone());
        }
    }
    out
}

/// A RUN container that exited 0, kept until its upper directory has been read.
pub(crate) struct Finished {
    container: Container,
}

impl Finished {
    /// The overlay upper directory: what the command changed.
    pub(crate) fn upper(&self) -> std::path::PathBuf {
        self.container.dir.upper()
    }

    /// Removes the container (best effort: a leftover is listed by `ps -a`).
    pub(crate) fn remove(self, store: &Store, rt: &OciRuntime) {
        let _ = self.container.remove(store, rt, true);
    }
}

/// Receives a RUN's output, one line at a time, as it is printed.
pub(crate) type LineSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Splits a stream into lines for a [`LineSink`]; a last line without newline is passed
/// on when the stream ends.
struct Lines {
    buf: Vec<u8>,
    sink: LineSink,
}

impl Write for Lines {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            (self.sink)(String::from_utf8_lossy(&line[..i]).trim_end_matches('\r'));
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            (self.sink)(&String::from_utf8_lossy(&self.buf));
        }
    }
}

/// Runs `argv` in a container of `image` (stored manifest digest) with the image's ENV,
/// USER and WORKDIR, the ARGs in scope as extra environment (ENV wins over an ARG of the
/// same name) and the `--mount`s already resolved to host paths, on the RUN's network or
/// else `build_network` (the build's `--network`). Output goes to `output`
/// line by line, as it comes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    store: &Store,
    rt: &OciRuntime,
    image: &str,
    env: &[String],
    args: &BTreeMap<String, String>,
    r: &Run,
    argv: Vec<String>,
    mounts: Vec<runtime::MountSpec>,
    line: usize,
    output: LineSink,
    build_network: NetworkMode,
) -> Result<Finished, BuildError> {
    let in_env = |k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    let opts = RunOptions {
        entrypoint: Some(Vec::new()),
        cmd: argv.clone(),
        env: args
            .iter()
            .filter(|(k, _)| !in_env(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        // `RUN --network=default` (or none given) is the build's `--network`.
        network: match r.network.unwrap_or(build_network) {
            NetworkMode::Default => match build_network {
                NetworkMode::None => runtime::NetworkMode::None,
                _ => runtime::NetworkMode::Host,
            },
            NetworkMode::None => runtime::NetworkMode::None,
            NetworkMode::Host => runtime::NetworkMode::Host,
        },
        mounts,
        // BuildKit's RUN: hostname buildkitsandbox, its /etc/hosts, no HOSTNAME.
        build_sandbox: true,
        ..Default::default()
    };
    let name = format!(
        "{BUILD_CONTAINER_PREFIX}{}-{}",
        std::process::id(),
        NEXT_CONTAINER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    crate::cancel::check()?;
    let c = runtime::container::create_owned(store, rt, image, Some(&name), opts)?;
    let attach = Attach {
        stdout: Some(Box::new(Lines {
            buf: Vec::new(),
            sink: output.clone(),
        })),
        stderr: Some(Box::new(Lines {
            buf: Vec::new(),
            sink: output,
        })),
        ..Default::default()
    };
    let running = match c.clone().start(store, rt, attach) {
        Ok(r) => r,
        Err(e) => {
            let _ = c.remove(store, rt, true);
            return Err(e.into());
        }
    };
    let live = crate::cancel::Live::register(running.container(), rt);
    let (c, code) = running.wait(rt)?;
    drop(live);
    if crate::cancel::is_canceled() {
        let _ = c.remove(store, rt, true);
        return Err(BuildError::Canceled);
    }
    if code != 0 {
        let _ = c.remove(store, rt, true);
        return Err(BuildError::RunFailed {
            line,
            command: argv.join(" "),
            code,
            output: String::new(),
        });
    }
    Ok(Finished { container: c })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_build_args_reach_run_in_both_cases() {
        let args: BTreeMap<String, String> = [
            ("http_proxy", "hp"),
            ("HTTPS_PROXY", "sp"),
            ("ALL_PROXY", "ap"),
            ("no_proxy", ""),
            ("OTHER", "o"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let got: Vec<String> = proxy_env(&args)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            got,
            [
                "ALL_PROXY=ap",
                "HTTPS_PROXY=sp",
                "HTTP_PROXY=hp",
                "all_proxy=ap",
                "http_proxy=hp",
                "https_proxy=sp"
            ]
        );
    }
}
