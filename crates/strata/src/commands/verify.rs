//! `strata verify --key K [-a key=value]… [--output json|text] IMAGE`: checks the image's
//! cosign signatures with a public key, both forms (`.sig` tag and sigstore bundles);
//! cosign's summary on stderr, the verified payloads on stdout (a bundle's as its
//! statement's claims, `type` the predicate type, as cosign 3 prints them), exit 1 with
//! the reasons when none verifies. With `--type T` (cosign's `verify-attestation`): the
//! signed attestations of that predicate type (cosign's names, e.g. `spdxjson`,
//! `cyclonedx`, or a URI) are checked instead, and their statements printed.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::{Ctx, signatures, util};

/// `strata verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The public key file (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Annotations every accepted signature must carry (key=value).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// How to print the verified payloads: json (one array) or text (each payload).
    #[arg(short, long, default_value = "json", value_parser = ["json", "text"])]
    pub output: String,
    /// Verify the image's signed attestations of this type instead of its signatures
    /// (cosign's names: spdxjson, cyclonedx, …, or a predicate type URI).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Verify TLS certificates of the registry (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// The image: in a registry (`REF` or `docker://REF`) or an OCI layout
    /// (`oci:DIR[:NAME]`).
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// Verifies and renders.
pub fn run(ctx: &Ctx, args: VerifyArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let annotations =
        trust::payload::parse_annotations(&args.annotations).map_err(anyhow::Error::msg)?;
    let pem =
        std::fs::read(&args.key).with_context(|| format!("reading {}", args.key.display()))?;
    let key = trust::PublicKey::from_pem(&pem, &args.key.display().to_string())?;
    let name = args.image.as_str();
    let t = signatures::for_image(ctx, name, args.tls_verify)?;
    let v = match &args.kind {
        None => util::block_on(trust::verify::verify(
            &t.repo,
            name,
            &t.reference,
            &key,
            &annotations,
        ))??,
        Some(kind) => {
            let predicate_type = trust::statement::predicate_type(kind).with_context(|| {
                format!("unknown attestation type {kind:?}: use cosign's names (spdxjson, cyclonedx, …) or a predicate type URI")
            })?;
            let top = util::block_on(trust::repo::SignatureRepo::resolve(&t.repo, &t.reference))??
                .with_context(|| format!("{name}: no such image"))?;
            util::block_on(trust::verify::verify_attestations(
                &t.repo,
                name,
                &top,
                &key,
                &predicate_type,
            ))??
        }
    };
    // cosign's header, on stderr so stdout stays the payloads.
    eprintln!("\nVerification for {name} --");
    eprintln!("The following checks were performed on each of these signatures:");
    if !annotations.is_empty() {
        eprintln!("  - The specified annotations were verified.");
    }
    eprintln!("  - The cosign claims were validated");
    eprintln!("  - The signatures were verified against the specified public key");
    if args.output == "text" {
        for s in &v.verified {
            out.write_all(&s.payload)?;
            writeln!(out)?;
        }
    } else {
        let parsed: Vec<_> = v.verified.iter().map(|s| &s.parsed).collect();
        writeln!(out, "{}", serde_json::to_string(&parsed)?)?;
    }
    Ok(())
}
