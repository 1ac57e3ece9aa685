//! Named volumes (`volume create/ls/inspect/rm/prune`) and the `-v` grammar.
//!
//! ```text
//! <store>/volumes/<name>/_data       the volume's files (Docker's layout)
//! ```
//!
//! Each volume is a record of the store ([`store::VolumeRecord`]: name, creation time,
//! labels), written once its directory exists and forgotten before the directory goes.
//! Volumes an older strata made carry their record in `volume.json`; they are recorded
//! the first time they are listed or looked up.
//!
//! A volume is in use while a container (running or not) names it in a mount; `rm` and
//! `prune` leave such volumes alone (that check is `container::volume_users`'s,
//! as containers are the container module's business). A new, empty volume mounted where the image has files
//! gets a copy of them on first use, as Docker does.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use store::{Layout, Store, VolumeRecord};

use crate::record::{new_id, now_rfc3339, read_json};
use crate::{MountKind, MountSpec, RuntimeError};

/// A volume's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Its name.
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// The directory mounted into containers.
    pub mountpoint: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Made for a container (`-v /path`, an image `VOLUME`) rather than by name.
    #[serde(default)]
    pub anonymous: bool,
}

/// What a `-v` argument asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSpec {
    /// `/host:/ctr`.
    Bind {
        /// The host path.
        source: PathBuf,
        /// The container path.
        destination: String,
        /// `:ro`.
        read_only: bool,
    },
    /// `name:/ctr`.
    Named {
        /// The volume name.
        name: String,
        /// The container path.
        destination: String,
        /// `:ro`.
        read_only: bool,
    },
    /// `/ctr`: a new anonymous volume.
    Anonymous {
        /// The container path.
        destination: String,
    },
}

impl VolumeSpec {
    /// The container path.
    pub fn destination(&self) -> &str {
        match self {
            VolumeSpec::Bind { destination, .. }
            | VolumeSpec::Named { destination, .. }
            | VolumeSpec::Anonymous { destination } => destination,
        }
    }
}

/// The mount option (`-v NAME:/path:nocopy`, `--mount …,volume-nocopy`) that keeps the
/// image's files from being copied into a new volume; not passed to the kernel.
pub const NO_COPY: &str = "nocopy";

/// Whether `name` is a valid local volume name (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

fn invalid_name(name: &str) -> RuntimeError {
    RuntimeError::InvalidOptions(format!(
        "create {name}: \"{name}\" includes invalid characters for a local volume name, only \
         \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, \
         use absolute path"
    ))
}

/// Parses `-v` in Docker's grammar: `/host:/ctr[:ro|rw]`, `name:/ctr[:ro|rw]`, `/ctr`.
pub fn parse_volume_spec(spec: &str) -> Result<VolumeSpec, RuntimeError> {
    let bad = || RuntimeError::InvalidOptions(format!("invalid volume specification: '{spec}'"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, destination, mode) = match parts.as_slice() {
        [d] => (None, *d, None),
        [s, d] => (Some(*s), *d, None),
        [s, d, m] => (Some(*s), *d, Some(*m)),
        _ => return Err(bad()),
    };
    if !destination.starts_with('/') || destination.is_empty() {
        return Err(bad());
    }
    let mut read_only = false;
    for m in mode.unwrap_or("").split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => read_only = true,
            "rw" => read_only = false,
            // SELinux relabelling and propagation flags: accepted, nothing to do here.
            "z" | "Z" | "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
            | "nocopy" => {}
            _ => {
                return Err(RuntimeError::InvalidOptions(format!("invalid mode: {m}")));
            }
        }
    }
    let destination = destination.to_string();
    Ok(match source {
        None => VolumeSpec::Anonymous { destination },
        Some("") => return Err(bad()),
        Some(s) if s.starts_with('/') => VolumeSpec::Bind {
            source: PathBuf::from(s),
            destination,
            read_only,
        },
        Some(s) if valid_name(s) => VolumeSpec::Named {
            name: s.to_string(),
            destination,
            read_only,
        },
        Some(s) => return Err(invalid_name(s)),
    })
}

