//! The container and volume events this crate records in the store's journal
//! ([`store::events`]), where each action happens: `create`, `start`, `die`, `kill`,
//! `stop`, `pause`, `unpause`, `rename`, `destroy`, `commit`, `export`, `exec_*`, and
//! volume `create`/`mount`/`unmount`/`destroy`, with Docker's attributes.
//!
//! A build's RUN containers (owned by their build, see [`crate::container::create_owned`])
//! are not reported, as BuildKit's are not.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Container;

/// Records container event `action` for `c` (also for the CLI's own composite actions,
/// `restart` and `attach`), with its `image`, `name` and labels plus
/// `extra` attributes (`exitCode`, `signal`, ...).
pub fn container(c: &Container, action: &str, extra: &[(&str, String)]) {
    if c.dir.0.join(crate::container::OWNER_FILE_NAME).exists() {
        return;
    }
    let Some(root) = store_root(c) else { return };
    store::events::record(
        root,
        "container",
        action,
        &c.record.id,
        attributes(c, extra),
    );
}

/// Docker's attributes of a container event: its labels, `image`, `name`, then `extra`.
pub(crate) fn attributes(c: &Container, extra: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut attrs = c.record.options.labels.clone();
    attrs.insert("image".into(), c.record.image.clone());
    attrs.insert("name".into(), c.record.name.clone());
    for (k, v) in extra {
        attrs.insert((*k).to_string(), v.clone());
    }
    attrs
}

/// The store a container lives in: `<root>/containers/<id>`.
fn store_root(c: &Container) -> Option<&Path> {
    c.dir.0.parent()?.parent()
}

/// Records volume event `action` for volume `name` (`container`, `destination`, ... in
/// `extra`).
pub fn volume(store_root: &Path, action: &str, name: &str, extra: &[(&str, String)]) {
    let mut attrs = BTreeMap::from([("driver".to_string(), "local".to_string())]);
    for (k, v) in extra {
        attrs.insert((*k).to_string(), v.clone());
    }
    store::events::record(store_root, "volume", action, name, attrs);
}

/// Records a `mount` (container start) or `unmount` (exit) event for each named volume
/// the container uses, as Docker's daemon does.
pub(crate) fn volumes(c: &Container, action: &str) {
    let Some(root) = store_root(c) else { return };
    if c.dir.0.join(crate::container::OWNER_FILE_NAME).exists() {
        return;
    }
    for m in &c.record.options.mounts {
        if let crate::MountKind::Volume { name, .. } = &m.kind {
            let mut extra = vec![("container", c.record.id.clone())];
            if action == "mount" {
                extra.push(("destination", m.destination.clone()));
                extra.push(("read/write", (!m.read_only).to_string()));
                extra.push(("propagation", String::new()));
            }
            volume(root, action, name, &extra);
        }
    }
}

/// A signal's number as Docker's `kill` event shows it (`TERM`, `SIGTERM`, `15` → `15`);
/// an unknown name as given.
pub(crate) fn signal_number(signal: &str) -> String {
    let upper = signal.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    #[rustfmt::skip]
    const TABLE: &[(&str, i32)] = &[
        ("HUP", libc::SIGHUP), ("INT", libc::SIGINT), ("QUIT", libc::SIGQUIT),
        ("ILL", libc::SIGILL), ("TRAP", libc::SIGTRAP), ("ABRT", libc::SIGABRT),
        ("IOT", libc::SIGIOT), ("BUS", libc::SIGBUS), ("FPE", libc::SIGFPE),
        ("KILL", libc::SIGKILL), ("USR1", libc::SIGUSR1), ("SEGV", libc::SIGSEGV),
        ("USR2", libc::SIGUSR2), ("PIPE", libc::SIGPIPE), ("ALRM", libc::SIGALRM),
        ("TERM", libc::SIGTERM), ("STKFLT", libc::SIGSTKFLT), ("CHLD", libc::SIGCHLD),
        ("CONT", libc::SIGCONT), ("STOP", libc::SIGSTOP), ("TSTP", libc::SIGTSTP),
        ("TTIN", libc::SIGTTIN), ("TTOU", libc::SIGTTOU), ("URG", libc::SIGURG),
        ("XCPU", libc::SIGXCPU), ("XFSZ", libc::SIGXFSZ), ("VTALRM", libc::SIGVTALRM),
        ("PROF", libc::SIGPROF), ("WINCH", libc::SIGWINCH), ("IO", libc::SIGIO),
        ("POLL", libc::SIGPOLL), ("PWR", libc::SIGPWR), ("SYS", libc::SIGSYS),
    ];
    TABLE
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(|| signal.to_string(), |(_, num)| num.to_string())
}

#[cfg(test)]
mod tests {
    use super::signal_number;

    #[test]
    fn signals_as_numbers() {
        for (given, want) in [
            ("TERM", "15"),
            ("SIGTERM", "15"),
            ("sigkill", "9"),
            ("9", "9"),
            ("USR1", "10"),
            ("RTMIN+3", "RTMIN+3"),
        ] {
            assert_eq!(signal_number(given), want, "{given}");
        }
    }
}
