//! A multi-platform build: the same Dockerfile built for several target platforms at
//! once, each a build of its own (its own plan: the predefined platform ARGs differ), then
//! one OCI index over the images, tagged as the build's result.
//!
//! Steps that do not depend on the target platform (a stage `FROM
//! --platform=$BUILDPLATFORM` that does not read `TARGETARCH`) have the same cache key in
//! every platform's build, so they are shared through the cache.

use oci::{Descriptor, Index, Platform, media};
use store::{Lease, Store};

use super::{BuildRequest, Built, Planned, build_planned};
use crate::{BuildError, Event};

/// One platform's part of a multi-platform build.
pub struct PlatformBuild {
    /// The target platform.
    pub platform: Platform,
    /// The request for it: its `platform` set, `index_entry` true, no tags.
    pub req: BuildRequest,
    /// [`Planned::of`] `req`.
    pub planned: Planned,
}

/// What a multi-platform build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltIndex {
    /// The index, as stored.
    pub index: Descriptor,
    /// Each platform's image, in the order asked.
    pub images: Vec<(Platform, Built)>,
    /// The full names the index was tagged with.
    pub tags: Vec<String>,
}

/// Builds every part (platforms in parallel, each reporting through `events` with its
/// platform), then stores an OCI index of the images and tags it with `tags` (as given:
/// `app` is `docker.io/library/app:latest`). Nothing is tagged unless every platform
/// succeeds; the first error (in the order asked) is returned.
pub fn build_index(
    store: &Store,
    parts: &[PlatformBuild],
    tags: &[String],
    events: &(dyn Fn(&Platform, &Event) + Sync),
    lease: &Lease,
) -> Result<BuiltIndex, BuildError> {
    let tags = super::full_tags(tags)?;
    // Every platform must be runnable before any starts: no step of one runs when
    // another cannot.
    for part in parts {
        part.planned.check_platforms()?;
    }
    let results: Vec<Result<Built, BuildError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                scope.spawn(move || {
                    build_planned(
                        store,
                        &part.req,
                        &part.planned,
                        &mut |e| events(&part.platform, e),
                        lease,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(BuildError::Unsupported {
                        instruction: "build".into(),
                        line: 0,
                        message: "a platform's build panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut images = Vec::with_capacity(parts.len());
    for (part, built) in parts.iter().zip(results) {
        images.push((part.platform.clone(), built?));
    }
    let index = index_of(&images);
    let desc = store.put_index(lease, &index, &tags)?;
    Ok(BuiltIndex {
        index: desc,
        images,
        tags,
    })
}

/// The OCI index of `images`, each entry with its platform, as BuildKit writes one.
fn index_of(images: &[(Platform, Built)]) -> Index {
    Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.to_string()),
        artifact_type: None,
        manifests: images
            .iter()
            .map(|(p, b)| {
                let mut d = b.manifest.clone();
                d.platform = Some(p.normalize());
                d
            })
            .collect(),
        subject: None,
        annotations: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(n: u8) -> Built {
        let m = Descriptor::of_bytes(media::OCI_MANIFEST, &[n]);
        Built {
            manifest: m,
            id: oci::Digest::sha256_of(&[n, n]),
            tags: Vec::new(),
            executed: 0,
            cached: 0,
            files_hashed: 0,
        }
    }

    #[test]
    fn the_index_lists_each_platform_in_order() {
        let images = vec![
            ("linux/amd64".parse().unwrap(), built(1)),
            ("linux/arm64/v8".parse().unwrap(), built(2)),
            ("linux/arm/v7".parse().unwrap(), built(3)),
        ];
        let index = index_of(&images);
        let got: Vec<(String, &oci::Digest)> = index
            .manifests
            .iter()
            .map(|d| (d.platform.as_ref().unwrap().to_string(), &d.digest))
            .collect();
        assert_eq!(
            got,
            [
                ("linux/amd64".to_string(), &images[0].1.manifest.digest),
                ("linux/arm64".to_string(), &images[1].1.manifest.digest),
                ("linux/arm/v7".to_string(), &images[2].1.manifest.digest),
            ]
        );
        assert!(
            index
                .manifests
                .iter()
                .all(|d| d.media_type == media::OCI_MANIFEST)
        );
        let parsed = oci::AnyManifest::parse(Some(media::OCI_INDEX), &index.to_vec()).unwrap();
        assert!(matches!(parsed, oci::AnyManifest::Index(_)));
    }
}
