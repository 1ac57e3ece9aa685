//! Resolving `-u` through the image's `/etc/passwd` and `/etc/group`, as runc (and so
//! Docker) does: `name`, `uid`, `name:group`, `uid:gid`, in any mix.
//!
//! The rules, from runc's `user.GetExecUser`:
//! - an empty user is `0` (root);
//! - the user part matches a passwd entry by name or by uid; a number with no entry is
//!   used as is, with gid 0 and home `/`; a name with no entry is an error;
//! - an explicit group matches a group entry by name or gid (a number with no entry is
//!   used as is); it replaces the passwd gid and no `/etc/group` memberships are added;
//! - without a group, the supplementary groups are those listing the user's name;
//! - and, as Docker does since the CVE-2022-36109 fix (`daemon/oci_linux.go` `getUser`),
//!   the primary gid heads the supplementary list too, so a process that drops or changes
//!   its gid keeps the group's access, as on a login system.

use std::io::Read;
use std::path::Path;

use crate::RuntimeError;
use crate::inroot;

/// The identity a container process runs as.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ExecUser {
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary group IDs: the primary gid first, then the `/etc/group` memberships.
    pub additional_gids: Vec<u32>,
    /// Home directory (`/` when unknown).
    pub home: String,
}

/// Largest id runc accepts.
const MAX_ID: u64 = i32::MAX as u64;

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn parse_id(s: &str) -> Option<u32> {
    s.parse::<u64>()
        .ok()
        .filter(|&n| n <= MAX_ID)
        .map(|n| n as u32)
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        Some(PasswdEntry {
            name: f.first().copied().unwrap_or(""),
            uid: f.get(2).and_then(|s| parse_id(s)).unwrap_or(0),
            gid: f.get(3).and_then(|s| parse_id(s)).unwrap_or(0),
            home: f.get(5).copied().unwrap_or(""),
        })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        Some(GroupEntry {
            name: f.first().copied().unwrap_or(""),
            gid: f.get(2).and_then(|s| parse_id(s)).unwrap_or(0),
            members: f
                .get(3)
                .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        })
    })
}

fn range_error() -> RuntimeError {
    RuntimeError::User(format!("uids and gids must be in range 0-{MAX_ID}"))
}

/// Resolves `spec` (`-u` or the image's `User`) against the text of `/etc/passwd` and
/// `/etc/group` (empty when the image has none).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser, RuntimeError> {
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, g)) => (u, g),
        None => (spec, ""),
    };
    let user_arg = if user_arg.is_empty() { "0" } else { user_arg };
    let numeric_user = user_arg.bytes().all(|b| b.is_ascii_digit());
    let mut out = ExecUser {
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        home: "/".to_string(),
    };
    let found = passwd_entries(passwd)
        .find(|e| e.name == user_arg || (numeric_user && e.uid.to_string() == user_arg));
    let matched_name = match &found {
        Some(e) => {
            out.uid = e.uid;
            out.gid = e.gid;
            if !e.home.is_empty() {
                out.home = e.home.to_string();
            }
            Some(e.name.to_string())
        }
        None if numeric_user => {
            out.uid = parse_id(user_arg).ok_or_else(range_error)?;
            None
        }
        None => {
            return Err(RuntimeError::User(format!(
                "unable to find user {user_arg}: no matching entries in passwd file"
            )));
        }
    };
    if !group_arg.is_empty() {
        let numeric_group = group_arg.bytes().all(|b| b.is_ascii_digit());
        let g = group_entries(group).find(|g| {
            if numeric_group {
                g.gid.to_string() == group_arg
            } else {
                g.name == group_arg
            }
        });
        out.gid = match g {
            Some(g) => g.gid,
            None if numeric_group => parse_id(group_arg).ok_or_else(range_error)?,
            None => {
                return Err(RuntimeError::User(format!(
                    "unable to find group {group_arg}: no matching entries in group file"
                )));
            }
        };
    }
    out.additional_gids.push(out.gid);
    if group_arg.is_empty()
        && let Some(name) = matched_name
    {
        out.additional_gids.extend(
            group_entries(group)
                .filter(|g| g.members.contains(&name.as_str()))
                .map(|g| g.gid),
        );
    }
    Ok(out)
}

/// `--group-add`: each entry a group name or gid found in `group`, or any gid in range
/// (runc's `GetAdditionalGroups`, which Docker's daemon uses); an unknown name is refused
/// in its words.
pub fn additional_groups(entries: &[String], group: &str) -> Result<Vec<u32>, RuntimeError> {
    let mut out = Vec::new();
    for ag in entries {
        let found = group_entries(group).find(|g| g.name == ag || g.gid.to_string() == *ag);
        let gid = match found {
            Some(g) => g.gid,
            None if ag.bytes().all(|b| b.is_ascii_digit()) && !ag.is_empty() => {
                parse_id(ag).ok_or_else(range_error)?
            }
            // A negative number is out of range rather than a name, as runc parses it.
            None if ag
                .strip_prefix('-')
                .is_some_and(|n| n.parse::<u64>().is_ok()) =>
            {
                return Err(range_error());
            }
            None => {
                return Err(RuntimeError::User(format!(
                    "Unable to find group {ag}: no matching entries in group file"
                )));
            }
        };
        if !out.contains(&gid) {
            out.push(gid);
        }
    }
    Ok(out)
}

/// Reads `/etc/passwd` and `/etc/group` inside `rootfs` (symlinks resolve within it; a
/// missing file counts as empty) and resolves `spec`.
pub fn resolve_in_root(rootfs: &Path, spec: &str) -> Result<ExecUser, RuntimeError> {
    resolve_in_root_with_groups(rootfs, spec, &[])
}

