//! Package URLs (purl-spec, `PURL-TYPES`), naming packages as Trivy names them, so that
//! an SBOM from strata and one from Trivy identify the same package by the same purl.
//!
//! The spelling is the spec's canonical form, as packageurl-go 0.1.6 and later (what
//! Trivy builds purls with) write it: every byte of a namespace segment, name, version
//! and qualifier value that is not an RFC 3986 unreserved character (`A-Z a-z 0-9 - . _ ~`)
//! or `:` is percent-encoded with upper-case hex (`2.36-9+deb12u4` is `2.36-9%2Bdeb12u4`,
//! the npm scope `@babel` is `%40babel`), and qualifiers are sorted by key. Older Trivy
//! builds spell the same purl differently (the one cdxgen ships, on packageurl-go 0.1.1,
//! leaves `+` bare in versions and qualifiers in insertion order); [`canonical`] brings
//! any spelling to this one, so purls from other tools compare equal when they name the
//! same package (`tests/catalog_os.rs` checks that against that Trivy).
//!
//! What Trivy does per type (its `pkg/purl/purl.go`), and so this module:
//! - OS packages carry `arch=`; a non-zero epoch of a deb or rpm version moves out of the
//!   version into `epoch=N` (Trivy: "we moved Epoch to qualifiers"), so the version is
//!   `upstream-revision` (deb) or `version-release` (rpm).
//! - deb: namespace the OS family (`debian`, `ubuntu`; `debian` when the OS is not
//!   known), `distro=<family>-<version>`.
//! - apk: name lower-cased, namespace `alpine`, `distro=<version>` (the bare release, not
//!   `alpine-<version>`: that is what Trivy writes).
//! - rpm: namespace the OS family (`redhat`, `fedora`, `rocky`, ...; none when the OS
//!   is not known), `distro=<family>-<version>`, `modularitylabel=` from the cataloger.
//! - pypi: name lower-cased with `_` as `-`; npm and golang: lower-cased, the namespace
//!   everything before the last `/`; maven: `group:artifact` → namespace `group`, name
//!   `artifact`; cargo: the name as is.
//!
//! Trivy takes the OS version from `etc/debian_version` (`12.5`) or
//! `etc/redhat-release`, strata from `os-release`'s `VERSION_ID` (`12`): the `distro`
//! qualifier of a Debian package differs in that way only.

use crate::package::{Distro, Found, PackageKind};

