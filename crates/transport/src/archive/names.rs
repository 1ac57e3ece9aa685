//! Image names as docker-archives spell them: `RepoTags` hold Docker's familiar form
//! (`alpine:latest`, `user/app:v1`, `localhost:5000/app:v1`), containerd's annotation the
//! full one (`docker.io/library/alpine:latest`).

use crate::TransportError;

/// Docker Hub's canonical domain.
const DOCKER_HUB: &str = "docker.io";

/// A tagged image name, normalised as Docker does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ImageName {
    /// Registry domain (`docker.io`, `localhost:5000`).
    pub domain: String,
    /// Repository path (`library/alpine`, `app`).
    pub path: String,
    /// The tag (`latest` when none is given).
    pub tag: String,
}

impl ImageName {
    /// Parses `name[:tag]` (no digest: archives name images by tag).
    pub(crate) fn parse(input: &str) -> Result<ImageName, TransportError> {
        let invalid = |detail: &str| TransportError::Invalid {
            what: format!("image name {input:?}"),
            detail: detail.to_string(),
        };
        if input.contains('@') {
            return Err(invalid(
                "a digest reference cannot name an image in an archive; give NAME:TAG",
            ));
        }
        let last_slash = input.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match input[last_slash..].rfind(':') {
            Some(i) => (&input[..last_slash + i], &input[last_slash + i + 1..]),
            None => (input, "latest"),
        };
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !tag_ok {
            return Err(invalid(
                "a tag is up to 128 of [A-Za-z0-9_.-], not starting with . or -",
            ));
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            domain
        };
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let path_ok = !path.is_empty()
            && path.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
                    && c.as_bytes()[0].is_ascii_alphanumeric()
            });
        if !path_ok {
            return Err(invalid(
                "a repository name is lower-case letters, digits and . _ - separated by /",
            ));
        }
        Ok(ImageName {
            domain,
            path,
            tag: tag.to_string(),
        })
    }

    /// `docker.io/library/alpine`.
    pub(crate) fn full_repo(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// `docker.io/library/alpine:latest`.
    pub(crate) fn full(&self) -> String {
        format!("{}:{}", self.full_repo(), self.tag)
    }

    /// `alpine`, `user/app`, `localhost:5000/app`.
    pub(crate) fn familiar_repo(&self) -> String {
        if self.domain == DOCKER_HUB {
            match self.path.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.full_repo()
        }
    }

    /// `alpine:latest`.
    pub(crate) fn familiar(&self) -> String {
        format!("{}:{}", self.familiar_repo(), self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_and_full_forms() {
        for (input, familiar, full) in [
            ("alpine", "alpine:latest", "docker.io/library/alpine:latest"),
            (
                "alpine:3.19",
                "alpine:3.19",
                "docker.io/library/alpine:3.19",
            ),
            (
                "docker.io/library/alpine:3",
                "alpine:3",
                "docker.io/library/alpine:3",
            ),
            (
                "index.docker.io/user/app",
                "user/app:latest",
                "docker.io/user/app:latest",
            ),
            ("user/app:v1", "user/app:v1", "docker.io/user/app:v1"),
            (
                "localhost:5000/app:v1",
                "localhost:5000/app:v1",
                "localhost:5000/app:v1",
            ),
            (
                "localhost/app",
                "localhost/app:latest",
                "localhost/app:latest",
            ),
            ("quay.io/a/b/c:x", "quay.io/a/b/c:x", "quay.io/a/b/c:x"),
        ] {
            let n = ImageName::parse(input).unwrap();
            assert_eq!(n.familiar(), familiar, "{input}");
            assert_eq!(n.full(), full, "{input}");
        }
    }

    #[test]
    fn refuses_bad_names() {
        for input in [
            "Alpine",
            "alpine@sha256:abc",
            "alpine:",
            "a//b",
            "alpine:-x",
            "",
        ] {
            assert!(ImageName::parse(input).is_err(), "{input}");
        }
    }
}
