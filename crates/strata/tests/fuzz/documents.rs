//! References and the JSON documents of an image (manifest, index, config) from generated
//! and mutated input: never a panic, and what is accepted survives a round trip.

use std::time::Duration;

use proptest::prelude::*;

use crate::{bounded, config};

/// Valid documents to mutate: an image manifest, an index, a Docker manifest list and a
/// config, in the shapes registries serve.
const SEEDS: &[(&str, &str)] = &[
    (
        oci::media::OCI_MANIFEST,
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"annotations":{"a":"b"}}]}"#,
    ),
    (
        oci::media::OCI_INDEX,
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}"#,
    ),
    (
        "application/vnd.docker.distribution.manifest.list.v2+json",
        r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"platform":{"architecture":"amd64","os":"linux"}}]}"#,
    ),
    (
        oci::media::OCI_CONFIG,
        r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"],"ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000}},"rootfs":{"type":"layers","diff_ids":["sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"x","empty_layer":true}]}"#,
    ),
];

/// JSON fragments a mutation splices in.
const SPLICES: &[&str] = &[
    "null",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "\"\"",
    "\"sha256:\"",
    "[]",
    "{}",
    "[[[[[[[[",
    "\"\\ud800\"",
    "true",
    ",",
    ":",
    "\"x\":",
    "\u{0}",
    "\u{ff}",
    "\"sha512:00\"",
    "\"schemaVersion\":1",
    "\"mediaType\":\"text/plain\"",
    "\"size\":-5",
];

/// One change to a document: (kind, where, how far, what to splice in).
pub type Edit = (u8, prop::sample::Index, prop::sample::Index, &'static str);

/// One to three edits.
pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        (
            any::<u8>(),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            prop::sample::select(SPLICES),
        ),
        1..4,
    )
}

/// `bytes` with a few bits flipped, a range cut out or a JSON fragment spliced in.
pub fn edited(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for (kind, at, to, splice) in edits {
        let i = at.index(b.len() + 1);
        match kind % 3 {
            0 if i < b.len() => b[i] ^= 1 << (kind % 8),
            1 => {
                let j = to.index(b.len() + 1);
                let (i, j) = (i.min(j), i.max(j).min(i.min(j) + 16));
                b.drain(i..j);
            }
            _ => {
                b.splice(i..i, splice.bytes());
            }
        }
    }
    b
}

/// A seed document, edited.
fn mutated() -> impl Strategy<Value = (String, Vec<u8>)> {
    (prop::sample::select(SEEDS), edits())
        .prop_map(|((media, doc), e)| (media.to_string(), edited(doc.as_bytes().to_vec(), &e)))
}

/// Decodes `bytes` every way a document arrives and round-trips what decodes.
fn decode(media: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = oci::Manifest::from_slice(bytes) {
        let again = oci::Manifest::from_slice(&m.to_vec())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again.to_vec(), m.to_vec());
    }
    if let Ok(i) = oci::Index::from_slice(bytes) {
        let again =
            oci::Index::from_slice(&i.to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again.to_vec(), i.to_vec());
    }
    if let Ok(c) = oci::ImageConfig::from_slice(bytes) {
        let again = oci::ImageConfig::from_slice(&c.to_vec())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again.to_vec(), c.to_vec());
        let _ = c.platform();
    }
    for mt in [Some(media), None] {
        if let Ok(any) = oci::AnyManifest::parse(mt, bytes) {
            let _ = any.children();
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn references_never_panic_and_round_trip(s in "[-a-zA-Z0-9_.:/@+]{0,80}") {
        let t = s.clone();
        let parsed = bounded("parsing a reference", Duration::from_secs(10), move || oci::Reference::parse(&t));
        let _ = oci::reference::parse_any_reference(&s);
        let _ = oci::reference::parse_docker_ref(&s);
        if let Ok(r) = parsed {
            let again = oci::Reference::parse(&r.to_string());
            prop_assert_eq!(again.as_ref().ok(), Some(&r), "{} printed as {}", s, r);
        }
    }

    #[test]
    fn references_with_digests_never_panic(
        name in "[a-z0-9./:-]{0,30}",
        alg in "(sha256|sha512|md5|[a-z+._-]{0,8})",
        hex in "[0-9a-fA-F]{0,130}",
    ) {
        let s = format!("{name}@{alg}:{hex}");
        let t = s.clone();
        if let Ok(r) = bounded("parsing a digest reference", Duration::from_secs(10), move || oci::Reference::parse(&t)) {
            prop_assert_eq!(oci::Reference::parse(&r.to_string()).ok(), Some(r));
        }
    }

    #[test]
    fn mutated_documents_never_panic((media, bytes) in mutated()) {
        bounded("decoding a document", Duration::from_secs(10), move || decode(&media, &bytes))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        bounded("decoding bytes", Duration::from_secs(10), move || decode(oci::media::OCI_MANIFEST, &bytes))?;
    }
}
