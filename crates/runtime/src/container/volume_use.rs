//! Which containers use a volume, and the removals that must ask: `volume rm`, `volume
//! prune` and a container's anonymous volumes. Here, not in [`crate::volumes`], so that
//! volumes know nothing of containers (containers mount volumes, not the other way).

use std::path::Path;

use store::Store;

use super::list;
use crate::{MountKind, RuntimeError, volumes};

/// IDs of the containers that mount volume `name`.
pub fn volume_users(store_root: &Path, name: &str) -> Result<Vec<String>, RuntimeError> {
    Ok(list(store_root)?
        .into_iter()
        .filter(|c| {
            c.record
                .options
                .mounts
                .iter()
                .any(|m| matches!(&m.kind, MountKind::Volume { name: n, .. } if n == name))
        })
        .map(|c| c.record.id)
        .collect())
}

/// Removes volume `name` and its data; refused while a container uses it.
pub fn remove_volume(store: &Store, name: &str) -> Result<(), RuntimeError> {
    volumes::inspect(store, name)?;
    volumes::remove_unused(store, name, &volume_users(store.root(), name)?)
}

/// Removes unused volumes: anonymous ones, or all when `all` (Docker 23+'s `prune -a`).
/// Returns the names removed.
pub fn prune_volumes(store: &Store, all: bool) -> Result<Vec<String>, RuntimeError> {
    prune_volumes_matching(store, all, &|_| true)
}

/// [`prune_volumes`] of the volumes `allowed` lets go (`--filter label=`).
pub fn prune_volumes_matching(
    store: &Store,
    all: bool,
    allowed: &dyn Fn(&volumes::Volume) -> bool,
) -> Result<Vec<String>, RuntimeError> {
    let mut removed = Vec::new();
    for v in volumes::list(store)? {
        if (all || v.anonymous) && allowed(&v) && volume_users(store.root(), &v.name)?.is_empty() {
            remove_volume(store, &v.name)?;
            removed.push(v.name);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;

    use super::*;

    #[test]
    fn volume_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let root = &store;
        let v = volumes::create(root, Some("data"), BTreeMap::new()).unwrap();
        assert!(v.mountpoint.ends_with("volumes/data/_data") && v.mountpoint.is_dir());
        fs::write(v.mountpoint.join("f"), "x").unwrap();
        // Creating again returns the same volume, data intact.
        assert_eq!(
            volumes::create(root, Some("data"), BTreeMap::new()).unwrap(),
            v
        );
        assert!(v.mountpoint.join("f").exists());
        let anon = volumes::create(root, None, BTreeMap::new()).unwrap();
        assert!(anon.anonymous && anon.name.len() == 64);
        let names: Vec<String> = volumes::list(root)
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names.len(), 2);
        assert_eq!(prune_volumes(root, false).unwrap(), vec![anon.name.clone()]);
        assert!(volumes::inspect(root, &anon.name).is_err());
        remove_volume(root, "data").unwrap();
        assert!(volumes::list(root).unwrap().is_empty());
        assert!(
            remove_volume(root, "data")
                .unwrap_err()
                .to_string()
                .contains("no such volume")
        );
        assert!(volumes::create(root, Some("x"), BTreeMap::new()).is_err());
    }
}
