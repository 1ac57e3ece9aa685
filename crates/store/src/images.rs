//! Images, tags and repo digests: listing, resolving names the way Docker does, `rmi`,
//! `image prune` and `system df`.

use std::collections::{BTreeMap, BTreeSet};

use oci::{AnyManifest, Descriptor, Digest, Manifest, media};

use crate::{Store, StoreError, db};

/// One stored image, as `images` and `inspect` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The stored top-level target: a manifest or an index.
    pub target: Descriptor,
    /// The platform manifest: the target itself, or for an index the host platform's entry
    /// if stored, else the first stored entry.
    pub manifest: Digest,
    /// The config digest: Docker's image ID. The target's digest if no manifest is stored.
    pub id: Digest,
    /// Full names pointing at this image, sorted.
    pub tags: Vec<String>,
    /// `repo@sha256:...` references, sorted.
    pub repo_digests: Vec<String>,
    /// The config's `created` time, as written there (RFC 3339).
    pub created: Option<String>,
    /// Docker's image size: the sum of the layers' unpacked sizes, each as measured when
    /// the layer entered the store, or its compressed size when it was not measured (a
    /// store from before the measure, a layer pulled or loaded as is).
    pub size: u64,
    /// The config's `config.Labels`.
    pub labels: BTreeMap<String, String>,
    /// No tag refers to this image.
    pub dangling: bool,
    /// Containers (or other users) recorded in `image_users` for this image.
    pub users: Vec<String>,
    /// The config's `rootfs.diff_ids`, base first (empty when the config is not stored).
    pub diff_ids: Vec<Digest>,
    /// The manifest's layer blobs, base first (empty when no manifest is stored).
    pub layers: Vec<Digest>,
    /// The platform the config states (`os`, `architecture`, `variant`), if it does.
    pub platform: Option<oci::Platform>,
}

/// The metadata rows `images()` and `rmi` work from, read in one transaction.
pub(crate) struct Snapshot {
    pub images: Vec<db::ImageRow>,
    pub tags: Vec<(String, String)>,
    pub repo_digests: Vec<(String, String, String)>,
    pub users: Vec<(String, String)>,
    /// Unpacked layer sizes by layer digest.
    pub layer_sizes: std::collections::HashMap<String, u64>,
}

/// How a name matched.
pub(crate) enum Match {
    Tag(String),
    RepoDigest(String, String),
    Id,
}

/// The repository part of a full name: `docker.io/library/alpine:3` → `docker.io/library/alpine`.
pub(crate) fn repo_of(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    }
}

/// Docker's normalisation, as a fallback when the caller passes a short name:
/// `alpine` → `docker.io/library/alpine:latest`; `repo@digest` → (full repo, digest).
fn normalise(s: &str) -> Option<(String, Option<String>)> {
    let r = oci::Reference::parse(s).ok()?;
    match r.digest() {
        Some(d) => Some((r.repository(), Some(d.to_string()))),
        None => Some((r.to_string(), None)),
    }
}

