//! The platforms of a stored image: the entries of a multi-platform image (an index) and
//! which of them the store holds, and choosing the one that stands for a platform
//! (`run --platform`, `inspect --platform`, a build's base for its target platform).

use oci::{AnyManifest, Descriptor, Manifest, Platform, media};

use crate::{ImageInfo, Lease, Store, StoreError};

/// One entry of a multi-platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEntry {
    /// The entry's descriptor, as the index lists it.
    pub descriptor: Descriptor,
    /// The platform the index states for it (`None`: none stated).
    pub platform: Option<Platform>,
    /// Whether the store holds the entry's manifest, its config and every layer.
    pub present: bool,
    /// Whether it is an attestation manifest (`unknown/unknown`, as BuildKit writes
    /// provenance and SBOMs): kept with the index, never chosen as a platform.
    pub attestation: bool,
}

impl Store {
    /// The entries of image `info` when it is an index, in the index's order; an empty
    /// list for a single-platform image.
    pub fn image_platforms(&self, info: &ImageInfo) -> Result<Vec<PlatformEntry>, StoreError> {
        let bytes = self.read_blob(&info.target.digest)?;
        let parsed = AnyManifest::parse(Some(&info.target.media_type), &bytes).map_err(|e| {
            StoreError::Invalid {
                what: format!("manifest {}", info.target.digest),
                detail: e.to_string(),
            }
        })?;
        let AnyManifest::Index(index) = parsed else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(index.manifests.len());
        for d in index.manifests {
            let present = media::is_manifest(&d.media_type) && self.manifest_complete(&d)?;
            out.push(PlatformEntry {
                attestation: d.platform.as_ref().is_some_and(Platform::is_unknown),
                platform: d.platform.clone(),
                descriptor: d,
                present,
            });
        }
        Ok(out)
    }

    /// The sizes of a stored image manifest `d` (an index's entry, or a single-platform
    /// image's manifest) as Docker 28's `images --tree` shows them: its content (the
    /// manifest, config and layer blobs as stored) and its unpacked layers (each as
    /// measured, else its blob size). Zero for what is not stored.
    pub fn manifest_sizes(&self, d: &Descriptor) -> Result<(u64, u64), StoreError> {
        if !self.has_blob(&d.digest)? {
            return Ok((0, 0));
        }
        let Ok(m) = Manifest::from_slice(&self.read_blob(&d.digest)?) else {
            return Ok((d.size, 0));
        };
        let sizes = self.layer_sizes()?;
        let mut content = d.size + m.config.size;
        let mut unpacked = 0;
        for l in &m.layers {
            content += l.size;
            unpacked += sizes.get(&l.digest.to_string()).copied().unwrap_or(l.size);
        }
        Ok((content, unpacked))
    }

    /// `images` with, after each multi-platform image, one more [`ImageInfo`] for each of
    /// its other stored platforms (each standing for that entry's manifest): what keeps
    /// unpacked layers must count every platform pulled, not only the default one.
    pub fn with_all_platforms(&self, images: Vec<ImageInfo>) -> Result<Vec<ImageInfo>, StoreError> {
        let mut out = Vec::with_capacity(images.len());
        let mut sizes = None;
        for info in images {
            let entries = self.image_platforms(&info)?;
            let default = info.manifest.clone();
            out.push(info.clone());
            for e in entries {
                if !e.present || e.attestation || e.descriptor.digest == default {
                    continue;
                }
                let Ok(m) = Manifest::from_slice(&self.read_blob(&e.descriptor.digest)?) else {
                    continue;
                };
                if sizes.is_none() {
                    sizes = Some(self.layer_sizes()?);
                }
                let mut each = info.clone();
                self.fill(
                    &mut each,
                    sizes.as_ref().expect("just read"),
                    e.descriptor.digest,
                    &m,
                )?;
                out.push(each);
            }
        }
        Ok(out)
    }

