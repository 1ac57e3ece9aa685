//! `strata copy SRC DST` between any two transports (skopeo's address forms).

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;
use transport::{
    CopyOptions, DockerArchiveDestination, ImageAddress, ImageSource, LayoutDestination,
    OciArchiveDestination, PlatformChoice, RegistryDestination,
};

use super::{Ctx, image_source, registry, signatures, util};
use crate::cli::CopyArgs;
use crate::progress::{Progress, Verb};

/// Copies the image at SOURCE to DESTINATION.
pub fn run(ctx: &Ctx, args: CopyArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let src_addr: ImageAddress = args.source.parse()?;
    let dst_addr: ImageAddress = args.destination.parse()?;
    let platforms = match (&args.platform, args.all) {
        (Some(_), true) => anyhow::bail!("--all and --platform cannot be used together"),
        (Some(p), false) => PlatformChoice::One(util::platform_or_host(Some(p))?),
        (None, true) => PlatformChoice::All,
        (None, false) => PlatformChoice::Host,
    };
    let recompress = args
        .dest_compress_format
        .as_deref()
        .map(|c| c.parse::<layer::Compression>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("--dest-compress-format: {e}"))?;
    let progress = Arc::new(Progress::new(Verb::Copy, args.quiet));
    let opts = registry::with_progress(
        CopyOptions {
            platforms,
            recompress,
            ..CopyOptions::default()
        },
        &progress,
    );
    let copier = Copier {
        ctx,
        tls_verify: args.tls_verify,
        opts,
    };
    let source = signatures::of_address(ctx, &src_addr, args.tls_verify)?;
    let src_addr = if args.require_signed {
        require_signed(ctx, &src_addr, source.as_ref(), &dst_addr)?
    } else {
        src_addr
    };
    let result = copier.from(&src_addr, &dst_addr);
    progress.finish();
    let report = result.with_context(|| format!("copying {src_addr} to {dst_addr}"))?;
    if let Some(source) = source.filter(|_| !args.remove_signatures) {
        carry_signatures(
            ctx,
            &source,
            &dst_addr,
            &report,
            args.tls_verify,
            args.quiet,
        )
        .with_context(|| format!("copying the signatures of {src_addr} to {dst_addr}"))?;
    }
    if !args.quiet {
        writeln!(out, "{}", report.top.digest)?;
    }
    Ok(())
}

/// The second half of a copy, run on the opened source.
struct CopyTo<'a> {
    copier: &'a Copier<'a>,
    dst: &'a ImageAddress,
}

impl image_source::UseSource for CopyTo<'_> {
    type Output = transport::CopyReport;

    fn apply<S: ImageSource>(self, src: &S) -> anyhow::Result<transport::CopyReport> {
        self.copier.to(src, self.dst)
    }
}

struct Copier<'a> {
    ctx: &'a Ctx,
    tls_verify: bool,
    opts: CopyOptions,
}

impl Copier<'_> {
    /// Opens the source, then hands it to [`Copier::to`].
    fn from(
        &self,
        src: &ImageAddress,
        dst: &ImageAddress,
    ) -> anyhow::Result<transport::CopyReport> {
        image_source::open(self.ctx, src, self.tls_verify, CopyTo { copier: self, dst })
    }

    /// Opens the destination and copies `src` into it.
    fn to<S: ImageSource>(
        &self,
        src: &S,
        dst: &ImageAddress,
    ) -> anyhow::Result<transport::CopyReport> {
        let with_tag = |tag: Option<String>| CopyOptions {
            tag,
            ..self.opts.clone()
        };
        match dst {
            ImageAddress::Docker(name) => {
                let r = util::parse_reference(name)?;
                let client = registry::client(self.ctx, &r, self.tls_verify)?;
                let d = RegistryDestination::new(client, r.path());
                let opts = with_tag(r.tag().map(str::to_string));
                Ok(util::block_on(transport::copy(src, &d, &opts))??)
            }
            ImageAddress::Oci { path, reference } => {
                let d = LayoutDestination::new(path.clone(), reference.clone())?;
                let opts = with_tag(reference.clone());
                Ok(util::block_on(transport::copy(src, &d, &opts))??)
            }
            ImageAddress::OciArchive { path, reference } => {
                let d = OciArchiveDestination::create(path)?;
                let opts = with_tag(reference.clone());
                Ok(util::block_on(transport::copy(src, &d, &opts))??)
            }
            ImageAddress::DockerArchive { path, reference } => {
                let d = DockerArchiveDestination::create(path)?;
                let opts = with_tag(reference.clone());
                Ok(util::block_on(transport::copy(src, &d, &opts))??)
            }
            ImageAddress::Store(name) => {
                let r = util::parse_reference(name)?;
                let store = self.ctx.store()?;
                let opts = with_tag(r.tag().is_some().then(|| r.to_string()));
                let hold = store.lease()?;
                Ok(util::block_on(util::copy_to_store(
                    &store, src, &opts, &hold,
                ))??)
            }
        }
    }
}

