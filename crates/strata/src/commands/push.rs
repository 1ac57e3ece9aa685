//! `strata push NAME[:TAG]`: store → registry, with Docker's output.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use oci::Reference;
use transport::{CopyOptions, PlatformChoice, RegistryDestination, StoreSource};

use super::{Ctx, registry, util};
use crate::cli::PushArgs;
use crate::progress::{Progress, Verb};

/// Pushes one tag, or with `-a` every local tag of the repository.
pub fn run(ctx: &Ctx, args: PushArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let named = oci::reference::parse_normalized_named(&args.name)
        .map_err(|e| anyhow::anyhow!(util::reference_message(&e)))?;
    if named.digest.is_some() {
        bail!("cannot push a digest reference: push a tag");
    }
    let r = util::parse_reference(&args.name)?;
    let recompress = args
        .compression
        .as_deref()
        .map(|c| c.parse::<layer::Compression>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("--compression: {e}"))?;
    let platform = args
        .platform
        .as_deref()
        .map(|p| util::platform_or_host(Some(p)))
        .transpose()?;
    let store = ctx.store()?;
    // Each image pushed is held from its lookup to its repo digest, so a concurrent prune
    // cannot take it mid-push.
    let hold = store.lease()?;
    let targets: Vec<Reference> = if args.all_tags {
        if named.tag.is_some() {
            bail!("tag can't be used with --all-tags/-a");
        }
        let repo = r.repository();
        let mut tagged: Vec<Reference> = store
            .tags()?
            .into_iter()
            .filter_map(|(name, _)| Reference::parse(&name).ok())
            .filter(|t| t.repository() == repo && t.tag().is_some())
            .collect();
        tagged.sort();
        if tagged.is_empty() {
            bail!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            );
        }
        tagged
    } else {
        if hold.hold_image(&r.to_string()).is_err() {
            bail!(
                "An image does not exist locally with the tag: {}",
                r.familiar()
            );
        }
        vec![r.clone()]
    };
    if !args.quiet {
        writeln!(out, "The push refers to repository [{}]", r.repository())?;
        out.flush()?;
    }
    let client = registry::client(ctx, &r, args.tls_verify)?;
    let policy = match (args.require_signed, ctx.trust_policy()?) {
        (false, _) => None,
        (true, Some(p)) => Some(p),
        (true, None) => bail!(
            "--require-signed needs a trust policy: give --policy FILE or write ~/.config/strata/policy.json"
        ),
    };
    for t in targets {
        let info = util::hold(&hold, &t.to_string())?;
        let top = what_to_push(&store, info.clone(), &t, platform.as_ref())?;
        if let Some(policy) = &policy {
            super::store_signatures::admit_kept(ctx, policy, &t, &top)?;
        }
        let tag = t.tag().unwrap_or("latest").to_string();
        let progress = Arc::new(Progress::new(Verb::Push, args.quiet));
        let base = CopyOptions {
            platforms: PlatformChoice::All,
            tag: Some(tag.clone()),
            recompress,
            mount_from: mount_source(&info, &t),
            ..CopyOptions::default()
        };
        let opts = registry::with_progress(base, &progress);
        let src = StoreSource::new(store.clone(), top);
        let dst = RegistryDestination::new(client.clone(), t.path());
        let result = util::block_on(transport::copy(&src, &dst, &opts))?;
        progress.finish();
        let report = result.with_context(|| format!("pushing {}", t.familiar()))?;
        store
            .add_repo_digest(&t.repository(), &report.top.digest, &info.target.digest)
            .context("recording the repo digest")?;
        store.image_event("push", &t.familiar(), Some(&t.familiar_name()));
        super::store_signatures::push_kept(ctx, &client, t.path(), &report);
        if args.quiet {
            writeln!(out, "{}", t)?;
        } else {
            writeln!(
                out,
                "{tag}: digest: {} size: {}",
                report.top.digest, report.top.size
            )?;
        }
    }
    Ok(())
}

/// The manifest or index to push for image `info` (tag `t`): with `--platform`, that
/// platform's manifest alone; else the image itself, which for an index means every
/// platform, so an index some of whose platforms are not stored is refused (a registry
/// would hold an index naming manifests it does not have), naming them.
fn what_to_push(
    store: &store::Store,
    info: store::ImageInfo,
    t: &Reference,
    platform: Option<&oci::Platform>,
) -> anyhow::Result<oci::Descriptor> {
    let name = t.familiar();
    if let Some(p) = platform {
        let chosen = store
            .select_platform(info, &name, p)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(store.blob_descriptor(&chosen.manifest)?);
    }
    let missing: Vec<String> = store
        .image_platforms(&info)?
        .iter()
        // An attestation the store lacks (a pull of some platforms leaves them) is missing
        // too: the registry would refuse an index naming a manifest it does not have.
        .filter(|e| !e.present)
        .map(|e| match (&e.platform, e.attestation) {
            (Some(p), false) => p.to_string(),
            (_, true) => format!("attestation {}", e.descriptor.digest),
            (None, false) => format!("manifest {}", e.descriptor.digest),
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "image {name} is a multi-platform image whose content for {} is not in the store: \
             pull those platforms first (pull --platform), or push one platform with --platform",
            missing.join(", ")
        );
    }
    Ok(info.target)
}

/// A repository on the same registry that already has this image (it was pulled from or
/// pushed to it), to offer its blobs as cross-repository mounts, as Docker does.
fn mount_source(info: &store::ImageInfo, target: &Reference) -> Option<String> {
    info.repo_digests
        .iter()
        .chain(&info.tags)
        .filter_map(|name| Reference::parse(name).ok())
        .find(|r| r.domain() == target.domain() && r.path() != target.path())
        .map(|r| r.path().to_string())
}