impl Volume {
    /// The volume a record describes, in `layout`.
    fn of(layout: &Layout, r: VolumeRecord) -> Volume {
        Volume {
            mountpoint: layout.volume(&r.name).join("_data"),
            name: r.name,
            driver: "local".into(),
            created: r.created,
            labels: r.labels,
            anonymous: r.anonymous,
        }
    }
}

/// Creates volume `name` (a random name when `None`), or returns it if it exists.
pub fn create(
    store: &Store,
    name: Option<&str>,
    labels: BTreeMap<String, String>,
) -> Result<Volume, RuntimeError> {
    let (name, anonymous) = match name {
        Some(n) if !valid_name(n) => return Err(invalid_name(n)),
        Some(n) => (n.to_string(), false),
        None => (new_id()?, true),
    };
    if let Some(v) = find(store, &name)? {
        return Ok(v);
    }
    let data = store.layout().volume(&name).join("_data");
    fs::create_dir_all(&data).map_err(|e| RuntimeError::io("create", &data, e))?;
    let record = store.create_volume(&VolumeRecord {
        name,
        created: now_rfc3339(),
        labels,
        anonymous,
    })?;
    crate::events::volume(store.root(), "create", &record.name, &[]);
    Ok(Volume::of(store.layout(), record))
}

/// Volume `name`, recording it first when an older strata made it.
fn find(store: &Store, name: &str) -> Result<Option<Volume>, RuntimeError> {
    if let Some(r) = store.volume(name)? {
        return Ok(Some(Volume::of(store.layout(), r)));
    }
    let legacy = store.layout().volume(name).join("volume.json");
    if !legacy.exists() {
        return Ok(None);
    }
    let old: Volume = read_json(&legacy)?;
    let r = store.create_volume(&VolumeRecord {
        name: name.to_string(),
        created: old.created,
        labels: old.labels,
        anonymous: old.anonymous,
    })?;
    Ok(Some(Volume::of(store.layout(), r)))
}

/// Volume `name`.
pub fn inspect(store: &Store, name: &str) -> Result<Volume, RuntimeError> {
    let found = if valid_name(name) {
        find(store, name)?
    } else {
        None
    };
    found.ok_or_else(|| RuntimeError::InvalidOptions(format!("get {name}: no such volume")))
}

/// Every volume, by name.
pub fn list(store: &Store) -> Result<Vec<Volume>, RuntimeError> {
    // Volumes of an older strata (a `volume.json` and no record) are recorded first.
    let dir = store.layout().volumes_dir();
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            if e.path().join("volume.json").exists() {
                let name = e.file_name().to_string_lossy().into_owned();
                if valid_name(&name) {
                    find(store, &name)?;
                }
            }
        }
    }
    Ok(store
        .volume_records()?
        .into_iter()
        .map(|r| Volume::of(store.layout(), r))
        .collect())
}

/// Removes volume `name` and its data; refused while a container uses it: `users` are
/// the IDs of the containers that mount it, which the caller finds (see
/// `container::volume_users`; this module knows nothing of containers).
pub fn remove_unused(store: &Store, name: &str, users: &[String]) -> Result<(), RuntimeError> {
    inspect(store, name)?;
    if !users.is_empty() {
        return Err(RuntimeError::InvalidOptions(format!(
            "remove {name}: volume is in use - [{}]",
            users.join(", ")
        )));
    }
    // The record goes first, so a crash leaves no half-volume that looks whole.
    store.forget_volume(name)?;
    let dir = store.layout().volume(name);
    let legacy = dir.join("volume.json");
    if let Err(e) = fs::remove_file(&legacy)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(RuntimeError::io("remove", &legacy, e));
    }
    fs::remove_dir_all(&dir).map_err(|e| RuntimeError::io("remove", &dir, e))?;
    crate::events::volume(store.root(), "destroy", name, &[]);
    Ok(())
}

