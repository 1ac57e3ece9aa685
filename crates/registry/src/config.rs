//! The registry's config file, in TOML or YAML (chosen by the file's extension).
//!
//! ```toml
//! [http]
//! addr = "0.0.0.0:5000"
//! tls = { certificate = "/etc/strata/registry.crt", key = "/etc/strata/registry.key" }
//!
//! [storage]
//! filesystem = { root = "/var/lib/strata/registry" }
//! # or, for replicas sharing one bucket:
//! # object = { url = "s3://bucket/prefix", options = { region = "eu-west-1" } }
//!
//! [log]
//! level = "info"
//! format = "json"
//!
//! # Manifests of these repositories are served only when signed by one of the keys:
//! [[trust.require]]
//! repositories = ["prod/**"]
//! keys = ["/etc/strata/keys/release.pub"]
//! ```
//!
//! Every section is optional; unknown keys are errors, so a typo does not silently fall
//! back to a default. Command-line flags override the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::tls::TlsFiles;

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Listening and TLS.
    #[serde(default)]
    pub http: HttpSection,
    /// Where content is kept.
    #[serde(default)]
    pub storage: StorageSection,
    /// Who may do what.
    #[serde(default)]
    pub auth: AuthSection,
    /// Online garbage collection.
    #[serde(default)]
    pub gc: GcSection,
    /// Pull-through cache of an upstream registry.
    #[serde(default)]
    pub proxy: Option<ProxySection>,
    /// Storage health checks.
    #[serde(default)]
    pub health: HealthSection,
    /// Logging.
    #[serde(default)]
    pub log: LogSection,
    /// Repositories that serve only signed manifests.
    #[serde(default)]
    pub trust: crate::signed::TrustSection,
}

/// `[http]`: where to listen.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// The address to listen on.
    pub addr: Option<SocketAddr>,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<TlsFiles>,
    /// Close connections that send no complete request head for this long (default
    /// 30s).
    #[serde(default, deserialize_with = "opt_duration")]
    pub header_timeout: Option<Duration>,
}

/// `[health]`: how often storage is checked, and when a failing backend takes the
/// registry out of service (see [`crate::health`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    /// Time between checks (default 10s).
    #[serde(default, deserialize_with = "opt_duration")]
    pub interval: Option<Duration>,
    /// Failed checks in a row before requests get 503 (default 3).
    pub threshold: Option<u32>,
    /// How long one check may take, and the check at start (default 5s).
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
}

impl HealthSection {
    /// The options this section asks for, defaults for what it leaves out.
    pub fn options(&self) -> crate::health::HealthOptions {
        let d = crate::health::HealthOptions::default();
        crate::health::HealthOptions {
            interval: self.interval.unwrap_or(d.interval),
            threshold: self.threshold.unwrap_or(d.threshold).max(1),
            timeout: self.timeout.unwrap_or(d.timeout),
        }
    }
}

/// `[storage]`: one backend.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// Files under a directory.
    pub filesystem: Option<FilesystemStorage>,
    /// An object-storage bucket.
    pub object: Option<ObjectStorageConfig>,
}

/// `[storage.filesystem]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemStorage {
    /// The directory.
    pub root: PathBuf,
}

/// `[storage.object]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStorageConfig {
    /// `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`.
    pub url: String,
    /// Backend options (`endpoint`, `region`, `access_key_id`, `allow_http`, …); the
    /// usual environment variables (`AWS_*`, …) apply too.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// `[auth]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// Basic auth against an htpasswd file.
    pub htpasswd: Option<HtpasswdConfig>,
    /// Bearer tokens (the Docker token flow), with the built-in token endpoint and
    /// per-repository permissions.
    pub token: Option<crate::auth::TokenConfig>,
}

/// `[auth.htpasswd]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtpasswdConfig {
    /// The htpasswd file (bcrypt entries).
    pub path: PathBuf,
    /// The realm named in challenges.
    #[serde(default = "default_realm")]
    pub realm: String,
}

fn default_realm() -> String {
    "strata-registry".to_string()
}

/// `[gc]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcSection {
    /// Run garbage collection this often while serving (`"1h"`, `"30m"`); off when unset.
    #[serde(default, deserialize_with = "opt_duration")]
    pub interval: Option<Duration>,
    /// Content younger than this is never collected.
    #[serde(default, deserialize_with = "opt_duration")]
    pub grace: Option<Duration>,
    /// Uploads idle for longer than this are removed.
    #[serde(default, deserialize_with = "opt_duration")]
    pub upload_max_age: Option<Duration>,
    /// Also delete manifests no tag or index refers to.
    #[serde(default)]
    pub delete_untagged: bool,
}

/// `[proxy]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    /// The upstream registry's URL.
    pub remote_url: String,
    /// Upstream user name.
    pub username: Option<String>,
    /// Upstream password.
    pub password: Option<String>,
}

/// `[log]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// A level or `RUST_LOG`-style filter (`info`, `registry=debug`).
    pub level: Option<String>,
    /// `text` (default) or `json`, one object per line.
    pub format: Option<LogFormat>,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Why a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading registry config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid for its format or has unknown or mistyped keys.
    #[error("registry config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
}

impl FileConfig {
    /// Reads a config file: YAML when it ends in `.yml`/`.yaml`, TOML otherwise.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        );
        FileConfig::parse(&text, yaml).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses config text as YAML or TOML.
    pub fn parse(text: &str, yaml: bool) -> Result<FileConfig, String> {
        let config: FileConfig = if yaml {
            if text.trim().is_empty() {
                FileConfig::default()
            } else {
                serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
            }
        } else {
            toml::from_str(text).map_err(|e| e.to_string())?
        };
        if config.auth.htpasswd.is_some() && config.auth.token.is_some() {
            return Err(
                "[auth] names both htpasswd and token: choose one (token auth takes its \
                 accounts from auth.token.htpasswd)"
                    .into(),
            );
        }
        if config.storage.filesystem.is_some() && config.storage.object.is_some() {
            return Err("[storage] names both filesystem and object: choose one".into());
        }
        Ok(config)
    }
}

