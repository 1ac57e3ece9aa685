//! Which OSV ecosystem, package name and version a package is looked up and judged under.
//!
//! OSV's ecosystem strings (ossf.github.io/osv-schema, "Defined ecosystems") scope OS
//! packages to a release and name them by their **source** package: `Debian:12` and
//! `Ubuntu:22.04:LTS` list source packages, `Alpine:v3.20` the origin package, Rocky Linux
//! and AlmaLinux the source RPM. So a binary package (`libssl3`) is judged as its source
//! (`openssl`) at the source's version (a binNMU'd `3.0.11-1~deb12u2+b1` binary comes
//! from source `3.0.11-1~deb12u2`), and falls back to its own name and version when the
//! package database names no source.
//!
//! What has no OSV ecosystem here is *not judged*, with the reason: an unknown or missing
//! `os-release`, Debian testing/unstable (no `VERSION_ID`), Red Hat Enterprise Linux (OSV's
//! Red Hat records are scoped to CPE product streams such as
//! `Red Hat:enterprise_linux:9::baseos`, which `os-release` does not say), and
//! distributions OSV has no data for (Fedora, CentOS, Amazon Linux, ...).

use std::cmp::Ordering;

use crate::package::{Distro, Package, PackageKind};
use crate::version::{self, Ecosystem, VersionError, apk3};

/// The version order a lookup's versions are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// One of [`version`]'s orders.
    Version(Ecosystem),
    /// apk-tools 3's order (Alpine 3.23 and later).
    Apk3,
}

impl Order {
    /// Orders two versions (total: refused strings have a documented place, see
    /// [`version`]). Go versions are taken with or without their `v`: the go command
    /// writes `v1.2.3`, OSV's Go records `1.2.3`.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Order::Version(Ecosystem::Go) => version::compare(Ecosystem::Go, &go_v(a), &go_v(b)),
            Order::Version(eco) => version::compare(eco, a, b),
            Order::Apk3 => apk3::compare(a, b),
        }
    }

    /// Whether the order's reference implementation accepts `v` (for Go, after adding a
    /// missing `v`).
    pub fn validate(self, v: &str) -> Result<(), VersionError> {
        match self {
            Order::Version(Ecosystem::Go) => version::validate(Ecosystem::Go, &go_v(v)),
            Order::Version(eco) => version::validate(eco, v),
            Order::Apk3 => apk3::validate(v),
        }
    }

    /// Whether the ecosystem is PyPI, whose `versions` lists match by PEP 440 equality.
    pub(crate) fn is_pypi(self) -> bool {
        self == Order::Version(Ecosystem::PyPI)
    }
}

/// A Go version with its `v` (`1.2.3` → `v1.2.3`).
fn go_v(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with('v') {
        v.into()
    } else {
        format!("v{v}").into()
    }
}

/// Where one package is looked up in OSV data, and what version is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The ecosystem exactly as OSV records write `affected[].package.ecosystem`
    /// (`Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.20`, `PyPI`, `Maven`).
    pub ecosystem: String,
    /// The package name as the ecosystem's OSV records spell it: the source package for
    /// OS packages, PEP 503-normalized for PyPI, `group:artifact` for Maven.
    pub name: String,
    /// The version judged: the source version for OS packages with a source.
    pub version: String,
    /// The order `ECOSYSTEM` ranges are evaluated with.
    pub order: Order,
}

/// Why a package cannot be looked up (it is reported as not judged).
pub type NoLookup = String;

