//! One OSV record: validated on the way in, decoded on the way out.
//!
//! **Stored form.** A record is stored as the bytes read with the whitespace between
//! JSON tokens removed ([`compact`]): strings, numbers and member order exactly as the
//! source wrote them. osv.dev's zips hold indented JSON, so this shrinks the database
//! without changing what any consumer reads.
//!
//! **What is an error** (the import is refused): not JSON; not a JSON object; no `id`, or
//! not a non-empty string; no `modified`; anything the `osv` 0.3 crate's
//! `osv::schema::Vulnerability` refuses (a timestamp that is not RFC 3339, `affected`
//! not an array, a range `type` or event kind or severity `type` the schema does not
//! define, a package without `name` or `ecosystem`, …); the message names the field.
//!
//! **What is kept**: unknown members (the schema allows them; they stay in the stored
//! JSON), and affected entries whose `package.ecosystem` the `osv` crate cannot represent
//! (OSV adds ecosystems faster than the crate: `openEuler:24.03-LTS`, `Azure Linux:3`, …).
//! Those entries are validated like the rest (with a stand-in ecosystem), indexed under
//! their own ecosystem (so `status` counts them), and dropped from the
//! `osv::schema::Vulnerability` a lookup returns (which cannot hold them); a lookup that
//! matched only such entries is an error, never a silently emptied record.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use osv::schema::{Ecosystem, Vulnerability};
use serde::Deserialize;
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde_json::Value;

use super::names::{ecosystem_base, normalize_name};

/// What the import stores of one record.
#[derive(Debug)]
pub struct Parsed {
    /// The OSV id.
    pub id: String,
    /// `modified`, normalised ([`timestamp`]).
    pub modified: String,
    /// `published`, normalised.
    pub published: Option<String>,
    /// `withdrawn`, normalised.
    pub withdrawn: Option<String>,
    /// `aliases`.
    pub aliases: Vec<String>,
    /// The distinct (base, normalised name, exact ecosystem) the record's affected
    /// entries name, sorted.
    pub keys: Vec<(String, String, String)>,
    /// Some affected entry names an ecosystem the osv crate cannot represent.
    pub partial: bool,
    /// The compact JSON to store.
    pub json: Vec<u8>,
}

/// A timestamp in the stored form: RFC 3339 UTC with nanoseconds, fixed width, so that
/// string order is time order.
pub fn timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Whether the osv crate can represent an ecosystem string (it refuses names it does
/// not list, and suffixes on ecosystems it thinks have none).
pub fn osv_knows(ecosystem: &str) -> bool {
    Ecosystem::deserialize(StrDeserializer::<ValueError>::new(ecosystem)).is_ok()
}

/// The stand-in ecosystem an unrepresentable one is validated as.
const STAND_IN: &str = "OSS-Fuzz";

/// A record's index keys: (base ecosystem, normalised name, exact ecosystem).
type Key = (String, String, String);

/// Validates one record's bytes and extracts what the database indexes; the error says
/// what is wrong (the caller adds where).
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    // The common case is one typed pass over the bytes, and a light one for the index
    // keys; only a record the crate refuses takes the slow path through a `Value`, to say
    // precisely why, or to set aside entries of ecosystems the crate does not know.
    let (typed, keys, partial) = match serde_json::from_slice::<Vulnerability>(bytes) {
        Ok(typed) if !typed.id.is_empty() => {
            let keys = fast_keys(bytes).map_err(|e| format!("`affected`: {e}"))?;
            (typed, keys, false)
        }
        _ => slow(bytes)?,
    };
    Ok(Parsed {
        modified: timestamp(&typed.modified),
        published: typed.published.as_ref().map(timestamp),
        withdrawn: typed.withdrawn.as_ref().map(timestamp),
        aliases: typed.aliases.unwrap_or_default(),
        id: typed.id,
        keys,
        partial,
        json: compact(bytes),
    })
}

