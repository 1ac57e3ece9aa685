//! `strata sbom TARGET [--format spdx-json|cyclonedx-json|table] [-o FILE]`: the packages an
//! image (or a root filesystem directory) carries, each with the layer that brought it in.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use scan::sbom::{Document, Format};

use super::{Ctx, output_file, scan_target};

/// `strata sbom`.
#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The output format: spdx-json, cyclonedx-json (1.6), cyclonedx-json@1.5, or table.
    #[arg(long, default_value = "table", value_name = "FORMAT")]
    pub format: String,
    /// Write the SBOM to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which image of a multi-platform index (os/arch[/variant]); the host's by default.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Verify TLS certificates of the registry (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// Print the SBOM attached to the image as an attestation (`strata attest`,
    /// `build --sbom`, cosign's) instead of making one; --format chooses among several.
    #[arg(long)]
    pub from_attestation: bool,
    /// With --from-attestation: use only a signed attestation that verifies with this
    /// public key (PEM).
    #[arg(long, value_name = "FILE", requires = "from_attestation")]
    pub key: Option<PathBuf>,
    /// The image (a local name, `docker://REF`, `oci:DIR[:NAME]`, an archive file) or a
    /// root filesystem directory.
    #[arg(value_name = "IMAGE|DIR")]
    pub target: String,
}

/// Makes and writes the SBOM.
pub fn run(ctx: &Ctx, args: SbomArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let format: Format = args.format.parse()?;
    if args.from_attestation {
        let key = match &args.key {
            Some(path) => {
                let pem =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                Some(trust::PublicKey::from_pem(
                    &pem,
                    &path.display().to_string(),
                )?)
            }
            None => None,
        };
        let bytes = super::sbom_attestation::read(
            ctx,
            &args.target,
            args.tls_verify,
            args.platform.as_deref(),
            &format,
            key.as_ref(),
        )?;
        return output_file::write_to(args.output.as_deref(), out, |w| Ok(w.write_all(&bytes)?));
    }
    let bytes = make(
        ctx,
        &args.target,
        args.platform.as_deref(),
        args.tls_verify,
        format,
    )?;
    output_file::write_to(args.output.as_deref(), out, |w| Ok(w.write_all(&bytes)?))
}

/// The SBOM of `target` in `format`, whole (an SBOM is small beside the image).
pub fn make(
    ctx: &Ctx,
    target: &str,
    platform: Option<&str>,
    tls_verify: bool,
    format: Format,
) -> anyhow::Result<Vec<u8>> {
    let parsed = scan_target::parse(ctx, target)?;
    let catalogers = scan::catalog::all();
    let (info, inventory) = scan_target::inventory(
        ctx,
        &parsed,
        target,
        platform,
        tls_verify,
        &catalogers,
        None,
    )?;
    for note in &inventory.notes {
        eprintln!(
            "note: layer {}: {}: {}",
            note.layer, note.path, note.message
        );
    }
    let created = created_time()?;
    let doc = Document {
        image: &info,
        inventory: &inventory,
        created: &created,
    };
    let mut bytes = Vec::new();
    format
        .write(&doc, &mut bytes)
        .with_context(|| format!("writing the SBOM of {target}"))?;
    Ok(bytes)
}

/// The SBOM's creation time: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
fn created_time() -> anyhow::Result<String> {
    let time = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => {
            let secs: i64 = s
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds"))?;
            chrono::DateTime::from_timestamp(secs, 0)
                .with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is out of range"))?
        }
        Err(_) => chrono::Utc::now(),
    };
    Ok(time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}
