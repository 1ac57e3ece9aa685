//! Platforms (os/architecture/variant) and choosing an index entry for one.
//!
//! Normalisation and matching follow containerd's `platforms` package, which Docker uses:
//! `aarch64` is `arm64`, `x86_64` is `amd64`, `armhf` is `arm/v7`; `arm64` without a variant
//! is `arm64/v8`, and `arm` without a variant is `arm/v7`. When choosing from an index, an
//! `arm/v7` machine also takes `arm/v6` and `arm/v5` images, an `arm64` machine takes 32-bit
//! `arm`, and an `amd64` machine takes `386`, best first.
//!
//! ```
//! use oci::Platform;
//! let p: Platform = "linux/aarch64".parse().unwrap();
//! assert_eq!(p.to_string(), "linux/arm64");
//! assert!(p.matches(&"linux/arm64/v8".parse().unwrap()));
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Descriptor, OciError};

/// A platform as an index entry or image config states it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Platform {
    /// Operating system, such as `linux`.
    pub os: String,
    /// CPU architecture in Go's naming, such as `amd64` or `arm64`.
    pub architecture: String,
    /// CPU variant, such as `v7` or `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (Windows).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features (Windows).
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

fn normalize_os(os: &str) -> String {
    match os.to_ascii_lowercase().as_str() {
        "macos" => "darwin".to_string(),
        other => other.to_string(),
    }
}

/// containerd's `normalizeArch`: (architecture, variant) in canonical form, with the
/// default variant written out as empty.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match arch.as_str() {
        "i386" | "386" | "x86" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".into(),
                _ => variant,
            };
            ("arm64".into(), v)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), v)
        }
        _ => (arch, variant),
    }
}

impl Platform {
    /// A platform from os and architecture, normalised (`arm` gets its default `v7`).
    pub fn new(os: &str, architecture: &str) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            ..Platform::default()
        }
        .normalize()
    }

    /// The platform this program runs on, in Go's naming.
    pub fn host() -> Platform {
        use std::env::consts;
        let os = match consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let (arch, variant) = match consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "powerpc64" => ("ppc64", None),
            "loongarch64" => ("loong64", None),
            "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
            "riscv64" => ("riscv64", None),
            "s390x" => ("s390x", None),
            other => (other, None),
        };
        Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: variant.map(str::to_string),
            ..Platform::default()
        }
    }

    /// The canonical form: lower case, Go architecture names, default variants dropped
    /// (`arm64/v8` → `arm64`) except `arm`, whose default `v7` is written out.
    pub fn normalize(&self) -> Platform {
        let (architecture, variant) =
            normalize_arch(&self.architecture, self.variant.as_deref().unwrap_or(""));
        Platform {
            os: normalize_os(&self.os),
            architecture,
            variant: (!variant.is_empty()).then_some(variant),
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
        }
    }

    /// Whether `other` is the same platform once both are normalised (os, architecture and
    /// variant; `os.version` is not compared).
    pub fn matches(&self, other: &Platform) -> bool {
        let (a, b) = (self.normalize(), other.normalize());
        a.os == b.os && a.architecture == b.architecture && a.variant == b.variant
    }

    /// The platforms this one can run, best first: itself, then (containerd's
    /// `platformVector`) older amd64 levels and 386, older arm variants down to v5, and for
    /// arm64 the 32-bit arm variants.
    pub fn compatible(&self) -> Vec<Platform> {
        let me = self.normalize();
        let mut out = vec![me.clone()];
        let with = |arch: &str, variant: Option<String>| Platform {
            architecture: arch.to_string(),
            variant,
            ..me.clone()
        };
        let level = |v: &Option<String>| {
            v.as_deref()
                .and_then(|v| v.strip_prefix('v'))
                .and_then(|n| n.parse::<u32>().ok())
        };
        match me.architecture.as_str() {
            "amd64" => {
                if let Some(l) = level(&me.variant) {
                    for l in (1..l).rev() {
                        let v = (l > 1).then(|| format!("v{l}"));
                        out.push(with("amd64", v));
                    }
                }
                out.push(with("386", None));
            }
            "arm" => {
                if let Some(l) = level(&me.variant) {
                    for l in (5..l).rev() {
                        out.push(with("arm", Some(format!("v{l}"))));
                    }
                }
            }
            "arm64" => {
                let v = me.variant.clone().unwrap_or_else(|| "v8".into());
                let arm = with("arm", Some(v)).normalize();
                let mut rest = arm.compatible();
                // arm/v9 is not a thing: start arm fallbacks at v8.
                rest.retain(|p| level(&p.variant).is_some_and(|l| l <= 8));
                out.extend(rest);
            }
            _ => {}
        }
        out
    }

    /// Whether this platform is the `unknown/unknown` that BuildKit gives attestation
    /// manifests in an index.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

