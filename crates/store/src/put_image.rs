//! Storing a new image whole: its config, its manifest (the layers are already committed)
//! and its tags, under one lease; or several such images as the entries of one index (a
//! multi-platform build). The one way `build`, `commit` and `import` record what they made.

use oci::{Descriptor, Digest, Index, Manifest};

use crate::{Lease, Store, StoreError, db};

/// What [`Store::put_image`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// The manifest (the image's target).
    pub manifest: Descriptor,
    /// The config's digest: the image ID.
    pub id: Digest,
}

impl Store {
    /// Stores an image made here: `config` (the config's exact bytes, which
    /// `manifest.config` must describe), then `manifest` as [`Manifest::to_vec`] writes it
    /// (its descriptor takes [`Manifest::effective_media_type`]), then in one transaction
    /// the image record and `tags` (full names; none leaves the image untagged).
    ///
    /// Every layer must be committed already (written with [`Store::blob_writer`] under
    /// `lease`, or found stored and added to it). The config and manifest are added to
    /// `lease` before they are written, so nothing of the image can be collected before it
    /// is tagged. Each step is its own transaction, in the order the store needs: a crash
    /// between two leaves unreferenced blobs for GC, never an image with a part missing.
    pub fn put_image(
        &self,
        lease: &Lease,
        manifest: &Manifest,
        config: &[u8],
        tags: &[String],
    ) -> Result<StoredImage, StoreError> {
        let stored = self.put_image_content(lease, manifest, config)?;
        self.record_image(&stored.manifest, tags)?;
        Ok(stored)
    }

    /// [`Store::put_image`] without the image record: the config and manifest, held by
    /// `lease`, for an image that becomes an entry of an index ([`Store::put_index`]).
    pub fn put_image_content(
        &self,
        lease: &Lease,
        manifest: &Manifest,
        config: &[u8],
    ) -> Result<StoredImage, StoreError> {
        let config_desc = Descriptor::of_bytes(&manifest.config.media_type, config);
        if config_desc.digest != manifest.config.digest || config_desc.size != manifest.config.size
        {
            return Err(StoreError::Invalid {
                what: "image config".into(),
                detail: format!(
                    "the manifest names {} ({} bytes), the bytes given are {} ({} bytes)",
                    manifest.config.digest,
                    manifest.config.size,
                    config_desc.digest,
                    config_desc.size
                ),
            });
        }
        // Held before they are looked for: a layer found and then leased could be
        // collected in between. One transaction for all of them (a cached build's image
        // is stored again on every build).
        let layers: Vec<Digest> = manifest.layers.iter().map(|l| l.digest.clone()).collect();
        lease.add_all(&layers)?;
        for l in &manifest.layers {
            if !self.has_blob(&l.digest)? {
                return Err(StoreError::not_found(format!(
                    "layer {} is not in the store; commit it before its image",
                    l.digest
                )));
            }
        }
        lease.add(&config_desc.digest)?;
        self.put_blob_bytes(&config_desc.media_type, config)?;
        let bytes = manifest.to_vec();
        let desc = Descriptor::of_bytes(manifest.effective_media_type(), &bytes);
        lease.add(&desc.digest)?;
        self.put_manifest(&desc, &bytes)?;
        Ok(StoredImage {
            manifest: desc,
            id: config_desc.digest,
        })
    }

    /// Stores a multi-platform image made here: `index` as [`Index::to_vec`] writes it, each
    /// of its entries already stored ([`Store::put_image_content`] under `lease`), then in
    /// one transaction its image record and `tags`. Returns the index's descriptor.
    pub fn put_index(
        &self,
        lease: &Lease,
        index: &Index,
        tags: &[String],
    ) -> Result<Descriptor, StoreError> {
        for entry in &index.manifests {
            if !self.has_blob(&entry.digest)? {
                return Err(StoreError::not_found(format!(
                    "manifest {} is not in the store; store each platform's image before their index",
                    entry.digest
                )));
            }
        }
        let bytes = index.to_vec();
        let media_type = index.media_type.as_deref().unwrap_or(oci::media::OCI_INDEX);
        let desc = Descriptor::of_bytes(media_type, &bytes);
        lease.add(&desc.digest)?;
        self.put_manifest(&desc, &bytes)?;
        self.record_image(&desc, tags)?;
        Ok(desc)
    }

    /// Records the stored manifest or index `desc` as an image with `tags`, in one
    /// transaction.
    fn record_image(&self, desc: &Descriptor, tags: &[String]) -> Result<(), StoreError> {
        let (target, now) = (desc.digest.to_string(), crate::now());
        let mut conn = self.conn();
        db::write(&mut conn, "cannot record an image", |tx| {
            if !db::insert_image(tx, &target, &desc.media_type, desc.size, now)? {
                return Err(StoreError::not_found(format!(
                    "manifest {target} is not in the store"
                )));
            }
            for t in tags {
                db::set_tag(tx, t, &target)?;
            }
            Ok(())
        })?;
        drop(conn);
        for t in tags {
            self.tag_event(t, &desc.digest);
        }
        Ok(())
    }
}