/// [`resolve_in_root`] plus the container's `--group-add` groups after the user's own, as
/// Docker's `getUser` does for the container's process and for every `exec -u`.
pub fn resolve_in_root_with_groups(
    rootfs: &Path,
    spec: &str,
    group_add: &[String],
) -> Result<ExecUser, RuntimeError> {
    let passwd = read_optional(rootfs, "etc/passwd")?;
    let group = read_optional(rootfs, "etc/group")?;
    let mut user = resolve(spec, &passwd, &group)?;
    user.additional_gids
        .extend(additional_groups(group_add, &group)?);
    Ok(user)
}

/// At most this much of a passwd or group file is read.
const MAX_FILE: u64 = 16 << 20;

fn read_optional(rootfs: &Path, rel: &str) -> Result<String, RuntimeError> {
    let Some(file) = inroot::open_file(rootfs, rel)? else {
        return Ok(String::new());
    };
    let mut bytes = Vec::new();
    std::fs::File::from(file)
        .take(MAX_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| RuntimeError::io("read", &rootfs.join(rel), e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        # a comment\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        nohome:x:1001:1001::";
    const GROUP: &str = "root:x:0:\n\
        daemon:x:1:\n\
        wheel:x:10:root,app\n\
        app:x:1000:\n\
        audio:x:29:app\n\
        staff:x:50:";

    fn user(uid: u32, gid: u32, extra: &[u32], home: &str) -> ExecUser {
        ExecUser {
            uid,
            gid,
            additional_gids: extra.to_vec(),
            home: home.to_string(),
        }
    }

    /// Docker's resolution: runc's, with the primary gid also in the supplementary groups
    /// (`-u name` and `-u uid:gid` lacked it: the CVE-2022-36109 class).
    #[test]
    fn resolves_like_runc() {
        for (spec, want) in [
            ("", user(0, 0, &[0, 10], "/root")),
            ("root", user(0, 0, &[0, 10], "/root")),
            ("0", user(0, 0, &[0, 10], "/root")),
            ("app", user(1000, 1000, &[1000, 10, 29], "/home/app")),
            ("1000", user(1000, 1000, &[1000, 10, 29], "/home/app")),
            ("app:staff", user(1000, 50, &[50], "/home/app")),
            ("app:50", user(1000, 50, &[50], "/home/app")),
            ("app:4242", user(1000, 4242, &[4242], "/home/app")),
            ("4242", user(4242, 0, &[0], "/")),
            ("4242:4343", user(4242, 4343, &[4343], "/")),
            ("4242:audio", user(4242, 29, &[29], "/")),
            ("nohome", user(1001, 1001, &[1001], "/")),
            ("daemon", user(1, 1, &[1], "/usr/sbin")),
        ] {
            assert_eq!(resolve(spec, PASSWD, GROUP).unwrap(), want, "{spec}");
        }
    }

    #[test]
    fn rejects_unknown_names_and_big_ids() {
        for (spec, want) in [
            (
                "nobody",
                "unable to find user nobody: no matching entries in passwd file",
            ),
            (
                "app:nogroup",
                "unable to find group nogroup: no matching entries in group file",
            ),
            ("4294967296", "uids and gids must be in range 0-2147483647"),
            (
                "1:2147483648",
                "uids and gids must be in range 0-2147483647",
            ),
        ] {
            let err = resolve(spec, PASSWD, GROUP).unwrap_err();
            assert_eq!(err.to_string(), want, "{spec}");
        }
    }

    /// Regression (group_add_name, group_add_number): strata had no `--group-add`.
    #[test]
    fn group_add_takes_names_and_numbers_like_runc() {
        let g = |e: &[&str]| {
            additional_groups(&e.iter().map(|s| s.to_string()).collect::<Vec<_>>(), GROUP)
        };
        assert_eq!(g(&["wheel"]).unwrap(), [10]);
        assert_eq!(
            g(&["4242", "audio", "50", "wheel", "10"]).unwrap(),
            [4242, 29, 50, 10]
        );
        for (entry, want) in [
            (
                "nosuch",
                "Unable to find group nosuch: no matching entries in group file",
            ),
            ("99999999999", "uids and gids must be in range 0-2147483647"),
            ("-1", "uids and gids must be in range 0-2147483647"),
        ] {
            assert_eq!(g(&[entry]).unwrap_err().to_string(), want, "{entry}");
        }
    }

    #[test]
    fn group_add_follows_the_users_own_groups() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(dir.path().join("etc/group"), GROUP).unwrap();
        let add = ["staff".to_string(), "4242".to_string()];
        let u = resolve_in_root_with_groups(dir.path(), "app", &add).unwrap();
        assert_eq!(u, user(1000, 1000, &[1000, 10, 29, 50, 4242], "/home/app"));
        let u = resolve_in_root_with_groups(dir.path(), "1000:10", &add).unwrap();
        assert_eq!(u.additional_gids, [10, 50, 4242]);
    }

    #[test]
    fn no_passwd_file_allows_numbers_only() {
        assert_eq!(resolve("7:8", "", "").unwrap(), user(7, 8, &[8], "/"));
        assert!(resolve("app", "", "").is_err());
    }

    #[test]
    fn reads_files_through_symlinks_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/passwd"), PASSWD).unwrap();
        // An absolute link must resolve inside the root, not to the host's file.
        std::os::unix::fs::symlink("/data/passwd", root.join("etc/passwd")).unwrap();
        std::fs::write(root.join("etc/group"), GROUP).unwrap();
        let u = resolve_in_root(root, "app").unwrap();
        assert_eq!(u, user(1000, 1000, &[1000, 10, 29], "/home/app"));
        // No files at all: numbers only.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            resolve_in_root(empty.path(), "5").unwrap(),
            user(5, 0, &[0], "/")
        );
    }
}
