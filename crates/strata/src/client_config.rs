//! Docker's client configuration directory (`~/.docker`, `$DOCKER_CONFIG`, or `--config
//! DIR`): the settings of its `config.json` that shape what the CLI prints (`psFormat`,
//! `imagesFormat`) and how it attaches (`detachKeys`). Credentials in the same file are
//! the transport crate's (`transport::credentials`), which finds the directory through
//! `DOCKER_CONFIG`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// The settings of Docker's `config.json` the CLI uses; every other key is ignored, as
/// other tools write theirs in the same file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// The default `ps --format`.
    #[serde(default)]
    pub ps_format: Option<String>,
    /// The default `images --format`.
    #[serde(default)]
    pub images_format: Option<String>,
    /// The default detach keys of `attach`, `run -it`, `start -a`, `exec -it`.
    #[serde(default)]
    pub detach_keys: Option<String>,
}

impl ClientConfig {
    /// Reads `DIR/config.json`; a missing file is the empty configuration, a malformed one
    /// an error naming it (Docker's CLI warns and goes on without it).
    pub fn load(dir: &Path) -> anyhow::Result<ClientConfig> {
        let path = dir.join("config.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_str(&text).with_context(|| {
            format!(
                "parsing {}: fix the JSON or move the file away",
                path.display()
            )
        })
    }
}

/// The client configuration directory: `$DOCKER_CONFIG`, else `~/.docker`; `None` when
/// neither can be told.
pub fn default_dir() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        Some(d) => Some(PathBuf::from(d)),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".docker")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cli_settings_and_ignores_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ClientConfig::load(dir.path()).unwrap(),
            ClientConfig::default()
        );
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"r":{"auth":"eDp5"}},"psFormat":"table {{.Names}}","imagesFormat":"{{.ID}}","detachKeys":"ctrl-x,y","credsStore":"pass"}"#,
        )
        .unwrap();
        let c = ClientConfig::load(dir.path()).unwrap();
        assert_eq!(c.ps_format.as_deref(), Some("table {{.Names}}"));
        assert_eq!(c.images_format.as_deref(), Some("{{.ID}}"));
        assert_eq!(c.detach_keys.as_deref(), Some("ctrl-x,y"));
        std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
        let e = ClientConfig::load(dir.path()).unwrap_err();
        assert!(format!("{e:#}").contains("config.json"), "{e:#}");
    }
}
