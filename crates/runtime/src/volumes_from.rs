//! `--volumes-from CONTAINER[:ro|rw]`: the new container mounts what another container
//! mounts from volumes and binds (not its tmpfs mounts), at the same paths.

use crate::{MountKind, MountSpec, RuntimeError};

/// One `--volumes-from` value: the container and the mode (`None` keeps each mount's own).
pub fn parse(spec: &str) -> Result<(&str, Option<bool>), RuntimeError> {
    match spec.split_once(':') {
        None => Ok((spec, None)),
        Some((c, "ro")) => Ok((c, Some(true))),
        Some((c, "rw")) => Ok((c, Some(false))),
        Some((_, mode)) => Err(RuntimeError::InvalidOptions(format!(
            "invalid mode for volumes-from: {mode}"
        ))),
    }
}

/// The mounts the new container takes from `source`'s: its volumes and binds, read-only
/// as `read_only` says (or as they were), except at destinations in `own` — the new
/// container's own mounts win, as Docker's do.
pub fn inherit(source: &[MountSpec], read_only: Option<bool>, own: &[&str]) -> Vec<MountSpec> {
    source
        .iter()
        .filter(|m| matches!(m.kind, MountKind::Bind { .. } | MountKind::Volume { .. }))
        .filter(|m| !own.contains(&m.destination.as_str()))
        .map(|m| MountSpec {
            read_only: read_only.unwrap_or(m.read_only),
            ..m.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn m(kind: MountKind, dest: &str, ro: bool) -> MountSpec {
        MountSpec {
            kind,
            destination: dest.into(),
            read_only: ro,
            options: vec![],
        }
    }

    #[test]
    fn modes_parse_as_dockers() {
        assert_eq!(parse("c").unwrap(), ("c", None));
        assert_eq!(parse("c:ro").unwrap(), ("c", Some(true)));
        assert_eq!(parse("c:rw").unwrap(), ("c", Some(false)));
        assert_eq!(
            parse("c:z").unwrap_err().to_string(),
            RuntimeError::InvalidOptions("invalid mode for volumes-from: z".into()).to_string()
        );
    }

    #[test]
    fn volumes_and_binds_are_inherited_with_the_mode() {
        let vol = MountKind::Volume {
            name: "v".into(),
            source: PathBuf::from("/store/v"),
        };
        let bind = MountKind::Bind {
            source: PathBuf::from("/h"),
        };
        let src = vec![
            m(vol.clone(), "/data", false),
            m(bind.clone(), "/host", true),
            m(MountKind::Tmpfs, "/tmp", false),
            m(vol.clone(), "/mine", false),
        ];
        let got = inherit(&src, None, &["/mine"]);
        assert_eq!(
            got,
            vec![
                m(vol.clone(), "/data", false),
                m(bind.clone(), "/host", true)
            ]
        );
        let got = inherit(&src, Some(true), &[]);
        assert!(got.iter().all(|m| m.read_only));
        assert_eq!(got.len(), 3);
        let got = inherit(&src, Some(false), &[]);
        assert!(got.iter().all(|m| !m.read_only));
    }
}
