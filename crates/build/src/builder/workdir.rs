//! WORKDIR as BuildKit does it: the directory is created (`mkdir -p`, mode 0755, owned by
//! the stage's USER) in a layer of its own, even when nothing in the build uses it.
//! Directories that already exist keep their attributes; `WORKDIR /` adds no layer.

use super::layers::Prepared;
use super::*;
use crate::copy::{Entry, Kind};

impl<'a> Builder<'a> {
    /// The layer step of a WORKDIR whose path (absolute, clean) is already in the config.
    pub(super) fn prepare_workdir(&self, img: &StageImage, cmd: &Command) -> Prepared {
        let path = img.config.config.working_dir.clone().unwrap_or_default();
        let user = img.config.config.user.clone().filter(|u| !u.is_empty());
        // The user's name is resolved when the step runs; the parent key fixes its meaning.
        let text = format!("WORKDIR {path} user={}", user.as_deref().unwrap_or(""));
        Prepared::Workdir {
            text,
            path,
            user,
            line: cmd.location.start_line,
        }
    }

    /// Writes the WORKDIR layer: every missing directory of `path`, owned by `user`.
    pub(super) fn workdir_layer(
        &mut self,
        img: &StageImage,
        path: &str,
        user: Option<&str>,
        line: usize,
    ) -> Result<(Descriptor, Digest), BuildError> {
        let lower = Lower::of(self.store, &img.layers, &mut self.lower_memo)?;
        let (uid, gid) = match user {
            None => (0, 0),
            Some(u) => self.resolve_user(img, u, line)?,
        };
        let mtime = self.req.source_date_epoch.unwrap_or_else(unique_secs);
        let entries = missing_dirs(&lower, path, uid, gid, mtime).map_err(|message| {
            BuildError::Dockerfile {
                file: self.file.clone(),
                line,
                message,
            }
        })?;
        let entries = lower.complete(entries, mtime, (uid, gid));
        self.write_layer(|w| copy::write_tar(&entries, w, self.req.source_date_epoch))
    }

    /// USER as BuildKit resolves it for files it creates: `name[:group]` through the
    /// stage's `/etc/passwd` and `/etc/group`, the group defaulting to the user's primary
    /// group.
    fn resolve_user(
        &self,
        img: &StageImage,
        spec: &str,
        line: usize,
    ) -> Result<(u64, u64), BuildError> {
        let passwd = crate::lower::read_file(self.store, &img.layers, "etc/passwd")?;
        let group = crate::lower::read_file(self.store, &img.layers, "etc/group")?;
        let (user, grp) = spec.split_once(':').unwrap_or((spec, ""));
        let missing = |what: &str, name: &str| BuildError::Unsupported {
            instruction: "WORKDIR".into(),
            line,
            message: format!("unable to find {what} {name}: no matching entries in passwd file"),
        };
        let entry = crate::lower::passwd_entry(passwd.as_deref(), user)
            .or_else(|| (user == "root").then_some((0, 0)))
            .ok_or_else(|| missing("user", user))?;
        let gid = if grp.is_empty() {
            entry.1
        } else {
            grp.parse::<u64>()
                .ok()
                .or_else(|| crate::lower::lookup_id(group.as_deref(), grp))
                .ok_or_else(|| missing("group", grp))?
        };
        Ok((entry.0, gid))
    }
}

/// Seconds since the epoch, now.
fn unique_secs() -> i64 {
    (unique() / 1_000_000_000) as i64
}

/// The directories of `path` that `lower` lacks (its symlinks followed), as layer entries.
/// A file on the way fails, as `mkdir -p` does in Docker.
fn missing_dirs(
    lower: &Lower,
    path: &str,
    uid: u64,
    gid: u64,
    mtime: i64,
) -> Result<Vec<Entry>, String> {
    // A trailing "." makes the last component resolve through a symlink too.
    let real = lower.resolve_parents(&format!("{}/.", copy::clean_dest(path)));
    let mut out = Vec::new();
    let mut prefix = String::new();
    for c in real.split('/').filter(|c| !c.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(c);
        match lower.get(&prefix) {
            Some(Node::Dir(..)) => {}
            Some(Node::Other) => return Err(format!("mkdir /{prefix}: not a directory")),
            _ => out.push(Entry {
                name: prefix.clone(),
                kind: Kind::Dir,
                mode: 0o755,
                uid,
                gid,
                mtime,
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_creates_only_missing_dirs_with_the_owner() {
        let lower = Lower::from_nodes([
            ("etc".to_string(), Node::Dir(0o755, 0, 0, 1)),
            ("etc/passwd".to_string(), Node::Other),
            ("w".to_string(), Node::Dir(0o700, 5, 5, 1)),
            ("lnk".to_string(), Node::Symlink("w".into())),
        ]);
        for (path, want) in [
            ("/etc", vec![]),
            ("/etc/new/deep", vec!["etc/new", "etc/new/deep"]),
            ("/w/x", vec!["w/x"]),
            ("/lnk/y", vec!["w/y"]),
            ("/lnk", vec![]),
            ("/d/x", vec!["d", "d/x"]),
        ] {
            let got = missing_dirs(&lower, path, 1000, 1000, 7).unwrap();
            let names: Vec<&str> = got.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(names, want, "{path}");
            assert!(
                got.iter()
                    .all(|e| (e.uid, e.gid, e.mode) == (1000, 1000, 0o755))
            );
        }
        assert_eq!(
            missing_dirs(&lower, "/etc/passwd/x", 0, 0, 7).unwrap_err(),
            "mkdir /etc/passwd: not a directory"
        );
    }
}