/// Parses a duration such as `90s`, `15m`, `1h30m`, `2d` or `500ms`; a bare number is
/// seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{s:?} is not a duration (like 90s, 15m, 1h30m)"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{s:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86400),
            other => {
                return Err(format!(
                    "{s:?}: unknown unit {other:?} (use ms, s, m, h or d)"
                ));
            }
        };
        rest = &rest[unit_len..];
        let part = unit
            .checked_mul(u32::try_from(n).map_err(|_| format!("{s:?}: number too large"))?)
            .ok_or_else(|| format!("{s:?}: too long"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("{s:?}: too long"))?;
    }
    Ok(total)
}

/// Deserializes an optional duration: a number of seconds, or text for [`parse_duration`].
pub(crate) fn opt_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Secs(n)) => Ok(Some(Duration::from_secs(n))),
        Some(Raw::Text(t)) => parse_duration(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases: &[(&str, Option<u64>)] = &[
            ("90", Some(90_000)),
            ("90s", Some(90_000)),
            ("15m", Some(900_000)),
            ("1h30m", Some(5_400_000)),
            ("2d", Some(172_800_000)),
            ("500ms", Some(500)),
            ("1m30s", Some(90_000)),
            ("", None),
            ("h", None),
            ("5x", None),
            ("-5s", None),
            ("1.5h", None),
            ("99999999999999999999s", None),
        ];
        for (s, want) in cases {
            let got = parse_duration(s).ok().map(|d| d.as_millis() as u64);
            assert_eq!(got, *want, "{s:?}");
        }
    }

    #[test]
    fn toml_and_yaml_mean_the_same() {
        let toml = r#"
            [http]
            addr = "127.0.0.1:5001"
            tls = { certificate = "/c.pem", key = "/k.pem" }
            header_timeout = "20s"
            [health]
            interval = "2s"
            threshold = 1
            [storage.object]
            url = "s3://bucket/prefix"
            options = { endpoint = "http://127.0.0.1:9000", allow_http = "true" }
            [auth.htpasswd]
            path = "/etc/htpasswd"
            [gc]
            interval = "1h"
            grace = 600
            [proxy]
            remote_url = "https://upstream.example"
            [log]
            level = "debug"
            format = "json"
        "#;
        let yaml = r#"
http:
  addr: 127.0.0.1:5001
  tls: {certificate: /c.pem, key: /k.pem}
  header_timeout: 20s
health: {interval: 2s, threshold: 1}
storage:
  object:
    url: s3://bucket/prefix
    options: {endpoint: "http://127.0.0.1:9000", allow_http: "true"}
auth:
  htpasswd: {path: /etc/htpasswd}
gc: {interval: 1h, grace: 600}
proxy: {remote_url: "https://upstream.example"}
log: {level: debug, format: json}
"#;
        let a = FileConfig::parse(toml, false).unwrap();
        let b = FileConfig::parse(yaml, true).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.http.addr, Some("127.0.0.1:5001".parse().unwrap()));
        assert_eq!(a.gc.interval, Some(Duration::from_secs(3600)));
        assert_eq!(a.http.header_timeout, Some(Duration::from_secs(20)));
        let h = a.health.options();
        assert_eq!((h.interval, h.threshold), (Duration::from_secs(2), 1));
        assert_eq!(h.timeout, crate::health::HealthOptions::default().timeout);
        assert_eq!(a.gc.grace, Some(Duration::from_secs(600)));
        assert_eq!(a.auth.htpasswd.unwrap().realm, "strata-registry");
        assert_eq!(a.log.format, Some(LogFormat::Json));
        assert_eq!(
            a.storage.object.unwrap().options["endpoint"],
            "http://127.0.0.1:9000"
        );
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("```toml\n[http]")
            .expect("README has the example")
            + 8;
        let len = readme[start..].find("```").unwrap();
        let c = FileConfig::parse(&readme[start..start + len], false).unwrap();
        assert!(c.storage.object.is_some() && c.auth.token.is_some());
        assert_eq!(c.gc.interval, Some(Duration::from_secs(6 * 3600)));
        assert_eq!(c.http.header_timeout, Some(Duration::from_secs(30)));
        assert_eq!(c.health.options(), crate::health::HealthOptions::default());
    }

    #[test]
    fn mistakes_are_errors() {
        let cases: &[(&str, bool, &str)] = &[
            ("[http]\nadress = \"x\"\n", false, "unknown field"),
            ("[http]\naddr = \"not an address\"\n", false, "addr"),
            ("[gc]\ninterval = \"5 parsecs\"\n", false, "unknown unit"),
            ("[log]\nformat = \"xml\"\n", false, "unknown variant"),
            (
                "[storage]\nfilesystem = { root = \"/a\" }\nobject = { url = \"s3://b\" }\n",
                false,
                "choose one",
            ),
            ("http:\n  addr: [1, 2]\n", true, "addr"),
            ("stroage: {}\n", true, "unknown field"),
        ];
        for (text, yaml, want) in cases {
            let err = FileConfig::parse(text, *yaml).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        assert_eq!(FileConfig::parse("", false).unwrap(), FileConfig::default());
        assert_eq!(FileConfig::parse("", true).unwrap(), FileConfig::default());
    }
}
