//! `strata attest --type sbom [--format spdx-json|cyclonedx-json] [--key K] IMAGE`: the
//! image's SBOM as an in-toto attestation attached to it as an OCI referrer (the
//! `sha256-<hex>` tag where the registry lacks the referrers API), as `cosign attest` does
//! with a predicate file.
//!
//! The statement's subject is the manifest the image's reference resolves to, as cosign's
//! (the index itself for a multi-platform image; the SBOM is of the `--platform` image,
//! the host's by default). With `--key` the statement is signed (DSSE in a sigstore bundle
//! v0.3, `strata verify --type` and sigstore tooling check it); without, it is attached
//! unsigned in BuildKit's shape (`application/vnd.in-toto+json`). An image in the local
//! store keeps its attestation in the store's `signatures/` layout, which `push` carries.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use oci::Descriptor;
use scan::sbom::Format;
use transport::ImageAddress;
use trust::any_repo::AnyRepo;
use trust::bundle_repo::Attached;
use trust::layout_repo::LayoutRepo;
use trust::repo::SignatureRepo as _;
use trust::statement::{CYCLONEDX_PREDICATE, SPDX_PREDICATE};

use super::{Ctx, sbom, scan_target, signatures, util};

/// `strata attest`.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// What to attest: `sbom` (the predicate type follows --format), or cosign's names for
    /// SBOMs (`cyclonedx`, `spdxjson`, `spdx`) or their predicate type URIs.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: String,
    /// The SBOM format: spdx-json (BuildKit's) or cyclonedx-json; `--type cyclonedx` or
    /// `spdxjson` chooses it too.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Sign the attestation with this private key (cosign's encrypted key, or a PKCS#8
    /// PEM; password from COSIGN_PASSWORD or the terminal); unsigned without.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Which image of a multi-platform index the SBOM is of (os/arch[/variant]); the
    /// host's by default.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Verify TLS certificates of the registry (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// The image: a local name, `docker://REF` (or a registry reference the store does not
    /// have), or `oci:DIR[:NAME]`.
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// An image and where its attestations live.
pub struct Attestable {
    /// The repository holding its referrers (the store's signatures layout for a local
    /// image).
    pub repo: AnyRepo,
    /// The manifest (or index) the attestations are about.
    pub subject: Descriptor,
    /// The name written as the statement's subject.
    pub name: String,
    /// Whether the image is in the local store (whose manifests `repo` does not hold).
    pub in_store: bool,
}

/// Makes, attaches and reports the attestation.
pub fn run(ctx: &Ctx, args: AttestArgs) -> anyhow::Result<()> {
    let (predicate_type, format) = sbom_kind(&args.kind, args.format.as_deref())?;
    let key = match &args.key {
        Some(k) => Some(super::sign::load_private_key(k)?),
        None => None,
    };
    let target = resolve(ctx, &args.image, args.tls_verify)?;
    let sbom = sbom::make(
        ctx,
        &args.image,
        args.platform.as_deref(),
        args.tls_verify,
        format,
    )?;
    let attached = attach(&target, &predicate_type, &sbom, key.as_ref())
        .with_context(|| format!("attaching the SBOM attestation to {}", args.image))?;
    report(&target, &predicate_type, key.is_some(), &attached);
    Ok(())
}

/// Says where the attestation went (cosign's words for a bundle).
pub fn report(target: &Attestable, predicate_type: &str, signed: bool, attached: &Attached) {
    let kind = if signed { "signed" } else { "unsigned" };
    let place = match attached {
        Attached::Referrers { .. } => "referrers API".to_string(),
        Attached::TagSchema { tag, .. } => format!("tag {tag}"),
    };
    let added = match attached {
        Attached::Referrers { added, .. } | Attached::TagSchema { added, .. } => *added,
    };
    let verb = if added {
        "Attached"
    } else {
        "Already attached:"
    };
    eprintln!(
        "{verb} {kind} attestation {predicate_type} for {}@{} as {} ({place})",
        target.name,
        target.subject.digest,
        attached.manifest()
    );
}

