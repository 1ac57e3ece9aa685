//! `strata manifest push LIST` (`--purge`, `--insecure`): pushes a local list to its own
//! name as Docker's manifest list. Entries from other repositories of the same registry are
//! put into the list's repository first, their blobs mounted, so the list only names what
//! its repository holds.

use std::io::Write;

use oci::Descriptor;
use transport::{ImageDestination, RegistryDestination, RegistrySource, combine, graft};

use super::manifest_create::normalize;
use super::manifest_store::{ListStore, no_such_manifest};
use super::{Ctx, Plain, registry, util};
use crate::cli::ManifestPushArgs;

/// Pushes the list, prints `Pushed ref …` for each entry put into the repository and then
/// the list's digest; `--purge` deletes the local list after.
pub fn run(ctx: &Ctx, args: ManifestPushArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let target = normalize(&args.list).map_err(Plain::error)?;
    let lists = ListStore::new(&store::Layout::new(&ctx.root));
    let Some(entries) = lists.get_list(&target)? else {
        return Err(Plain::error(no_such_manifest(&target.to_string())));
    };
    if entries.is_empty() {
        return Err(Plain::error(format!("{target} not found")));
    }
    let mut descs = Vec::with_capacity(entries.len());
    let mut foreign = Vec::new();
    for e in &entries {
        let has_platform = e
            .descriptor
            .platform
            .as_ref()
            .is_some_and(|p| !p.os.is_empty() && !p.architecture.is_empty());
        if !has_platform {
            return Err(Plain::error(format!(
                "manifest {} must have an OS and Architecture to be pushed to a registry",
                e.reference
            )));
        }
        let image = normalize(&e.reference).map_err(Plain::error)?;
        if image.domain() != target.domain() {
            return Err(Plain::error(format!(
                "cannot use source images from a different registry than the target image: {} != {}",
                image.domain(),
                target.domain()
            )));
        }
        if image.path() != target.path() {
            foreign.push((image, e.descriptor.clone()));
        }
        descs.push(e.descriptor.clone());
    }
    let (bytes, desc) = combine::docker_manifest_list(&descs);
    let client = registry::client(ctx, &target, !args.insecure)?;
    let dst = RegistryDestination::new(client.clone(), target.path());
    let tag = registry::reference_string(&target);
    let pushed = util::block_on(async {
        let mut pushed: Vec<Descriptor> = Vec::new();
        for (image, d) in &foreign {
            let src = RegistrySource::new(client.clone(), image.path(), d.digest.to_string());
            graft::put_by_digest(&src, &dst, Some(image.path())).await?;
            pushed.push(d.clone());
        }
        dst.put_manifest(&desc, bytes.into(), Some(&tag)).await?;
        Ok::<_, transport::TransportError>(pushed)
    })??;
    for d in pushed {
        writeln!(
            out,
            "Pushed ref {}@{} with digest: {}",
            target.repository(),
            d.digest,
            d.digest
        )?;
    }
    writeln!(out, "{}", desc.digest)?;
    if args.purge {
        lists.remove(&target)?;
    }
    Ok(())
}
