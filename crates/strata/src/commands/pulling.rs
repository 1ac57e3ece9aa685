//! Bringing images from a registry into the store, with Docker's output: the `pull`
//! command, and the image `build` and `create`/`run` make sure of before they start (one
//! function with a pull policy, so no command calls another).

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;
use oci::Reference;
use transport::{
    CopyOptions, ImageSource as _, LayerConsumer, LayerTee, PlatformChoice, RegistrySource,
};

use super::{Ctx, registry, util};
use crate::cli::PullArgs;
use crate::progress::{Progress, Verb};

/// When to pull an image before using it (`--pull` of `create`/`run`; `build --pull` is
/// `Always`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Only when it is not in the store (the default).
    Missing,
    /// Always, to get the newest.
    Always,
    /// Never: a missing image is an error.
    Never,
}

impl PullPolicy {
    /// `missing`, `always` or `never`, as Docker spells them.
    pub fn parse(s: &str) -> anyhow::Result<PullPolicy> {
        match s {
            "missing" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            other => anyhow::bail!(
                "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
            ),
        }
    }
}

/// How [`ensure_image`] talks while it pulls.
#[derive(Debug, Clone, Default)]
pub struct EnsureOptions {
    /// The platform to pull (`--platform`); the host's by default.
    pub platform: Option<String>,
    /// No progress, only errors.
    pub quiet: bool,
    /// Say `Unable to find image '…' locally` before pulling a missing image (as `docker
    /// run` and `create` do; `docker build` does not).
    pub announce_missing: bool,
}

/// Makes sure image `name` is in the store, pulling it as `policy` says, with Docker's
/// lines on `out`; `hold` holds it from then on (a concurrent prune leaves it).
pub fn ensure_image(
    ctx: &Ctx,
    name: &str,
    policy: PullPolicy,
    opts: &EnsureOptions,
    hold: &store::Lease,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // `--platform` may list several (a multi-platform build's bases): each must be there.
    let platforms: Vec<Option<oci::Platform>> = match opts.platform.as_deref() {
        None => vec![None],
        Some(list) => list
            .split(',')
            .map(|p| util::platform_flag(Some(p.trim())))
            .collect::<anyhow::Result<_>>()?,
    };
    let mut found = true;
    for platform in &platforms {
        found &= held_for(hold, name, platform.as_ref())?;
    }
    match (found, policy) {
        (true, PullPolicy::Missing | PullPolicy::Never) => return Ok(()),
        (false, PullPolicy::Never) => anyhow::bail!("No such image: {name} (and --pull never)"),
        _ => {}
    }
    if !found && opts.announce_missing {
        writeln!(out, "Unable to find image '{name}' locally")?;
    }
    let args = PullArgs {
        all_tags: false,
        platform: opts.platform.clone(),
        all_platforms: false,
        quiet: opts.quiet,
        tls_verify: true,
        trust: Default::default(),
        name: name.to_string(),
    };
    pull(ctx, args, out, hold)
}

/// Whether image `name` is in the store for `platform` (held by `hold` when it is). With a
/// platform, an image that has it but not stored (a multi-platform image pulled for other
/// platforms) is missing, so the pull adds that platform to it; so is, as dockerd has it,
/// a stored image of another platform.
fn held_for(
    hold: &store::Lease,
    name: &str,
    platform: Option<&oci::Platform>,
) -> anyhow::Result<bool> {
    match util::hold_platform(hold, name, platform) {
        Ok(_) => Ok(true),
        Err(e) if format!("{e:#}").starts_with("No such image") => Ok(false),
        Err(e) if format!("{e:#}").contains("is not in the store") => Ok(false),
        Err(e) if format!("{e:#}").contains("does not match the specified platform") => Ok(false),
        Err(e) => Err(e),
    }
}