    /// Whether the manifest `d`, its config and all its layers are stored.
    fn manifest_complete(&self, d: &Descriptor) -> Result<bool, StoreError> {
        if !self.has_blob(&d.digest)? {
            return Ok(false);
        }
        let Ok(m) = Manifest::from_slice(&self.read_blob(&d.digest)?) else {
            return Ok(false);
        };
        for blob in std::iter::once(&m.config).chain(&m.layers) {
            if !self.has_blob(&blob.digest)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// [`Store::resolve_image`], then the manifest for `want` when given: an index's entry
    /// for that platform (which must be stored), or a single-platform image whose config
    /// states that platform. The errors say which platforms the image has.
    pub fn resolve_image_platform(
        &self,
        name: &str,
        want: Option<&Platform>,
    ) -> Result<ImageInfo, StoreError> {
        let info = self.resolve_image(name)?;
        match want {
            Some(p) => self.select_platform(info, name, p),
            None => Ok(info),
        }
    }

    /// Makes `info` (found by `name`) stand for its manifest for `want`: see
    /// [`Store::resolve_image_platform`].
    pub fn select_platform(
        &self,
        mut info: ImageInfo,
        name: &str,
        want: &Platform,
    ) -> Result<ImageInfo, StoreError> {
        let entries = self.image_platforms(&info)?;
        if entries.is_empty() {
            return match &info.platform {
                Some(actual) if !want.compatible().iter().any(|c| c.matches(actual)) => {
                    Err(StoreError::not_found(format!(
                        "image with reference {name} was found but does not match the specified platform: wanted {}, actual: {}",
                        want.normalize(),
                        actual.normalize()
                    )))
                }
                _ => Ok(info),
            };
        }
        let Some((digest, manifest)) = self.platform_manifest(&info.target, Some(want))? else {
            let offered: Vec<&Descriptor> = entries
                .iter()
                .filter(|e| !e.attestation)
                .map(|e| &e.descriptor)
                .collect();
            let listed: Vec<Descriptor> = offered.into_iter().cloned().collect();
            return Err(StoreError::not_found(
                if oci::choose(&listed, want).is_some() {
                    format!(
                        "image with reference {name} was found but its platform {} is not in the store: pull it with --platform {}",
                        want.normalize(),
                        want.normalize()
                    )
                } else {
                    format!(
                        "image with reference {name} was found but does not provide the specified platform ({})",
                        want.normalize()
                    )
                },
            ));
        };
        let sizes = self.layer_sizes()?;
        self.fill(&mut info, &sizes, digest, &manifest)?;
        Ok(info)
    }
}

impl Lease {
    /// The store this lease holds content of.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// [`Lease::hold_image`], then the manifest for `want` ([`Store::select_platform`]).
    pub fn hold_image_platform(
        &self,
        name: &str,
        want: Option<&Platform>,
    ) -> Result<ImageInfo, StoreError> {
        let info = self.hold_image(name)?;
        match want {
            Some(p) => self.store.select_platform(info, name, p),
            None => Ok(info),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use oci::{Descriptor, ImageConfig, Index, Manifest, Platform, media};

    use crate::Store;

    /// Stores an image for `platform` without a record; returns its index entry.
    fn image(store: &Store, lease: &crate::Lease, platform: &str) -> Descriptor {
        image_with_layers(store, lease, platform, &[])
    }

    /// Stores an image for `platform` with `layers` (blobs already stored under `lease`)
    /// without a record; returns its index entry.
    pub(crate) fn image_with_layers(
        store: &Store,
        lease: &crate::Lease,
        platform: &str,
        layers: &[&Descriptor],
    ) -> Descriptor {
        let p: Platform = platform.parse().unwrap();
        let mut config = ImageConfig::default();
        config.set_platform(&p);
        let bytes = config.to_vec();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::of_bytes(media::OCI_CONFIG, &bytes),
            layers: layers.iter().map(|d| (*d).clone()).collect(),
            subject: None,
            annotations: BTreeMap::new(),
        };
        let mut d = store
            .put_image_content(lease, &manifest, &bytes)
            .unwrap()
            .manifest;
        d.platform = Some(p);
        d
    }

    fn index(entries: Vec<Descriptor>) -> Index {
        Index {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.into()),
            artifact_type: None,
            manifests: entries,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn an_index_stands_for_the_platform_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let lease = store.lease().unwrap();
        let amd = image(&store, &lease, "linux/amd64");
        let arm = image(&store, &lease, "linux/arm64");
        let mut att = image(&store, &lease, "linux/amd64");
        att.platform = Some(Platform::new("unknown", "unknown"));
        // An entry the store does not hold (a partial pull).
        let mut absent = Descriptor::of_bytes(media::OCI_MANIFEST, b"{}");
        absent.platform = Some("linux/arm/v7".parse().unwrap());
        let idx = index(vec![amd.clone(), arm.clone(), att, absent]);
        // As a pull of some platforms stores it (put_index wants every entry).
        let bytes = idx.to_vec();
        let top = Descriptor::of_bytes(media::OCI_INDEX, &bytes);
        store.put_manifest(&top, &bytes).unwrap();
        store
            .set_tag("docker.io/library/multi:latest", &top)
            .unwrap();
        let info = store.resolve_image("multi").unwrap();
        assert_eq!(info.target, top);
        let entries = store.image_platforms(&info).unwrap();
        let seen: Vec<(bool, bool)> = entries.iter().map(|e| (e.present, e.attestation)).collect();
        assert_eq!(
            seen,
            [(true, false), (true, false), (true, true), (false, false)]
        );

        let cases: &[(&str, Result<&Descriptor, &str>)] = &[
            ("linux/arm64", Ok(&arm)),
            ("linux/aarch64", Ok(&arm)),
            ("linux/amd64", Ok(&amd)),
            (
                "linux/arm/v7",
                Err("is not in the store: pull it with --platform linux/arm/v7"),
            ),
            (
                "linux/s390x",
                Err("does not provide the specified platform (linux/s390x)"),
            ),
        ];
        for (want, expect) in cases {
            let p: Platform = want.parse().unwrap();
            let got = store.resolve_image_platform("multi", Some(&p));
            match (expect, got) {
                (Ok(d), Ok(i)) => {
                    assert_eq!(i.manifest, d.digest, "{want}");
                    assert_eq!(i.target, top, "{want}: the image is still the index");
                    assert!(i.platform.as_ref().unwrap().matches(&p), "{want}");
                }
                (Err(msg), Err(e)) => assert!(e.to_string().contains(msg), "{want}: {e}"),
                (expect, got) => panic!("{want}: expected {expect:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn a_single_platform_image_refuses_another_platform() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let lease = store.lease().unwrap();
        let arm = image(&store, &lease, "linux/arm64");
        store.add_image(&arm).unwrap();
        let name = arm.digest.to_string();
        let arm64: Platform = "linux/arm64/v8".parse().unwrap();
        let info = store.resolve_image_platform(&name, Some(&arm64)).unwrap();
        assert_eq!(info.manifest, arm.digest);
        assert_eq!(info.platform, Some(Platform::new("linux", "arm64")));
        let amd64 = Platform::new("linux", "amd64");
        let e = store
            .resolve_image_platform(&name, Some(&amd64))
            .unwrap_err();
        assert!(
            e.to_string().contains(
                "does not match the specified platform: wanted linux/amd64, actual: linux/arm64"
            ),
            "{e}"
        );
    }
}