/// Just the affected packages' strings, borrowed from the bytes where they need no
/// unescaping.
#[derive(Deserialize)]
struct KeysOnly<'a> {
    #[serde(borrow, default)]
    affected: Option<Vec<KeyEntry<'a>>>,
}

#[derive(Deserialize)]
struct KeyEntry<'a> {
    #[serde(borrow, default)]
    package: Option<KeyPackage<'a>>,
}

#[derive(Deserialize)]
struct KeyPackage<'a> {
    #[serde(borrow)]
    ecosystem: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
}

/// The index keys of a record the typed parse accepted.
fn fast_keys(bytes: &[u8]) -> Result<Vec<Key>, serde_json::Error> {
    let only: KeysOnly<'_> = serde_json::from_slice(bytes)?;
    let packages = only
        .affected
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.package);
    Ok(keys(packages.map(|p| (p.ecosystem, p.name))))
}

/// Sorted, distinct index keys of (ecosystem, name) pairs.
fn keys<S: AsRef<str>>(packages: impl Iterator<Item = (S, S)>) -> Vec<Key> {
    let mut keys: Vec<Key> = packages
        .map(|(ecosystem, name)| {
            let (ecosystem, name) = (ecosystem.as_ref(), name.as_ref());
            let base = ecosystem_base(ecosystem).to_owned();
            (
                base,
                normalize_name(ecosystem, name).into_owned(),
                ecosystem.to_owned(),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The slow path: what is wrong, precisely, or the record with entries of ecosystems
/// the crate does not know set aside (`partial`).
fn slow(bytes: &[u8]) -> Result<(Vulnerability, Vec<Key>, bool), String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(object) = &value else {
        return Err(format!(
            "expected a JSON object (one record), found {}",
            kind(&value)
        ));
    };
    match object.get("id") {
        None => return Err("no `id` (every OSV record has one)".into()),
        Some(Value::String(id)) if id.is_empty() => return Err("`id` is empty".into()),
        Some(Value::String(_)) => {}
        Some(other) => return Err(format!("`id` must be a string, found {}", kind(other))),
    }
    if !object.contains_key("modified") {
        return Err("no `modified` (every OSV record has one)".into());
    }
    let unknown: Vec<usize> = affected_ecosystems(&value)
        .filter(|(_, ecosystem)| !osv_knows(ecosystem))
        .map(|(index, _)| index)
        .collect();
    let partial = !unknown.is_empty();
    let typed = if partial {
        let mut stand_in = value.clone();
        for index in unknown {
            stand_in["affected"][index]["package"]["ecosystem"] = Value::from(STAND_IN);
        }
        validate(&stand_in)?
    } else {
        validate(&value)?
    };
    Ok((typed, keys(affected_packages(&value)), partial))
}

/// `json` without the whitespace between its tokens; strings' bytes untouched. Valid
/// JSON in, the same JSON out (numbers verbatim), smaller: osv.dev's zips hold indented
/// records.
pub fn compact(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &byte in json {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(byte);
            in_string = byte == b'"';
        }
    }
    out
}

/// Deserialises as the osv crate's type, naming the field that is wrong.
fn validate(value: &Value) -> Result<Vulnerability, String> {
    serde_path_to_error::deserialize::<_, Vulnerability>(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("`{path}`: {}", e.into_inner())
        }
    })
}

/// Each affected entry's `package.ecosystem` string, with the entry's index.
fn affected_ecosystems(value: &Value) -> impl Iterator<Item = (usize, &str)> {
    affected_entries(value)
        .enumerate()
        .filter_map(|(index, entry)| {
            entry
                .get("package")?
                .get("ecosystem")?
                .as_str()
                .map(|e| (index, e))
        })
}

/// Each affected entry's (ecosystem, name), for entries that name a package.
fn affected_packages(value: &Value) -> impl Iterator<Item = (&str, &str)> {
    affected_entries(value).filter_map(|entry| {
        let package = entry.get("package")?;
        Some((
            package.get("ecosystem")?.as_str()?,
            package.get("name")?.as_str()?,
        ))
    })
}

