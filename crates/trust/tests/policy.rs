//! The trust policy: scope matching and parsing as tables (no I/O but key files), then
//! admission and signature carrying over real OCI layout directories.

use std::collections::BTreeMap;
use std::path::Path;

use oci::Descriptor;
use trust::admit::admit;
use trust::layout_repo::LayoutRepo;
use trust::policy::{Policy, Requirement, scope_candidates};
use trust::repo::SignatureRepo as _;
use trust::{PrivateKey, TrustError};

fn reference(s: &str) -> oci::Reference {
    oci::Reference::parse(s).unwrap()
}

#[test]
fn scopes_go_from_the_reference_to_the_transport() {
    let d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let table: &[(&str, &[&str])] = &[
        (
            "127.0.0.1:5000/team/app:v1",
            &[
                "127.0.0.1:5000/team/app:v1",
                "127.0.0.1:5000/team/app",
                "127.0.0.1:5000/team",
                "127.0.0.1:5000",
                "",
            ],
        ),
        (
            "reg.example.com/app",
            &[
                "reg.example.com/app:latest",
                "reg.example.com/app",
                "reg.example.com",
                "*.example.com",
                "*.com",
                "",
            ],
        ),
        (
            &*format!("a.b.example.com:443/x@{d}"),
            &[
                &*format!("a.b.example.com:443/x@{d}"),
                "a.b.example.com:443/x",
                "a.b.example.com:443",
                "*.b.example.com",
                "*.example.com",
                "*.com",
                "",
            ],
        ),
        (
            "busybox",
            &[
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox",
                "docker.io/library",
                "docker.io",
                "*.io",
                "",
            ],
        ),
    ];
    for (r, want) in table {
        assert_eq!(scope_candidates(&reference(r)), *want, "{r}");
    }
}

/// A directory with a policy and two public keys, `a.pub` and `b.pub`.
struct Fixture {
    dir: tempfile::TempDir,
    a: PrivateKey,
    b: PrivateKey,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (PrivateKey::generate(), PrivateKey::generate());
        std::fs::write(dir.path().join("a.pub"), a.public_key().to_pem()).unwrap();
        std::fs::write(dir.path().join("b.pub"), b.public_key().to_pem()).unwrap();
        Fixture { dir, a, b }
    }

    fn policy(&self, json: &str) -> Result<Policy, TrustError> {
        let path = self.dir.path().join("policy.json");
        std::fs::write(&path, json).unwrap();
        Policy::load(&path)
    }
}

#[test]
fn the_most_specific_scope_decides() {
    let f = Fixture::new();
    let p = f
        .policy(
            r#"{"default":[{"type":"reject"}],
                "transports":{
                  "docker":{
                    "":[{"type":"insecureAcceptAnything"}],
                    "127.0.0.1:5000":[{"type":"signedBy","keyPath":"a.pub"}],
                    "127.0.0.1:5000/team":[{"type":"reject"}],
                    "127.0.0.1:5000/team/app":[{"type":"insecureAcceptAnything"}],
                    "127.0.0.1:5000/team/app:v2":[{"type":"sigstoreSigned","keyPaths":["a.pub","b.pub"],"keyMatch":"all"}],
                    "*.example.com":[{"type":"reject"}]
                  },
                  "docker-daemon":{"":[{"type":"insecureAcceptAnything"}]}
                }}"#,
        )
        .unwrap();
    let table = [
        (
            "127.0.0.1:5000/team/app:v1",
            "127.0.0.1:5000/team/app",
            "insecureAcceptAnything",
        ),
        (
            "127.0.0.1:5000/team/app:v2",
            "127.0.0.1:5000/team/app:v2",
            "signedBy",
        ),
        ("127.0.0.1:5000/team/other", "127.0.0.1:5000/team", "reject"),
        ("127.0.0.1:5000/solo", "127.0.0.1:5000", "signedBy"),
        ("127.0.0.1:5001/solo", "", "insecureAcceptAnything"),
        ("a.example.com/x", "*.example.com", "reject"),
    ];
    for (r, scope, kind) in table {
        let rule = p.rule_for(&reference(r));
        assert_eq!(rule.scope, scope, "{r}");
        assert_eq!(rule.requirements[0].type_name(), kind, "{r}");
    }
    let Requirement::SignedBy { keys, .. } = &p
        .rule_for(&reference("127.0.0.1:5000/team/app:v2"))
        .requirements[0]
    else {
        panic!("signedBy expected");
    };
    assert_eq!(keys.len(), 2);
    // Without a transport entry, the default rule applies.
    let p = f.policy(r#"{"default":[{"type":"reject"}]}"#).unwrap();
    assert_eq!(p.rule_for(&reference("127.0.0.1:5000/x")).scope, "default");
}

