//! The mount points a RUN leaves in its layer, made to match what BuildKit (Docker 20.10)
//! leaves.
//!
//! BuildKit runs the command straight on the stage's snapshot, so the runtime creates
//! every mount point the image lacks in the layer itself: `/dev`, `/proc` and `/sys`
//! (root 0755), the parents of `/etc/hosts` and `/etc/resolv.conf`, and each `--mount`
//! target with its parents. Afterwards its stub cleaner removes only the leaf stubs that are
//! empty *files* (`/etc/hosts`, a file bind); directories stay, and so does the parent
//! whose content changed (`/etc` is in every RUN layer when the image lacks either file).
//!
//! strata's runtime instead makes its mount points in an init layer below the container
//! (as `docker run` does), so the upper directory lacks what BuildKit's layer has. This
//! module adds it, and removes the empty file stubs the runtime made for `--mount` targets.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::BuildError;
use crate::copy::clean_dest;
use crate::lower::{Lower, Node};

/// What runc mounts over on its own (a tmpfs `/dev`, procfs, sysfs).
const RUNTIME_DIRS: [&str; 3] = ["dev", "proc", "sys"];

/// The files BuildKit binds into every RUN.
const ETC_FILES: [&str; 2] = ["etc/hosts", "etc/resolv.conf"];

/// Rewrites a RUN's `upper` directory (over `lower`, with user mounts at `targets`) to hold
/// the mount points BuildKit's layer would hold, no more and no less.
pub fn match_buildkit(upper: &Path, lower: &Lower, targets: &[String]) -> Result<(), BuildError> {
    for t in targets {
        let p = upper.join(clean_dest(t));
        if let Ok(meta) = fs::symlink_metadata(&p)
            && meta.is_file()
            && meta.len() == 0
        {
            fs::remove_file(&p).map_err(|e| BuildError::io("remove", &p, e))?;
        }
    }
    for d in RUNTIME_DIRS {
        if lower.get(d).is_none() {
            ensure_dir(upper, lower, d)?;
        }
    }
    for f in ETC_FILES {
        let real = lower.resolve_parents(f);
        if lower.get(&real).is_none()
            && let Some((parent, _)) = real.rsplit_once('/')
        {
            ensure_dir(upper, lower, parent)?;
        }
    }
    Ok(())
}

/// Makes `rel` and its parents directories in `upper` unless the upper already has an entry
/// there (the command's own change, or a whiteout, wins). A directory the lower has keeps
/// its mode and owner; a new one is root 0755, as runc makes it.
fn ensure_dir(upper: &Path, lower: &Lower, rel: &str) -> Result<(), BuildError> {
    let mut prefix = String::new();
    for c in rel.split('/').filter(|c| !c.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(c);
        let p = upper.join(&prefix);
        if fs::symlink_metadata(&p).is_ok() {
            continue;
        }
        let (mode, uid, gid) = match lower.get(&prefix) {
            Some(Node::Dir(m, u, g, _)) => (*m & 0o7777, *u, *g),
            Some(_) => return Ok(()),
            None => (0o755, 0, 0),
        };
        fs::create_dir(&p).map_err(|e| BuildError::io("create", &p, e))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .map_err(|e| BuildError::io("chmod", &p, e))?;
        std::os::unix::fs::lchown(&p, Some(uid as u32), Some(gid as u32))
            .map_err(|e| BuildError::io("chown", &p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in walk(dir, dir) {
            out.push(e);
        }
        out.sort();
        out
    }

    fn walk(root: &Path, dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            out.push(format!(
                "{rel} {}{:o}",
                if m.is_dir() { "d" } else { "f" },
                m.permissions().mode() & 0o7777
            ));
            if m.is_dir() {
                out.extend(walk(root, &e.path()));
            }
        }
        out
    }

    #[test]
    fn run_layer_keeps_the_mount_points_buildkit_keeps() {
        // Each row checked against Docker 20.10's RUN layers.
        let with_etc = |hosts: bool| {
            let mut n = vec![("etc".to_string(), Node::Dir(0o750, 0, 0, 1))];
            for d in RUNTIME_DIRS {
                n.push((d.to_string(), Node::Dir(0o755, 0, 0, 1)));
            }
            if hosts {
                for f in ETC_FILES {
                    n.push((f.to_string(), Node::Other));
                }
            }
            n
        };
        for (name, nodes, stubs, want) in [
            (
                "bare image: dev, etc, proc, sys appear",
                vec![],
                vec![],
                vec!["dev d755", "etc d755", "proc d755", "sys d755"],
            ),
            (
                "etc without hosts: etc (its own mode) appears",
                with_etc(false),
                vec![],
                vec!["etc d750"],
            ),
            (
                "everything there: nothing appears",
                with_etc(true),
                vec![],
                vec![],
            ),
            (
                "mount stubs: empty files go, directories and parents stay",
                with_etc(true),
                vec!["c/", "c/d.txt", "a/", "a/b/", "keep/", "keep/full"],
                vec![
                    "a d755",
                    "a/b d755",
                    "c d755",
                    "keep d755",
                    "keep/full f644",
                ],
            ),
        ] {
            let upper = tempfile::tempdir().unwrap();
            for s in &stubs {
                let p = upper.path().join(s);
                if s.ends_with('/') {
                    fs::create_dir(&p).unwrap();
                    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
                } else {
                    fs::write(&p, if s.ends_with("full") { "x" } else { "" }).unwrap();
                    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
                }
            }
            let lower = Lower::from_nodes(nodes);
            let targets: Vec<String> = ["/c/d.txt", "/a/b", "/keep/full"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            match_buildkit(upper.path(), &lower, &targets).unwrap();
            assert_eq!(listing(upper.path()), want, "{name}");
        }
    }
}
