//! Opening an image source from the address a user wrote: a registry (`docker://`), an OCI
//! layout or archive, a `docker save` archive, or the local store. Sources are generic
//! ([`ImageSource`] is not object-safe), so the caller's work comes as a [`UseSource`].

use anyhow::Context as _;
use transport::{
    DockerArchiveSource, ImageAddress, ImageSource, LayoutSource, OciArchiveSource, OciLayout,
    RegistrySource, StoreSource,
};

use super::{Ctx, registry, util};

/// What to do with a source once it is open.
pub trait UseSource {
    /// What the work yields.
    type Output;

    /// Does the work on the open source.
    fn apply<S: ImageSource>(self, src: &S) -> anyhow::Result<Self::Output>;
}

/// Opens the image at `addr` and hands it to `use_`.
pub fn open<U: UseSource>(
    ctx: &Ctx,
    addr: &ImageAddress,
    tls_verify: bool,
    use_: U,
) -> anyhow::Result<U::Output> {
    match addr {
        ImageAddress::Docker(name) => {
            let r = util::parse_reference(name)?;
            let client = registry::client(ctx, &r, tls_verify)?;
            let s = RegistrySource::new(client, r.path(), registry::reference_string(&r));
            use_.apply(&s)
        }
        ImageAddress::Oci { path, reference } => {
            let s = LayoutSource::new(OciLayout::open(path.clone())?, reference.as_deref())?;
            use_.apply(&s)
        }
        ImageAddress::OciArchive { path, reference } => {
            let s = OciArchiveSource::open(path, reference.as_deref())?;
            use_.apply(&s)
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
            use_.apply(&s)
        }
        ImageAddress::Store(name) => {
            let store = ctx.store()?;
            let s = StoreSource::open(store, name).map_err(|e| {
                if e.is_not_found() {
                    anyhow::anyhow!("No such image: {name}")
                } else {
                    e.into()
                }
            })?;
            use_.apply(&s)
        }
    }
}
