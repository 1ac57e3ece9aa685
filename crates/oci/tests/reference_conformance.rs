//! The `distribution/reference` conformance corpus (`conformance/reference` at the repository
//! root), run in full: every upstream table and the oracle of the five parse functions.

use std::path::PathBuf;

use oci::reference::{
    self, AnyReference, Named, ReferenceError, familiar_match, is_domain, is_identifier, parse,
    parse_any_reference, parse_docker_ref, parse_named, parse_normalized_named, split_name,
    split_reference, with_name,
};
use serde_json::Value;

fn corpus() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../conformance/reference/reference_cases.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("corpus is JSON")
}

fn table(name: &str) -> Vec<Value> {
    corpus()["tables"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no table {name}"))
        .clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Checks an `err` field (`null` or `{error, message}`) against a result; returns the value
/// when both agree it is ok.
fn check_err<T: std::fmt::Debug>(
    what: &str,
    want: &Value,
    got: Result<T, ReferenceError>,
) -> Option<T> {
    match (want.is_null(), got) {
        (true, Ok(v)) => Some(v),
        (true, Err(e)) => panic!("{what}: unexpected error {e:?}"),
        (false, Ok(v)) => panic!("{what}: expected {want}, got {v:?}"),
        (false, Err(e)) => {
            assert_eq!(e.kind.sentinel(), s(want, "error"), "{what}");
            assert_eq!(e.message(), s(want, "message"), "{what}");
            None
        }
    }
}

#[test]
fn oracle() {
    let corpus = corpus();
    let cases = corpus["oracle"].as_array().unwrap();
    let mut checks = 0;
    for case in cases {
        let input = s(case, "input");
        let named: [(&str, Result<Named, ReferenceError>); 4] = [
            ("Parse", parse(input)),
            ("ParseNormalizedNamed", parse_normalized_named(input)),
            ("ParseDockerRef", parse_docker_ref(input)),
            ("ParseNamed", parse_named(input)),
        ];
        for (func, got) in named {
            let want = &case[func];
            let what = format!("{func}({input:?})");
            check_result(&what, want, got.map(AnyReference::Named), func != "Parse");
            checks += 1;
        }
        let want = &case["ParseAnyReference"];
        let what = format!("ParseAnyReference({input:?})");
        check_result(&what, want, parse_any_reference(input), false);
        checks += 1;
    }
    assert_eq!(cases.len(), 194);
    eprintln!("oracle: {} inputs, {checks} checks passed", cases.len());
}

fn check_result(
    what: &str,
    want: &Value,
    got: Result<AnyReference, ReferenceError>,
    familiar: bool,
) {
    if !want["ok"].as_bool().unwrap() {
        match got {
            Ok(v) => panic!("{what}: expected {}, got {v:?}", want["error"]),
            Err(e) => {
                assert_eq!(e.kind.sentinel(), s(want, "error"), "{what}");
                assert_eq!(e.message(), s(want, "message"), "{what}");
            }
        }
        return;
    }
    let got = got.unwrap_or_else(|e| panic!("{what}: unexpected error {e:?}"));
    assert_eq!(got.to_string(), s(want, "string"), "{what} string");
    match got {
        AnyReference::Digest(d) => {
            assert_eq!(d, s(want, "digest"), "{what} digest");
            assert!(want.get("name").is_none(), "{what} should be named");
        }
        AnyReference::Named(n) => {
            assert_eq!(n.name(), s(want, "name"), "{what} name");
            assert_eq!(n.domain, s(want, "domain"), "{what} domain");
            assert_eq!(n.path, s(want, "path"), "{what} path");
            assert_eq!(n.tag.as_deref(), want["tag"].as_str(), "{what} tag");
            assert_eq!(
                n.digest.as_deref(),
                want["digest"].as_str(),
                "{what} digest"
            );
            if familiar {
                if let Some(f) = want["familiar_name"].as_str() {
                    assert_eq!(n.familiar_name(), f, "{what} familiar_name");
                }
                if let Some(f) = want["familiar_string"].as_str() {
                    assert_eq!(n.familiar_string(), f, "{what} familiar_string");
                }
            }
        }
    }
}

#[test]
fn reference_parse() {
    let t = table("TestReferenceParse");
    for c in &t {
        let input = s(c, "input");
        let Some(r) = check_err(&format!("Parse({input:?})"), &c["err"], parse(input)) else {
            continue;
        };
        assert_eq!(r.name(), s(c, "repository"), "{input}");
        assert_eq!(r.domain, s(c, "domain"), "{input}");
        assert_eq!(r.tag.as_deref().unwrap_or(""), s(c, "tag"), "{input}");
        assert_eq!(r.digest.as_deref().unwrap_or(""), s(c, "digest"), "{input}");
        // Re-parsing the string form gives the same reference.
        assert_eq!(parse(&r.to_string()).unwrap(), r, "{input}");
    }
    assert_eq!(t.len(), 48);
}

#[test]
fn parse_repository_info() {
    let t = table("TestParseRepositoryInfo");
    for c in &t {
        let mut inputs = vec![s(c, "fullName"), s(c, "familiarName")];
        if !s(c, "ambiguousName").is_empty() {
            inputs.push(s(c, "ambiguousName"));
        }
        for input in inputs {
            let r = parse_normalized_named(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.familiar_name(), s(c, "familiarName"), "{input}");
            assert_eq!(r.to_string(), s(c, "fullName"), "{input}");
            assert_eq!(r.domain, s(c, "domain"), "{input}");
            assert_eq!(r.path, s(c, "remoteName"), "{input}");
        }
    }
    assert_eq!(t.len(), 20);
}

#[test]
fn parse_any_reference_table() {
    let t = table("TestParseAnyReference");
    for c in &t {
        let input = s(c, "reference");
        let r = parse_any_reference(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), s(c, "equivalent"), "{input}");
        match (&r, c["expected"].as_str()) {
            (AnyReference::Digest(d), Some(want)) => assert_eq!(d, want, "{input}"),
            (AnyReference::Named(_), None) => {}
            (r, want) => panic!("{input}: got {r:?}, want digest {want:?}"),
        }
    }
    assert_eq!(t.len(), 14);
}

#[test]
fn parse_docker_ref_table() {
    let t = table("TestParseDockerRef");
    for c in &t {
        let input = s(c, "input");
        let r = parse_docker_ref(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), s(c, "expected"), "{}", s(c, "name"));
        // The high-level type agrees, except that it keeps a tag next to a digest.
        let high = oci::Reference::parse(input).unwrap();
        if high.digest().is_none() {
            assert_eq!(high.to_string(), s(c, "expected"), "{input}");
        }
    }
    assert_eq!(t.len(), 11);
}