#[test]
fn bad_policies_are_refused_with_what_to_change() {
    let f = Fixture::new();
    let table = [
        ("{", "invalid policy"),
        (r#"{"transports":{}}"#, "missing field `default`"),
        (r#"{"default":[]}"#, "empty list"),
        (
            r#"{"default":[{"type":"trustMe"}]}"#,
            "unknown variant `trustMe`",
        ),
        (r#"{"default":[{"type":"signedBy"}]}"#, "names no key"),
        (
            r#"{"default":[{"type":"signedBy","keyPath":"nope.pub"}]}"#,
            "nope.pub",
        ),
        (
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"a.pub"}]}"#,
            "keyType",
        ),
        (
            r#"{"default":[{"type":"signedBy","keyPath":"a.pub","keyMatch":"most"}]}"#,
            "unknown variant `most`",
        ),
        (
            r#"{"default":[{"type":"reject","keyPath":"a.pub"}]}"#,
            "unknown field",
        ),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"*.a.com/x":[{"type":"reject"}]}}}"#,
            "wildcard",
        ),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"a*b":[{"type":"reject"}]}}}"#,
            "only as a leading",
        ),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"https://a.com":[{"type":"reject"}]}}}"#,
            "registry host",
        ),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"a.com":[]}}}"#,
            "empty list",
        ),
    ];
    for (json, words) in table {
        let e = f.policy(json).expect_err(json).to_string();
        assert!(e.contains(words), "{json}: {e}");
        assert!(e.contains("policy.json"), "the error names the file: {e}");
    }
    // keyData: a PEM inline, or the PEM's bytes in base64 (containers-policy's form).
    use base64::Engine as _;
    let pem = f.b.public_key().to_pem();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pem);
    let json = serde_json::json!({"default":[{"type":"signedBy","keyDatas":[pem, b64]}]});
    let p = f.policy(&json.to_string()).unwrap();
    assert_eq!(p.all_keys().len(), 1, "the same key twice is one key");
}

#[test]
fn content_trust_turns_accept_anything_into_signed_by_any_configured_key() {
    let f = Fixture::new();
    let e = f
        .policy(r#"{"default":[{"type":"insecureAcceptAnything"}]}"#)
        .unwrap()
        .with_content_trust()
        .unwrap_err()
        .to_string();
    assert!(e.contains("names no public key"), "{e}");
    let p = f
        .policy(
            r#"{"default":[{"type":"insecureAcceptAnything"}],
                "transports":{"docker":{"127.0.0.1:5000":[{"type":"signedBy","keyPath":"a.pub"}],
                                        "10.0.0.1:5000":[{"type":"reject"}]}}}"#,
        )
        .unwrap()
        .with_content_trust()
        .unwrap();
    let rule = p.rule_for(&reference("127.0.0.2:5000/x"));
    assert_eq!(rule.requirements[0].type_name(), "signedBy");
    assert_eq!(
        p.rule_for(&reference("10.0.0.1:5000/x")).requirements[0].type_name(),
        "reject",
        "a reject stays a reject"
    );
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// Writes a small image manifest (config only) into the layout `dir` as `tag`.
fn image(dir: &Path, n: u8, tag: &str) -> Descriptor {
    let repo = LayoutRepo::new(dir);
    let config = vec![b'{', n, b'}'];
    let cfg = Descriptor::of_bytes(oci::media::OCI_CONFIG, &config);
    let bytes = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": oci::media::OCI_MANIFEST, "config": cfg, "layers": []
    }))
    .unwrap();
    let d = Descriptor::of_bytes(oci::media::OCI_MANIFEST, &bytes);
    block_on(async {
        repo.put_blob(&cfg, config).await.unwrap();
        repo.put_manifest(&d, bytes, tag).await.unwrap();
    });
    d
}

fn sign(dir: &Path, tag: &str, key: &PrivateKey) {
    let opts = trust::sign::SignOptions::default();
    block_on(trust::sign::sign(
        &LayoutRepo::new(dir),
        "127.0.0.1:5000/app",
        tag,
        key,
        &opts,
    ))
    .unwrap();
}

