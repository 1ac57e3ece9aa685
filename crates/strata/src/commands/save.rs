//! `strata save [-o FILE] IMAGE...`: a docker-archive (Docker 25+'s combined form).

use anyhow::Context as _;
use oci::Descriptor;
use transport::{
    CopyOptions, DockerArchiveDestination, ImageDestination, StoreSource, WithoutCommit,
};

use super::{Ctx, util};
use crate::cli::SaveArgs;

/// Writes the images, with the names they were asked by, to the archive.
pub fn run(ctx: &Ctx, args: SaveArgs) -> anyhow::Result<()> {
    util::check_archive_output(args.output.as_deref(), "failed to save image")?;
    let platform = util::platform_flag(args.platform.as_deref())?;
    let store = ctx.store()?;
    // Every image saved is held from its lookup until the archive is written, so a
    // concurrent prune cannot take it in between.
    let hold = store.lease()?;
    // Distinct platform manifests in argument order, each with the names it was asked by.
    let mut images: Vec<(Descriptor, Vec<String>)> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for name in &args.images {
        let info = match hold.hold_image(name) {
            Ok(info) => info,
            Err(e) if e.is_not_found() && names_a_reference(name) => {
                return Err(anyhow::anyhow!("reference does not exist"));
            }
            Err(_) => util::hold(&hold, name)?,
        };
        // `--platform`: that platform's manifest of a multi-platform image (the archive
        // has that platform only), with the store's words when it is not there.
        let info = match &platform {
            Some(p) => store
                .select_platform(info, name, p)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            None => info,
        };
        let manifest = store.blob_descriptor(&info.manifest)?;
        if !ids.contains(&info.id.to_string()) {
            ids.push(info.id.to_string());
        }
        let tag = asked_tag(name, &info.tags);
        match images.iter_mut().find(|(d, _)| d.digest == manifest.digest) {
            Some((_, names)) => names.extend(tag),
            None => images.push((manifest, tag.into_iter().collect())),
        }
    }
    let dst = match &args.output {
        Some(path) => DockerArchiveDestination::create(path)?,
        None => DockerArchiveDestination::to_writer(util::stdout_file()?),
    };
    util::block_on(async {
        let deferred = WithoutCommit(&dst);
        for (manifest, names) in &images {
            let src = StoreSource::new(store.clone(), manifest.clone());
            let opts = CopyOptions {
                tag: names.first().cloned(),
                ..CopyOptions::default()
            };
            transport::copy(&src, &deferred, &opts)
                .await
                .with_context(|| format!("saving {}", manifest.digest))?;
            for name in names.iter().skip(1) {
                dst.add_image_tag(&manifest.digest, name)?;
            }
        }
        dst.commit().await.context("finishing the archive")?;
        anyhow::Ok(())
    })??;
    for id in &ids {
        store.image_event("save", id, None);
    }
    Ok(())
}

/// The name to record for `asked`: its familiar form when it is one of the image's tags
/// (not an ID or digest), as `docker save` does.
fn asked_tag(asked: &str, tags: &[String]) -> Option<String> {
    let r = oci::Reference::parse(asked).ok()?;
    let full = r.to_string();
    tags.contains(&full).then(|| r.familiar())
}

/// Whether `name` is a reference with a tag or digest: dockerd's save looks those up in its
/// reference store (`reference does not exist` when missing), bare names and IDs as images
/// (`No such image: NAME`).
fn names_a_reference(name: &str) -> bool {
    match oci::reference::parse_any_reference(name) {
        Ok(oci::reference::AnyReference::Named(n)) => n.tag.is_some() || n.digest.is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tag_or_digest_is_a_missing_reference() {
        for (name, want) in [
            ("app:1", true),
            ("localhost:5000/app:v2", true),
            (
                "app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                true,
            ),
            ("app", false),
            ("localhost:5000/app", false),
            ("deadbeef1234", false),
        ] {
            assert_eq!(names_a_reference(name), want, "{name}");
        }
    }

    #[test]
    fn output_into_a_missing_directory_is_named() {
        let p = std::path::Path::new("/nonexistent-strata-test/a/b.tar");
        assert_eq!(
            util::missing_output_dir(p).as_deref(),
            Some(std::path::Path::new("/nonexistent-strata-test/a"))
        );
        assert_eq!(
            util::missing_output_dir(std::path::Path::new("b.tar")),
            None
        );
        assert_eq!(
            util::missing_output_dir(std::path::Path::new("/tmp/b.tar")),
            None
        );
    }
}
