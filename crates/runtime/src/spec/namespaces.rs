//! `--ipc`, `--pid` and `--uts` in the runtime spec: namespaces shared with the host are
//! not created, namespaces of another container are joined by path, and `/dev/shm`
//! follows the IPC namespace (Docker's `daemon/oci_linux.go` `WithNamespaces` and
//! `setupIpcDirs`).

use super::{Mount, Spec};
use crate::RunOptions;
use crate::namespaces::{IpcMode, PidMode, UtsMode};

/// Applies the namespace modes of `opts` to `spec`: `host` drops the namespace (and, for
/// UTS, the hostname the runtime would set: the host's stays); `--ipc host` binds the
/// host's `/dev/shm`, `--ipc none` has none. Joining another container is [`join`]'s.
pub fn apply(spec: &mut Spec, opts: &RunOptions) {
    let host = |kind: &str| match kind {
        "ipc" => opts.ipc == IpcMode::Host,
        "pid" => opts.pid == PidMode::Host,
        "uts" => opts.uts == UtsMode::Host,
        _ => false,
    };
    spec.linux.namespaces.retain(|n| !host(&n.kind));
    if opts.uts == UtsMode::Host {
        spec.hostname = None;
    }
    match opts.ipc {
        IpcMode::Host => set_shm(spec, Some("/dev/shm")),
        IpcMode::None => set_shm(spec, None),
        _ => {}
    }
}

/// Joins the `kind` namespace (`ipc`, `pid`) of the process `pid` (another container's
/// init); the caller shares its `/dev/shm` ([`share_shm`]), which lives on the host.
pub fn join(spec: &mut Spec, kind: &str, pid: i32) {
    for n in spec.linux.namespaces.iter_mut().filter(|n| n.kind == kind) {
        n.path = Some(format!("/proc/{pid}/ns/{kind}"));
    }
}

/// Joins the `kind` namespace kept at `path` (a bind-mounted namespace file).
pub fn join_path(spec: &mut Spec, kind: &str, path: &str) {
    for n in spec.linux.namespaces.iter_mut().filter(|n| n.kind == kind) {
        n.path = Some(path.to_string());
    }
}

/// Makes the container's `/dev/shm` a bind of `source`: the host-side tmpfs of a
/// shareable IPC namespace (its own, or that of the container it joins).
pub fn share_shm(spec: &mut Spec, source: &std::path::Path) {
    set_shm(spec, Some(&source.display().to_string()));
}

/// Replaces the container's own `/dev/shm` tmpfs with a bind of `source`, or removes it.
fn set_shm(spec: &mut Spec, source: Option<&str>) {
    let Some(i) = spec
        .mounts
        .iter()
        .position(|m| m.destination == "/dev/shm" && m.kind == "tmpfs")
    else {
        return;
    };
    match source {
        Some(src) => {
            spec.mounts[i] = Mount {
                destination: "/dev/shm".into(),
                kind: "bind".into(),
                source: src.into(),
                options: vec!["rbind".into(), "rprivate".into()],
            }
        }
        None => {
            spec.mounts.remove(i);
        }
    }
}