/// The package URL of `found`, a package of `kind`, in an image whose OS is `distro`.
pub fn purl(kind: PackageKind, found: &Found, distro: Option<&Distro>) -> String {
    let mut qualifiers: Vec<(&str, String)> = Vec::new();
    let mut version = found.version.as_str();
    let mut name = found.name.clone();
    let mut namespace = String::new();

    if matches!(kind, PackageKind::Deb | PackageKind::Rpm | PackageKind::Apk)
        && let Some(arch) = found.arch.as_deref().filter(|a| !a.is_empty())
    {
        qualifiers.push(("arch", arch.to_owned()));
    }
    match kind {
        PackageKind::Deb | PackageKind::Rpm => {
            let (epoch, rest) = split_epoch(version);
            version = rest;
            if let Some(epoch) = epoch {
                qualifiers.push(("epoch", epoch.to_owned()));
            }
            let default = if kind == PackageKind::Deb {
                "debian"
            } else {
                ""
            };
            namespace = distro.map_or(default, |d| os_family(&d.id)).to_owned();
            if let Some(d) = distro {
                qualifiers.push(("distro", family_release(d)));
            }
        }
        PackageKind::Apk => {
            name = name.to_lowercase();
            namespace = distro.map_or("alpine", |d| os_family(&d.id)).to_owned();
            if let Some(d) = distro.filter(|d| !d.version_id.is_empty()) {
                qualifiers.push(("distro", d.version_id.clone()));
            }
        }
        PackageKind::Python => name = name.to_lowercase().replace('_', "-"),
        PackageKind::Npm | PackageKind::Go => {
            (namespace, name) = split_last_slash(&name.to_lowercase());
        }
        PackageKind::Maven => (namespace, name) = split_last_slash(&name.replace(':', "/")),
        PackageKind::Cargo => {}
    }
    for (key, value) in &found.qualifiers {
        qualifiers.push((key, value.clone()));
    }
    // A stable sort: the spec orders by key; equal keys (which a cataloger should not
    // give) keep the cataloger's order.
    qualifiers.sort_by(|a, b| a.0.cmp(b.0));

    let mut out = format!("pkg:{}/", kind.purl_type());
    for segment in namespace.split('/').filter(|s| !s.is_empty()) {
        encode_into(&mut out, segment);
        out.push('/');
    }
    encode_into(&mut out, &name);
    if !version.is_empty() {
        out.push('@');
        encode_into(&mut out, version);
    }
    for (i, (key, value)) in qualifiers.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        encode_into(&mut out, key);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// A purl in canonical form, whatever spelling produced it: each component
/// percent-decoded and encoded again as [`purl`] encodes, qualifiers sorted by key and
/// their keys lower-cased, qualifiers with empty values dropped (purl-spec's parsing
/// rules). Two purls name the same package exactly when their canonical forms are equal;
/// `None` when `text` is not a purl (no `pkg:` scheme, no type or name, a bad `%` escape).
///
/// Tools spell the same purl differently: Trivy built with packageurl-go 0.1.1 leaves `+`
/// unencoded in versions and qualifiers in the order it added them
/// (`…@2.36-9+deb12u4?arch=amd64&epoch=1&distro=debian-12.4`), later ones encode and sort.
/// Compare purls from other tools through this.
pub fn canonical(text: &str) -> Option<String> {
    let rest = text.strip_prefix("pkg:")?.trim_start_matches('/');
    let (rest, subpath) = match rest.split_once('#') {
        Some((rest, subpath)) => (rest, Some(subpath)),
        None => (rest, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (ty, path) = rest.split_once('/')?;
    // The version follows the last `@` of the last segment (an npm scope's `@` is encoded
    // or in an earlier segment).
    let (path, version) = match path.rsplit_once('/') {
        Some((ns, last)) => match last.rsplit_once('@') {
            Some((name, version)) => (format!("{ns}/{name}"), Some(version)),
            None => (path.to_owned(), None),
        },
        None => match path.rsplit_once('@') {
            Some((name, version)) if !name.is_empty() => (name.to_owned(), Some(version)),
            _ => (path.to_owned(), None),
        },
    };
    let mut segments: Vec<String> = Vec::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        segments.push(decode(segment)?);
    }
    let name = segments.pop().filter(|n| !n.is_empty())?;
    if ty.is_empty() {
        return None;
    }
    let mut out = format!("pkg:{}/", ty.to_ascii_lowercase());
    for segment in &segments {
        encode_into(&mut out, segment);
        out.push('/');
    }
    encode_into(&mut out, &name);
    if let Some(version) = version.filter(|v| !v.is_empty()) {
        out.push('@');
        encode_into(&mut out, &decode(version)?);
    }
    let mut qualifiers = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=')?;
        let value = decode(value)?;
        if !value.is_empty() {
            qualifiers.push((decode(key)?.to_ascii_lowercase(), value));
        }
    }
    qualifiers.sort();
    for (i, (key, value)) in qualifiers.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        encode_into(&mut out, key);
        out.push('=');
        encode_into(&mut out, value);
    }
    if let Some(subpath) = subpath.filter(|s| !s.is_empty()) {
        out.push('#');
        let mut first = true;
        for segment in subpath.split('/').filter(|s| !s.is_empty()) {
            if !first {
                out.push('/');
            }
            first = false;
            encode_into(&mut out, &decode(segment)?);
        }
    }
    Some(out)
}

