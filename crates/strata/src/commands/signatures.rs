//! Where `sign`, `verify` and `copy` find an image's signatures: a registry repository or
//! an OCI layout, from the address the user wrote.

use anyhow::Context as _;
use transport::ImageAddress;
use trust::any_repo::AnyRepo;
use trust::layout_repo::LayoutRepo;
use trust::repo::RegistryRepo;

use super::{Ctx, registry};

/// An image and the repository holding its signatures.
#[derive(Debug)]
pub struct Target {
    /// The repository.
    pub repo: AnyRepo,
    /// What to resolve in it for the image (a tag, a layout entry's name, or a digest).
    pub reference: String,
    /// The image's registry reference, for a registry image.
    pub registry: Option<oci::Reference>,
    /// The name written into a signature's payload (`critical.identity.docker-reference`).
    pub docker_reference: String,
}

/// The target of `sign`/`verify`: `oci:DIR[:NAME]` is a layout; `docker://REF` or a bare
/// reference a registry image (as cosign reads a bare reference).
pub fn for_image(ctx: &Ctx, image: &str, tls_verify: bool) -> anyhow::Result<Target> {
    let addr = if image.starts_with("oci:") || image.starts_with("docker://") {
        image.parse()?
    } else {
        ImageAddress::Docker(image.to_string())
    };
    if let ImageAddress::Oci {
        path,
        reference: None,
    } = &addr
    {
        // Say why an unnamed layout image cannot be found (several entries, none).
        transport::OciLayout::open(path.clone())?.find(None)?;
    }
    of_address(ctx, &addr, tls_verify)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{image}: signatures live in a registry (REF) or an OCI layout (oci:DIR[:NAME])"
        )
    })
}

/// The target an address names, `None` for addresses that cannot hold signatures (the
/// local store, archives).
pub fn of_address(
    ctx: &Ctx,
    addr: &ImageAddress,
    tls_verify: bool,
) -> anyhow::Result<Option<Target>> {
    Ok(Some(match addr {
        ImageAddress::Docker(name) => {
            let r = oci::Reference::parse(name).with_context(|| format!("parsing {name}"))?;
            let client = registry::client(ctx, &r, tls_verify)?;
            Target {
                repo: AnyRepo::Registry(RegistryRepo::new(client, r.path())),
                reference: trust::repo::tag_or_digest(&r),
                docker_reference: trust::payload::docker_reference(&r),
                registry: Some(r),
            }
        }
        ImageAddress::Oci { path, reference } => {
            // An unnamed layout image is its only entry, found by digest (a copy's
            // destination layout may not exist yet: it needs no reference).
            let reference = match reference {
                Some(r) => r.clone(),
                None => transport::OciLayout::open(path.clone())
                    .and_then(|l| l.find(None))
                    .map(|d| d.digest.to_string())
                    .unwrap_or_default(),
            };
            Target {
                repo: AnyRepo::Layout(LayoutRepo::new(path.clone())),
                docker_reference: reference.clone(),
                reference,
                registry: None,
            }
        }
        ImageAddress::OciArchive { .. }
        | ImageAddress::DockerArchive { .. }
        | ImageAddress::Store(_) => return Ok(None),
    }))
}