impl Store {
    pub(crate) fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut conn = self.conn();
        db::read(&mut conn, "cannot read images", |tx| {
            Ok(Snapshot {
                images: db::images(tx)?,
                tags: db::tags(tx)?,
                repo_digests: db::repo_digests(tx)?,
                users: db::image_users(tx)?,
                layer_sizes: db::layer_sizes(tx)?,
            })
        })
    }

    fn describe(&self, snap: &Snapshot, row: &db::ImageRow) -> Result<ImageInfo, StoreError> {
        let digest: Digest =
            row.digest
                .parse()
                .map_err(|e: oci::OciError| StoreError::Invalid {
                    what: "image record".into(),
                    detail: e.to_string(),
                })?;
        let target = Descriptor::new(row.media_type.clone(), digest.clone(), row.size);
        let mut tags: Vec<String> = snap
            .tags
            .iter()
            .filter(|t| t.1 == row.digest)
            .map(|t| t.0.clone())
            .collect();
        tags.sort();
        let mut repo_digests: Vec<String> = snap
            .repo_digests
            .iter()
            .filter(|r| r.2 == row.digest)
            .map(|r| format!("{}@{}", r.0, r.1))
            .collect();
        repo_digests.sort();
        let users = snap
            .users
            .iter()
            .filter(|u| u.0 == row.digest)
            .map(|u| u.1.clone())
            .collect();
        let mut info = ImageInfo {
            manifest: digest.clone(),
            id: digest.clone(),
            target,
            dangling: tags.is_empty(),
            tags,
            repo_digests,
            created: None,
            size: 0,
            labels: BTreeMap::new(),
            users,
            diff_ids: Vec::new(),
            layers: Vec::new(),
            platform: None,
        };
        let Some((manifest_digest, manifest)) = self.platform_manifest(&info.target, None)? else {
            return Ok(info);
        };
        self.fill(&mut info, &snap.layer_sizes, manifest_digest, &manifest)?;
        Ok(info)
    }

    /// Sets what `info` says of its platform manifest (`digest`, parsed as `manifest`): the
    /// ID, layers, size and what its config says (created, diffIDs, labels, platform).
    pub(crate) fn fill(
        &self,
        info: &mut ImageInfo,
        layer_sizes: &std::collections::HashMap<String, u64>,
        digest: Digest,
        manifest: &Manifest,
    ) -> Result<(), StoreError> {
        info.manifest = digest;
        info.id = manifest.config.digest.clone();
        info.layers = manifest.layers.iter().map(|l| l.digest.clone()).collect();
        info.size = manifest
            .layers
            .iter()
            .map(|l| {
                layer_sizes
                    .get(&l.digest.to_string())
                    .copied()
                    .unwrap_or(l.size)
            })
            .sum::<u64>();
        (info.created, info.diff_ids, info.labels, info.platform) =
            (None, Vec::new(), BTreeMap::new(), None);
        if self.has_blob(&manifest.config.digest)? {
            let config = self.read_blob(&manifest.config.digest)?;
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&config) {
                info.created = v.get("created").and_then(|c| c.as_str()).map(String::from);
                info.diff_ids = v
                    .pointer("/rootfs/diff_ids")
                    .and_then(|d| d.as_array())
                    .map(|d| d.iter().filter_map(|x| x.as_str()?.parse().ok()).collect())
                    .unwrap_or_default();
                if let Some(labels) = v
                    .get("config")
                    .and_then(|c| c.get("Labels"))
                    .and_then(|l| l.as_object())
                {
                    info.labels = labels
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect();
                }
                let field = |k: &str| v.get(k).and_then(|x| x.as_str()).filter(|x| !x.is_empty());
                if let (Some(os), Some(arch)) = (field("os"), field("architecture")) {
                    let mut p = oci::Platform::new(os, arch);
                    p.variant = field("variant").map(String::from);
                    info.platform = Some(p);
                }
            }
        }
        Ok(())
    }

    /// The manifest an image stands for: the target, or the chosen stored index entry
    /// (`want`'s, or by default the host's, else the first stored one).
    pub(crate) fn platform_manifest(
        &self,
        target: &Descriptor,
        want: Option<&oci::Platform>,
    ) -> Result<Option<(Digest, Manifest)>, StoreError> {
        let bytes = self.read_blob(&target.digest)?;
        let parsed = AnyManifest::parse(Some(&target.media_type), &bytes).map_err(|e| {
            StoreError::Invalid {
                what: format!("manifest {}", target.digest),
                detail: e.to_string(),
            }
        })?;
        match parsed {
            AnyManifest::Manifest(m) => Ok(Some((target.digest.clone(), m))),
            AnyManifest::Index(index) => {
                let mut stored = Vec::new();
                for entry in &index.manifests {
                    if media::is_manifest(&entry.media_type) && self.has_blob(&entry.digest)? {
                        stored.push(entry);
                    }
                }
                let stored: Vec<Descriptor> = stored.into_iter().cloned().collect();
                let chosen = match want {
                    Some(p) => oci::choose(&stored, p),
                    None => oci::choose(&stored, &oci::Platform::host()).or(stored.first()),
                };
                let Some(entry) = chosen else {
                    return Ok(None);
                };
                let bytes = self.read_blob(&entry.digest)?;
                let m = Manifest::from_slice(&bytes).map_err(|e| StoreError::Invalid {
                    what: format!("manifest {}", entry.digest),
                    detail: e.to_string(),
                })?;
                Ok(Some((entry.digest.clone(), m)))
            }
        }
    }

    pub(crate) fn describe_all(&self, snap: &Snapshot) -> Result<Vec<ImageInfo>, StoreError> {
        let mut out = Vec::with_capacity(snap.images.len());
        for row in &snap.images {
            out.extend(self.describe_present(snap, row)?);
        }
        Ok(out)
    }

    /// Describes an image of the snapshot, or `None` if another process removed it since
    /// (its blobs may then be gone too): the snapshot's rows are read in one transaction,
    /// the blobs after it.
    fn describe_present(
        &self,
        snap: &Snapshot,
        row: &db::ImageRow,
    ) -> Result<Option<ImageInfo>, StoreError> {
        match self.describe(snap, row) {
            Ok(info) => Ok(Some(info)),
            Err(e) if e.is_not_found() => {
                let still = db::images(&self.conn())?
                    .iter()
                    .any(|r| r.digest == row.digest);
                if still { Err(e) } else { Ok(None) }
            }
            Err(e) => Err(e),
        }
    }

    /// Every image record, newest first.
    pub fn images(&self) -> Result<Vec<ImageInfo>, StoreError> {
        let snap = self.snapshot()?;
        let mut all = self.describe_all(&snap)?;
        all.reverse();
        Ok(all)
    }

    /// Every tag and the digest it points at, sorted by name.
    pub fn tags(&self) -> Result<Vec<(String, Digest)>, StoreError> {
        let rows = db::tags(&self.conn())?;
        Ok(rows
            .into_iter()
            .filter_map(|(n, d)| Some((n, d.parse().ok()?)))
            .collect())
    }

    /// Records `target` (a stored manifest or index) as an image without a tag.
    pub fn add_image(&self, target: &Descriptor) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let now = crate::now();
        db::write(&mut conn, "cannot record an image", |tx| {
            insert_image(tx, target, now)
        })
    }

    /// Points `name` (a full normalised reference, `docker.io/library/alpine:latest`) at
    /// `target` and records the target as an image. Returns the previous target if the tag
    /// moved.
    pub fn set_tag(&self, name: &str, target: &Descriptor) -> Result<Option<Digest>, StoreError> {
        let mut conn = self.conn();
        let now = crate::now();
        let prev = db::write(&mut conn, "cannot write a tag", |tx| {
            insert_image(tx, target, now)?;
            db::set_tag(tx, name, &target.digest.to_string())
        })?;
        drop(conn);
        self.tag_event(name, &target.digest);
        Ok(prev.and_then(|p| p.parse().ok()))
    }

    /// Removes a tag (the image record stays; see [`Store::remove_image`] for `rmi`).
    /// Returns whether it existed.
    pub fn remove_tag(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        db::write(&mut conn, "cannot delete a tag", |tx| {
            db::remove_tag(tx, name)
        })
    }

    /// Records Docker's `RepoDigests` entry `repo@digest` for the stored image `target`.
    /// `digest` may be an index's digest while `target` is its platform manifest. The
    /// target must already be recorded as an image.
    pub fn add_repo_digest(
        &self,
        repo: &str,
        digest: &Digest,
        target: &Digest,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let now = crate::now();
        db::write(&mut conn, "cannot record a repo digest", |tx| {
            let t = target.to_string();
            if !db::images(tx)?.iter().any(|r| r.digest == t) {
                let Some((size, mt)) = db::blob(tx, &t)? else {
                    return Err(StoreError::not_found(format!("No such image: {target}")));
                };
                db::insert_image(tx, &t, &mt, size, now)?;
            }
            db::add_repo_digest(tx, repo, &digest.to_string(), &t)
        })
    }

    /// Records that `user` (a container ID) uses the image `target`: `rmi` and `prune`
    /// then refuse it, and GC keeps its content.
    pub fn add_image_user(&self, target: &Digest, user: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        db::write(&mut conn, "cannot record an image user", |tx| {
            db::add_image_user(tx, &target.to_string(), user)
        })
    }

    /// Forgets every image use by `user` (a removed container).
    pub fn remove_image_user(&self, user: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        db::write(&mut conn, "cannot delete an image user", |tx| {
            db::remove_image_user(tx, user)
        })
    }

    /// The images containers use, including those deleted (`rmi -f`) while in use, whose
    /// content the store keeps for them: what their snapshots must keep too.
    pub fn images_in_use(&self) -> Result<Vec<ImageInfo>, StoreError> {
        let snap = self.snapshot()?;
        let targets: BTreeSet<&String> = snap.users.iter().map(|u| &u.0).collect();
        let mut out = Vec::new();
        for t in targets {
            match self.lookup(&snap, t) {
                Ok((_, mut found)) => out.push(found.remove(0)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Records the unpacked size of a committed layer blob, measured as it entered the
    /// store (see `layer::MeasuringReader`).
    pub fn set_unpacked_size(&self, layer: &Digest, unpacked: u64) -> Result<(), StoreError> {
        let mut conn = self.conn();
        db::write(&mut conn, "cannot record a layer size", |tx| {
            db::set_layer_size(tx, &layer.to_string(), unpacked)
        })
    }

    /// The size `history` shows for a layer: its unpacked size when recorded, else its
    /// compressed size.
    pub fn layer_size(&self, layer: &Descriptor) -> Result<u64, StoreError> {
        Ok(self
            .layer_sizes()?
            .get(&layer.digest.to_string())
            .copied()
            .unwrap_or(layer.size))
    }

    /// Every recorded unpacked layer size, by layer digest.
    pub(crate) fn layer_sizes(&self) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let mut conn = self.conn();
        db::read(&mut conn, "cannot read layer sizes", |tx| {
            db::layer_sizes(tx)
        })
    }

    /// Finds an image the way Docker does: a full name (as given, then normalised), then
    /// `repo@digest` (a repo digest, or the target digest), a full ID or target digest
    /// `sha256:...`, then a unique ID prefix (hex, at least one character).
    pub fn resolve_image(&self, s: &str) -> Result<ImageInfo, StoreError> {
        let snap = self.snapshot()?;
        let (_, mut found) = self.lookup(&snap, s)?;
        Ok(found.remove(0))
    }

    /// Returns how `s` matched and the matching image records (non-empty; tagged first).
    pub(crate) fn lookup(
        &self,
        snap: &Snapshot,
        s: &str,
    ) -> Result<(Match, Vec<ImageInfo>), StoreError> {
        let no_such = || StoreError::not_found(format!("No such image: {s}"));
        let by_digest = |d: &str| -> Result<Vec<ImageInfo>, StoreError> {
            let mut found = Vec::new();
            for r in snap.images.iter().filter(|r| r.digest == d) {
                found.extend(self.describe_present(snap, r)?);
            }
            Ok(found)
        };
        // 1. A name with a tag, as given and then normalised.
        let normalised = normalise(s);
        let mut names = vec![s.to_string()];
        if let Some((n, None)) = &normalised {
            names.push(n.clone());
        }
        for name in names {
            if let Some((_, image)) = snap.tags.iter().find(|t| t.0 == name) {
                let found = by_digest(image)?;
                if !found.is_empty() {
                    return Ok((Match::Tag(name), found));
                }
            }
        }
        // 2. repo@digest.
        if let Some((repo, digest)) = s.split_once('@') {
            let mut repos = vec![repo.to_string()];
            if let Some((r, Some(_))) = &normalised {
                repos.push(r.clone());
            }
            for repo in repos {
                if let Some(r) = snap
                    .repo_digests
                    .iter()
                    .find(|r| r.0 == repo && r.1 == digest)
                {
                    let found = by_digest(&r.2)?;
                    if !found.is_empty() {
                        return Ok((Match::RepoDigest(repo, digest.to_string()), found));
                    }
                }
            }
            let found = by_digest(digest)?;
            if !found.is_empty() {
                return Ok((Match::Id, found));
            }
            return Err(no_such());
        }
        let all = self.describe_all(snap)?;
        let order = |mut v: Vec<ImageInfo>| {
            v.sort_by_key(|i| i.dangling);
            v
        };
        // 3. A full digest: target or ID.
        if let Ok(d) = s.parse::<Digest>() {
            let by_target: Vec<ImageInfo> = all
                .iter()
                .filter(|i| i.target.digest == d)
                .cloned()
                .collect();
            if let Some(first) = by_target.first() {
                let id = first.id.clone();
                let mut same = order(all.into_iter().filter(|i| i.id == id).collect());
                // The image whose target this is comes first: a multi-platform image
                // shares its ID (its default platform's config) with that platform's own
                // single-manifest image, which is not the one asked for.
                same.sort_by_key(|i| i.target.digest != d);
                return Ok((Match::Id, same));
            }
            let by_id: Vec<ImageInfo> = all.into_iter().filter(|i| i.id == d).collect();
            if !by_id.is_empty() {
                return Ok((Match::Id, order(by_id)));
            }
            // An image deleted (`rmi -f`) while a container used it: the container still
            // names its target, whose content the container pins (GC roots image users).
            // (The row is read first: the connection guard must not live into describe.)
            let blob = if snap.users.iter().any(|u| u.0 == s) {
                let conn = self.conn();
                db::blob(&conn, s)?
            } else {
                None
            };
            if let Some((size, media_type)) = blob {
                let row = db::ImageRow {
                    digest: s.to_string(),
                    media_type,
                    size,
                };
                return Ok((Match::Id, vec![self.describe(snap, &row)?]));
            }
            return Err(no_such());
        }
        // 4. A unique ID prefix.
        let prefix = s.strip_prefix("sha256:").unwrap_or(s);
        if prefix.is_empty()
            || prefix.len() > 64
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(no_such());
        }
        let matching: Vec<ImageInfo> = all
            .into_iter()
            .filter(|i| {
                i.id.algorithm() == oci::Algorithm::Sha256 && i.id.hex().starts_with(prefix)
            })
            .collect();
        let ids: BTreeSet<&Digest> = matching.iter().map(|i| &i.id).collect();
        match ids.len() {
            0 => Err(no_such()),
            1 => Ok((Match::Id, order(matching))),
            _ => Err(StoreError::Invalid {
                what: "image ID prefix".into(),
                detail: format!("multiple IDs found with provided prefix: {s}"),
            }),
        }
    }

    /// The config bytes of an image (its ID is the config's digest).
    pub fn image_config(&self, info: &ImageInfo) -> Result<Vec<u8>, StoreError> {
        if info.id == info.target.digest {
            return Err(StoreError::not_found(format!(
                "image {} has no stored platform manifest, so no config",
                info.target.digest
            )));
        }
        self.read_blob(&info.id)
    }
}

fn insert_image(
    tx: &rusqlite::Transaction<'_>,
    target: &Descriptor,
    now: i64,
) -> Result<(), StoreError> {
    if db::insert_image(
        tx,
        &target.digest.to_string(),
        &target.media_type,
        target.size,
        now,
    )? {
        Ok(())
    } else {
        Err(StoreError::not_found(format!(
            "manifest {} is not in the store; store it before tagging it",
            target.digest
        )))
    }
}
