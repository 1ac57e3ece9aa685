//! The signature manifest as data: appending keeps what cosign wrote (its annotations
//! included), never repeats a signature, and the config names every layer.

use oci::{Descriptor, Manifest};
use trust::tag_scheme::{
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SignatureLayer, append, signature_descriptors,
};

fn layer(payload: &str, sig: &[u8]) -> SignatureLayer {
    SignatureLayer::new(payload.as_bytes().to_vec(), sig)
}

/// A layer as cosign writes it with a Rekor bundle and a certificate beside the signature.
fn cosign_layer() -> Descriptor {
    let mut d = Descriptor::of_bytes(SIMPLE_SIGNING_MEDIA_TYPE, b"{\"from\":\"cosign\"}");
    d.annotations
        .insert(SIGNATURE_ANNOTATION.into(), "MEUCIQ==".into());
    d.annotations.insert(
        "dev.sigstore.cosign/bundle".into(),
        "{\"SignedEntryTimestamp\":\"x\"}".into(),
    );
    d.annotations.insert(
        "dev.sigstore.cosign/certificate".into(),
        "-----BEGIN CERTIFICATE-----".into(),
    );
    d
}

#[test]
fn append_cases() {
    let a = layer("{\"a\":1}", b"sig-a");
    let a_other_sig = layer("{\"a\":1}", b"sig-a2");
    let b = layer("{\"b\":1}", b"sig-b");
    let cosign = cosign_layer();
    // (case, existing, added, expected layer digests+signatures after, or None if unchanged)
    type Expect = Option<Vec<(String, String)>>;
    let key = |d: &Descriptor| {
        (
            d.digest.to_string(),
            d.annotations[SIGNATURE_ANNOTATION].clone(),
        )
    };
    let cases: Vec<(&str, Vec<Descriptor>, Vec<SignatureLayer>, Expect)> = vec![
        (
            "first signature",
            vec![],
            vec![a.clone()],
            Some(vec![key(&a.descriptor)]),
        ),
        (
            "same again",
            vec![a.descriptor.clone()],
            vec![a.clone()],
            None,
        ),
        (
            "same payload, another signature",
            vec![a.descriptor.clone()],
            vec![a_other_sig.clone()],
            Some(vec![key(&a.descriptor), key(&a_other_sig.descriptor)]),
        ),
        (
            "after cosign's layer",
            vec![cosign.clone()],
            vec![b.clone()],
            Some(vec![key(&cosign), key(&b.descriptor)]),
        ),
        (
            "two new, one a repeat",
            vec![b.descriptor.clone()],
            vec![b.clone(), a.clone()],
            Some(vec![key(&b.descriptor), key(&a.descriptor)]),
        ),
    ];
    for (what, existing, added, expect) in cases {
        let out = append(&existing, &added);
        match (out, expect) {
            (None, None) => {}
            (Some((image, new)), Some(want)) => {
                let m = Manifest::from_slice(&image.manifest).unwrap();
                assert_eq!(m.layers.iter().map(key).collect::<Vec<_>>(), want, "{what}");
                // Existing layers kept exactly, annotations and all.
                assert_eq!(&m.layers[..existing.len()], &existing[..], "{what}");
                assert_eq!(new.len(), want.len() - existing.len(), "{what}");
                assert!(image.descriptor.digest.verify(&image.manifest), "{what}");
                assert_eq!(image.descriptor.media_type, oci::media::OCI_MANIFEST);
                let config: serde_json::Value = serde_json::from_slice(&image.config.1).unwrap();
                let diff_ids: Vec<String> = m.layers.iter().map(|l| l.digest.to_string()).collect();
                assert_eq!(
                    config["rootfs"]["diff_ids"],
                    serde_json::json!(diff_ids),
                    "{what}"
                );
                assert_eq!(m.config, image.config.0, "{what}");
                assert!(image.config.0.digest.verify(&image.config.1));
                // What we read back is what we wrote.
                assert_eq!(
                    signature_descriptors(&image.manifest, "t").unwrap(),
                    m.layers
                );
            }
            (got, want) => panic!(
                "{what}: got {:?}, want {want:?}",
                got.map(|g| g.0.manifest.len())
            ),
        }
    }
}

#[test]
fn a_signature_manifest_that_is_not_a_manifest_is_refused_by_name() {
    let err = signature_descriptors(b"{\"manifests\":[]}", "app:sha256-x.sig")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("app:sha256-x.sig: not an image manifest"),
        "{err}"
    );
}
