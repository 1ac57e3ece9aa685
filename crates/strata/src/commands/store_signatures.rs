//! Signatures kept with the store: `pull` keeps the signatures of what it pulled (cosign's
//! `.sig` manifests and sigstore bundles) in the store's `signatures/` OCI layout, and
//! `push` sends the kept signatures of what it pushes along, so a pulled signed image pushed
//! elsewhere still verifies there. Carrying signatures never fails the pull or push it
//! follows: a failure is a warning.

use oci::Descriptor;
use transport::{CopyReport, RegistryClient};
use trust::layout_repo::LayoutRepo;
use trust::repo::{RegistryRepo, SignatureRepo};

use super::{Ctx, util};

/// The store's signature layout.
fn kept(ctx: &Ctx) -> LayoutRepo {
    LayoutRepo::new(store::Layout::new(&ctx.root).signatures_dir())
}

/// The manifests a copy moved unchanged whose signatures follow it: the source's top (when
/// it is what was copied, or an index kept whole) and each image manifest.
pub fn subjects(report: &CopyReport) -> Vec<Descriptor> {
    if report.rewritten {
        return Vec::new();
    }
    let mut out: Vec<Descriptor> = Vec::new();
    if report.top.digest == report.source_digest || oci::media::is_index(&report.top.media_type) {
        out.push(report.source.clone());
    }
    for m in &report.manifests {
        if !out.iter().any(|s| s.digest == m.digest) {
            out.push(m.clone());
        }
    }
    out
}

/// Keeps the signatures of `report`'s image, pulled from repository `path` of `client`'s
/// registry.
pub fn keep_pulled(ctx: &Ctx, client: &RegistryClient, path: &str, report: &CopyReport) {
    let src = RegistryRepo::new(client.clone(), path);
    carry_warn(
        &src,
        &kept(ctx),
        &subjects(report),
        "keeping the signatures of",
    );
}

/// `push --require-signed`: the policy's rule for the destination `target` must admit the
/// image `top`, judged by the signatures kept with it.
pub fn admit_kept(
    ctx: &Ctx,
    policy: &trust::policy::Policy,
    target: &oci::Reference,
    top: &Descriptor,
) -> anyhow::Result<()> {
    util::block_on(trust::admit::admit(policy, target, &kept(ctx), top))??;
    Ok(())
}

/// Pushes the kept signatures of `report`'s image to repository `path` of `client`'s
/// registry.
pub fn push_kept(ctx: &Ctx, client: &RegistryClient, path: &str, report: &CopyReport) {
    let dst = RegistryRepo::new(client.clone(), path);
    carry_warn(
        &kept(ctx),
        &dst,
        &subjects(report),
        "pushing the signatures of",
    );
}

fn carry_warn<S: SignatureRepo, D: SignatureRepo>(
    src: &S,
    dst: &D,
    subjects: &[Descriptor],
    doing: &str,
) {
    if subjects.is_empty() {
        return;
    }
    let result = util::block_on(trust::carry::carry(src, dst, subjects));
    let failed = match result {
        Ok(Ok(_)) => return,
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    eprintln!(
        "WARNING: {doing} {}: {failed}",
        subjects
            .first()
            .map(|s| s.digest.to_string())
            .unwrap_or_default()
    );
}