/// Turns a parsed `-v` into a mount, creating the named or anonymous volume it needs.
pub fn to_mount(store: &Store, spec: &VolumeSpec) -> Result<MountSpec, RuntimeError> {
    Ok(match spec {
        VolumeSpec::Bind {
            source,
            destination,
            read_only,
        } => MountSpec {
            kind: MountKind::Bind {
                source: source.clone(),
            },
            destination: destination.clone(),
            read_only: *read_only,
            options: vec![],
        },
        VolumeSpec::Named {
            name,
            destination,
            read_only,
        } => {
            let v = create(store, Some(name), BTreeMap::new())?;
            MountSpec {
                kind: MountKind::Volume {
                    name: v.name,
                    source: v.mountpoint,
                },
                destination: destination.clone(),
                read_only: *read_only,
                options: vec![],
            }
        }
        VolumeSpec::Anonymous { destination } => {
            let v = create(store, None, BTreeMap::new())?;
            MountSpec {
                kind: MountKind::Volume {
                    name: v.name,
                    source: v.mountpoint,
                },
                destination: destination.clone(),
                read_only: false,
                options: vec![],
            }
        }
    })
}

/// Copies what the image has at a volume's mount point into the volume when the volume
/// is empty (Docker's copy-up). `rootfs` is the mounted container root.
pub fn copy_up(rootfs: &Path, destination: &str, data: &Path) -> Result<(), RuntimeError> {
    let empty = fs::read_dir(data)
        .map_err(|e| RuntimeError::io("list", data, e))?
        .next()
        .is_none();
    if !empty {
        return Ok(());
    }
    let Some(src) = crate::inroot::open_dir(rootfs, destination)? else {
        return Ok(());
    };
    let src_path = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&src)
    ));
    let meta = fs::metadata(&src_path).map_err(|e| RuntimeError::io("stat", &src_path, e))?;
    copy_tree(&src_path, data)?;
    // The volume's root takes the owner and mode of the image's directory.
    fs::set_permissions(data, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| RuntimeError::io("chmod", data, e))?;
    std::os::unix::fs::lchown(data, Some(meta.uid()), Some(meta.gid()))
        .map_err(|e| RuntimeError::io("chown", data, e))
}