/// Where `package` is looked up, given the image's operating system.
pub fn lookup(package: &Package, distro: Option<&Distro>) -> Result<Lookup, NoLookup> {
    let found = &package.found;
    if found.version.is_empty() {
        // A Go module replaced by a local directory, a main module built without a
        // version: nothing to compare a range with.
        return Err(format!(
            "{} package {:?} has no version to judge",
            package.kind.label(),
            found.name
        ));
    }
    let own = || (found.name.clone(), found.version.clone());
    // A source named without a version (a cataloger that could not tell) is at the
    // binary's version, as dpkg's `Source: name` without `(version)` means.
    let source = || match &found.source {
        Some((name, version)) if version.is_empty() => (name.clone(), found.version.clone()),
        Some(source) => source.clone(),
        None => own(),
    };
    let make = |ecosystem: String, (name, version): (String, String), order| Lookup {
        ecosystem,
        name,
        version,
        order,
    };
    match package.kind {
        PackageKind::Deb => {
            let distro = os(distro, package)?;
            let ecosystem = deb_ecosystem(distro)?;
            Ok(make(ecosystem, source(), Order::Version(Ecosystem::Debian)))
        }
        PackageKind::Apk => {
            let distro = os(distro, package)?;
            let (ecosystem, order) = apk_ecosystem(distro)?;
            Ok(make(ecosystem, source(), order))
        }
        PackageKind::Rpm => {
            let distro = os(distro, package)?;
            let (ecosystem, by_source) = rpm_ecosystem(distro)?;
            let (name, mut version) = if by_source { source() } else { own() };
            // A source RPM's file name has no epoch; the binary's applies to it too.
            if !version.contains(':') {
                let epoch = found.qualifiers.iter().find(|(k, _)| k == "epoch");
                if let Some((_, epoch)) = epoch.filter(|(_, e)| e != "0" && !e.is_empty()) {
                    version = format!("{epoch}:{version}");
                }
            }
            Ok(make(
                ecosystem,
                (name, version),
                Order::Version(Ecosystem::RedHat),
            ))
        }
        PackageKind::Python => Ok(make(
            "PyPI".into(),
            (pep503(&found.name), found.version.clone()),
            Order::Version(Ecosystem::PyPI),
        )),
        PackageKind::Npm => Ok(make("npm".into(), own(), Order::Version(Ecosystem::Npm))),
        PackageKind::Go => {
            let version = go_version(&found.name, &found.version)?;
            Ok(make(
                "Go".into(),
                (found.name.clone(), version),
                Order::Version(Ecosystem::Go),
            ))
        }
        PackageKind::Cargo => Ok(make(
            "crates.io".into(),
            own(),
            Order::Version(Ecosystem::CratesIo),
        )),
        PackageKind::Maven => Ok(make(
            "Maven".into(),
            own(),
            Order::Version(Ecosystem::Maven),
        )),
    }
}

/// The distribution, or why an OS package cannot be judged without one.
fn os<'a>(distro: Option<&'a Distro>, package: &Package) -> Result<&'a Distro, NoLookup> {
    distro.ok_or_else(|| {
        format!(
            "{} package: the image's operating system is unknown (no etc/os-release), and OSV \
             scopes OS packages to a distribution release",
            package.kind.label()
        )
    })
}

/// The part of `version_id` before the first `.` (`12` of `12`, `9` of `9.3`).
fn major(version_id: &str) -> &str {
    version_id.split('.').next().unwrap_or(version_id)
}

fn deb_ecosystem(distro: &Distro) -> Result<String, NoLookup> {
    match distro.id.as_str() {
        "debian" if distro.version_id.is_empty() => Err(format!(
            "Debian {} has no VERSION_ID (testing or unstable); OSV's Debian data is per \
             numbered release",
            distro.codename.as_deref().unwrap_or("(no codename)")
        )),
        "debian" => Ok(format!("Debian:{}", major(&distro.version_id))),
        "ubuntu" => {
            // OSV writes `:LTS` after LTS releases; os-release says LTS in PRETTY_NAME
            // (`Ubuntu 22.04.4 LTS`).
            let release: Vec<&str> = distro.version_id.split('.').take(2).collect();
            let release = release.join(".");
            if distro.pretty_name.contains("LTS") {
                Ok(format!("Ubuntu:{release}:LTS"))
            } else {
                Ok(format!("Ubuntu:{release}"))
            }
        }
        other => Err(no_data(other, "deb")),
    }
}

