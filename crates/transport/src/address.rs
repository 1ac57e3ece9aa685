//! Transport addresses as skopeo writes them: `docker://REF`, `oci:PATH[:REF]`,
//! `oci-archive:PATH[:REF]`, `docker-archive:PATH[:REF]`, `strata:REF`, or a bare reference
//! (the local store).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::TransportError;

/// Where an image is, as given on the command line (`strata copy SRC DST`).
///
/// Parsing only splits the text; the reference inside is checked by whoever opens it.
///
/// Paths of the file transports end at the first `:` after the prefix, as in skopeo
/// (`containers/image` `oci/internal.SplitPathAndImage`): `oci:/tmp/l:app:v1` is the layout
/// `/tmp/l` with the name `app:v1`. A path that contains `:` therefore cannot be written here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageAddress {
    /// A registry image (`docker://REF`); the reference as written, not normalised.
    Docker(String),
    /// An OCI image layout directory (`oci:PATH[:REF]`).
    Oci {
        /// The layout directory.
        path: PathBuf,
        /// The `org.opencontainers.image.ref.name` of the entry.
        reference: Option<String>,
    },
    /// A tar of an OCI image layout (`oci-archive:PATH[:REF]`).
    OciArchive {
        /// The archive file.
        path: PathBuf,
        /// The `org.opencontainers.image.ref.name` of the entry.
        reference: Option<String>,
    },
    /// A `docker save` archive (`docker-archive:PATH[:REF]`); the reference is a `name:tag`
    /// in the archive's `manifest.json`, or `@N` for its N-th image.
    DockerArchive {
        /// The archive file.
        path: PathBuf,
        /// Which image of the archive.
        reference: Option<String>,
    },
    /// The local store (`strata:REF`, `containers-storage:REF`, or a bare reference).
    Store(String),
}

fn invalid(input: &str, detail: impl Into<String>) -> TransportError {
    TransportError::Invalid {
        what: format!("image address {input:?}"),
        detail: detail.into(),
    }
}

/// Splits `PATH[:REF]`; an empty REF is none.
fn path_and_ref(input: &str, rest: &str) -> Result<(PathBuf, Option<String>), TransportError> {
    let (path, reference) = match rest.split_once(':') {
        Some((p, r)) => (p, (!r.is_empty()).then(|| r.to_string())),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(invalid(
            input,
            "the path is empty (write TRANSPORT:PATH[:REF])",
        ));
    }
    Ok((PathBuf::from(path), reference))
}

impl FromStr for ImageAddress {
    type Err = TransportError;

    fn from_str(s: &str) -> Result<ImageAddress, TransportError> {
        if let Some(r) = s.strip_prefix("docker://") {
            if r.is_empty() {
                return Err(invalid(
                    s,
                    "the reference is empty (write docker://NAME[:TAG])",
                ));
            }
            return Ok(ImageAddress::Docker(r.to_string()));
        }
        let Some((transport, rest)) = s.split_once(':') else {
            if s.is_empty() {
                return Err(invalid(s, "empty"));
            }
            return Ok(ImageAddress::Store(s.to_string()));
        };
        match transport {
            "docker" => Err(invalid(
                s,
                "the docker transport is written docker://NAME[:TAG]",
            )),
            "oci" => {
                let (path, reference) = path_and_ref(s, rest)?;
                Ok(ImageAddress::Oci { path, reference })
            }
            "oci-archive" => {
                let (path, reference) = path_and_ref(s, rest)?;
                Ok(ImageAddress::OciArchive { path, reference })
            }
            "docker-archive" => {
                let (path, reference) = path_and_ref(s, rest)?;
                Ok(ImageAddress::DockerArchive { path, reference })
            }
            "strata" | "containers-storage" => {
                if rest.is_empty() {
                    return Err(invalid(s, "the reference is empty"));
                }
                Ok(ImageAddress::Store(rest.to_string()))
            }
            // `ubuntu:22.04`, `localhost:5000/app`: a reference for the local store.
            _ => Ok(ImageAddress::Store(s.to_string())),
        }
    }
}

