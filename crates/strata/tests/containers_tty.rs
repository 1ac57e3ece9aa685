//! Terminals and `attach`: `run -it`, `exec -it` and `attach` under a real pseudo-terminal
//! (a private tmux server: it resizes its window as a user would, so `SIGWINCH` comes from
//! the kernel), detach keys, and `attach` without a terminal. Needs root, runc and tmux;
//! fails without.

mod harness;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use harness::rootfs::Containers;

/// A tmux server of the test's own (its socket in the test's directory), killed on drop.
struct Tmux<'a> {
    c: &'a Containers,
    socket: PathBuf,
}

impl<'a> Tmux<'a> {
    fn new(c: &'a Containers) -> Tmux<'a> {
        harness::require("tmux");
        Tmux {
            c,
            socket: c.path("tmux.sock"),
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("-f")
            .arg("/dev/null")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Opens window `name` (80x24) running `strata ARGS`; when it exits, the window shows
    /// `[exit CODE]` and stays.
    fn open(&self, name: &str, args: &[&str]) {
        let cmd = self.c.cmd(args);
        let mut line = String::new();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                line.push_str(&format!(
                    "{}='{}' ",
                    k.to_string_lossy(),
                    v.to_string_lossy()
                ));
            }
        }
        line.push_str(&format!("'{}'", cmd.get_program().to_string_lossy()));
        for a in cmd.get_args() {
            line.push_str(&format!(" '{}'", a.to_string_lossy()));
        }
        line.push_str("; echo \"[exit $?]\"; exec sleep 100000");
        self.tmux(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "80",
            "-y",
            "24",
            "sh",
            "-c",
            &line,
        ]);
    }