fn apk_ecosystem(distro: &Distro) -> Result<(String, Order), NoLookup> {
    match distro.id.as_str() {
        "alpine" => {
            // `3.20.1` and `3.21_alpha20240807` are both in branch v3.x.
            let mut parts = distro
                .version_id
                .split(|c: char| !c.is_ascii_digit())
                .take(2);
            let (Some(maj), Some(min)) = (parts.next(), parts.next()) else {
                return Err(format!(
                    "Alpine VERSION_ID {:?} names no release branch (major.minor)",
                    distro.version_id
                ));
            };
            let (maj_n, min_n) = (maj.parse::<u32>(), min.parse::<u32>());
            let order = match (maj_n, min_n) {
                // apk-tools 3 (a different version order) ships from Alpine 3.23 on.
                (Ok(a), Ok(b)) if (a, b) >= (3, 23) => Order::Apk3,
                (Ok(_), Ok(_)) => Order::Version(Ecosystem::Alpine),
                _ => {
                    return Err(format!(
                        "Alpine VERSION_ID {:?} names no release branch (major.minor)",
                        distro.version_id
                    ));
                }
            };
            Ok((format!("Alpine:v{maj}.{min}"), order))
        }
        "wolfi" => Ok(("Wolfi".into(), Order::Version(Ecosystem::Alpine))),
        "chainguard" => Ok(("Chainguard".into(), Order::Version(Ecosystem::Alpine))),
        other => Err(no_data(other, "apk")),
    }
}

/// The ecosystem and whether its records name source RPMs.
fn rpm_ecosystem(distro: &Distro) -> Result<(String, bool), NoLookup> {
    let id = distro.id.as_str();
    let pretty = distro.pretty_name.as_str();
    match id {
        "rocky" => Ok((format!("Rocky Linux:{}", major(&distro.version_id)), true)),
        "almalinux" => Ok((format!("AlmaLinux:{}", major(&distro.version_id)), true)),
        "mageia" => Ok((format!("Mageia:{}", major(&distro.version_id)), true)),
        // Photon's records name the RPM package itself.
        "photon" => Ok((format!("Photon OS:{}", distro.version_id), false)),
        // The schema: the release is os-release's PRETTY_NAME's marketing name.
        _ if id.starts_with("opensuse") => Ok((
            format!(
                "openSUSE:{}",
                pretty.strip_prefix("openSUSE ").unwrap_or(pretty)
            ),
            true,
        )),
        "sles" | "sled" | "sle-micro" => Ok((
            format!("SUSE:{}", pretty.strip_prefix("SUSE ").unwrap_or(pretty)),
            true,
        )),
        "rhel" => Err(
            "Red Hat Enterprise Linux: OSV's Red Hat records are scoped to CPE product streams \
             (Red Hat:enterprise_linux:9::baseos) that os-release does not name"
                .into(),
        ),
        other => Err(no_data(other, "rpm")),
    }
}

fn no_data(id: &str, kind: &str) -> NoLookup {
    format!("{kind} package on distribution {id:?}: OSV has no ecosystem for it")
}

/// PEP 503's normalized name: lowercase, runs of `-`, `_`, `.` as one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// A Go module's version as the Go order takes it; the toolchain (`stdlib`) as a module
/// version (`go1.21.3` → `v1.21.3`, `go1.21` → `v1.21.0`, `go1.21rc2` → `v1.21.0-rc.2`),
/// as the Go vulnerability database writes the standard library's versions.
fn go_version(name: &str, version: &str) -> Result<String, NoLookup> {
    if version == "(devel)" {
        return Err(format!(
            "Go module {name} was built from a working tree: \"(devel)\" is no version"
        ));
    }
    if name != "stdlib" {
        return Ok(version.to_owned());
    }
    let bare = version
        .strip_prefix("go")
        .or_else(|| version.strip_prefix('v'))
        .unwrap_or(version);
    let (release, pre) = match bare.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&bare[..i], Some(&bare[i..])),
        None => (bare, None),
    };
    let mut numbers: Vec<&str> = release.split('.').collect();
    while numbers.len() < 3 {
        numbers.push("0");
    }
    let mut out = format!("v{}", numbers.join("."));
    if let Some(pre) = pre {
        // `rc2` → `rc.2`, `beta1` → `beta.1`.
        let digits = pre.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let word = &pre[..pre.len() - digits.len()];
        out.push('-');
        out.push_str(word);
        if !digits.is_empty() {
            out.push('.');
            out.push_str(digits);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "ecosystem_tests.rs"]
mod tests;