fn affected_entries(value: &Value) -> impl Iterator<Item = &Value> {
    value
        .get("affected")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A stored record as the osv crate's type; a `partial` record loses the affected
/// entries whose ecosystem the crate cannot represent.
pub fn decode(json: &[u8], partial: bool) -> Result<Vulnerability, String> {
    if !partial {
        return serde_json::from_slice(json).map_err(|e| e.to_string());
    }
    let mut value: Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    if let Some(Value::Array(entries)) = value.get_mut("affected") {
        entries.retain(|entry| {
            entry
                .get("package")
                .and_then(|p| p.get("ecosystem"))
                .and_then(Value::as_str)
                .is_none_or(osv_knows)
        });
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(extra: &str) -> String {
        format!(r#"{{"id":"STRATA-TEST-9000","modified":"2024-05-06T07:08:09Z"{extra}}}"#)
    }

    #[test]
    fn refusals_name_the_problem() {
        for (input, expected) in [
            ("{\"id\": ".to_owned(), "not JSON"),
            ("[]".to_owned(), "found an array"),
            (
                r#"{"modified":"2024-05-06T07:08:09Z"}"#.to_owned(),
                "no `id`",
            ),
            (
                r#"{"id":7,"modified":"2024-05-06T07:08:09Z"}"#.to_owned(),
                "`id` must be a string",
            ),
            (r#"{"id":"X-1"}"#.to_owned(), "no `modified`"),
            (
                r#"{"id":"X-1","modified":"yesterday"}"#.to_owned(),
                "`modified`",
            ),
            (record(r#","affected":"lodash""#), "`affected`"),
            (
                record(r#","affected":[{"package":{"ecosystem":"npm"}}]"#),
                "`affected[0].package`",
            ),
            (
                record(
                    r#","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"FUZZY","events":[]}]}]"#,
                ),
                "`affected[0].ranges[0].type`",
            ),
            (
                record(
                    r#","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"sometime":"1"}]}]}]"#,
                ),
                "`affected[0].ranges[0].events[0]`",
            ),
            (record(r#","aliases":"CVE-1""#), "`aliases`"),
            (
                r#"{"id":"","modified":"2024-05-06T07:08:09Z"}"#.to_owned(),
                "`id` is empty",
            ),
        ] {
            let error = parse(input.as_bytes()).expect_err(&input);
            assert!(
                error.contains(expected),
                "{input}: {error:?} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn keys_and_timestamps() {
        let input = record(
            r#","published":"2024-01-01T00:00:00.5Z","aliases":["CVE-2024-0001"],
            "affected":[
              {"package":{"ecosystem":"PyPI","name":"Strata_Test.Pkg"}},
              {"package":{"ecosystem":"PyPI","name":"strata-test-pkg"}},
              {"package":{"ecosystem":"Debian:12","name":"libfoo"}},
              {"ranges":[{"type":"GIT","repo":"https://example.com/r","events":[{"introduced":"0"}]}]}
            ]"#,
        );
        let parsed = parse(input.as_bytes()).unwrap();
        assert_eq!(parsed.id, "STRATA-TEST-9000");
        assert_eq!(parsed.modified, "2024-05-06T07:08:09.000000000Z");
        assert_eq!(
            parsed.published.as_deref(),
            Some("2024-01-01T00:00:00.500000000Z")
        );
        assert_eq!(parsed.withdrawn, None);
        assert_eq!(parsed.aliases, ["CVE-2024-0001"]);
        let keys: Vec<(&str, &str, &str)> = parsed
            .keys
            .iter()
            .map(|(b, n, e)| (b.as_str(), n.as_str(), e.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("Debian", "libfoo", "Debian:12"),
                ("PyPI", "strata-test-pkg", "PyPI")
            ]
        );
        assert!(!parsed.partial);
        // Compact, same members in the same order.
        let reread: Value = serde_json::from_slice(&parsed.json).unwrap();
        let original: Value = serde_json::from_str(&input).unwrap();
        assert_eq!(reread, original);
        assert!(!parsed.json.contains(&b'\n'));
    }

    #[test]
    fn unknown_ecosystems_are_kept_and_dropped_on_read() {
        let input = record(
            r#","affected":[
              {"package":{"ecosystem":"openEuler:24.03-LTS","name":"curl"}},
              {"package":{"ecosystem":"PyPI","name":"requests"}}]"#,
        );
        assert!(!osv_knows("openEuler:24.03-LTS"));
        let parsed = parse(input.as_bytes()).unwrap();
        assert!(parsed.partial);
        assert_eq!(parsed.keys.len(), 2);
        let vulnerability = decode(&parsed.json, parsed.partial).unwrap();
        let affected = vulnerability.affected.unwrap();
        assert_eq!(affected.len(), 1);
        assert_eq!(affected[0].package.as_ref().unwrap().name, "requests");
        // An unknown ecosystem does not excuse a malformed entry.
        let bad = record(r#","affected":[{"package":{"ecosystem":"openEuler:24.03-LTS"}}]"#);
        assert!(
            parse(bad.as_bytes())
                .unwrap_err()
                .contains("`affected[0].package`")
        );
    }

    #[test]
    fn compact_keeps_the_json() {
        for input in [
            "{ \"a\" : [ 1 , 2.50 , -3e+2 ] ,\n\t\"b\" : \"x y\" }",
            r#"{"s": "quote \" and backslash \\", "t": "\\\"", "u": " \u0041\n "}"#,
            "  [ true , false , null , { } , [ ] ]  ",
            r#"{"k":"tab\tinside  two", "e": "\\"}"#,
        ] {
            let compacted = compact(input.as_bytes());
            let text = std::str::from_utf8(&compacted).unwrap();
            let a: Value = serde_json::from_str(input).unwrap();
            let b: Value = serde_json::from_str(text).unwrap();
            assert_eq!(a, b, "{text}");
            assert!(!text.contains(" ,") && !text.starts_with(' '), "{text}");
        }
        // Numbers are kept as written, not as serde_json would print them.
        assert_eq!(compact(b"{ \"n\" : 1.50E3 }"), b"{\"n\":1.50E3}");
    }

    #[test]
    fn the_fast_and_slow_paths_agree() {
        let input = record(
            r#", "aliases": ["A-1"],
            "affected":[
              {"package":{"ecosystem":"PyPI","name":"Esc\u0041ped_Name"}},
              {"package":{"ecosystem":"npm","name":"b"}},
              {"package":{"ecosystem":"PyPI","name":"escaped-name"}},
              {"versions":["1"]}
            ]"#,
        );
        let fast = parse(input.as_bytes()).unwrap();
        let (typed, keys, partial) = slow(input.as_bytes()).unwrap();
        assert_eq!(fast.keys, keys);
        assert_eq!(fast.keys.len(), 2);
        assert_eq!(fast.keys[0].1, "escaped-name");
        assert_eq!((fast.partial, partial), (false, false));
        assert_eq!(fast.modified, timestamp(&typed.modified));
        assert_eq!(fast.aliases, typed.aliases.unwrap());
    }

    #[test]
    fn ecosystems_the_crate_knows() {
        for known in [
            "Debian:12",
            "Alpine:v3.20",
            "PyPI",
            "npm",
            "Go",
            "crates.io",
            "Maven",
            "Red Hat:enterprise_linux:9::appstream",
            "Ubuntu:22.04:LTS",
            "Debian",
        ] {
            assert!(osv_knows(known), "{known}");
        }
        for unknown in ["pypi", "Cargo", "openEuler:22.03-LTS", ""] {
            assert!(!osv_knows(unknown), "{unknown}");
        }
    }
}