    /// Types `keys` (tmux key names: `Enter`, `C-c`, or literal text).
    fn keys(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types `text` and Enter.
    fn line(&self, name: &str, text: &str) {
        self.tmux(&["send-keys", "-t", name, "-l", text]);
        self.keys(name, &["Enter"]);
    }

    fn screen(&self, name: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", name])
    }

    /// Waits until the window shows a line ending in `want` (a `^C` echo may precede it);
    /// returns the screen.
    fn wait_line(&self, name: &str, want: &str) -> String {
        let mut screen = String::new();
        let found = (0..400).any(|_| {
            screen = self.screen(name);
            let hit = screen.lines().any(|l| l.trim_end().ends_with(want));
            if !hit {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            hit
        });
        assert!(found, "window {name} never showed {want:?}:\n{screen}");
        screen
    }

    fn resize(&self, name: &str, cols: u16, rows: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            name,
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }

    fn close(&self, name: &str) {
        self.tmux(&["kill-session", "-t", name]);
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn running(c: &Containers, name: &str) -> String {
    c.ok(&["inspect", "-f", "{{.State.Running}}", name])
}

/// `run -it`: the shell sees `TERM`, its size and resizes, Ctrl-C is its SIGINT, the
/// detach keys leave it running (exit 0), `attach` reaches it again (same resize and
/// detach), and the last client exits with the container's code.
#[test]
fn run_it_is_a_terminal_that_detaches_and_attaches_again() {
    let c = Containers::new();
    let t = Tmux::new(&c);
    t.open(
        "run",
        &[
            "run",
            "-it",
            "--network",
            "none",
            "--name",
            "sh1",
            "bb",
            "sh",
        ],
    );
    t.line("run", "echo term-$TERM; stty size");
    t.wait_line("run", "term-xterm");
    t.wait_line("run", "24 80");
    t.resize("run", 100, 30);
    t.line("run", "stty size");
    t.wait_line("run", "30 100");
    t.line(
        "run",
        "trap 'echo got-int' INT; echo trap-set; sleep 30; echo slept",
    );
    t.wait_line("run", "trap-set");
    t.keys("run", &["C-c"]);
    t.wait_line("run", "got-int");
    t.keys("run", &["C-p", "C-q"]);
    t.wait_line("run", "[exit 0]");
    assert_eq!(running(&c, "sh1"), "true\n");

    t.open("att", &["attach", "sh1"]);
    t.line("att", "echo again-$((40+2)); stty size");
    t.wait_line("att", "again-42");
    t.wait_line("att", "24 80");
    t.keys("att", &["C-p", "C-q"]);
    t.wait_line("att", "[exit 0]");
    assert_eq!(running(&c, "sh1"), "true\n");
    t.close("att");

    t.open("att2", &["attach", "sh1"]);
    t.line("att2", "echo third-$((1+2)); exit 3");
    t.wait_line("att2", "third-3");
    t.wait_line("att2", "[exit 3]");
    assert_eq!(
        c.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "sh1"
        ]),
        "exited 3\n"
    );
    c.ok(&["rm", "sh1"]);
}

/// `--detach-keys ctrl-x,y`: Ctrl-P Ctrl-Q no longer detaches (the shell gets the keys),
/// Ctrl-X y does. The `detachKeys` of the client config does the same for `attach`.
#[test]
fn detach_keys_can_be_changed() {
    let c = Containers::new();
    let t = Tmux::new(&c);
    let args = [
        "run",
        "-it",
        "--detach-keys",
        "ctrl-x,y",
        "--network",
        "none",
        "--name",
        "keys",
        "bb",
        "sh",
    ];
    t.open("run", &args);
    t.line("run", "echo ready-$((1+1))");
    t.wait_line("run", "ready-2");
    t.keys("run", &["C-p", "C-q"]);
    t.line("run", "echo still-$((2+2))");
    t.wait_line("run", "still-4");
    t.keys("run", &["C-x", "y"]);
    t.wait_line("run", "[exit 0]");
    assert_eq!(running(&c, "keys"), "true\n");

    // Docker's client config: detachKeys.
    std::fs::write(c.path("docker/config.json"), r#"{"detachKeys":"ctrl-a,b"}"#).unwrap();
    t.open("att", &["attach", "keys"]);
    t.line("att", "echo attached-$((3+3))");
    t.wait_line("att", "attached-6");
    t.keys("att", &["C-p", "C-q"]);
    t.line("att", "echo still-$((5+5))");
    t.wait_line("att", "still-10");
    t.keys("att", &["C-a", "b"]);
    t.wait_line("att", "[exit 0]");
    assert_eq!(running(&c, "keys"), "true\n");
    c.ok(&["rm", "-f", "keys"]);
}

/// `start -ai` of an `-it` container detaches too, and `attach` reaches it afterwards.
#[test]
fn start_ai_detaches() {
    let c = Containers::new();
    let t = Tmux::new(&c);
    c.ok(&[
        "create",
        "-it",
        "--network",
        "none",
        "--name",
        "st",
        "bb",
        "sh",
    ]);
    t.open("start", &["start", "-ai", "st"]);
    t.line("start", "echo started-$((2*3))");
    t.wait_line("start", "started-6");
    t.keys("start", &["C-p", "C-q"]);
    t.wait_line("start", "[exit 0]");
    assert_eq!(running(&c, "st"), "true\n");
    t.open("att", &["attach", "st"]);
    t.line("att", "exit 2");
    t.wait_line("att", "[exit 2]");
    c.ok(&["rm", "st"]);
}

/// `exec -it`: a shell with `TERM=xterm`, its size and resizes, Ctrl-C as SIGINT and its
/// exit code; the detach keys leave the process running.
#[test]
fn exec_it_is_a_shell() {
    let c = Containers::new();
    let t = Tmux::new(&c);
    c.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "ex",
        "bb",
        "sleep",
        "1000",
    ]);
    t.open("ex", &["exec", "-it", "ex", "sh"]);
    t.line("ex", "echo term-$TERM; stty size");
    t.wait_line("ex", "term-xterm");
    t.wait_line("ex", "24 80");
    t.resize("ex", 70, 20);
    t.line("ex", "stty size");
    t.wait_line("ex", "20 70");
    t.line(
        "ex",
        "trap 'echo got-int' INT; echo trap-set; sleep 30; echo slept",
    );
    t.wait_line("ex", "trap-set");
    t.keys("ex", &["C-c"]);
    t.wait_line("ex", "got-int");
    t.line("ex", "exit 7");
    t.wait_line("ex", "[exit 7]");

    // Detached, the shell goes on: it still answers through the file system.
    t.open("ex2", &["exec", "-it", "ex", "sh"]);
    t.line("ex2", "echo $$ > /tmp/shell.pid; echo pid-$((3+4))");
    t.wait_line("ex2", "pid-7");
    t.keys("ex2", &["C-p", "C-q"]);
    t.wait_line("ex2", "[exit 0]");
    let alive = c.run(&["exec", "ex", "sh", "-c", "kill -0 $(cat /tmp/shell.pid)"]);
    assert!(alive.status.success(), "the detached exec's shell is gone");
    c.ok(&["rm", "-f", "ex"]);
}

/// Collects a child's stream on a thread.
fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

/// Without a terminal: a running `run -d` container's output streams to the client
/// (stdout and stderr apart), the client's stdin reaches a `-i` container, its SIGINT is
/// forwarded, and it exits with the container's code.
#[test]
fn attach_without_a_terminal() {
    let c = Containers::new();
    c.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "out",
        "bb",
        "sh",
        "-c",
        "while [ ! -f /tmp/stop ]; do echo tick; sleep 0.1; done; echo done-out; \
         echo done-err >&2; exit 6",
    ]);
    let mut client = c
        .cmd(&["attach", "out"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = collect(client.stdout.take().unwrap());
    let err = collect(client.stderr.take().unwrap());
    c.eventually("output streamed to the client", || {
        String::from_utf8_lossy(&out.lock().unwrap()).contains("tick\n")
    });
    c.ok(&["exec", "out", "touch", "/tmp/stop"]);
    let status = client.wait().unwrap();
    assert_eq!(status.code(), Some(6));
    c.eventually("the last output", || {
        String::from_utf8_lossy(&out.lock().unwrap()).ends_with("done-out\n")
    });
    c.eventually("stderr apart", || {
        String::from_utf8_lossy(&err.lock().unwrap()) == "done-err\n"
    });
    c.ok(&["rm", "out"]);

    // stdin: the container reads what the client sends (kept open: -i without StdinOnce).
    c.ok(&[
        "run",
        "-d",
        "-i",
        "--network",
        "none",
        "--name",
        "in",
        "bb",
        "sh",
        "-c",
        "read a; echo first-$a; read b; echo second-$b; exit 9",
    ]);
    let mut client = c
        .cmd(&["attach", "in"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = collect(client.stdout.take().unwrap());
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"one\n").unwrap();
    c.eventually("the first answer", || {
        String::from_utf8_lossy(&out.lock().unwrap()).contains("first-one\n")
    });
    stdin.write_all(b"two\n").unwrap();
    let status = client.wait().unwrap();
    drop(stdin);
    assert_eq!(status.code(), Some(9));
    assert_eq!(c.ok(&["logs", "in"]), "first-one\nsecond-two\n");
    c.ok(&["rm", "in"]);

    // sig-proxy: the client's SIGINT reaches the container.
    c.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "sig",
        "bb",
        "sh",
        "-c",
        "trap 'echo got-int; exit 4' INT; while :; do echo tick; sleep 0.1; done",
    ]);
    let mut client = c
        .cmd(&["attach", "sig"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = collect(client.stdout.take().unwrap());
    // Output reaching it shows it attached, its signal handlers installed before.
    c.eventually("the client attached", || {
        String::from_utf8_lossy(&out.lock().unwrap()).contains("tick\n")
    });
    let pid = rustix::process::Pid::from_raw(client.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    assert_eq!(client.wait().unwrap().code(), Some(4));
    c.eventually("the trap's output", || {
        String::from_utf8_lossy(&out.lock().unwrap()).contains("got-int\n")
    });
    c.ok(&["rm", "sig"]);
}