/// Chooses the best index entry for `want`: an exact match (variant included) first, then
/// the fallbacks of [`Platform::compatible`] in order. Entries without a platform and
/// attestation entries (`unknown/unknown`) are never chosen. On Windows, an entry whose
/// `os.version` equals the wanted one wins over one that does not.
pub fn choose<'a>(entries: &'a [Descriptor], want: &Platform) -> Option<&'a Descriptor> {
    for candidate in want.compatible() {
        let mut found: Option<&Descriptor> = None;
        for d in entries {
            let Some(p) = &d.platform else { continue };
            if p.is_unknown() || !candidate.matches(p) {
                continue;
            }
            let version_match = want.os_version.is_some() && p.os_version == want.os_version;
            if version_match {
                return Some(d);
            }
            found.get_or_insert(d);
        }
        if found.is_some() {
            return found;
        }
    }
    None
}

impl fmt::Display for Platform {
    /// `os/architecture[/variant]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = OciError;

    /// Parses `os/arch[/variant]` (`linux/arm64/v8`, `linux/amd64`, `windows/amd64`), or a
    /// lone OS or architecture as containerd does (the other part is the host's). Names are
    /// normalised; a 2-part `arm` stays without variant (meaning v7) and a 3-part `arm64`
    /// keeps `v8`, as containerd's `Parse` does.
    fn from_str(s: &str) -> Result<Platform, OciError> {
        let err = |reason: String| OciError::InvalidPlatform {
            input: s.to_string(),
            reason,
        };
        let parts: Vec<&str> = s.split('/').collect();
        for part in &parts {
            if part.is_empty()
                || !part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
            {
                return Err(err(format!(
                    "{part:?} is not a valid component (expected os/arch[/variant], such as linux/arm64)"
                )));
            }
        }
        let mut p = Platform::default();
        match parts.as_slice() {
            [one] => {
                let host = Platform::host();
                let lower = one.to_ascii_lowercase();
                if KNOWN_OS.contains(&normalize_os(one).as_str()) {
                    p.os = normalize_os(one);
                    p.architecture = host.architecture;
                    p.variant = host.variant;
                } else {
                    let (arch, variant) = normalize_arch(&lower, "");
                    if !KNOWN_ARCH.contains(&arch.as_str()) {
                        return Err(err(format!(
                            "{one:?} is neither a known OS nor a known architecture"
                        )));
                    }
                    p.os = host.os;
                    p.architecture = arch;
                    p.variant = (!variant.is_empty() && variant != "v7").then_some(variant);
                }
            }
            [os, arch] => {
                let (arch, variant) = normalize_arch(arch, "");
                p.os = normalize_os(os);
                p.architecture = arch;
                let default = variant.is_empty() || p.architecture == "arm" && variant == "v7";
                p.variant = (!default).then_some(variant);
            }
            [os, arch, variant] => {
                let (arch, variant) = normalize_arch(arch, variant);
                p.os = normalize_os(os);
                p.variant = if arch == "arm64" && variant.is_empty() {
                    Some("v8".into())
                } else {
                    (!variant.is_empty()).then_some(variant)
                };
                p.architecture = arch;
            }
            _ => {
                return Err(err(
                    "too many components (expected os/arch[/variant])".to_string()
                ));
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_normalises() {
        for (input, shown) in [
            ("linux/amd64", "linux/amd64"),
            ("linux/x86_64", "linux/amd64"),
            ("Linux/X86-64", "linux/amd64"),
            ("linux/arm64", "linux/arm64"),
            ("linux/aarch64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64/v8"),
            ("linux/arm/v7", "linux/arm/v7"),
            ("linux/arm", "linux/arm"),
            ("linux/armhf", "linux/arm"),
            ("linux/armel", "linux/arm/v6"),
            ("linux/arm/7", "linux/arm/v7"),
            ("linux/i386", "linux/386"),
            ("windows/amd64", "windows/amd64"),
            ("macos/arm64", "darwin/arm64"),
            ("linux/ppc64le", "linux/ppc64le"),
        ] {
            assert_eq!(p(input).to_string(), shown, "{input}");
        }
        for bad in [
            "",
            "linux/",
            "/amd64",
            "linux/amd64/v1/x",
            "linux/am d64",
            "nonsense",
        ] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
        assert_eq!(p("linux").os, "linux");
        assert_eq!(p("arm64").architecture, "arm64");
    }

    #[test]
    fn matches_after_normalising() {
        for (a, b, want) in [
            ("linux/arm64", "linux/arm64/v8", true),
            ("linux/aarch64", "linux/arm64", true),
            ("linux/arm", "linux/arm/v7", true),
            ("linux/armhf", "linux/arm/v7", true),
            ("linux/arm/v6", "linux/arm/v7", false),
            ("linux/amd64", "linux/x86_64", true),
            ("linux/amd64", "windows/amd64", false),
            ("linux/arm64/v9", "linux/arm64", false),
        ] {
            assert_eq!(p(a).matches(&p(b)), want, "{a} {b}");
            assert_eq!(p(b).matches(&p(a)), want, "{b} {a}");
        }
    }

    fn entry(platform: Option<&str>, n: u8) -> Descriptor {
        let mut d = Descriptor::of_bytes(crate::media::OCI_MANIFEST, &[n]);
        d.platform = platform.map(|s| {
            let mut parts = s.split('/');
            Platform {
                os: parts.next().unwrap().into(),
                architecture: parts.next().unwrap().into(),
                variant: parts.next().map(Into::into),
                ..Platform::default()
            }
        });
        d
    }

    #[test]
    fn chooses_the_best_entry() {
        let index = [
            entry(None, 0),
            entry(Some("unknown/unknown"), 1),
            entry(Some("linux/amd64"), 2),
            entry(Some("linux/arm/v5"), 3),
            entry(Some("linux/arm/v7"), 4),
            entry(Some("linux/arm64/v8"), 5),
            entry(Some("linux/arm/v6"), 6),
            entry(Some("windows/amd64"), 7),
        ];
        let only_old_arm = [
            entry(Some("linux/arm/v5"), 3),
            entry(Some("linux/arm/v6"), 6),
        ];
        let only_386 = [
            entry(Some("linux/386"), 8),
            entry(Some("unknown/unknown"), 1),
        ];
        let attest_only = [entry(Some("unknown/unknown"), 1), entry(None, 0)];
        for (entries, want, chosen) in [
            (&index[..], "linux/amd64", Some(2)),
            (&index[..], "linux/x86_64", Some(2)),
            (&index[..], "linux/arm64", Some(5)),
            (&index[..], "linux/arm/v7", Some(4)),
            (&index[..], "linux/arm", Some(4)),
            (&index[..], "linux/arm/v6", Some(6)),
            (&index[..], "linux/arm/v5", Some(3)),
            (&index[..], "windows/amd64", Some(7)),
            (&index[..], "linux/s390x", None),
            (&only_old_arm[..], "linux/arm/v7", Some(6)),
            (&only_old_arm[..], "linux/arm64", Some(6)),
            (&only_old_arm[..], "linux/arm/v5", Some(3)),
            (&only_386[..], "linux/amd64", Some(8)),
            (&attest_only[..], "linux/amd64", None),
        ] {
            let got = choose(entries, &p(want));
            let want_digest = chosen.map(|n| Descriptor::of_bytes("", &[n]).digest);
            assert_eq!(got.map(|d| d.digest.clone()), want_digest, "{want}");
        }
    }

    #[test]
    fn compatible_lists_fallbacks_in_order() {
        let show =
            |s: &str| -> Vec<String> { p(s).compatible().iter().map(|p| p.to_string()).collect() };
        assert_eq!(
            show("linux/arm/v7"),
            ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]
        );
        assert_eq!(
            show("linux/arm64"),
            [
                "linux/arm64",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5"
            ]
        );
        assert_eq!(show("linux/amd64"), ["linux/amd64", "linux/386"]);
        assert_eq!(
            show("linux/amd64/v3"),
            [
                "linux/amd64/v3",
                "linux/amd64/v2",
                "linux/amd64",
                "linux/386"
            ]
        );
    }

    #[test]
    fn host_is_normalised() {
        let h = Platform::host();
        assert!(h.matches(&h.normalize()));
        assert!(!h.os.is_empty() && !h.architecture.is_empty());
    }

    #[test]
    fn windows_prefers_the_same_os_version() {
        let mut a = entry(Some("windows/amd64"), 1);
        let mut b = entry(Some("windows/amd64"), 2);
        a.platform.as_mut().unwrap().os_version = Some("10.0.17763.1".into());
        b.platform.as_mut().unwrap().os_version = Some("10.0.20348.1".into());
        let mut want = p("windows/amd64");
        want.os_version = Some("10.0.20348.1".into());
        let binding = [a, b];
        assert_eq!(choose(&binding, &want).unwrap().digest, binding[1].digest);
    }
}
