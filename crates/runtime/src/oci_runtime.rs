//! Finding and driving the OCI runtime binary (runc, crun, youki), the way podman does.
//!
//! Choice: a runtime named with `--runtime` (a name looked up on the `PATH` and the sbin
//! directories, or a path) wins; otherwise crun when `/sys/fs/cgroup` is a pure cgroup v2
//! hierarchy, runc when it is not (crun 1.8 refuses hybrid layouts), falling back to runc
//! on v2 when crun is absent.
//!
//! Each call runs `RUNTIME --root <state dir> --log <file> --log-format json SUBCOMMAND`;
//! a failure is reported with the runtime's own last error message.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::RuntimeError;

/// Directories searched for a runtime besides `PATH` (runc lives in `/usr/sbin` on Debian).
const EXTRA_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// `CGROUP2_SUPER_MAGIC`.
const CGROUP2_MAGIC: u64 = 0x6367_7270;

/// Whether `/sys/fs/cgroup` is a pure cgroup v2 (unified) hierarchy.
pub fn cgroup_v2_unified() -> bool {
    rustix::fs::statfs("/sys/fs/cgroup").is_ok_and(|s| s.f_type as u64 == CGROUP2_MAGIC)
}

/// Finds an executable named `name` on `PATH` and in the usual sbin/bin directories.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Picks the runtime: `requested` (a name or a path) if given, else by cgroup layout.
/// `lookup` finds a name (see [`find_in_path`]). Returns the runtime's name and path.
pub fn choose(
    requested: Option<&str>,
    cgroup_v2: bool,
    lookup: impl Fn(&str) -> Option<PathBuf>,
) -> Result<(String, PathBuf), RuntimeError> {
    if let Some(r) = requested {
        let name = Path::new(r)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| r.to_string());
        let found = if r.contains('/') {
            Some(PathBuf::from(r)).filter(|p| is_executable(p))
        } else {
            lookup(r)
        };
        return found
            .map(|p| (name, p))
            .ok_or_else(|| RuntimeError::NoRuntime {
                wanted: r.to_string(),
            });
    }
    let candidates: &[&str] = if cgroup_v2 {
        &["crun", "runc"]
    } else {
        &["runc"]
    };
    candidates
        .iter()
        .find_map(|n| lookup(n).map(|p| (n.to_string(), p)))
        .ok_or_else(|| RuntimeError::NoRuntime {
            wanted: candidates.join(" or "),
        })
}

/// What `runtime state ID` reports.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuntimeState {
    /// The container ID.
    pub id: String,
    /// The init process's PID on the host (0 once stopped).
    #[serde(default)]
    pub pid: i32,
    /// `creating`, `created`, `running`, `paused` or `stopped`.
    pub status: String,
    /// The bundle directory.
    #[serde(default)]
    pub bundle: String,
}

/// An OCI runtime binary and the directory where it keeps container state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRuntime {
    /// Its name (`runc`).
    pub name: String,
    /// The binary.
    pub path: PathBuf,
    /// Its `--root` directory.
    pub state_root: PathBuf,
}

impl OciRuntime {
    /// Finds the runtime (see [`choose`]); its state lives in `<store root>/runtime/<name>`.
    pub fn detect(requested: Option<&str>, store_root: &Path) -> Result<OciRuntime, RuntimeError> {
        let (name, path) = choose(requested, cgroup_v2_unified(), find_in_path)?;
        let state_root = store::Layout::new(store_root).oci_runtime_state_dir(&name);
        Ok(OciRuntime {
            name,
            path,
            state_root,
        })
    }

    fn command(&self, log: &Path) -> Command {
        let mut c = Command::new(&self.path);
        c.arg("--root")
            .arg(&self.state_root)
            .arg("--log")
            .arg(log)
            .arg("--log-format")
            .arg("json");
        c
    }

    fn failed(
        &self,
        command: &str,
        status: std::process::ExitStatus,
        log: &Path,
        stderr: &[u8],
    ) -> RuntimeError {
        let message = last_error(log)
            .or_else(|| {
                let s = String::from_utf8_lossy(stderr).trim().to_string();
                (!s.is_empty()).then_some(s)
            })
            .unwrap_or_else(|| "no message".into());
        RuntimeError::RuntimeFailed {
            runtime: self.name.clone(),
            command: command.into(),
            status: status.to_string(),
            message,
        }
    }

