//! `--mount` in `container inspect`, as Docker shows it: each in `Mounts` (tmpfs ones
//! too, unlike `--tmpfs`; volumes with mode `z`, binds with their propagation), none in
//! `HostConfig.Binds` or `HostConfig.Tmpfs`, and the values as given in
//! `HostConfig.Mounts`.

use runtime::{MountFlag, MountKind, MountSpec, RunOptions};
use serde_json::{Map, Value, json};

/// The `--mount` that made `m`, if one did.
pub fn flag_of<'a>(o: &'a RunOptions, m: &MountSpec) -> Option<&'a MountFlag> {
    o.mount_flags.iter().find(|f| f.target == m.destination)
}

/// The `Mounts[]` entry (Docker's `MountPoint`) of `m`, made by `--mount` `f`.
pub fn mount_point(f: &MountFlag, m: &MountSpec) -> Value {
    let mut v = Map::new();
    let (kind, name, source) = match &m.kind {
        MountKind::Bind { source } => ("bind", None, source.display().to_string()),
        MountKind::Volume { name, source } => {
            ("volume", Some(name.clone()), source.display().to_string())
        }
        MountKind::Tmpfs => ("tmpfs", None, String::new()),
    };
    v.insert("Type".into(), json!(kind));
    if let Some(n) = &name {
        v.insert("Name".into(), json!(n));
    }
    v.insert("Source".into(), json!(source));
    v.insert("Destination".into(), json!(m.destination));
    if name.is_some() {
        v.insert("Driver".into(), json!("local"));
    }
    v.insert("Mode".into(), json!(if name.is_some() { "z" } else { "" }));
    v.insert("RW".into(), json!(!m.read_only));
    let propagation = match kind {
        "bind" => f.propagation.clone().unwrap_or_else(|| "rprivate".into()),
        _ => String::new(),
    };
    v.insert("Propagation".into(), json!(propagation));
    Value::Object(v)
}

/// `HostConfig.Mounts`: the `--mount` values (Docker's `mount.Mount`, empty fields left
/// out).
fn host_config_mounts(flags: &[MountFlag]) -> Value {
    let entries: Vec<Value> = flags
        .iter()
        .map(|f| {
            let mut v = Map::new();
            v.insert("Type".into(), json!(f.kind));
            if !f.source.is_empty() {
                v.insert("Source".into(), json!(f.source));
            }
            v.insert("Target".into(), json!(f.target));
            if f.read_only {
                v.insert("ReadOnly".into(), json!(true));
            }
            if let Some(p) = &f.propagation {
                v.insert("BindOptions".into(), json!({"Propagation": p}));
            }
            if f.no_copy {
                v.insert(
                    "VolumeOptions".into(),
                    json!({"NoCopy": true, "DriverConfig": {}}),
                );
            }
            let mut tmpfs = Map::new();
            if let Some(size) = f.tmpfs_size {
                tmpfs.insert("SizeBytes".into(), json!(size));
            }
            if let Some(mode) = f.tmpfs_mode {
                tmpfs.insert("Mode".into(), json!(mode));
            }
            if !tmpfs.is_empty() {
                v.insert("TmpfsOptions".into(), Value::Object(tmpfs));
            }
            Value::Object(v)
        })
        .collect();
    json!(entries)
}

/// Adds `HostConfig.Mounts` (only when `--mount` was given: `omitempty`) where Docker's
/// struct has it, before `MaskedPaths`.
pub fn with_host_config_mounts(flags: &[MountFlag], host_config: Value) -> Value {
    let Value::Object(old) = host_config else {
        return host_config;
    };
    if flags.is_empty() {
        return Value::Object(old);
    }
    let mut out = Map::new();
    let mut mounts = Some(host_config_mounts(flags));
    for (k, v) in old {
        if k == "MaskedPaths"
            && let Some(m) = mounts.take()
        {
            out.insert("Mounts".into(), m);
        }
        out.insert(k, v);
    }
    if let Some(m) = mounts {
        out.insert("Mounts".into(), m);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--mount` mounts showed as `-v` ones (a bind listed in `Binds`, a tmpfs missing
    /// from `Mounts`, no `HostConfig.Mounts`).
    #[test]
    fn mount_flags_inspect_as_docker_shows_them() {
        let bind = MountFlag {
            kind: "bind".into(),
            source: "/h".into(),
            target: "/c".into(),
            read_only: true,
            propagation: Some("rshared".into()),
            ..Default::default()
        };
        let tmpfs = MountFlag {
            kind: "tmpfs".into(),
            target: "/t".into(),
            tmpfs_size: Some(1 << 20),
            tmpfs_mode: Some(0o700),
            ..Default::default()
        };
        let anon = MountFlag {
            kind: "volume".into(),
            target: "/a".into(),
            no_copy: true,
            ..Default::default()
        };
        let hc = with_host_config_mounts(
            &[bind.clone(), tmpfs.clone(), anon],
            json!({"Binds": null, "MaskedPaths": [], "Init": true}),
        );
        let keys: Vec<&String> = hc.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Binds", "Mounts", "MaskedPaths", "Init"]);
        assert_eq!(
            hc["Mounts"].to_string(),
            r#"[{"Type":"bind","Source":"/h","Target":"/c","ReadOnly":true,"BindOptions":{"Propagation":"rshared"}},{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":448}},{"Type":"volume","Target":"/a","VolumeOptions":{"NoCopy":true,"DriverConfig":{}}}]"#
        );
        let none = with_host_config_mounts(&[], json!({"MaskedPaths": []}));
        assert!(none.get("Mounts").is_none());
        let spec = MountSpec {
            kind: MountKind::Tmpfs,
            destination: "/t".into(),
            read_only: false,
            options: vec![],
        };
        assert_eq!(
            mount_point(&tmpfs, &spec).to_string(),
            r#"{"Type":"tmpfs","Source":"","Destination":"/t","Mode":"","RW":true,"Propagation":""}"#
        );
        let spec = MountSpec {
            kind: MountKind::Bind {
                source: "/h".into(),
            },
            destination: "/c".into(),
            read_only: true,
            options: vec!["rshared".into()],
        };
        assert_eq!(
            mount_point(&bind, &spec).to_string(),
            r#"{"Type":"bind","Source":"/h","Destination":"/c","Mode":"","RW":false,"Propagation":"rshared"}"#
        );
    }
}
