//! The simple-signing payload, annotations and the signature tag, as tables.

use std::collections::BTreeMap;

use trust::payload::{SimpleSigning, docker_reference, parse_annotations};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn payload_bytes_are_cosigns() {
    let d: oci::Digest = D.parse().unwrap();
    let cases = [
        (
            map(&[]),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"127.0.0.1:5000/app"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"}},"optional":null}}"#
            ),
        ),
        (
            map(&[("z", "1"), ("a", "b=c")]),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"127.0.0.1:5000/app"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"}},"optional":{{"a":"b=c","z":"1"}}}}"#
            ),
        ),
    ];
    for (ann, want) in cases {
        let p = SimpleSigning::new("127.0.0.1:5000/app", &d, &ann);
        assert_eq!(String::from_utf8(p.to_bytes()).unwrap(), want);
        assert_eq!(SimpleSigning::from_slice(want.as_bytes(), "t").unwrap(), p);
        // sigstore-rs parses our payload to the same claims.
        let theirs: sigstore::cosign::payload::simple_signing::SimpleSigning =
            serde_json::from_str(&want).unwrap();
        assert!(theirs.satisfies_manifest_digest(D));
        assert_eq!(
            theirs.critical.identity.docker_reference,
            "127.0.0.1:5000/app"
        );
    }
}

#[test]
fn payload_of_another_type_is_refused() {
    let bad = r#"{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:00"},"type":"atomic container signature"},"optional":null}"#;
    let err = SimpleSigning::from_slice(bad.as_bytes(), "sig")
        .unwrap_err()
        .to_string();
    assert!(err.contains("atomic container signature"), "{err}");
    assert!(SimpleSigning::from_slice(b"{}", "sig").is_err());
}

#[test]
fn annotation_matching() {
    let d: oci::Digest = D.parse().unwrap();
    let signed = SimpleSigning::new("r", &d, &map(&[("env", "prod"), ("team", "a")]));
    let unsigned = SimpleSigning::new("r", &d, &map(&[]));
    let mut numeric = signed.clone();
    numeric
        .optional
        .as_mut()
        .unwrap()
        .insert("n".into(), serde_json::json!(3));
    // (payload, wanted, first missing)
    let cases: Vec<(&SimpleSigning, BTreeMap<String, String>, Option<&str>)> = vec![
        (&signed, map(&[]), None),
        (&signed, map(&[("env", "prod")]), None),
        (&signed, map(&[("env", "prod"), ("team", "a")]), None),
        (&signed, map(&[("env", "dev")]), Some("env=dev")),
        (&signed, map(&[("owner", "x")]), Some("owner=x")),
        (&unsigned, map(&[("env", "prod")]), Some("env=prod")),
        (&unsigned, map(&[]), None),
        (&numeric, map(&[("n", "3")]), None),
        (&numeric, map(&[("n", "4")]), Some("n=4")),
    ];
    for (p, wanted, missing) in cases {
        assert_eq!(
            p.missing_annotation(&wanted).as_deref(),
            missing,
            "{wanted:?}"
        );
    }
}

#[test]
fn annotation_flags() {
    assert_eq!(
        parse_annotations(&["a=b".into(), "c=d=e".into(), "f=".into()]).unwrap(),
        map(&[("a", "b"), ("c", "d=e"), ("f", "")])
    );
    for bad in ["novalue", "=x"] {
        let err = parse_annotations(&[bad.to_string()]).unwrap_err();
        assert!(err.contains(bad), "{err}");
    }
}

#[test]
fn docker_reference_is_go_containerregistrys_repository_name() {
    let cases = [
        ("ubuntu", "index.docker.io/library/ubuntu"),
        ("docker.io/me/app:v1", "index.docker.io/me/app"),
        ("127.0.0.1:5000/app:v1", "127.0.0.1:5000/app"),
        (
            "localhost:5000/a/b@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "localhost:5000/a/b",
        ),
        ("quay.io/x/y", "quay.io/x/y"),
    ];
    for (r, want) in cases {
        assert_eq!(
            docker_reference(&oci::Reference::parse(r).unwrap()),
            want,
            "{r}"
        );
    }
}

#[test]
fn signature_tag_is_cosigns() {
    let d: oci::Digest = D.parse().unwrap();
    assert_eq!(
        trust::tag_scheme::signature_tag(&d),
        "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig"
    );
}