#[test]
fn admission_checks_the_rule_against_the_signatures() {
    let f = Fixture::new();
    let layout = f.dir.path().join("layout");
    let digest = image(&layout, 1, "v1");
    let repo = LayoutRepo::new(&layout);
    let r = reference("127.0.0.1:5000/app:v1");
    let run = |json: &str| block_on(admit(&f.policy(json).unwrap(), &r, &repo, &digest));
    let signed_by_a = r#"{"default":[{"type":"signedBy","keyPath":"a.pub"}]}"#;
    let both = r#"{"default":[{"type":"signedBy","keyPaths":["a.pub","b.pub"],"keyMatch":"all"}]}"#;
    let either = r#"{"default":[{"type":"signedBy","keyPaths":["b.pub","a.pub"]}]}"#;

    // Unsigned: signedBy refuses, naming the rule and why.
    let e = run(signed_by_a).unwrap_err();
    let TrustError::Refused {
        scope, requirement, ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(
        (scope.as_str(), requirement.as_str()),
        ("default", "signedBy")
    );
    let msg = e.to_string();
    assert!(
        msg.contains("127.0.0.1:5000/app:v1") && msg.contains("no signatures found"),
        "{msg}"
    );

    sign(&layout, "v1", &f.a);
    let ok = run(signed_by_a).unwrap();
    assert_eq!(ok.verified_by.len(), 1);
    assert!(ok.verified_by[0].ends_with("a.pub"), "{ok:?}");
    assert!(run(either).is_ok(), "any of the keys is enough");
    let msg = run(both).unwrap_err().to_string();
    assert!(
        msg.contains("each of its keys") && msg.contains("b.pub"),
        "{msg}"
    );
    sign(&layout, "v1", &f.b);
    assert_eq!(run(both).unwrap().verified_by.len(), 2);

    let msg = run(r#"{"default":[{"type":"reject"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("rejected") && msg.contains("rule default, reject"),
        "{msg}"
    );
    let scoped = r#"{"default":[{"type":"insecureAcceptAnything"}],
                     "transports":{"docker":{"127.0.0.1:5000/app":[{"type":"reject"}]}}}"#;
    let msg = run(scoped).unwrap_err().to_string();
    assert!(msg.contains("\"127.0.0.1:5000/app\""), "{msg}");
    let ok = run(r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    assert!(ok.verified_by.is_empty());

    // Another image's signatures do not admit this one.
    let other = image(&layout, 2, "v2");
    let e = block_on(admit(
        &f.policy(signed_by_a).unwrap(),
        &reference("127.0.0.1:5000/app:v2"),
        &repo,
        &other,
    ))
    .unwrap_err();
    assert!(matches!(e, TrustError::Refused { .. }), "{e}");
}

#[test]
fn signatures_carried_to_another_layout_verify_there_and_merge_with_its_own() {
    let f = Fixture::new();
    let (a_dir, b_dir) = (f.dir.path().join("a"), f.dir.path().join("b"));
    let digest = image(&a_dir, 1, "v1");
    sign(&a_dir, "v1", &f.a);
    let (src, dst) = (LayoutRepo::new(&a_dir), LayoutRepo::new(&b_dir));
    // The image itself reaches b as a copy would bring it; then its signatures follow.
    image(&b_dir, 1, "v1");
    let verify = |k: &PrivateKey| {
        block_on(trust::verify::verify(
            &dst,
            "b",
            "v1",
            &k.public_key(),
            &BTreeMap::new(),
        ))
    };
    assert!(verify(&f.a).is_err(), "not carried yet");
    let c = block_on(trust::carry::carry(
        &src,
        &dst,
        std::slice::from_ref(&digest),
    ))
    .unwrap();
    assert_eq!((c.written, c.present), (1, 0));
    assert!(verify(&f.a).is_ok());
    let again = block_on(trust::carry::carry(
        &src,
        &dst,
        std::slice::from_ref(&digest),
    ))
    .unwrap();
    assert_eq!((again.written, again.present), (0, 1), "nothing twice");

    // b gets its own signature by key b; a's new signature is merged in, b's kept.
    sign(&b_dir, "v1", &f.b);
    let c2 = PrivateKey::generate();
    sign(&a_dir, "v1", &c2);
    let c = block_on(trust::carry::carry(
        &src,
        &dst,
        std::slice::from_ref(&digest),
    ))
    .unwrap();
    assert_eq!(c.written, 1);
    for k in [&f.a, &f.b, &c2] {
        assert!(verify(k).is_ok());
    }
    // A digest without signatures at the source is skipped.
    let unsigned = image(&a_dir, 9, "v9");
    let c = block_on(trust::carry::carry(&src, &dst, &[unsigned])).unwrap();
    assert_eq!((c.written, c.present), (0, 0));
}