#[test]
fn normalized_split_hostname() {
    let t = table("TestNormalizedSplitHostname");
    for c in &t {
        let input = s(c, "input");
        let r = parse_normalized_named(input).unwrap();
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            (s(c, "domain"), s(c, "path"))
        );
    }
    assert_eq!(t.len(), 11);
}

#[test]
fn domain_and_path() {
    let t = table("TestDomainAndPath");
    for c in &t {
        let input = s(c, "input");
        let r = parse(input).unwrap();
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            (s(c, "domain"), s(c, "path"))
        );
    }
    assert_eq!(t.len(), 6);
}

#[test]
fn parse_named_table() {
    let t = table("TestParseNamed");
    for c in &t {
        let input = s(c, "input");
        if let Some(r) = check_err(
            &format!("ParseNamed({input:?})"),
            &c["err"],
            parse_named(input),
        ) {
            assert_eq!(
                (r.domain.as_str(), r.path.as_str()),
                (s(c, "domain"), s(c, "path"))
            );
        }
    }
    assert_eq!(t.len(), 8);
}

#[test]
fn validate_names() {
    let mut n = 0;
    for (table_name, valid) in [
        ("TestValidateReferenceName.valid", true),
        ("TestValidateReferenceName.invalid", false),
        ("TestValidateRemoteName.valid", true),
        ("TestValidateRemoteName.invalid", false),
    ] {
        for c in table(table_name) {
            let input = c.as_str().unwrap();
            assert_eq!(
                parse_normalized_named(input).is_ok(),
                valid,
                "{table_name}: {input}"
            );
            n += 1;
        }
    }
    assert_eq!(n, 27 + 14 + 8 + 13);
}

#[test]
fn serialization() {
    let t = table("TestSerialization");
    for c in &t {
        let input = s(c, "input");
        if let Some(r) = check_err(&format!("Parse({input:?})"), &c["err"], parse(input)) {
            assert_eq!(r.name(), s(c, "name"));
            assert_eq!(r.tag.as_deref().unwrap_or(""), s(c, "tag"));
            assert_eq!(r.digest.as_deref().unwrap_or(""), s(c, "digest"));
        }
    }
    assert_eq!(t.len(), 4);
}

#[test]
fn with_tag_and_digest() {
    for table_name in ["TestWithTag", "TestWithDigest"] {
        for c in table(table_name) {
            let mut r = with_name(s(&c, "name")).unwrap();
            if table_name == "TestWithTag" {
                if !s(&c, "digest").is_empty() {
                    r = r.with_digest(s(&c, "digest")).unwrap();
                }
                r = r.with_tag(s(&c, "tag")).unwrap();
            } else {
                if !s(&c, "tag").is_empty() {
                    r = r.with_tag(s(&c, "tag")).unwrap();
                }
                r = r.with_digest(s(&c, "digest")).unwrap();
            }
            assert_eq!(r.to_string(), s(&c, "combined"), "{table_name}");
        }
    }
    let base = with_name("a/b").unwrap();
    assert_eq!(
        base.with_tag("bad tag").unwrap_err().kind.sentinel(),
        "ErrTagInvalidFormat"
    );
    assert_eq!(
        base.with_digest("sha256:short")
            .unwrap_err()
            .kind
            .sentinel(),
        "ErrDigestInvalidFormat"
    );
}