/// Copies the children of `src` into `dst`: directories, files, symlinks (never
/// followed), with owners and modes.
fn copy_tree(src: &Path, dst: &Path) -> Result<(), RuntimeError> {
    for e in fs::read_dir(src).map_err(|e| RuntimeError::io("list", src, e))? {
        let e = e.map_err(|e| RuntimeError::io("list", src, e))?;
        let from = e.path();
        let to = dst.join(e.file_name());
        let meta = fs::symlink_metadata(&from).map_err(|e| RuntimeError::io("stat", &from, e))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir(&to).map_err(|e| RuntimeError::io("create", &to, e))?;
            copy_tree(&from, &to)?;
        } else if ft.is_symlink() {
            let target =
                fs::read_link(&from).map_err(|e| RuntimeError::io("read link", &from, e))?;
            std::os::unix::fs::symlink(&target, &to)
                .map_err(|e| RuntimeError::io("create", &to, e))?;
        } else if ft.is_file() {
            fs::copy(&from, &to).map_err(|e| RuntimeError::io("copy to", &to, e))?;
        } else {
            // Devices, sockets and fifos are not copied (Docker copies only what tar can).
            continue;
        }
        std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()))
            .map_err(|e| RuntimeError::io("chown", &to, e))?;
        if !ft.is_symlink() {
            fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(|e| RuntimeError::io("chmod", &to, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_volume_specs() {
        let bind = |s: &str, d: &str, ro| VolumeSpec::Bind {
            source: s.into(),
            destination: d.into(),
            read_only: ro,
        };
        let named = |n: &str, d: &str, ro| VolumeSpec::Named {
            name: n.into(),
            destination: d.into(),
            read_only: ro,
        };
        for (spec, want) in [
            ("/h:/c", bind("/h", "/c", false)),
            ("/h:/c:ro", bind("/h", "/c", true)),
            ("/h:/c:rw,z", bind("/h", "/c", false)),
            ("data:/c", named("data", "/c", false)),
            ("my-vol.1:/c:ro", named("my-vol.1", "/c", true)),
            (
                "/c",
                VolumeSpec::Anonymous {
                    destination: "/c".into(),
                },
            ),
        ] {
            assert_eq!(parse_volume_spec(spec).unwrap(), want, "{spec}");
        }
        for (spec, msg) in [
            ("rel", "invalid volume specification: 'rel'"),
            ("/h:rel", "invalid volume specification: '/h:rel'"),
            ("/h:/c:xx", "invalid mode: xx"),
            ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
            (":/c", "invalid volume specification: ':/c'"),
            ("x:/c", "\"x\" includes invalid characters"),
            ("bad name:/c", "includes invalid characters"),
        ] {
            let e = parse_volume_spec(spec).unwrap_err().to_string();
            assert!(e.contains(msg), "{spec}: {e}");
        }
    }

    #[test]
    fn a_volume_with_users_is_not_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let root = &store;
        create(root, Some("data"), BTreeMap::new()).unwrap();
        let e = remove_unused(root, "data", &["abc".into()]).unwrap_err();
        assert!(e.to_string().contains("volume is in use - [abc]"), "{e}");
        assert!(inspect(root, "data").is_ok());
        remove_unused(root, "data", &[]).unwrap();
        assert!(inspect(root, "data").is_err());
    }

    /// A volume of an older strata (its record in `volume.json`) is recorded when first
    /// listed; a directory left by a create killed before its record is no volume.
    #[test]
    fn volumes_of_an_older_strata_are_recorded_and_half_made_ones_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let layout = store.layout();
        let old = Volume {
            name: "old".into(),
            driver: "local".into(),
            mountpoint: layout.volume("old").join("_data"),
            created: "2026-01-02T03:04:05Z".into(),
            labels: [("k".to_string(), "v".to_string())].into(),
            anonymous: false,
        };
        fs::create_dir_all(&old.mountpoint).unwrap();
        fs::write(
            layout.volume("old").join("volume.json"),
            serde_json::to_vec(&old).unwrap(),
        )
        .unwrap();
        fs::create_dir_all(layout.volume("half").join("_data")).unwrap();
        assert_eq!(store.volume("old").unwrap(), None);
        assert_eq!(list(&store).unwrap(), vec![old.clone()]);
        assert_eq!(
            store.volume("old").unwrap().map(|r| r.labels),
            Some(old.labels.clone())
        );
        assert_eq!(inspect(&store, "old").unwrap(), old);
        assert!(inspect(&store, "half").is_err());
        remove_unused(&store, "old", &[]).unwrap();
        assert!(!layout.volume("old").exists());
        assert!(list(&store).unwrap().is_empty());
    }

    #[test]
    fn copy_up_fills_only_empty_volumes() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        fs::create_dir_all(rootfs.join("srv/sub")).unwrap();
        fs::write(rootfs.join("srv/sub/f"), "image").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", rootfs.join("srv/link")).unwrap();
        fs::set_permissions(rootfs.join("srv"), fs::Permissions::from_mode(0o750)).unwrap();
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        copy_up(&rootfs, "/srv", &data).unwrap();
        assert_eq!(fs::read_to_string(data.join("sub/f")).unwrap(), "image");
        assert_eq!(
            fs::read_link(data.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(fs::metadata(&data).unwrap().mode() & 0o777, 0o750);
        // Not empty any more: left alone.
        fs::write(rootfs.join("srv/new"), "x").unwrap();
        copy_up(&rootfs, "/srv", &data).unwrap();
        assert!(!data.join("new").exists());
        // Nothing at the mount point: nothing to copy.
        let other = dir.path().join("other");
        fs::create_dir(&other).unwrap();
        copy_up(&rootfs, "/missing", &other).unwrap();
    }
}
