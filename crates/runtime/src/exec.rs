//! `exec`: another process in a running container (`docker exec -e -u -w`).
//!
//! The process starts from the container's own (its environment, user, working
//! directory, capabilities, limits), as Docker's does, with the options applied on top:
//! `-e` entries replace or add variables, `-u` is resolved in the container's root
//! filesystem, `-w` replaces the working directory.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::attach::DetachKeys;
use crate::attach::keys::EscapeReader;
use crate::container::Container;
use crate::oci_runtime::OciRuntime;
use crate::record::{Status, new_id, read_json, write_state};
use crate::spec::{Process, Spec, User, replace_or_append};
use crate::streams::{Attach, pipe_streams, terminal_streams};
use crate::{RuntimeError, user};

/// Options of `exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOptions {
    /// The command and its arguments.
    pub cmd: Vec<String>,
    /// `-e KEY=value`.
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w` (absolute).
    pub workdir: Option<String>,
    /// `-t`.
    pub tty: bool,
}

/// The exec'd process: the container's, with `opts` applied. `exec_user` is `-u`
/// resolved in the container (or `None` to keep the container's user).
pub fn exec_process(
    base: &Process,
    opts: &ExecOptions,
    exec_user: Option<&user::ExecUser>,
) -> Result<Process, RuntimeError> {
    if opts.cmd.is_empty() {
        return Err(RuntimeError::InvalidOptions("No command specified".into()));
    }
    let mut p = base.clone();
    p.args = opts.cmd.clone();
    p.terminal = opts.tty;
    // Docker gives an exec with a terminal `TERM=xterm` (before the exec's own `-e`),
    // whether or not the container has one.
    if opts.tty && !p.env.iter().any(|e| e.starts_with("TERM=")) {
        p.env.push("TERM=xterm".into());
    }
    p.env = replace_or_append(p.env, &opts.env);
    // No HOME here: the runtime appends the exec user's, after the exec's `-e`, unless
    // the container's environment or `-e` set one (Docker's order).
    if let Some(u) = exec_user {
        p.user = User {
            uid: u.uid,
            gid: u.gid,
            additional_gids: u.additional_gids.clone(),
        };
    }
    if let Some(w) = &opts.workdir {
        if !w.starts_with('/') {
            return Err(RuntimeError::InvalidOptions(format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            )));
        }
        p.cwd = w.clone();
    }
    Ok(p)
}

/// What a terminal client adds to an `exec -t` (see [`Container::exec_attached_with`]).
pub struct ExecTerminal<'a> {
    /// Typed on the exec's stdin, these detach the caller (`None`: never).
    pub detach_keys: Option<DetachKeys>,
    /// Shown the terminal's master once it exists.
    pub on_terminal: &'a dyn Fn(&OwnedFd),
    /// Given the terminal's master on detach, to keep open while the process runs.
    pub hand_over: &'a dyn Fn(OwnedFd) -> Result<(), RuntimeError>,
}

impl Default for ExecTerminal<'_> {
    fn default() -> Self {
        ExecTerminal {
            detach_keys: None,
            on_terminal: &|_| {},
            hand_over: &|_| Ok(()),
        }
    }
}

/// How an attached exec ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecEnd {
    /// The process exited with this code.
    Exited(i32),
    /// The caller detached; the process goes on.
    Detached,
}

impl Container {
    /// Runs `opts.cmd` in this running container with `stdio` and returns its exit code.
    pub fn exec(
        &self,
        runtime: &OciRuntime,
        opts: &ExecOptions,
        stdio: [Stdio; 3],
    ) -> Result<i32, RuntimeError> {
        self.check_running(runtime)?;
        if opts.tty {
            return Err(RuntimeError::InvalidOptions(
                "exec -t needs a terminal: use Container::exec_attached".into(),
            ));
        }
        let path = self.write_exec_process(opts)?;
        let result = self.exec_reported(opts, || {
            runtime
                .exec(&self.record.id, &path, &self.dir.runtime_log(), stdio)
                .map(ExecEnd::Exited)
        });
        let _ = fs::remove_file(&path);
        result.map(|end| match end {
            ExecEnd::Exited(code) => code,
            ExecEnd::Detached => 0,
        })
    }

    /// Runs `exec` between Docker's `exec_create`/`exec_start` and `exec_die` events.
    fn exec_reported(
        &self,
        opts: &ExecOptions,
        exec: impl FnOnce() -> Result<ExecEnd, RuntimeError>,
    ) -> Result<ExecEnd, RuntimeError> {
        let exec_id = crate::record::new_id()?;
        let cmd = opts.cmd.join(" ");
        let id = ("execID", exec_id.clone());
        crate::events::container(
            self,
            &format!("exec_create: {cmd}"),
            std::slice::from_ref(&id),
        );
        crate::events::container(
            self,
            &format!("exec_start: {cmd}"),
            std::slice::from_ref(&id),
        );
        let result = exec();
        // A detached exec goes on: it dies later, unseen.
        if let Ok(ExecEnd::Exited(code)) = &result {
            crate::events::container(self, "exec_die", &[id, ("exitCode", code.to_string())]);
        }
        result
    }

    /// Runs `opts.cmd` in this running container connected to `attach`; with `opts.tty`
    /// on a new terminal (`exec -it`: output merged on `attach.stdout`), else on pipes.
    /// Returns its exit code.
    pub fn exec_attached(
        &self,
        runtime: &OciRuntime,
        opts: &ExecOptions,
        attach: Attach,
    ) -> Result<i32, RuntimeError> {
        match self.exec_attached_with(runtime, opts, attach, &ExecTerminal::default())? {
            ExecEnd::Exited(code) => Ok(code),
            ExecEnd::Detached => Ok(0),
        }
    }

    /// [`Container::exec_attached`] with what a terminal client adds (`exec -it`): the
    /// terminal's master shown to `term.on_terminal` (to resize it), and `term`'s detach
    /// keys, which leave the process running with its terminal handed to
    /// `term.hand_over` (someone must keep it open, or the process is hung up).
    pub fn exec_attached_with(
        &self,
        runtime: &OciRuntime,
        opts: &ExecOptions,
        attach: Attach,
        term: &ExecTerminal<'_>,
    ) -> Result<ExecEnd, RuntimeError> {
        self.check_running(runtime)?;
        // Exec output is not the container's log: it goes to the caller only.
        let sink = Arc::new(Mutex::new(crate::logs::LogFile::discard()));
        let path = self.write_exec_process(opts)?;
        let log = self.dir.runtime_log();
        let before = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let result = self.exec_reported(opts, || {
            if opts.tty {
                return self.exec_terminal(runtime, &path, attach, &sink, before, term);
            }
            let (stdio, pumps) = pipe_streams(attach, &sink, &log)?;
            let mut child = runtime.exec_spawn(&self.record.id, &path, &log, None, stdio)?;
            let status = child
                .wait()
                .map_err(|e| RuntimeError::io("wait for", &runtime.path, e))?;
            for p in pumps {
                let _ = p.join();
            }
            runtime
                .exec_result(status, &log, before)
                .map(ExecEnd::Exited)
        });
        let _ = fs::remove_file(&path);
        result
    }

    /// `exec -t`: the runtime starts the process detached on a new terminal, sends the
    /// terminal's master over a console socket, and exits; the process, orphaned, becomes
    /// this process's child (child subreaper), so its exit code is collected here.
    fn exec_terminal(
        &self,
        runtime: &OciRuntime,
        process: &Path,
        attach: Attach,
        sink: &Arc<Mutex<crate::logs::LogFile>>,
        log_before: u64,
        term: &ExecTerminal<'_>,
    ) -> Result<ExecEnd, RuntimeError> {
        let log = self.dir.runtime_log();
        rustix::process::set_child_subreaper(Some(rustix::process::getpid())).map_err(|e| {
            RuntimeError::io("become the child subreaper of", &self.dir.0, e.into())
        })?;
        let console = crate::console::listen(&self.record.id)?;
        let pid_file = process.with_extension("pid");
        let null = || Stdio::null();
        let mut child = runtime.exec_spawn(
            &self.record.id,
            process,
            &log,
            Some((console.path(), &pid_file)),
            [null(), null(), null()],
        )?;
        let master = console.receive_while(|| matches!(child.try_wait(), Ok(None)));
        let status = child
            .wait()
            .map_err(|e| RuntimeError::io("wait for", &runtime.path, e))?;
        let started = if status.success() {
            Ok(())
        } else {
            runtime.exec_result(status, &log, log_before).map(drop)
        };
        let pid = started.and_then(|()| crate::container::read_pid(&pid_file));
        let _ = fs::remove_file(&pid_file);
        let (pid, master) = match (pid, master?) {
            (Ok(pid), Some(m)) => (pid, m),
            (Err(e), _) => return Err(e),
            (Ok(_), None) => {
                return Err(RuntimeError::RuntimeFailed {
                    runtime: runtime.name.clone(),
                    command: "exec".into(),
                    status: status.to_string(),
                    message: "no terminal was received".into(),
                });
            }
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let mut attach = attach;
        if let (Some(keys), Some(input)) = (&term.detach_keys, attach.stdin.take()) {
            let tx = tx.clone();
            let on_detach = Box::new(move || {
                let _ = tx.send(None);
            });
            attach.stdin = Some(Box::new(EscapeReader::new(input, keys, on_detach)));
        }
        (term.on_terminal)(&master);
        let kept = master
            .try_clone()
            .map_err(|e| RuntimeError::io("duplicate", Path::new("the exec's terminal"), e))?;
        let pump = terminal_streams(master, attach, sink)?;
        let dir = self.dir.0.clone();
        std::thread::spawn(move || {
            let _ = tx.send(Some(crate::container::wait_exit(pid, &dir)));
        });
        match rx.recv() {
            Ok(Some(code)) => {
                let code = code?;
                let _ = pump.join();
                Ok(ExecEnd::Exited(code))
            }
            // Detached (the sender cannot be dropped before one of them sent).
            _ => {
                (term.hand_over)(kept)?;
                Ok(ExecEnd::Detached)
            }
        }
    }

    fn check_running(&self, runtime: &OciRuntime) -> Result<(), RuntimeError> {
        if self.state.status != Status::Running || !self.is_running(runtime)? {
            return Err(RuntimeError::InvalidOptions(format!(
                "container {} is not running",
                self.record.id
            )));
        }
        Ok(())
    }

    /// Writes the exec'd process's JSON next to the container; the caller removes it.
    fn write_exec_process(&self, opts: &ExecOptions) -> Result<PathBuf, RuntimeError> {
        let spec: Spec = read_json(&self.dir.bundle().join("config.json"))?;
        let exec_user = match &opts.user {
            // `exec -u` gets the container's `--group-add` groups too, as with Docker.
            Some(u) => Some(user::resolve_in_root_with_groups(
                &self.dir.rootfs(),
                u,
                &self.record.options.security.group_add,
            )?),
            None => None,
        };
        let process = exec_process(&spec.process, opts, exec_user.as_ref())?;
        let path = self.dir.0.join(format!("exec-{}.json", &new_id()?[..16]));
        write_state(&path, &process)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Capabilities, Rlimit};

    fn base() -> Process {
        Process {
            terminal: false,
            user: User {
                uid: 0,
                gid: 0,
                additional_gids: vec![],
            },
            args: vec!["sleep".into()],
            env: vec!["PATH=/bin".into(), "A=1".into()],
            cwd: "/".into(),
            capabilities: Capabilities {
                bounding: vec![],
                effective: vec![],
                permitted: vec![],
            },
            rlimits: Vec::<Rlimit>::new(),
            no_new_privileges: false,
        }
    }

    #[test]
    fn options_apply_on_the_container_process() {
        let u = user::ExecUser {
            uid: 7,
            gid: 8,
            additional_gids: vec![9],
            home: "/home/u".into(),
        };
        let opts = ExecOptions {
            cmd: vec!["env".into()],
            env: vec!["A=2".into(), "B=3".into()],
            workdir: Some("/tmp".into()),
            ..Default::default()
        };
        let p = exec_process(&base(), &opts, Some(&u)).unwrap();
        assert_eq!(p.args, ["env"]);
        // Regression (exec_env): HOME is the runtime's to append, after B.
        assert_eq!(p.env, ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!((p.user.uid, p.user.gid, p.cwd.as_str()), (7, 8, "/tmp"));
        let same = exec_process(
            &base(),
            &ExecOptions {
                cmd: vec!["x".into()],
                ..Default::default()
            },
            None,
        )
        .unwrap();
        assert_eq!((same.env, same.user.uid), (base().env, 0));
        let tty = |env: Vec<String>| {
            let opts = ExecOptions {
                cmd: vec!["sh".into()],
                tty: true,
                env,
                ..Default::default()
            };
            exec_process(&base(), &opts, None).unwrap().env
        };
        assert_eq!(tty(vec![]), ["PATH=/bin", "A=1", "TERM=xterm"]);
        assert_eq!(
            tty(vec!["TERM=vt100".into()]),
            ["PATH=/bin", "A=1", "TERM=vt100"]
        );
        for bad in [
            ExecOptions::default(),
            ExecOptions {
                cmd: vec!["x".into()],
                workdir: Some("rel".into()),
                ..Default::default()
            },
        ] {
            assert!(exec_process(&base(), &bad, None).is_err(), "{bad:?}");
        }
    }
}