    fn run(&self, log: &Path, subcommand: &str, args: &[&str]) -> Result<Vec<u8>, RuntimeError> {
        let out = self
            .command(log)
            .arg(subcommand)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| RuntimeError::io("run", &self.path, e))?;
        if !out.status.success() {
            return Err(self.failed(subcommand, out.status, log, &out.stderr));
        }
        Ok(out.stdout)
    }

    /// `create --bundle B --pid-file P ID`: the container's process starts, stopped
    /// before the user's program, with `stdio` as its standard streams. `log` receives
    /// the runtime's own messages.
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log: &Path,
        stdio: [Stdio; 3],
    ) -> Result<(), RuntimeError> {
        self.spawn_container("create", &[], id, bundle, pid_file, log, stdio)
    }

    /// `run --detach --bundle B --pid-file P ID`: `create` and `start` in one runtime
    /// invocation (one fork and exec fewer on every `run`). A container with a terminal
    /// needs `console_socket` (see [`crate::console`]).
    pub fn run_detached(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log: &Path,
        console_socket: Option<&Path>,
        stdio: [Stdio; 3],
    ) -> Result<(), RuntimeError> {
        let socket = console_socket.map(|p| p.to_string_lossy().into_owned());
        let mut flags = vec!["--detach"];
        if let Some(s) = &socket {
            flags.extend(["--console-socket", s.as_str()]);
        }
        self.spawn_container("run", &flags, id, bundle, pid_file, log, stdio)
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_container(
        &self,
        subcommand: &str,
        flags: &[&str],
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log: &Path,
        stdio: [Stdio; 3],
    ) -> Result<(), RuntimeError> {
        fs::create_dir_all(&self.state_root)
            .map_err(|e| RuntimeError::io("create", &self.state_root, e))?;
        let [stdin, stdout, stderr] = stdio;
        let status = self
            .command(log)
            .arg(subcommand)
            .args(flags)
            .arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .map_err(|e| RuntimeError::io("run", &self.path, e))?;
        if !status.success() {
            return Err(self.failed(subcommand, status, log, b""));
        }
        Ok(())
    }

    /// `exec --process P ID`: runs the process described by the JSON file `process` in the
    /// running container and returns its exit code (128 + signal when killed). A process
    /// the runtime cannot start is an error with the runtime's message.
    pub fn exec(
        &self,
        id: &str,
        process: &Path,
        log: &Path,
        stdio: [Stdio; 3],
    ) -> Result<i32, RuntimeError> {
        let before = fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        let mut child = self.exec_spawn(id, process, log, None, stdio)?;
        let status = child
            .wait()
            .map_err(|e| RuntimeError::io("wait for", &self.path, e))?;
        self.exec_result(status, log, before)
    }

    /// Starts `exec --process P ID` and returns the runtime's process; with `detached`
    /// (console socket, pid file) as `exec --detach --console-socket S --pid-file F`,
    /// where the runtime exits once the process runs (a terminal needs this: runc's own
    /// terminal handling wants a controlling terminal). [`OciRuntime::exec_result`] turns
    /// the runtime's exit status into the exec'd process's code.
    pub fn exec_spawn(
        &self,
        id: &str,
        process: &Path,
        log: &Path,
        detached: Option<(&Path, &Path)>,
        stdio: [Stdio; 3],
    ) -> Result<std::process::Child, RuntimeError> {
        let [stdin, stdout, stderr] = stdio;
        let mut c = self.command(log);
        c.arg("exec").arg("--process").arg(process);
        if let Some((socket, pid_file)) = detached {
            c.arg("--detach")
                .arg("--console-socket")
                .arg(socket)
                .arg("--pid-file")
                .arg(pid_file);
        }
        c.arg(id)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| RuntimeError::io("run", &self.path, e))
    }

    /// The exit code of an exec'd process from the runtime's exit `status`; `log_before`
    /// is the runtime log's length before the exec. The runtime exits 255 when it could
    /// not start the process, and its log then has a new error entry (a process exiting
    /// 255 by itself leaves none).
    pub fn exec_result(
        &self,
        status: std::process::ExitStatus,
        log: &Path,
        log_before: u64,
    ) -> Result<i32, RuntimeError> {
        let code = match status.code() {
            Some(c) => c,
            None => {
                use std::os::unix::process::ExitStatusExt;
                128 + status.signal().unwrap_or(0)
            }
        };
        if code == 255 {
            let new = fs::read(log).ok().and_then(|b| {
                b.get(log_before as usize..)
                    .map(|t| String::from_utf8_lossy(t).into_owned())
            });
            if let Some(message) = new.as_deref().and_then(parse_last_error) {
                return Err(RuntimeError::RuntimeFailed {
                    runtime: self.name.clone(),
                    command: "exec".into(),
                    status: status.to_string(),
                    message,
                });
            }
        }
        Ok(code)
    }

    /// `start ID`: runs the user's program in a created container.
    pub fn start(&self, id: &str, log: &Path) -> Result<(), RuntimeError> {
        self.run(log, "start", &[id]).map(drop)
    }

    /// `ps --format json ID`: the host PIDs of the container's processes (`docker top`).
    pub fn ps(&self, id: &str, log: &Path) -> Result<Vec<i32>, RuntimeError> {
        let out = self.run(log, "ps", &["--format", "json", id])?;
        serde_json::from_slice::<Option<Vec<i32>>>(&out)
            .map(Option::unwrap_or_default)
            .map_err(|source| RuntimeError::BadRecord {
                path: self.state_root.join(id),
                source,
            })
    }

    /// `pause ID`: freezes every process of the container.
    pub fn pause(&self, id: &str, log: &Path) -> Result<(), RuntimeError> {
        self.run(log, "pause", &[id]).map(drop)
    }

    /// `update --resources FILE ID`: applies the cgroup resources in `resources` (an OCI
    /// `LinuxResources` JSON file; absent fields stay as they are) to a running container.
    pub fn update(&self, id: &str, resources: &Path, log: &Path) -> Result<(), RuntimeError> {
        let file = resources.to_string_lossy();
        self.run(log, "update", &["--resources", &file, id])
            .map(drop)
    }

    /// `resume ID`: thaws a paused container.
    pub fn resume(&self, id: &str, log: &Path) -> Result<(), RuntimeError> {
        self.run(log, "resume", &[id]).map(drop)
    }

    /// `kill ID SIGNAL` (`TERM`, `SIGKILL`, `9`).
    pub fn kill(&self, id: &str, signal: &str, log: &Path) -> Result<(), RuntimeError> {
        self.run(log, "kill", &[id, signal]).map(drop)
    }

    /// `delete --force ID`; a container the runtime does not know is already deleted.
    pub fn delete(&self, id: &str, log: &Path) -> Result<(), RuntimeError> {
        match self.run(log, "delete", &["--force", id]) {
            Ok(_) => Ok(()),
            Err(RuntimeError::RuntimeFailed { message, .. })
                if message.contains("does not exist") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// `state ID`; [`RuntimeError::NoSuchContainer`] when the runtime does not know it.
    pub fn state(&self, id: &str, log: &Path) -> Result<RuntimeState, RuntimeError> {
        let out = match self.run(log, "state", &[id]) {
            Ok(out) => out,
            Err(RuntimeError::RuntimeFailed { message, .. })
                if message.contains("does not exist") =>
            {
                return Err(RuntimeError::NoSuchContainer(id.to_string()));
            }
            Err(e) => return Err(e),
        };
        serde_json::from_slice(&out).map_err(|source| RuntimeError::BadRecord {
            path: self.state_root.join(id).join("state.json"),
            source,
        })
    }
}

/// The message of the last `error` (or `fatal`) entry of a JSON runtime log.
fn last_error(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    parse_last_error(&text)
}

fn parse_last_error(text: &str) -> Option<String> {
    text.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        let level = v.get("level")?.as_str()?;
        matches!(level, "error" | "fatal")
            .then(|| v.get("msg")?.as_str().map(String::from))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_like_podman() {
        let have = |names: &'static [&'static str]| {
            move |n: &str| {
                names
                    .contains(&n)
                    .then(|| PathBuf::from(format!("/usr/bin/{n}")))
            }
        };
        for (requested, v2, installed, want) in [
            (None, true, &["crun", "runc"][..], Ok("crun")),
            (None, false, &["crun", "runc"][..], Ok("runc")),
            (None, true, &["runc"][..], Ok("runc")),
            (None, false, &["crun"][..], Err("runc")),
            (None, true, &[][..], Err("crun or runc")),
            (Some("crun"), false, &["crun", "runc"][..], Ok("crun")),
            (Some("youki"), true, &["crun", "runc"][..], Err("youki")),
            (
                Some("/nonexistent/runc"),
                true,
                &["runc"][..],
                Err("/nonexistent/runc"),
            ),
        ] {
            let got = choose(requested, v2, have(installed));
            match want {
                Ok(name) => assert_eq!(got.unwrap().0, name, "{requested:?} {v2}"),
                Err(wanted) => {
                    let e = got.unwrap_err();
                    assert!(
                        matches!(&e, RuntimeError::NoRuntime { wanted: w } if w == wanted),
                        "{e}"
                    );
                    assert!(e.to_string().contains("apt-get install runc"));
                }
            }
        }
    }

    #[test]
    fn a_path_is_used_as_is() {
        let (name, path) = choose(Some("/bin/sh"), false, |_| None).unwrap();
        assert_eq!((name.as_str(), path), ("sh", PathBuf::from("/bin/sh")));
    }

    #[test]
    fn reads_the_last_error_of_a_json_log() {
        let log = r#"{"level":"info","msg":"x","time":"t"}
{"level":"error","msg":"exec: \"nope\": executable file not found in $PATH","time":"t"}
{"level":"debug","msg":"y","time":"t"}
not json"#;
        assert_eq!(
            parse_last_error(log).as_deref(),
            Some("exec: \"nope\": executable file not found in $PATH")
        );
        assert_eq!(parse_last_error(""), None);
    }

    /// Needs runc installed: fails (does not skip) without it.
    #[test]
    fn runc_is_installed_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let rt = OciRuntime::detect(Some("runc"), dir.path()).expect("runc (apt-get install runc)");
        let log = dir.path().join("log.json");
        let e = rt.state("strata-no-such-container", &log).unwrap_err();
        assert!(matches!(e, RuntimeError::NoSuchContainer(_)), "{e}");
        rt.delete("strata-no-such-container", &log).unwrap();
    }
}