/// Percent-decodes `s` (a `+` stays a `+`: purls are not form-encoded); `None` on a bad
/// escape or bytes that are not UTF-8.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The OS family Trivy names a distribution by (the purl namespace of its packages and
/// the start of the `distro` qualifier), from `os-release`'s `ID`: `rhel` is `redhat`,
/// `almalinux` `alma`, `amzn` `amazon`, `ol` `oracle`, `opensuse-leap`
/// `opensuse.leap`, `sles`/`sle-micro` `sles`; any other ID is its own family.
pub fn os_family(id: &str) -> &str {
    match id {
        "rhel" => "redhat",
        "almalinux" => "alma",
        "amzn" => "amazon",
        "ol" => "oracle",
        "opensuse-leap" => "opensuse.leap",
        "opensuse-tumbleweed" => "opensuse.tumbleweed",
        "sles" | "sle-micro" => "sles",
        other => other,
    }
}

/// `family-version` (`debian-12`, `redhat-9.3`), or the family alone when the release
/// has no version (Debian sid).
fn family_release(distro: &Distro) -> String {
    let family = os_family(&distro.id);
    if distro.version_id.is_empty() {
        family.to_owned()
    } else {
        format!("{family}-{}", distro.version_id)
    }
}

/// Splits `[epoch:]rest`: the epoch as a number without leading zeros, `None` when absent
/// or zero (Trivy writes no `epoch=0`), and the rest. A prefix that is not all digits is
/// not an epoch and stays in the version.
fn split_epoch(version: &str) -> (Option<&str>, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            let epoch = epoch.trim_start_matches('0');
            ((!epoch.is_empty()).then_some(epoch), rest)
        }
        _ => (None, version),
    }
}

/// `a/b/c` → (`a/b`, `c`); no `/` → (``, the whole).
fn split_last_slash(path: &str) -> (String, String) {
    match path.rsplit_once('/') {
        Some((namespace, name)) => (namespace.to_owned(), name.to_owned()),
        None => (String::new(), path.to_owned()),
    }
}

