//! `strata sbom --from-attestation [--key PUB] IMAGE`: the SBOM attached to the image as an
//! attestation (`strata attest`, `build --sbom`, `cosign attest --type spdxjson|cyclonedx`)
//! instead of one made by walking its layers.
//!
//! The image's attestation referrers are read (signed bundles and unsigned in-toto
//! statements); those of an SBOM predicate type naming the image are candidates, the one in
//! the `--format` asked for first. For a multi-platform image those of the `--platform`
//! image (the host's by default; where `build --sbom` and BuildKit put them) are read
//! first, as they are surely of that platform, then the index's (where `strata attest`
//! and cosign put them). With `--key` only a signed attestation whose signature
//! verifies is used; without, a signed one's statement is read unverified, with a note.

use oci::Descriptor;
use scan::sbom::Format;
use trust::bundle::check_attestation;
use trust::referrer::{IN_TOTO_MEDIA_TYPE, predicate_type_of};
use trust::statement::{CYCLONEDX_PREDICATE, SPDX_PREDICATE, Statement};

use super::attest::{self, Attestable};
use super::{Ctx, util};

/// The SBOM predicate types an attestation may carry.
const SBOM_PREDICATES: [&str; 2] = [SPDX_PREDICATE, CYCLONEDX_PREDICATE];

/// The SBOM document (the predicate's JSON) attached to `image`, in `format`'s predicate
/// type when there is one (any SBOM otherwise); signed and verified with `key` when given.
/// Fails with "no SBOM attestation for IMAGE" (and why each candidate was refused) when
/// there is none to use.
pub fn read(
    ctx: &Ctx,
    image: &str,
    tls_verify: bool,
    platform: Option<&str>,
    format: &Format,
    key: Option<&trust::PublicKey>,
) -> anyhow::Result<Vec<u8>> {
    let mut target = attest::resolve(ctx, image, tls_verify)?;
    let preferred = match format {
        Format::SpdxJson => Some(SPDX_PREDICATE),
        Format::CycloneDxJson(_) => Some(CYCLONEDX_PREDICATE),
        Format::Table => None,
    };
    let mut subjects = Vec::new();
    if oci::media::is_index(&target.subject.media_type) {
        subjects.extend(platform_manifest(ctx, &target, platform)?);
    }
    subjects.push(target.subject.clone());
    let mut found: Vec<Statement> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    for subject in subjects {
        target.subject = subject;
        let mut referrers = util::block_on(trust::bundle_repo::find_attestations(
            &target.repo,
            &target.subject,
            image,
        ))??;
        // An annotation naming another predicate type saves fetching that referrer; the
        // statement itself decides for the rest.
        referrers.retain(|d| predicate_type_of(d).is_none_or(|t| SBOM_PREDICATES.contains(&t)));
        for d in &referrers {
            match candidate(&target, d, key) {
                Ok(s) => found.push(s),
                Err(why) => reasons.push(why),
            }
        }
        if !found.is_empty() {
            break;
        }
    }
    let pick = found
        .iter()
        .position(|s| Some(s.predicate_type.as_str()) == preferred)
        .unwrap_or(0);
    if found.is_empty() {
        let why = if reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", reasons.join("; "))
        };
        anyhow::bail!("no SBOM attestation for {image}{why}");
    }
    let statement = found.swap_remove(pick);
    if let Some(p) = preferred
        && statement.predicate_type != p
    {
        eprintln!(
            "note: {image} has no {p} attestation; printing its {} one",
            statement.predicate_type
        );
    }
    let mut out = serde_json::to_vec_pretty(&statement.predicate)?;
    out.push(b'\n');
    Ok(out)
}

/// The manifest of the index `target.subject` for `platform` (the host's by default), if
/// the index has one.
fn platform_manifest(
    ctx: &Ctx,
    target: &Attestable,
    platform: Option<&str>,
) -> anyhow::Result<Option<Descriptor>> {
    let want = util::platform_or_host(platform)?;
    let bytes = if target.in_store {
        ctx.store()?.manifest_bytes(&target.subject.digest)?
    } else {
        util::block_on(trust::repo::SignatureRepo::manifest(
            &target.repo,
            &target.subject,
        ))??
    };
    let index = oci::Index::from_slice(&bytes)?;
    Ok(oci::platform::choose(&index.manifests, &want).cloned())
}

/// The SBOM statement of referrer `d`, or why it is not one to use.
fn candidate(
    target: &Attestable,
    d: &Descriptor,
    key: Option<&trust::PublicKey>,
) -> Result<Statement, String> {
    let subject = &target.subject.digest;
    let what = format!("attestation referrer {}", d.digest);
    let (media_type, bytes) =
        util::block_on(trust::bundle_repo::attestation_of(&target.repo, d, subject))
            .map_err(|e| e.to_string())??;
    if media_type == IN_TOTO_MEDIA_TYPE {
        if key.is_some() {
            return Err(format!(
                "{what}: unsigned (--key asks for a signed attestation)"
            ));
        }
        let statement = Statement::from_slice(&bytes, &what).map_err(|e| e.to_string())?;
        if !SBOM_PREDICATES.contains(&statement.predicate_type.as_str()) {
            return Err(format!(
                "{what}: predicate type {:?} is not an SBOM",
                statement.predicate_type
            ));
        }
        if statement.subject_for(subject).is_none() {
            return Err(format!("{what}: the statement is not about {subject}"));
        }
        return Ok(statement);
    }
    let (_, statement) = check_attestation(&what, &bytes, key, subject, &SBOM_PREDICATES)?;
    if key.is_none() {
        eprintln!(
            "note: {what} is signed; its signature was not verified (give --key to verify it)"
        );
    }
    Ok(statement)
}