#[test]
fn with_name_failure() {
    let t = table("TestWithNameFailure");
    for c in &t {
        let input = s(c, "input");
        check_err(&format!("WithName({input:?})"), &c["err"], with_name(input));
    }
    assert_eq!(t.len(), 7);
}

#[test]
fn familiar_match_table() {
    let t = table("TestMatch");
    for c in &t {
        let r = parse_normalized_named(s(c, "reference")).unwrap();
        let got = familiar_match(s(c, "pattern"), &r).unwrap();
        assert_eq!(got, c["expected"].as_bool().unwrap(), "{c}");
    }
    assert_eq!(t.len(), 9);
}

#[test]
fn regexp_tables() {
    let t = table("TestDomainRegexp");
    for c in &t {
        assert_eq!(
            is_domain(s(c, "input")),
            c["match"].as_bool().unwrap(),
            "{c}"
        );
    }
    assert_eq!(t.len(), 30);

    let t = table("TestFullNameRegexp");
    for c in &t {
        let got = split_name(s(c, "input"));
        assert_eq!(got.is_some(), c["match"].as_bool().unwrap(), "{c}");
        if let (Some((domain, path)), Some(subs)) = (got, c["subs"].as_array()) {
            assert_eq!(
                [domain, path],
                [subs[0].as_str().unwrap(), subs[1].as_str().unwrap()],
                "{c}"
            );
        }
    }
    assert_eq!(t.len(), 63);

    let t = table("TestReferenceRegexp");
    for c in &t {
        let got = split_reference(s(c, "input"));
        assert_eq!(got.is_some(), c["match"].as_bool().unwrap(), "{c}");
        if let (Some((name, tag, digest)), Some(subs)) = (got, c["subs"].as_array()) {
            let subs: Vec<&str> = subs.iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(vec![name, tag, digest], subs, "{c}");
        }
    }
    assert_eq!(t.len(), 12);

    let t = table("TestIdentifierRegexp");
    for c in &t {
        assert_eq!(
            is_identifier(s(c, "input")),
            c["match"].as_bool().unwrap(),
            "{c}"
        );
    }
    assert_eq!(t.len(), 5);
}

#[test]
fn every_table_is_covered() {
    let corpus = corpus();
    let mut names: Vec<&str> = corpus["tables"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "TestDomainAndPath",
            "TestDomainRegexp",
            "TestFullNameRegexp",
            "TestIdentifierRegexp",
            "TestMatch",
            "TestNormalizedSplitHostname",
            "TestParseAnyReference",
            "TestParseDockerRef",
            "TestParseNamed",
            "TestParseRepositoryInfo",
            "TestReferenceParse",
            "TestReferenceRegexp",
            "TestSerialization",
            "TestValidateReferenceName.invalid",
            "TestValidateReferenceName.valid",
            "TestValidateRemoteName.invalid",
            "TestValidateRemoteName.valid",
            "TestWithDigest",
            "TestWithNameFailure",
            "TestWithTag",
        ]
    );
    let _ = reference::DEFAULT_DOMAIN;
}

/// `Reference::parse` agrees with the oracle's `ParseNormalizedNamed` + default tag on every
/// input, except that it accepts sha512 digests (Go's test binary links only sha256).
#[test]
fn high_level_reference_agrees_with_oracle() {
    let corpus = corpus();
    let (mut ok, mut err) = (0, 0);
    for case in corpus["oracle"].as_array().unwrap() {
        let input = s(case, "input");
        let normalized = &case["ParseNormalizedNamed"];
        let got = oci::Reference::parse(input);
        if input.contains("@sha512:") {
            assert!(got.is_ok(), "{input}: sha512 digests are accepted");
            continue;
        }
        if normalized["ok"].as_bool().unwrap() {
            let r = got.unwrap_or_else(|e| panic!("{input}: {e}"));
            let want_tag = match (normalized["tag"].as_str(), normalized["digest"].as_str()) {
                (None, None) => Some("latest"),
                (tag, _) => tag,
            };
            assert_eq!(r.repository(), s(normalized, "name"), "{input}");
            assert_eq!(r.domain(), s(normalized, "domain"), "{input}");
            assert_eq!(r.path(), s(normalized, "path"), "{input}");
            assert_eq!(r.tag(), want_tag, "{input}");
            assert_eq!(
                r.digest().map(|d| d.to_string()).as_deref(),
                normalized["digest"].as_str(),
                "{input}"
            );
            assert_eq!(r.familiar_name(), s(normalized, "familiar_name"), "{input}");
            if want_tag == normalized["tag"].as_str() {
                assert_eq!(r.to_string(), s(normalized, "string"), "{input}");
                assert_eq!(r.familiar(), s(normalized, "familiar_string"), "{input}");
            }
            assert_eq!(
                r.to_string().parse::<oci::Reference>().unwrap(),
                r,
                "{input}"
            );
            ok += 1;
        } else {
            let e = got.expect_err(input);
            let kind = e.reference_kind().expect("a reference error");
            assert_eq!(kind.sentinel(), s(normalized, "error"), "{input}");
            err += 1;
        }
    }
    assert!(ok > 100 && err > 30, "{ok} ok, {err} errors");
}