/// Appends `s` percent-encoded as packageurl-go encodes purl components: everything but
/// `A-Z a-z 0-9 - . _ ~ :`, byte by byte (UTF-8), upper-case hex.
fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &str, version: &str, arch: Option<&str>) -> Found {
        Found {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: arch.map(str::to_owned),
            ..Found::default()
        }
    }

    fn distro(id: &str, version_id: &str) -> Distro {
        Distro {
            id: id.to_owned(),
            version_id: version_id.to_owned(),
            ..Distro::default()
        }
    }

    /// The strings Trivy prints for the same packages, in canonical spelling. Each
    /// expectation is written from Trivy's `purl.go` (epoch and arch qualifiers, the
    /// per-type namespace and distro) and packageurl-go's canonical encoding, and where
    /// given, from Trivy's published output; the OS version is passed as Trivy reads it.
    /// (`tests/catalog_os.rs` compares with a real Trivy's purls for OS packages.)
    #[test]
    fn spells_packages_as_trivy_does() {
        let bookworm = Some(distro("debian", "12.4"));
        let alpine = Some(distro("alpine", "3.18.4"));
        let rhel = Some(distro("rhel", "8.6"));
        let cases: Vec<(PackageKind, Found, Option<Distro>, &str)> = vec![
            // `+` in a Debian revision is percent-encoded; distro is family-version.
            (
                PackageKind::Deb,
                found("libc6", "2.36-9+deb12u4", Some("amd64")),
                bookworm.clone(),
                "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12.4",
            ),
            // The epoch leaves the version for `epoch=1`, sorted after `distro`.
            (
                PackageKind::Deb,
                found("passwd", "1:4.13+dfsg1-1+b1", Some("amd64")),
                bookworm.clone(),
                "pkg:deb/debian/passwd@4.13%2Bdfsg1-1%2Bb1?arch=amd64&distro=debian-12.4&epoch=1",
            ),
            // An explicit zero epoch is no qualifier (Trivy's epoch is an int, 0 omitted).
            (
                PackageKind::Deb,
                found("zlib1g", "0:1.2.13.dfsg-1", Some("amd64")),
                bookworm.clone(),
                "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12.4",
            ),
            // Ubuntu's packages are in the ubuntu namespace.
            (
                PackageKind::Deb,
                found("bash", "5.1-6ubuntu1", Some("amd64")),
                Some(distro("ubuntu", "22.04")),
                "pkg:deb/ubuntu/bash@5.1-6ubuntu1?arch=amd64&distro=ubuntu-22.04",
            ),
            // No OS known: the deb namespace defaults to debian, no distro.
            (
                PackageKind::Deb,
                found("tzdata", "2024a-0+deb12u1", Some("all")),
                None,
                "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all",
            ),
            // apk: distro is the bare release.
            (
                PackageKind::Apk,
                found("musl", "1.2.4-r2", Some("x86_64")),
                alpine.clone(),
                "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.18.4",
            ),
            // rpm: rhel is the redhat family; the epoch leaves `1:1.1.1k-7.el8_6`.
            (
                PackageKind::Rpm,
                found("openssl-libs", "1:1.1.1k-7.el8_6", Some("x86_64")),
                rhel.clone(),
                "pkg:rpm/redhat/openssl-libs@1.1.1k-7.el8_6?arch=x86_64&distro=redhat-8.6&epoch=1",
            ),
            (
                PackageKind::Rpm,
                found("bash", "5.2.15-5.fc39", Some("x86_64")),
                Some(distro("fedora", "39")),
                "pkg:rpm/fedora/bash@5.2.15-5.fc39?arch=x86_64&distro=fedora-39",
            ),
            (
                PackageKind::Rpm,
                found("tzdata", "2024a-1.el9", Some("noarch")),
                Some(distro("almalinux", "9.3")),
                "pkg:rpm/alma/tzdata@2024a-1.el9?arch=noarch&distro=alma-9.3",
            ),
            // PyPI names normalised: lower case, `_` as `-`.
            (
                PackageKind::Python,
                found("Typing_Extensions", "4.8.0", None),
                None,
                "pkg:pypi/typing-extensions@4.8.0",
            ),
            // npm scope: the namespace, its `@` encoded.
            (
                PackageKind::Npm,
                found("@babel/core", "7.23.0", None),
                None,
                "pkg:npm/%40babel/core@7.23.0",
            ),
            (
                PackageKind::Npm,
                found("lodash", "4.17.21", None),
                None,
                "pkg:npm/lodash@4.17.21",
            ),
            // Go: lower-cased, split at the last `/`; `+incompatible` encoded.
            (
                PackageKind::Go,
                found("github.com/BurntSushi/toml", "v1.3.2", None),
                None,
                "pkg:golang/github.com/burntsushi/toml@v1.3.2",
            ),
            (
                PackageKind::Go,
                found("github.com/docker/docker", "v24.0.7+incompatible", None),
                None,
                "pkg:golang/github.com/docker/docker@v24.0.7%2Bincompatible",
            ),
            (
                PackageKind::Cargo,
                found("serde", "1.0.193", None),
                None,
                "pkg:cargo/serde@1.0.193",
            ),
            // Seen in Trivy's own output for a jar.
            (
                PackageKind::Maven,
                found("com.fasterxml.jackson.core:jackson-core", "2.20.1", None),
                None,
                "pkg:maven/com.fasterxml.jackson.core/jackson-core@2.20.1",
            ),
        ];
        for (kind, found, distro, want) in cases {
            assert_eq!(
                purl(kind, &found, distro.as_ref()),
                want,
                "{kind:?} {found:?}"
            );
        }
    }

    #[test]
    fn encodes_what_is_not_unreserved() {
        let f = found("n a", "1.0+b?#@/é%", None);
        assert_eq!(
            purl(PackageKind::Cargo, &f, None),
            "pkg:cargo/n%20a@1.0%2Bb%3F%23%40%2F%C3%A9%25"
        );
        // `:` and `~` stay as they are, in versions and in qualifier values.
        let mut f = found("x", "1.0~rc1:2", None);
        f.qualifiers = vec![("type".into(), "a b:c".into())];
        assert_eq!(
            purl(PackageKind::Maven, &f, None),
            "pkg:maven/x@1.0~rc1:2?type=a%20b:c"
        );
    }

    #[test]
    fn cataloger_qualifiers_are_sorted_in() {
        let mut f = found("org.example:lib", "1.0", None);
        f.qualifiers = vec![
            ("type".into(), "jar".into()),
            ("classifier".into(), "x".into()),
        ];
        assert_eq!(
            purl(PackageKind::Maven, &f, None),
            "pkg:maven/org.example/lib@1.0?classifier=x&type=jar"
        );
    }

    #[test]
    fn canonical_forms_agree_across_spellings() {
        let same = [
            // packageurl-go 0.1.1 (the Trivy that cdxgen ships): `+` bare in the version,
            // qualifiers in insertion order; 0.1.3+: encoded and sorted.
            (
                "pkg:deb/debian/passwd@4.13+dfsg1-1+b1?arch=amd64&epoch=1&distro=debian-12.4",
                "pkg:deb/debian/passwd@4.13%2Bdfsg1-1%2Bb1?arch=amd64&distro=debian-12.4&epoch=1",
            ),
            (
                "pkg:deb/debian/g%2B%2B@12.2.0-3",
                "pkg:deb/debian/g++@12.2.0-3",
            ),
            ("pkg:npm/%40babel/core@7.23.0", "pkg:npm/@babel/core@7.23.0"),
            (
                "pkg:rpm/redhat/a@1%3A2?ARCH=x86_64&empty=",
                "pkg:rpm/redhat/a@1:2?arch=x86_64",
            ),
            ("pkg://cargo/serde@1.0", "pkg:cargo/serde@1.0"),
            (
                "pkg:maven/g/a@1?type=jar#/sub/path/",
                "pkg:maven/g/a@1?type=jar#sub/path",
            ),
        ];
        for (a, b) in same {
            assert_eq!(canonical(a), canonical(b), "{a} vs {b}");
            assert!(canonical(a).is_some(), "{a}");
        }
        // What purl() writes is already canonical.
        let f = found("passwd", "1:4.13+dfsg1-1+b1", Some("amd64"));
        let p = purl(PackageKind::Deb, &f, Some(&distro("debian", "12")));
        assert_eq!(canonical(&p).as_deref(), Some(p.as_str()));
        let different = [
            ("pkg:deb/debian/a@1", "pkg:deb/ubuntu/a@1"),
            (
                "pkg:deb/debian/a@1?arch=amd64",
                "pkg:deb/debian/a@1?arch=i386",
            ),
            ("pkg:deb/debian/a@1+b1", "pkg:deb/debian/a@1%20b1"),
            ("pkg:maven/g/a@1#sub/path%2Fx", "pkg:maven/g/a@1#sub/path/x"),
        ];
        for (a, b) in different {
            assert_ne!(canonical(a), canonical(b), "{a} vs {b}");
        }
        for bad in [
            "deb/debian/a@1",
            "pkg:a",
            "pkg:deb/",
            "pkg:deb/a@1%zz",
            "pkg:deb/a?x",
        ] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn epochs_split_only_when_numeric() {
        assert_eq!(split_epoch("1:2.0"), (Some("1"), "2.0"));
        assert_eq!(split_epoch("007:2.0"), (Some("7"), "2.0"));
        assert_eq!(split_epoch("00:2.0"), (None, "2.0"));
        assert_eq!(split_epoch("2.0"), (None, "2.0"));
        assert_eq!(split_epoch("a:2.0"), (None, "a:2.0"));
        assert_eq!(split_epoch(":2.0"), (None, ":2.0"));
    }

    #[test]
    fn rpm_without_os_has_no_namespace_and_sid_no_version() {
        let f = found("bash", "5.2-1", Some("x86_64"));
        assert_eq!(
            purl(PackageKind::Rpm, &f, None),
            "pkg:rpm/bash@5.2-1?arch=x86_64"
        );
        let f = found("bash", "5.2-1", Some("amd64"));
        assert_eq!(
            purl(PackageKind::Deb, &f, Some(&distro("debian", ""))),
            "pkg:deb/debian/bash@5.2-1?arch=amd64&distro=debian"
        );
    }
}