/// `pull`: one tag or digest, or with `-a` every tag of the repository, leaving what it
/// pulled held by `hold` (a build's bases, the image a container is about to be made
/// from), so a concurrent prune cannot take it before the caller is done with it.
pub fn pull(
    ctx: &Ctx,
    args: PullArgs,
    out: &mut dyn Write,
    hold: &store::Lease,
) -> anyhow::Result<()> {
    let named = oci::reference::parse_normalized_named(&args.name)
        .map_err(|e| anyhow::anyhow!(util::reference_message(&e)))?;
    let r = util::parse_reference(&args.name)?;
    let platforms = platform_choice(&args)?;
    let policy = ctx.trust_policy()?;
    let pull = Pull {
        ctx,
        policy: policy.as_ref(),
        args: &args,
    };
    let store = ctx.store()?;
    let client = registry::client(ctx, &r, args.tls_verify)?;
    if args.all_tags {
        if named.tag.is_some() || named.digest.is_some() {
            anyhow::bail!("tag can't be used with --all-tags/-a");
        }
        let repo = RegistrySource::new(client.clone(), r.path(), "latest");
        let mut tags = util::block_on(repo.tags())??;
        tags.sort();
        for tag in tags {
            let tagged = r.with_tag(&tag)?;
            pull.one(&store, &client, &tagged, &platforms, out, hold)?;
        }
        if !args.quiet {
            writeln!(out, "{}", r.without_tag_or_digest())?;
        }
        return Ok(());
    }
    if named.tag.is_none() && named.digest.is_none() && !args.quiet {
        writeln!(out, "Using default tag: latest")?;
    }
    let client = mirror_with(ctx, &r, args.tls_verify)?.unwrap_or(client);
    pull.one(&store, &client, &r, &platforms, out, hold)?;
    writeln!(out, "{r}")?;
    Ok(())
}

/// The first of the configured mirrors of `r`'s registry (Docker Hub's
/// `registry-mirrors`) that has `r`, or `None` (the registry itself then serves the pull,
/// as Docker falls back from its mirrors). A mirror that fails to answer is skipped.
fn mirror_with(
    ctx: &Ctx,
    r: &Reference,
    tls_verify: bool,
) -> anyhow::Result<Option<transport::RegistryClient>> {
    for url in ctx.config.mirrors_for(r.domain()) {
        let (host, verify) = crate::upstream::parse_upstream_url(url)?;
        let client = registry::client_for_host(ctx, &host, tls_verify && verify)?;
        let probe = RegistrySource::new(client.clone(), r.path(), registry::reference_string(r));
        match util::block_on(probe.resolve())? {
            Ok(_) => return Ok(Some(client)),
            Err(e) => tracing::info!("mirror {url} does not serve {}: {e}", r.familiar()),
        }
    }
    Ok(None)
}

/// Which platforms `pull` copies: `--all-platforms` every one (the index kept), a
/// comma-separated `--platform` list those (the index kept), one `--platform` that one.
fn platform_choice(args: &PullArgs) -> anyhow::Result<PlatformChoice> {
    match (&args.platform, args.all_platforms) {
        (Some(_), true) => {
            anyhow::bail!("--platform and --all-platforms cannot be used together")
        }
        (None, true) => Ok(PlatformChoice::All),
        (Some(list), false) if list.contains(',') => Ok(PlatformChoice::List(
            list.split(',')
                .map(|p| util::platform_or_host(Some(p.trim())))
                .collect::<anyhow::Result<_>>()?,
        )),
        (Some(p), false) => Ok(PlatformChoice::One(util::platform_or_host(Some(p))?)),
        (None, false) => Ok(PlatformChoice::Host),
    }
}

/// Whether tag `name` names an image index in the store.
fn stored_index(store: &store::Store, name: &str) -> bool {
    store
        .resolve_image(name)
        .is_ok_and(|i| oci::media::is_index(&i.target.media_type))
}

/// One `pull` command's settings, shared by every tag it pulls.
struct Pull<'a> {
    ctx: &'a Ctx,
    /// The trust policy, when one is in force.
    policy: Option<&'a trust::policy::Policy>,
    args: &'a PullArgs,
}

