//! `--mount type=bind|volume|tmpfs,source=…,target=…,…`: Docker's CSV syntax with its key
//! aliases (parsed as the CLI does: a bad key is a usage error), then the daemon's checks
//! (a missing bind source is an error, unlike `-v`), turned into the same mounts as `-v`
//! and `--tmpfs`.

use std::path::{Path, PathBuf};

use runtime::volumes::VolumeSpec;
use runtime::{MountFlag, MountKind, MountSpec};

/// What a `--mount` becomes: a `-v`-like volume or bind (made by the `-v` machinery),
/// or a tmpfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A bind or (named or anonymous) volume, with its extra options.
    Volume {
        /// What `-v` would have parsed.
        spec: VolumeSpec,
        /// `readonly` (an anonymous `VolumeSpec` has no mode of its own).
        read_only: bool,
        /// Extra mount options (`rslave`, `nocopy`).
        options: Vec<String>,
    },
    /// A tmpfs mount.
    Tmpfs(MountSpec),
}

/// Go's `strconv.ParseBool`.
fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("invalid value for {key}: {v}")),
    }
}

/// Parses one `--mount` value with the CLI's messages (Docker's `opts.MountOpt`).
pub fn parse(s: &str) -> Result<MountFlag, String> {
    let mut m = MountFlag {
        kind: "volume".into(),
        ..Default::default()
    };
    for field in s.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let Some(value) = value else {
            match key.as_str() {
                "readonly" | "ro" => m.read_only = true,
                "volume-nocopy" => m.no_copy = true,
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        match key.as_str() {
            "type" => m.kind = value.to_ascii_lowercase(),
            "source" | "src" => m.source = value.to_string(),
            "target" | "dst" | "destination" => m.target = value.to_string(),
            "readonly" | "ro" => m.read_only = parse_bool(&key, value)?,
            "volume-nocopy" => m.no_copy = parse_bool(&key, value)?,
            "bind-propagation" => m.propagation = Some(value.to_ascii_lowercase()),
            // Accepted and without effect here, as on Linux.
            "consistency" | "bind-nonrecursive" | "volume-driver" | "volume-label"
            | "volume-opt" => {}
            "tmpfs-size" => {
                m.tmpfs_size = Some(
                    super::create::parse_bytes(value)
                        .map_err(|_| format!("invalid value for {key}: {value}"))?,
                )
            }
            "tmpfs-mode" => {
                m.tmpfs_mode = Some(
                    u32::from_str_radix(value, 8)
                        .map_err(|_| format!("invalid value for {key}: {value}"))?,
                )
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    Ok(m)
}

/// The daemon's refusal of a `--mount` whose target another mount (`-v`, `--tmpfs`, another
/// `--mount`) also has; `others` are the targets of `-v` and `--tmpfs` (which may repeat
/// among themselves).
pub fn check_duplicates(flags: &[MountFlag], others: &[&str]) -> anyhow::Result<()> {
    let clean = |p: &str| Path::new(p).components().collect::<PathBuf>();
    for (i, f) in flags.iter().enumerate() {
        let t = clean(&f.target);
        let taken = others.iter().any(|o| clean(o) == t)
            || flags[..i].iter().any(|g| clean(&g.target) == t);
        if taken {
            anyhow::bail!("Duplicate mount point: {}", f.target);
        }
    }
    Ok(())
}

/// The daemon's checks of a parsed `--mount`, then what it becomes.
pub fn resolve(m: &MountFlag) -> anyhow::Result<Resolved> {
    let kind = &m.kind;
    let bad = |why: String| anyhow::anyhow!("invalid mount config for type {kind:?}: {why}");
    let absolute = |p: &str| {
        if Path::new(p).is_absolute() {
            Ok(())
        } else {
            Err(bad(format!(
                "invalid mount path: '{p}' mount path must be absolute"
            )))
        }
    };
    absolute(&m.target)?;
    match kind.as_str() {
        "bind" => {
            if m.source.is_empty() {
                return Err(bad("field Source must not be empty".into()));
            }
            absolute(&m.source)?;
            if !Path::new(&m.source).exists() {
                return Err(bad(format!(
                    "bind source path does not exist: {}",
                    m.source
                )));
            }
            Ok(Resolved::Volume {
                spec: VolumeSpec::Bind {
                    source: PathBuf::from(&m.source),
                    destination: m.target.clone(),
                    read_only: m.read_only,
                },
                read_only: m.read_only,
                options: m.propagation.iter().cloned().collect(),
            })
        }
        "volume" => {
            let spec = if m.source.is_empty() {
                VolumeSpec::Anonymous {
                    destination: m.target.clone(),
                }
            } else {
                VolumeSpec::Named {
                    name: m.source.clone(),
                    destination: m.target.clone(),
                    read_only: m.read_only,
                }
            };
            Ok(Resolved::Volume {
                spec,
                read_only: m.read_only,
                options: if m.no_copy {
                    vec![runtime::volumes::NO_COPY.to_string()]
                } else {
                    Vec::new()
                },
            })
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(bad("field Source must not be specified".into()));
            }
            let mut options = Vec::new();
            if let Some(size) = m.tmpfs_size {
                options.push(format!("size={size}"));
            }
            if let Some(mode) = m.tmpfs_mode {
                options.push(format!("mode={mode:o}"));
            }
            Ok(Resolved::Tmpfs(MountSpec {
                kind: MountKind::Tmpfs,
                destination: m.target.clone(),
                read_only: m.read_only,
                options,
            }))
        }
        _ => Err(bad("mount type unknown".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--mount` was an unknown flag: Docker's keys and aliases, and its CLI messages.
    #[test]
    fn mount_flag_parses_dockers_keys() {
        let m = parse("type=bind,src=/a,dst=/b,ro,bind-propagation=rslave").unwrap();
        assert_eq!(
            (
                m.kind.as_str(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only
            ),
            ("bind", "/a", "/b", true)
        );
        assert_eq!(m.propagation.as_deref(), Some("rslave"));
        let m = parse("source=v,destination=/v,volume-nocopy,readonly=false").unwrap();
        assert_eq!(
            (m.kind.as_str(), m.no_copy, m.read_only),
            ("volume", true, false)
        );
        let m = parse("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!((m.tmpfs_size, m.tmpfs_mode), (Some(1 << 20), Some(0o1770)));
        for (bad, msg) in [
            ("source=/tmp", "target is required"),
            (
                "type=bind,src=/tmp,dst=/x,bogus=1",
                "unexpected key 'bogus' in 'bogus=1'",
            ),
            (
                "type=bind,src=/tmp,dst=/x,ro=maybe",
                "invalid value for ro: maybe",
            ),
            (
                "dst=/x,frob",
                "invalid field 'frob' must be a key=value pair",
            ),
        ] {
            assert_eq!(parse(bad).unwrap_err(), msg, "{bad}");
        }
    }

    /// A `--mount` target another mount has was accepted; Docker refuses it.
    #[test]
    fn mount_flag_duplicate_targets_are_refused() {
        let f = |t: &str| parse(&format!("type=tmpfs,dst={t}")).unwrap();
        let err = |flags: &[MountFlag], others: &[&str]| {
            check_duplicates(flags, others).unwrap_err().to_string()
        };
        assert_eq!(err(&[f("/x")], &["/x/"]), "Duplicate mount point: /x");
        assert_eq!(err(&[f("/a"), f("/a")], &[]), "Duplicate mount point: /a");
        assert!(check_duplicates(&[f("/a"), f("/b")], &["/c", "/c"]).is_ok());
    }

    /// Unlike `-v`, a missing bind source is an error; so are a relative path, a tmpfs
    /// source and an unknown type (the daemon's messages).
    #[test]
    fn mount_flag_resolves_with_the_daemons_checks() {
        let resolve = |s: &str| resolve(&parse(s).unwrap());
        let err = |s: &str| resolve(s).unwrap_err().to_string();
        assert_eq!(
            err("type=bind,src=/no/such/dir,dst=/x"),
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/dir"
        );
        assert_eq!(
            err("type=bind,dst=/x"),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert_eq!(
            err("type=bind,src=rel,dst=/x"),
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
        );
        assert_eq!(
            err("type=tmpfs,src=x,dst=/t"),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        assert_eq!(
            err("type=foo,dst=/t"),
            "invalid mount config for type \"foo\": mount type unknown"
        );
        match resolve("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap() {
            Resolved::Tmpfs(m) => assert_eq!(m.options, ["size=1048576", "mode=1770"]),
            other => panic!("{other:?}"),
        }
        match resolve("type=bind,src=/,dst=/h,ro").unwrap() {
            Resolved::Volume {
                spec: VolumeSpec::Bind { read_only, .. },
                ..
            } => assert!(read_only),
            other => panic!("{other:?}"),
        }
        match resolve("dst=/anon,ro,volume-nocopy").unwrap() {
            Resolved::Volume {
                spec: VolumeSpec::Anonymous { .. },
                read_only,
                options,
            } => {
                assert!(read_only);
                assert_eq!(options, [runtime::volumes::NO_COPY]);
            }
            other => panic!("{other:?}"),
        }
    }
}
