//! Where the store lives and what `~/.config/strata/config.toml` says.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// The user's configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// Registries (`host[:port]`) spoken to without TLS verification, or over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// Mirrors of Docker Hub (`http://host:port` or `https://host`), tried in order
    /// before it for every `docker.io` image, as Docker's daemon `registry-mirrors`.
    #[serde(default)]
    pub registry_mirrors: Vec<String>,
    /// The default `ps --format` (Docker's client `psFormat` takes precedence).
    #[serde(default)]
    pub ps_format: Option<String>,
    /// The default `images --format` (Docker's client `imagesFormat` takes precedence).
    #[serde(default)]
    pub images_format: Option<String>,
    /// The key sequence that detaches from a container (`attach`, `run -it`, `start -ai`,
    /// `exec -it`) when `--detach-keys` is not given (Docker's client `detachKeys` takes
    /// precedence).
    #[serde(default)]
    pub detach_keys: Option<String>,
}

impl Config {
    /// Parses the TOML text of a config file.
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Loads `explicit`, or the default file if it exists (a missing default is no error).
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Config> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => match default_config_path() {
                Some(p) => (p, false),
                None => return Ok(Config::default()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(e) => {
                return Err(e).with_context(|| format!("reading config {}", path.display()));
            }
        };
        Config::parse(&text).with_context(|| format!("parsing config {}", path.display()))
    }

    /// The mirrors to try before the registry `domain`: the `registry-mirrors` for Docker
    /// Hub, none for any other registry (Docker's rule).
    pub fn mirrors_for(&self, domain: &str) -> &[String] {
        if domain == "docker.io" {
            &self.registry_mirrors
        } else {
            &[]
        }
    }

    /// Whether `registry` (`host[:port]`) is listed as insecure.
    pub fn is_insecure(&self, registry: &str) -> bool {
        self.insecure_registries.iter().any(|r| {
            let r = r
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/');
            r == registry
        })
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// `$XDG_CONFIG_HOME/strata`, or `~/.config/strata`.
fn config_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => home()?.join(".config"),
    };
    Some(base.join("strata"))
}

fn default_config_path() -> Option<PathBuf> {
    Some(config_dir()?.join("config.toml"))
}

/// The trust policy read when `--policy` is not given: `~/.config/strata/policy.json`.
pub fn default_policy_path() -> Option<PathBuf> {
    Some(config_dir()?.join("policy.json"))
}

/// Whether content trust is on: `STRATA_CONTENT_TRUST` or Docker's `DOCKER_CONTENT_TRUST`
/// set to a true value as Go's `strconv.ParseBool` reads one (`1`, `t`, `true`, …).
pub fn content_trust_env() -> bool {
    ["STRATA_CONTENT_TRUST", "DOCKER_CONTENT_TRUST"]
        .iter()
        .filter_map(std::env::var_os)
        .any(|v| {
            matches!(
                v.to_str().unwrap_or_default(),
                "1" | "t" | "T" | "true" | "TRUE" | "True"
            )
        })
}

/// The store directory when `--root` and `STRATA_ROOT` are not given: `/var/lib/strata` for
/// root, `$XDG_DATA_HOME/strata` or `~/.local/share/strata` otherwise.
pub fn default_root() -> anyhow::Result<PathBuf> {
    if rustix::process::geteuid().is_root() {
        return Ok(PathBuf::from("/var/lib/strata"));
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("strata"));
    }
    let home = home().context("cannot choose a store directory: HOME is not set (use --root)")?;
    Ok(home.join(".local/share/strata"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config() {
        for (text, want) in [
            ("", Some(vec![])),
            (
                "insecure-registries = [\"reg.lan:5000\", \"10.0.0.2\"]",
                Some(vec!["reg.lan:5000", "10.0.0.2"]),
            ),
            ("insecure_registries = []", None),
            ("insecure-registries = \"x\"", None),
        ] {
            let got = Config::parse(text).ok().map(|c| c.insecure_registries);
            let want = want.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn reads_detach_keys() {
        let c = Config::parse("detach-keys = \"ctrl-x,y\"\n").unwrap();
        assert_eq!(c.detach_keys.as_deref(), Some("ctrl-x,y"));
    }

    #[test]
    fn matches_insecure_hosts() {
        let c = Config {
            insecure_registries: vec!["reg.lan:5000".into(), "http://other/".into()],
            ..Default::default()
        };
        assert!(c.is_insecure("reg.lan:5000"));
        assert!(c.is_insecure("other"));
        assert!(!c.is_insecure("reg.lan"));
    }
}