/// `--require-signed`: the trust policy's rule for the image (named by its registry
/// reference at the source, else at the destination) must admit the source image. Returns
/// the source pinned to the digest checked, so what is copied is what was admitted.
fn require_signed(
    ctx: &Ctx,
    src_addr: &ImageAddress,
    source: Option<&signatures::Target>,
    dst_addr: &ImageAddress,
) -> anyhow::Result<ImageAddress> {
    let Some(policy) = ctx.trust_policy()? else {
        anyhow::bail!(
            "--require-signed needs a trust policy: give --policy FILE or write ~/.config/strata/policy.json"
        );
    };
    let Some(source) = source else {
        anyhow::bail!(
            "--require-signed: {src_addr} cannot hold signatures; copy from a registry (docker://) or an OCI layout (oci:)"
        );
    };
    let name = match (&source.registry, dst_addr) {
        (Some(r), _) => r.clone(),
        (None, ImageAddress::Docker(d)) => util::parse_reference(d)?,
        (None, _) => anyhow::bail!(
            "--require-signed: the policy's rules are per registry; copy from or to a registry (docker://)"
        ),
    };
    let top = util::block_on(trust::repo::SignatureRepo::resolve(
        &source.repo,
        &source.reference,
    ))??
    .ok_or_else(|| anyhow::anyhow!("{src_addr}: no such image"))?;
    util::block_on(trust::admit::admit(&policy, &name, &source.repo, &top))??;
    Ok(match src_addr {
        ImageAddress::Docker(_) => ImageAddress::Docker(
            name.without_tag_or_digest()
                .with_digest(top.digest)
                .to_string(),
        ),
        ImageAddress::Oci { path, .. } => ImageAddress::Oci {
            path: path.clone(),
            reference: Some(top.digest.to_string()),
        },
        other => other.clone(),
    })
}

/// Copies the signatures of what was copied: the top manifest's when it was copied as it
/// is, and each image manifest's (an index signed with `--recursive`). Nothing when the
/// destination cannot hold signatures, or the copy rewrote the manifests (recompression:
/// the signatures name digests the destination does not have).
fn carry_signatures(
    ctx: &Ctx,
    source: &signatures::Target,
    dst_addr: &ImageAddress,
    report: &transport::CopyReport,
    tls_verify: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let Some(dest) = signatures::of_address(ctx, dst_addr, tls_verify)? else {
        return Ok(());
    };
    if report.rewritten {
        return Ok(());
    }
    let mut subjects: Vec<oci::Descriptor> = Vec::new();
    if report.top.digest == report.source_digest {
        subjects.push(report.top.clone());
    }
    for m in &report.manifests {
        if !subjects.iter().any(|s| s.digest == m.digest) {
            subjects.push(m.clone());
        }
    }
    let carried = util::block_on(trust::carry::carry(&source.repo, &dest.repo, &subjects))??;
    if carried.written + carried.bundles > 0 && !quiet {
        eprintln!("Storing signatures");
    }
    Ok(())
}
