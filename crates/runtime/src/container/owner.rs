//! Who a container directory belongs to while nothing else vouches for it.
//!
//! A container directory is made under a staging name that carries its creator's PID
//! (`containers/.creating-<pid>-<id>`), gets an `owner` file (`<pid> <start time>`) and
//! only then is renamed to `containers/<id>`: so every `<id>` directory has an owner file
//! from its first instant, and a staging directory names its creator. `create` removes
//! the owner file as its last step; a container created with [`super::create_owned`] (a
//! build's RUN container) keeps it for life, since it means nothing once its creator is
//! gone. A directory whose owner is dead is what a killed process left: see
//! [`super::reap`].
//!
//! The owner's start time (field 22 of `/proc/<pid>/stat`) guards against PID reuse: a
//! new process with the dead owner's PID does not keep the remains alive.

use std::fs;
use std::path::{Path, PathBuf};

use store::Layout;

use crate::RuntimeError;

/// The name of the owner file in a container directory.
pub(crate) const OWNER_FILE: &str = "owner";
/// The prefix of a staging directory: `.creating-<pid>-<id>`.
pub(crate) const STAGING_PREFIX: &str = ".creating-";

/// A process, as `/proc` identifies it across PID reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pid: u32,
    start: u64,
}

impl Owner {
    /// This process.
    pub(crate) fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// Whether this process still runs (the same one: same PID, same start time).
    pub(crate) fn alive(&self) -> bool {
        match start_time(self.pid) {
            Some(start) => self.start == 0 || start == self.start,
            None => false,
        }
    }

    fn parse(text: &str) -> Option<Owner> {
        let mut it = text.split_whitespace();
        let pid = it.next()?.parse().ok()?;
        let start = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        Some(Owner { pid, start })
    }

    /// The owner recorded in container directory `dir`: `None` when there is no owner
    /// file (a complete container of nobody in particular). An unreadable or empty file
    /// (a kill mid-write) is owned by nobody alive.
    pub(crate) fn of_dir(dir: &Path) -> Option<Option<Owner>> {
        match fs::read_to_string(dir.join(OWNER_FILE)) {
            Ok(text) => Some(Owner::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => Some(None),
        }
    }

    /// The creator named by a staging directory's name (`.creating-<pid>-<id>`), with no
    /// start time: the window in which it matters is a few system calls long.
    pub(crate) fn of_staging(name: &str) -> Option<Owner> {
        let pid = name.strip_prefix(STAGING_PREFIX)?.split('-').next()?;
        Some(Owner {
            pid: pid.parse().ok()?,
            start: 0,
        })
    }
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Makes the directory of container `id` under `containers` with an owner file naming
/// this process, through a staging directory (see the module documentation).
pub(crate) fn make_owned_dir(layout: &Layout, id: &str) -> Result<PathBuf, RuntimeError> {
    let me = Owner::current();
    let staging = layout
        .containers_dir()
        .join(format!("{STAGING_PREFIX}{}-{id}", me.pid));
    fs::create_dir(&staging).map_err(|e| RuntimeError::io("create", &staging, e))?;
    let owner = staging.join(OWNER_FILE);
    let made = fs::write(&owner, format!("{} {}\n", me.pid, me.start))
        .map_err(|e| RuntimeError::io("create", &owner, e));
    let target = layout.container(id);
    let made = made.and_then(|()| {
        fs::rename(&staging, &target).map_err(|e| RuntimeError::io("create", &target, e))
    });
    if let Err(e) = made {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    Ok(target)
}

/// Marks container directory `dir` complete: nobody owns it any more.
pub(crate) fn release(dir: &Path) -> Result<(), RuntimeError> {
    let owner = dir.join(OWNER_FILE);
    match fs::remove_file(&owner) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io("remove", &owner, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not_its_owner() {
        let me = Owner::current();
        assert!(me.start > 0, "a start time is read from /proc");
        assert!(me.alive());
        let impostor = Owner {
            start: me.start + 1,
            ..me
        };
        assert!(!impostor.alive(), "same PID, another start time");
        assert!(
            !Owner {
                pid: u32::MAX - 1,
                start: 0
            }
            .alive()
        );
    }

    #[test]
    fn an_owned_dir_names_its_owner_until_released() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        fs::create_dir(layout.containers_dir()).unwrap();
        let dir = make_owned_dir(&layout, "abc").unwrap();
        assert_eq!(dir, layout.container("abc"));
        assert_eq!(Owner::of_dir(&dir), Some(Some(Owner::current())));
        // Nothing of the staging directory is left.
        let names: Vec<_> = fs::read_dir(layout.containers_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["abc"]);
        release(&dir).unwrap();
        assert_eq!(Owner::of_dir(&dir), None);
        fs::write(dir.join(OWNER_FILE), "").unwrap();
        assert_eq!(Owner::of_dir(&dir), Some(None), "a torn owner file");
    }

    #[test]
    fn a_staging_dir_names_its_creator() {
        let me = std::process::id();
        let o = Owner::of_staging(&format!(".creating-{me}-0123abc")).unwrap();
        assert!(o.alive());
        assert!(Owner::of_staging("0123abc").is_none());
        assert!(Owner::of_staging(".creating-x-0123abc").is_none());
    }
}
