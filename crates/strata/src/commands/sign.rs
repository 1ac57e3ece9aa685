//! `strata sign --key K [-a key=value]… [--recursive] [--bundle] IMAGE`: a cosign signature
//! of the image's manifest, stored next to it (a registry repository or an OCI layout)
//! under `sha256-<hex>.sig`, or with
//! `--bundle` (cosign 3's `--new-bundle-format`) a sigstore bundle attached as a referrer.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::{Ctx, signatures, util};

/// `strata sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The private key file (cosign's encrypted key, or a PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Extra key=value pairs to sign into the payload.
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Also sign every manifest of an index.
    #[arg(long)]
    pub recursive: bool,
    /// Write a sigstore bundle (v0.3, DSSE + in-toto) attached with the referrers API
    /// (the sha256-<hex> tag where the registry lacks it) instead of the .sig tag.
    #[arg(long, visible_alias = "new-bundle-format")]
    pub bundle: bool,
    /// Verify TLS certificates of the registry (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// The image: in a registry (`REF` or `docker://REF`) or an OCI layout
    /// (`oci:DIR[:NAME]`).
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// Loads the key, signs, and says where each signature went, as cosign does.
pub fn run(ctx: &Ctx, args: SignArgs) -> anyhow::Result<()> {
    let annotations =
        trust::payload::parse_annotations(&args.annotations).map_err(anyhow::Error::msg)?;
    let key = load_private_key(&args.key)?;
    let name = args.image.as_str();
    let t = signatures::for_image(ctx, name, args.tls_verify)?;
    if t.registry.as_ref().is_some_and(|r| r.digest().is_none()) {
        eprintln!(
            "WARNING: Image reference {name} uses a tag, not a digest, to identify the image to sign.\n    This can lead you to sign a different image than the intended one."
        );
    }
    let opts = trust::sign::SignOptions {
        annotations,
        recursive: args.recursive,
        bundle: args.bundle,
    };
    let docker_reference = &t.docker_reference;
    let signed = util::block_on(trust::sign::sign(
        &t.repo,
        docker_reference,
        &t.reference,
        &key,
        &opts,
    ))?
    .with_context(|| format!("signing {name}"))?;
    for s in signed {
        if let (true, Some(b)) = (s.added, &s.bundle) {
            eprintln!(
                "Pushing sigstore bundle for {docker_reference}@{} to: {docker_reference}@{}",
                s.digest,
                b.manifest()
            );
        } else if s.added {
            eprintln!("Pushing signature to: {docker_reference}");
        } else {
            eprintln!(
                "Signature for {docker_reference}@{} already present",
                s.digest
            );
        }
    }
    Ok(())
}

/// Reads a private key file, asking for its password only when it is encrypted.
pub(crate) fn load_private_key(path: &std::path::Path) -> anyhow::Result<trust::PrivateKey> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let encrypted = pem.windows(9).any(|w| w == b"ENCRYPTED");
    let password = if encrypted {
        super::trust_key::existing_password()?
    } else {
        String::new()
    };
    Ok(trust::PrivateKey::from_pem(
        &pem,
        password.as_bytes(),
        &path.display().to_string(),
    )?)
}
