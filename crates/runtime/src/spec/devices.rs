//! `--device` and `--privileged`: host devices made inside the container, and the device
//! cgroup rules that let the container use them.
//!
//! The flag is parsed as Docker's CLI parses it ([`parse_device`]); the host side is looked
//! up when the spec is built (Docker's daemon does it then too, so `create` accepts a
//! device that `start` then cannot find). A directory adds every device under it, as
//! Docker does. `--privileged` adds every host device and allows all of them.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::types::{DeviceRule, LinuxDevice};
use crate::RuntimeError;

/// One `--device`, as Docker keeps it (`HostConfig.Devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    /// The device (or a directory of devices) on the host.
    pub path_on_host: String,
    /// Where it appears in the container.
    pub path_in_container: String,
    /// Device cgroup access: some of `r`, `w`, `m`.
    pub cgroup_permissions: String,
}

/// Whether `mode` is a device cgroup access string: one to three of `r`, `w`, `m`, each
/// at most once.
fn valid_mode(mode: &str) -> bool {
    !mode.is_empty()
        && mode.len() <= 3
        && mode.chars().all(|c| "rwm".contains(c))
        && mode
            .chars()
            .enumerate()
            .all(|(i, c)| !mode[..i].contains(c))
}

/// Parses `HOST[:CONTAINER][:PERMISSIONS]` as Docker's CLI does: a second field that is a
/// valid mode is the mode; the container path defaults to the host path and must be
/// absolute.
pub fn parse_device(spec: &str) -> Result<DeviceMapping, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, mut dst, mut mode) = (parts[0], "", "rwm");
    match parts.len() {
        1 => {}
        2 | 3 => {
            if parts.len() == 3 {
                mode = parts[2];
            }
            if valid_mode(parts[1]) {
                mode = parts[1];
            } else {
                dst = parts[1];
            }
        }
        _ => return Err(format!("invalid device specification: {spec}")),
    }
    if dst.is_empty() {
        dst = src;
    }
    if !dst.starts_with('/') {
        return Err(format!("{dst} is not an absolute path"));
    }
    if !valid_mode(mode) {
        return Err(format!("bad mode specified: {mode}"));
    }
    Ok(DeviceMapping {
        path_on_host: src.to_string(),
        path_in_container: dst.to_string(),
        cgroup_permissions: mode.to_string(),
    })
}

/// What one host device node is: its type, numbers and owner.
fn node(host: &Path, in_container: &str) -> std::io::Result<Option<LinuxDevice>> {
    let meta = std::fs::metadata(host)?;
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return Ok(None);
    };
    let rdev = meta.rdev();
    Ok(Some(LinuxDevice {
        path: in_container.to_string(),
        kind: kind.to_string(),
        major: rustix::fs::major(rdev) as i64,
        minor: rustix::fs::minor(rdev) as i64,
        file_mode: Some(meta.mode() & 0o777),
        uid: Some(meta.uid()),
        gid: Some(meta.gid()),
    }))
}

/// The device nodes and allow rules one `--device` adds. A directory contributes every
/// device below it, at the same relative path under the container path.
pub fn resolve(
    mapping: &DeviceMapping,
) -> Result<(Vec<LinuxDevice>, Vec<DeviceRule>), RuntimeError> {
    let host = Path::new(&mapping.path_on_host);
    let gather = |e: std::io::Error| {
        RuntimeError::Device(format!(
            "error gathering device information while adding custom device \"{}\": {}",
            mapping.path_on_host,
            crate::go_io_text(&e)
        ))
    };
    let meta = std::fs::metadata(host).map_err(gather)?;
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    if meta.is_dir() {
        for (p, rel) in walk(host) {
            let dest = format!(
                "{}/{}",
                mapping.path_in_container.trim_end_matches('/'),
                rel
            );
            found.push((p, dest));
        }
    } else {
        found.push((host.to_path_buf(), mapping.path_in_container.clone()));
    }
    let mut devices = Vec::new();
    for (p, dest) in found {
        if let Some(d) = node(&p, &dest).map_err(gather)? {
            devices.push(d);
        }
    }
    if devices.is_empty() && !meta.is_dir() {
        return Err(RuntimeError::Device(format!(
            "error gathering device information while adding custom device \"{}\": not a device node",
            mapping.path_on_host
        )));
    }
    let rules = devices
        .iter()
        .map(|d| DeviceRule {
            allow: true,
            kind: Some(d.kind.clone()),
            major: Some(d.major),
            minor: Some(d.minor),
            access: mapping.cgroup_permissions.clone(),
        })
        .collect();
    Ok((devices, rules))
}

/// Every device node below `dir`, with its path relative to `dir`; unreadable entries are
/// skipped, as Docker's walk does.
fn walk(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_char_device() || ft.is_block_device() {
                let rel = p
                    .strip_prefix(dir)
                    .map(|r| r.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push((p, rel));
            }
        }
    }
    out.sort();
    out
}

/// Directories of `/dev` that `--privileged` does not copy: their contents are the
/// container's own mounts (devpts, shm, mqueue) or not devices at all.
const PRIVILEGED_SKIP: [&str; 7] = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// Every host device under `/dev` for `--privileged` (not `/dev/console`, not the
/// container's own pts, shm and mqueue), each at its own path.
pub fn host_devices() -> Vec<LinuxDevice> {
    let dev = Path::new("/dev");
    walk(dev)
        .into_iter()
        .filter(|(_, rel)| {
            let first = rel.split('/').next().unwrap_or("");
            !PRIVILEGED_SKIP.contains(&first) && rel != "console"
        })
        .filter_map(|(p, rel)| node(&p, &format!("/dev/{rel}")).ok().flatten())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs_parse_as_dockers_cli() {
        let ok = |s: &str, host: &str, ctr: &str, mode: &str| {
            assert_eq!(
                parse_device(s),
                Ok(DeviceMapping {
                    path_on_host: host.into(),
                    path_in_container: ctr.into(),
                    cgroup_permissions: mode.into(),
                }),
                "{s}"
            );
        };
        ok("/dev/null", "/dev/null", "/dev/null", "rwm");
        ok("/dev/null:/dev/x", "/dev/null", "/dev/x", "rwm");
        ok("/dev/null:r", "/dev/null", "/dev/null", "r");
        ok("/dev/null:/dev/x:rw", "/dev/null", "/dev/x", "rw");
        ok("/dev/null:mwr", "/dev/null", "/dev/null", "mwr");
        for (s, err) in [
            ("/dev/null:x", "x is not an absolute path"),
            ("/dev/null:/dev/x:rx", "bad mode specified: rx"),
            ("/dev/null:/dev/x:rr", "bad mode specified: rr"),
            ("a:b:c:d", "invalid device specification: a:b:c:d"),
        ] {
            assert_eq!(parse_device(s), Err(err.to_string()), "{s}");
        }
    }

    #[test]
    fn a_device_resolves_to_its_node_and_an_allow_rule() {
        let m = parse_device("/dev/null:/dev/xnull:r").unwrap();
        let (nodes, rules) = resolve(&m).unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].path, "/dev/xnull");
        assert_eq!(
            (nodes[0].kind.as_str(), nodes[0].major, nodes[0].minor),
            ("c", 1, 3)
        );
        assert_eq!(rules[0].access, "r");
        assert!(rules[0].allow);
        let missing = resolve(&parse_device("/dev/strata-none").unwrap()).unwrap_err();
        assert!(
            missing.to_string().contains("no such file or directory"),
            "{missing}"
        );
    }
}
