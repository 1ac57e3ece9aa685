//! `events` followed live, `stats` reading what a container allocates, and `update`
//! reaching the container's cgroup (and surviving a restart). Needs root and runc; fails
//! without.

mod harness;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use harness::rootfs::Containers;

/// How long a test waits for an expected event line before failing (a bound, not a
/// measurement).
const LINE_WAIT: Duration = Duration::from_secs(30);

/// Now as `--until` takes it: Unix seconds and nanoseconds (a duration counts whole
/// seconds only, as Docker's does).
fn now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

#[test]
fn events_follows_the_journal_live() {
    let c = Containers::new();
    let mut follower = c
        .cmd(&["events", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = follower.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Without --since the follower shows only what comes after it started: mark the
    // journal until it shows a mark, so what follows is surely live.
    let mut seen = Vec::new();
    let mut n = 0;
    'marked: loop {
        assert!(n < 200, "the follower never showed a mark: {seen:?}");
        let mark = format!("mark{n}");
        c.ok(&["volume", "create", &mark]);
        c.ok(&["volume", "rm", &mark]);
        n += 1;
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let marked = line.starts_with("volume create mark");
            seen.push(line);
            if marked {
                break 'marked;
            }
        }
    }
    let id = c.ok(&["run", "-d", "--name", "live", "bb", "sleep", "60"]);
    let id = id.trim();
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(LINE_WAIT)
            .unwrap_or_else(|_| panic!("no start event; saw {lines:?}"));
        let done = line == format!("container start {id}");
        lines.push(line);
        if done {
            break;
        }
    }
    assert!(
        lines.contains(&format!("container create {id}")),
        "{lines:?}"
    );
    // The test stops the follower (Docker's `events` runs until interrupted).
    follower.kill().unwrap();
    follower.wait().unwrap();
    reader.join().unwrap();
    c.ok(&["rm", "-f", "live"]);
    // The journal kept it all, in order, for a bounded `events` to replay.
    let now = now();
    let replay = c.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        &now,
        "--filter",
        "container=live",
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(
        replay.lines().collect::<Vec<_>>(),
        ["create", "start", "kill", "die", "destroy"],
        "{replay}"
    );
    c.assert_clean();
}

/// `MEM USAGE` of `stats --no-stream` in bytes (`48.5MiB / 7.6GiB` → 48.5 MiB).
fn mem_usage(c: &Containers, name: &str) -> f64 {
    let out = c.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", name]);
    let usage = out.split(" / ").next().unwrap().trim();
    let split = usage
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .unwrap();
    let (n, unit) = usage.split_at(split);
    let n: f64 = n.parse().unwrap();
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other} in {out}"),
    };
    n * scale
}

#[test]
fn stats_reads_the_memory_a_container_allocates() {
    let c = Containers::new();
    const MIB: f64 = 1024.0 * 1024.0;
    // 48 MiB in /dev/shm (tmpfs pages are charged to the container's memory cgroup).
    c.ok(&[
        "run", "-d", "--name", "hog", "bb", "sh", "-c",
        "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null && touch /tmp/done; exec sleep 60",
    ]);
    c.ok(&["run", "-d", "--name", "idle", "bb", "sleep", "60"]);
    c.eventually("the allocation", || {
        c.status(&["exec", "hog", "test", "-f", "/tmp/done"]).0 == 0
    });
    let hog = mem_usage(&c, "hog");
    let idle = mem_usage(&c, "idle");
    assert!(hog >= 48.0 * MIB, "hog uses {hog} bytes");
    assert!(idle < 16.0 * MIB, "idle uses {idle} bytes");
    // PIDs and the table's header, as Docker prints them.
    let table = c.ok(&["stats", "--no-stream", "hog"]);
    let header = table.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert_eq!(
        c.ok(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}}",
            "hog"
        ]),
        "hog 1\n"
    );
    c.ok(&["rm", "-f", "hog", "idle"]);
    c.assert_clean();
}

/// The container's memory limit as its cgroup holds it (v1 or v2).
fn cgroup_memory_limit(id: &str) -> String {
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let path = if v2 {
        format!("/sys/fs/cgroup/docker/{id}/memory.max")
    } else {
        format!("/sys/fs/cgroup/memory/docker/{id}/memory.limit_in_bytes")
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn update_reaches_the_cgroup_and_survives_a_restart() {
    let c = Containers::new();
    let id = c.ok(&[
        "run", "-d", "--name", "lim", "-m", "64m", "bb", "sleep", "60",
    ]);
    let id = id.trim();
    assert_eq!(cgroup_memory_limit(id), (64u64 << 20).to_string());
    assert!(c.ok(&["update", "-m", "100m", "lim"]).starts_with("lim\n"));
    assert_eq!(cgroup_memory_limit(id), (100u64 << 20).to_string());
    assert_eq!(
        c.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "lim"]),
        format!("{}\n", 100u64 << 20)
    );
    // Kept for the next run.
    c.ok(&["restart", "-t", "1", "lim"]);
    assert_eq!(cgroup_memory_limit(id), (100u64 << 20).to_string());
    // Refused below Docker's 6MB, leaving the limit as it was.
    let (code, _, err) = c.status(&["update", "-m", "4m", "lim"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    assert_eq!(cgroup_memory_limit(id), (100u64 << 20).to_string());
    // The update is an event too.
    let events = c.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        &now(),
        "--filter",
        "event=update",
        "--format",
        "{{.Actor.Attributes.name}}",
    ]);
    assert!(events.starts_with("lim\n"), "{events}");
    c.ok(&["rm", "-f", "lim"]);
    c.assert_clean();
}

#[test]
fn update_restart_policy_reaches_a_running_containers_monitor() {
    let c = Containers::new();
    let gate = c.path("gate");
    std::fs::create_dir_all(&gate).unwrap();
    let bind = format!("{}:/g", gate.display());
    // Runs until the test opens the gate, then fails (exit 3): every later run fails at once.
    c.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "-v",
        &bind,
        "bb",
        "sh",
        "-c",
        "while [ ! -f /g/open ]; do sleep 0.05; done; exit 3",
    ]);
    assert!(
        c.ok(&["update", "--restart", "on-failure:2", "flaky"])
            .starts_with("flaky\n")
    );
    std::fs::write(gate.join("open"), b"").unwrap();
    // Its monitor, started with no policy, applies the new one: two restarts, then exited.
    c.eventually("two restarts and the exit", || {
        c.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
            "flaky",
        ]) == "2 exited 3\n"
    });
    c.ok(&["rm", "-f", "flaky"]);
    c.assert_clean();
}
