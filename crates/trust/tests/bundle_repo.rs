//! Bundles in an in-memory repository, with and without a referrers API: attached once,
//! earlier referrers kept, found again, and a stored bundle that no longer matches its
//! digest or a referrer of another image refused with its reason.

mod common;

use std::collections::BTreeMap;

use common::{MemRepo, block_on, image_manifest};
use oci::Descriptor;
use trust::PrivateKey;
use trust::bundle_repo::{self, Attached};
use trust::referrer::{BundleArtifact, fallback_tag};
use trust::repo::SignatureRepo as _;
use trust::sign::{SignOptions, sign};
use trust::verify::verify;

const R: &str = "127.0.0.1:5000/app";

fn bundle_opts() -> SignOptions {
    SignOptions {
        bundle: true,
        ..SignOptions::default()
    }
}

#[test]
fn bundles_attach_once_keep_earlier_ones_and_verify_with_or_without_referrers_api() {
    for api in [true, false] {
        let repo = MemRepo {
            referrers_api: api,
            ..MemRepo::default()
        };
        let img = repo.add_manifest(oci::media::OCI_MANIFEST, &image_manifest(1), Some("v1"));
        let (k1, k2) = (PrivateKey::generate(), PrivateKey::generate());
        let s1 = block_on(sign(&repo, R, "v1", &k1, &bundle_opts())).unwrap();
        assert!(s1[0].added, "api={api}");
        match (&s1[0].bundle, api) {
            (Some(Attached::Referrers { .. }), true) => {}
            (Some(Attached::TagSchema { tag, .. }), false) => {
                assert_eq!(*tag, fallback_tag(&img.digest))
            }
            (other, _) => panic!("api={api}: {other:?}"),
        }
        let again = block_on(sign(&repo, R, "v1", &k1, &bundle_opts())).unwrap();
        assert!(
            !again[0].added,
            "api={api}: the same bundle is not added twice"
        );
        block_on(sign(&repo, R, "v1", &k2, &bundle_opts())).unwrap();
        let found = block_on(bundle_repo::find(&repo, &img, "app:v1")).unwrap();
        assert_eq!(found.len(), 2, "api={api}: {found:?}");
        assert!(
            found
                .iter()
                .any(|d| d.digest == *s1[0].bundle.as_ref().unwrap().manifest())
        );
        // The fallback tag exists exactly when there is no referrers API.
        let tagged = block_on(repo.resolve(&fallback_tag(&img.digest))).unwrap();
        assert_eq!(tagged.is_some(), !api, "api={api}");
        for k in [&k1, &k2] {
            let v = block_on(verify(
                &repo,
                "app:v1",
                "v1",
                &k.public_key(),
                &BTreeMap::new(),
            ))
            .unwrap();
            assert_eq!(v.verified.len(), 1, "api={api}");
            assert!(v.verified[0].bundle);
            assert_eq!(
                v.verified[0].parsed.critical.kind,
                trust::statement::COSIGN_SIGN_PREDICATE
            );
        }
    }
}

#[test]
fn a_stored_bundle_that_no_longer_matches_its_digest_is_refused() {
    for api in [true, false] {
        let repo = MemRepo {
            referrers_api: api,
            ..MemRepo::default()
        };
        repo.add_manifest(oci::media::OCI_MANIFEST, &image_manifest(1), Some("v1"));
        let key = PrivateKey::generate();
        block_on(sign(&repo, R, "v1", &key, &bundle_opts())).unwrap();
        // Flip one byte of the stored bundle blob (storage corruption or a registry lying).
        let mut flipped = 0;
        for bytes in repo.blobs.lock().unwrap().values_mut() {
            if bytes.starts_with(b"{\"mediaType\":\"application/vnd.dev.sigstore.bundle") {
                let i = bytes.len() / 2;
                bytes[i] ^= 0x01;
                flipped += 1;
            }
        }
        assert_eq!(flipped, 1, "api={api}");
        let err = block_on(verify(
            &repo,
            "app:v1",
            "v1",
            &key.public_key(),
            &BTreeMap::new(),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("does not match its digest (tampered bundle)"),
            "api={api}: {err}"
        );
    }
}

#[test]
fn a_referrer_of_another_image_listed_in_the_fallback_index_is_refused() {
    let repo = MemRepo::default();
    let img = repo.add_manifest(oci::media::OCI_MANIFEST, &image_manifest(1), Some("v1"));
    let other = repo.add_manifest(oci::media::OCI_MANIFEST, &image_manifest(2), Some("v2"));
    let key = PrivateKey::generate();
    // A good bundle of `other`, then its referrer copied into v1's fallback index.
    let s = block_on(sign(&repo, R, "v2", &key, &bundle_opts())).unwrap();
    let referrer: Descriptor = {
        let tag = fallback_tag(&other.digest);
        let d = block_on(repo.resolve(&tag)).unwrap().unwrap();
        let bytes = block_on(repo.manifest(&d)).unwrap();
        oci::Index::from_slice(&bytes).unwrap().manifests[0].clone()
    };
    assert_eq!(referrer.digest, *s[0].bundle.as_ref().unwrap().manifest());
    let (d, bytes) = trust::referrer::add_to_fallback_index(None, &referrer).unwrap();
    block_on(repo.put_manifest(&d, bytes, &fallback_tag(&img.digest))).unwrap();
    let err = block_on(verify(
        &repo,
        "app:v1",
        "v1",
        &key.public_key(),
        &BTreeMap::new(),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!(
            "its subject is {}, not {}",
            other.digest, img.digest
        )),
        "{err}"
    );
    // The artifact shape is the one `BundleArtifact` makes (a sanity check of the copy).
    let a = BundleArtifact::new(Vec::new(), &img);
    assert_eq!(a.descriptor.artifact_type, referrer.artifact_type);
}