impl fmt::Display for ImageAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, path, reference) = match self {
            ImageAddress::Docker(r) => return write!(f, "docker://{r}"),
            ImageAddress::Store(r) => return write!(f, "strata:{r}"),
            ImageAddress::Oci { path, reference } => ("oci", path, reference),
            ImageAddress::OciArchive { path, reference } => ("oci-archive", path, reference),
            ImageAddress::DockerArchive { path, reference } => ("docker-archive", path, reference),
        };
        write!(f, "{prefix}:{}", path.display())?;
        if let Some(r) = reference {
            write!(f, ":{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oci(path: &str, reference: Option<&str>) -> ImageAddress {
        ImageAddress::Oci {
            path: path.into(),
            reference: reference.map(str::to_string),
        }
    }

    #[test]
    fn parses_addresses() {
        for (input, want) in [
            ("docker://alpine", ImageAddress::Docker("alpine".into())),
            (
                "docker://localhost:5000/app:v1",
                ImageAddress::Docker("localhost:5000/app:v1".into()),
            ),
            (
                "docker://ghcr.io/o/a@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                ImageAddress::Docker(
                    "ghcr.io/o/a@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                        .into(),
                ),
            ),
            ("oci:/tmp/layout", oci("/tmp/layout", None)),
            ("oci:/tmp/layout:", oci("/tmp/layout", None)),
            ("oci:/tmp/layout:v1", oci("/tmp/layout", Some("v1"))),
            ("oci:dir:app:v1", oci("dir", Some("app:v1"))),
            ("oci:./rel/dir:latest", oci("./rel/dir", Some("latest"))),
            (
                "oci-archive:img.tar:app",
                ImageAddress::OciArchive {
                    path: "img.tar".into(),
                    reference: Some("app".into()),
                },
            ),
            (
                "docker-archive:/x/save.tar",
                ImageAddress::DockerArchive {
                    path: "/x/save.tar".into(),
                    reference: None,
                },
            ),
            (
                "docker-archive:save.tar:busybox:latest",
                ImageAddress::DockerArchive {
                    path: "save.tar".into(),
                    reference: Some("busybox:latest".into()),
                },
            ),
            (
                "docker-archive:save.tar:@1",
                ImageAddress::DockerArchive {
                    path: "save.tar".into(),
                    reference: Some("@1".into()),
                },
            ),
            ("strata:app:v1", ImageAddress::Store("app:v1".into())),
            (
                "containers-storage:docker.io/library/alpine:3",
                ImageAddress::Store("docker.io/library/alpine:3".into()),
            ),
            ("ubuntu", ImageAddress::Store("ubuntu".into())),
            ("ubuntu:22.04", ImageAddress::Store("ubuntu:22.04".into())),
            (
                "localhost:5000/app:v1",
                ImageAddress::Store("localhost:5000/app:v1".into()),
            ),
        ] {
            assert_eq!(input.parse::<ImageAddress>().unwrap(), want, "{input}");
        }
    }

    #[test]
    fn refuses_malformed_addresses() {
        for input in [
            "",
            "docker://",
            "docker:alpine",
            "oci:",
            "oci::tag",
            "oci-archive:",
            "docker-archive::x",
            "strata:",
        ] {
            assert!(input.parse::<ImageAddress>().is_err(), "{input:?}");
        }
    }

    #[test]
    fn prints_what_it_parsed() {
        for input in [
            "docker://localhost:5000/app:v1",
            "oci:/tmp/l",
            "oci:/tmp/l:app:v1",
            "oci-archive:a.tar:x",
            "docker-archive:a.tar:@0",
            "strata:app:v1",
        ] {
            let a: ImageAddress = input.parse().unwrap();
            assert_eq!(a.to_string(), input);
            assert_eq!(a.to_string().parse::<ImageAddress>().unwrap(), a);
        }
    }
}