/// The predicate type and SBOM format of `--type` and `--format`: `sbom` takes the
/// format's (SPDX by default, as BuildKit), a cosign name or URI fixes it, and a format
/// given beside must agree.
pub fn sbom_kind(kind: &str, format: Option<&str>) -> anyhow::Result<(String, Format)> {
    let from_format = |f: &str| -> anyhow::Result<(String, Format)> {
        let parsed: Format = f.parse()?;
        match parsed {
            Format::SpdxJson => Ok((SPDX_PREDICATE.to_string(), parsed)),
            Format::CycloneDxJson(_) => Ok((CYCLONEDX_PREDICATE.to_string(), parsed)),
            Format::Table => {
                anyhow::bail!("--format table cannot be attested: use spdx-json or cyclonedx-json")
            }
        }
    };
    if kind == "sbom" {
        return from_format(format.unwrap_or("spdx-json"));
    }
    let uri = trust::statement::predicate_type(kind).with_context(|| {
        format!("unknown attestation type {kind:?}: use sbom, cyclonedx, spdxjson or a predicate type URI")
    })?;
    let implied = match uri.as_str() {
        SPDX_PREDICATE => "spdx-json",
        CYCLONEDX_PREDICATE => "cyclonedx-json",
        _ => anyhow::bail!(
            "attestation type {kind:?} ({uri}) is not an SBOM: strata attests SBOMs (--type sbom, cyclonedx, spdxjson)"
        ),
    };
    let chosen = from_format(format.unwrap_or(implied))?;
    if chosen.0 != uri {
        anyhow::bail!(
            "--type {kind} is {uri}, but --format {} makes {}",
            format.unwrap_or_default(),
            chosen.0
        );
    }
    Ok(chosen)
}

/// Finds the image `image` and where its attestations go: a local store image (a bare
/// name the store has) keeps them in the store's signatures layout; a registry image or an
/// OCI layout beside it.
pub fn resolve(ctx: &Ctx, image: &str, tls_verify: bool) -> anyhow::Result<Attestable> {
    let addr = match scan_target::parse(ctx, image)? {
        scan_target::Target::Image(addr) | scan_target::Target::Remote(addr) => addr,
        scan_target::Target::Dir(d) => anyhow::bail!(
            "{}: a directory is not an image: attestations attach to an image (a local name, REF, oci:DIR[:NAME])",
            d.display()
        ),
    };
    if let ImageAddress::Store(name) = &addr {
        let name = name.strip_prefix("strata:").unwrap_or(name);
        return store_image(ctx, name);
    }
    let t = signatures::of_address(ctx, &addr, tls_verify)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{image}: attestations attach to an image in the local store, a registry or an OCI layout, not an archive"
        )
    })?;
    let subject = util::block_on(t.repo.resolve(&t.reference))??
        .with_context(|| format!("{image}: no such image"))?;
    Ok(Attestable {
        repo: t.repo,
        subject,
        name: t.docker_reference,
        in_store: false,
    })
}

/// A local store image (`name` as the store resolves it: a name, an ID).
pub fn store_image(ctx: &Ctx, name: &str) -> anyhow::Result<Attestable> {
    let info = ctx.store()?.resolve_image(name)?;
    Ok(Attestable {
        repo: AnyRepo::Layout(LayoutRepo::new(
            store::Layout::new(&ctx.root).signatures_dir(),
        )),
        subject: info.target,
        name: name.to_string(),
        in_store: true,
    })
}

/// Wraps `sbom` (its JSON) in a statement of `predicate_type` about `target`'s subject,
/// signs it when a key is given, and attaches it.
pub fn attach(
    target: &Attestable,
    predicate_type: &str,
    sbom: &[u8],
    key: Option<&trust::PrivateKey>,
) -> anyhow::Result<Attached> {
    let predicate: serde_json::Value =
        serde_json::from_slice(sbom).context("the SBOM is not JSON")?;
    let statement = trust::statement::Statement::attestation(
        &target.name,
        &target.subject.digest,
        predicate_type,
        predicate,
    )
    .to_bytes();
    let artifact = match key {
        Some(key) => trust::referrer::BundleArtifact::bundle(
            trust::bundle::Bundle::sign_statement(statement, key).to_bytes(),
            &target.subject,
            predicate_type,
        ),
        None => {
            trust::referrer::BundleArtifact::in_toto(statement, &target.subject, predicate_type)
        }
    };
    Ok(util::block_on(trust::bundle_repo::attach_artifact(
        &target.repo,
        &target.subject,
        artifact,
    ))??)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_and_format_choose_the_predicate() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("sbom", None, Some(SPDX_PREDICATE)),
            ("sbom", Some("spdx-json"), Some(SPDX_PREDICATE)),
            ("sbom", Some("cyclonedx-json"), Some(CYCLONEDX_PREDICATE)),
            (
                "sbom",
                Some("cyclonedx-json@1.5"),
                Some(CYCLONEDX_PREDICATE),
            ),
            ("sbom", Some("table"), None),
            ("cyclonedx", None, Some(CYCLONEDX_PREDICATE)),
            ("spdxjson", None, Some(SPDX_PREDICATE)),
            ("spdx", None, Some(SPDX_PREDICATE)),
            ("https://cyclonedx.org/bom", None, Some(CYCLONEDX_PREDICATE)),
            ("cyclonedx", Some("spdx-json"), None),
            ("slsaprovenance", None, None),
            ("nonsense", None, None),
        ];
        for (kind, format, want) in cases {
            let got = sbom_kind(kind, *format).ok().map(|(p, _)| p);
            assert_eq!(got.as_deref(), *want, "--type {kind} --format {format:?}");
        }
    }
}
