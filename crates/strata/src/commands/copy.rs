//! `strata copy SRC DST` between any two transports (skopeo's address forms).

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;
use transport::{
    CopyOptions, DockerArchiveDestination, DockerArchiveSource, ImageAddress, ImageSource,
    LayoutDestination, LayoutSource, OciArchiveDestination, OciArchiveSource, OciLayout,
    PlatformChoice, RegistryDestination, RegistrySource, StoreSource,
};

use super::{Ctx, registry, util};
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
    let result = copier.from(&src_addr, &dst_addr);
    progress.finish();
    let report = result.with_context(|| format!("copying {src_addr} to {dst_addr}"))?;
    if !args.quiet {
        writeln!(out, "{}", report.top.digest)?;
    }
    Ok(())
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
        match src {
            ImageAddress::Docker(name) => {
                let r = util::parse_reference(name)?;
                let client = registry::client(self.ctx, &r, self.tls_verify)?;
                let s = RegistrySource::new(client, r.path(), registry::reference_string(&r));
                self.to(&s, dst)
            }
            ImageAddress::Oci { path, reference } => {
                let s = LayoutSource::new(OciLayout::open(path.clone())?, reference.as_deref())?;
                self.to(&s, dst)
            }
            ImageAddress::OciArchive { path, reference } => {
                let s = OciArchiveSource::open(path, reference.as_deref())?;
                self.to(&s, dst)
            }
            ImageAddress::DockerArchive { path, reference } => {
                let archive = DockerArchiveSource::open(path)?;
                let s = match reference.as_deref() {
                    None => archive,
                    Some(r) => match r.strip_prefix('@') {
                        Some(n) => archive.image(
                            n.parse()
                                .with_context(|| format!("@{n}: not an image number"))?,
                        )?,
                        None => archive.image_by_tag(r)?,
                    },
                };
                self.to(&s, dst)
            }
            ImageAddress::Store(name) => {
                let store = self.ctx.store()?;
                let s = StoreSource::open(store, name).map_err(|e| {
                    if e.is_not_found() {
                        anyhow::anyhow!("No such image: {name}")
                    } else {
                        e.into()
                    }
                })?;
                self.to(&s, dst)
            }
        }
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
