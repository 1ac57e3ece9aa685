//! `build --sbom[=true]` (BuildKit's flag; `--attest type=sbom` too): once the image is in
//! the store, its SBOM (SPDX, BuildKit's format) is attached to it as an unsigned in-toto
//! attestation in the store's signatures layout, as `strata attest --type sbom` does; `push`
//! carries it to the registry with the image. A multi-platform build attaches one to each
//! platform's manifest (BuildKit's attestations are per platform too).

use oci::{Descriptor, Platform};
use scan::sbom::Format;
use trust::any_repo::AnyRepo;
use trust::layout_repo::LayoutRepo;
use trust::statement::SPDX_PREDICATE;

use super::{Ctx, attest, sbom};

/// Whether `--sbom` / `--attest` ask for an SBOM attestation. `--attest` takes BuildKit's
/// `type=sbom[,…]`; any other type is refused (strata attests SBOMs only).
pub fn wanted(sbom: bool, attest: &[String]) -> anyhow::Result<bool> {
    let mut want = sbom;
    for a in attest {
        let kind = a
            .split(',')
            .find_map(|kv| kv.strip_prefix("type="))
            .ok_or_else(|| anyhow::anyhow!("--attest {a:?}: expected type=sbom"))?;
        if kind != "sbom" {
            anyhow::bail!(
                "--attest type={kind} is not supported: strata attests SBOMs only (type=sbom)"
            );
        }
        want = true;
    }
    Ok(want)
}

/// Attaches the SBOM of each built manifest (`name` is the image as the store resolves it:
/// a tag, or the image ID; each manifest with its platform) and says so on stderr, unless
/// `quiet`.
pub fn attach(
    ctx: &Ctx,
    name: &str,
    manifests: &[(Platform, Descriptor)],
    quiet: bool,
) -> anyhow::Result<()> {
    for (platform, manifest) in manifests {
        let platform = platform.to_string();
        let sbom = sbom::make(ctx, name, Some(&platform), false, Format::SpdxJson)?;
        let target = attest::Attestable {
            repo: AnyRepo::Layout(LayoutRepo::new(
                store::Layout::new(&ctx.root).signatures_dir(),
            )),
            subject: manifest.clone(),
            name: name.to_string(),
            in_store: true,
        };
        let attached = attest::attach(&target, SPDX_PREDICATE, &sbom, None)?;
        if !quiet {
            eprintln!(
                "#sbom [{platform}] attaching SBOM attestation ({SPDX_PREDICATE}) {} to {} done",
                attached.manifest(),
                manifest.digest
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_ask_for_an_sbom() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(!wanted(false, &[]).unwrap());
        assert!(wanted(true, &[]).unwrap());
        assert!(wanted(false, &s(&["type=sbom"])).unwrap());
        assert!(wanted(false, &s(&["type=sbom,generator=x"])).unwrap());
        assert!(wanted(false, &s(&["type=provenance"])).is_err());
        assert!(wanted(false, &s(&["sbom"])).is_err());
    }
}