impl Pull<'_> {
    /// Pulls `r` into the store, prints the per-image lines; returns whether anything changed.
    /// `hold` holds the image from the copy's end past its last record (the repo digest).
    fn one(
        &self,
        store: &store::Store,
        client: &transport::RegistryClient,
        r: &Reference,
        platforms: &PlatformChoice,
        out: &mut dyn Write,
        hold: &store::Lease,
    ) -> anyhow::Result<bool> {
        let args = self.args;
        let what = registry::reference_string(r);
        if !args.quiet {
            writeln!(out, "{what}: Pulling from {}", r.path())?;
            out.flush()?;
        }
        // The tag to record: only for tag pulls (a digest pull leaves the image untagged).
        let tag = match (r.digest(), r.tag()) {
            (None, Some(_)) => Some(r.to_string()),
            _ => None,
        };
        let before = tag.as_ref().and_then(|t| {
            store
                .tags()
                .ok()?
                .into_iter()
                .find(|(name, _)| name == t)
                .map(|(_, d)| d)
        });
        // A tag that names a multi-platform image stays on the index: pulling one more of its
        // platforms adds that platform's content to the image (as Docker 28 does).
        let platforms = match (
            platforms,
            tag.as_deref().is_some_and(|t| stored_index(store, t)),
        ) {
            (PlatformChoice::Host, true) => PlatformChoice::List(vec![oci::Platform::host()]),
            (PlatformChoice::One(p), true) => PlatformChoice::List(vec![p.clone()]),
            (other, _) => other.clone(),
        };
        let progress = Arc::new(Progress::new(Verb::Pull, args.quiet));
        let opts = registry::with_progress(
            CopyOptions {
                platforms,
                tag: tag.clone(),
                // Layers are unpacked as they download: `run` then unpacks nothing.
                tee: Some(Arc::new(SnapshotTee(runtime::snapshot::PullUnpacker::new(
                    store.clone(),
                )))),
                ..CopyOptions::default()
            },
            &progress,
        );
        let failed = |e: transport::TransportError| {
            if e.is_not_found() {
                anyhow::anyhow!("manifest for {} not found: manifest unknown", r.familiar())
            } else {
                anyhow::Error::new(e).context(format!("pulling {}", r.familiar()))
            }
        };
        // Under a trust policy the image is checked before anything is stored, and the digest
        // checked is the one copied (a tag moved in between cannot slip another image in).
        let reference = match self.policy {
            None => what.clone(),
            Some(policy) => {
                let probe = RegistrySource::new(client.clone(), r.path(), what.clone());
                let top = util::block_on(probe.resolve())?.map_err(failed)?;
                let repo = trust::repo::RegistryRepo::new(client.clone(), r.path());
                util::block_on(trust::admit::admit(policy, r, &repo, &top))??;
                top.digest.to_string()
            }
        };
        let src = RegistrySource::new(client.clone(), r.path(), reference);
        let report = util::block_on(util::copy_to_store(store, &src, &opts, hold))?;
        progress.finish();
        let report = report.map_err(failed)?;
        store
            .add_repo_digest(&r.repository(), &report.source_digest, &report.top.digest)
            .context("recording the repo digest")?;
        store.image_event("pull", &r.familiar(), Some(&r.familiar_name()));
        super::store_signatures::keep_pulled(self.ctx, client, r.path(), &report);
        let changed = report.blobs_copied > 0 || before.as_ref() != Some(&report.top.digest);
        if !args.quiet {
            writeln!(out, "Digest: {}", report.source_digest)?;
            let name = r.familiar();
            if changed {
                writeln!(out, "Status: Downloaded newer image for {name}")?;
            } else {
                writeln!(out, "Status: Image is up to date for {name}")?;
            }
        }
        Ok(changed)
    }
}

/// The runtime's snapshot unpacker as the copy engine's second sink for layers.
struct SnapshotTee(runtime::snapshot::PullUnpacker);

impl LayerTee for SnapshotTee {
    fn image(&self, manifest: &oci::Manifest, config: &[u8]) {
        self.0.image(manifest, config);
    }

    fn layer(&self, desc: &oci::Descriptor) -> Option<LayerConsumer> {
        let unpack = self.0.layer(&desc.digest)?;
        let digest = desc.digest.clone();
        Some(Box::new(move |feed| {
            let (bytes, verdict) = feed.split();
            // A layer that will not unpack is not the pull's failure: `create` unpacks it
            // again from its blob and reports the error there.
            if let Err(e) = unpack.run(bytes, || verdict.wait()) {
                tracing::debug!("unpacking layer {digest} while pulling: {e}");
            }
        }))
    }
}
