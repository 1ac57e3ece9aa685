//! The image config: the JSON a manifest's `config` descriptor points at.
//!
//! [`ImageConfig`] is Docker's superset of the OCI image config (Docker adds `Healthcheck`,
//! `Shell`, `OnBuild`, `ArgsEscaped`, `docker_version`, …). Every struct keeps the fields it
//! does not name in an `extra` map, so a config read and written again loses nothing. Field
//! names are those of the JSON: lower case at the top level, capitalised inside `config`.
//!
//! A config that came from elsewhere is stored and served as its original bytes; these types
//! are for reading it and for writing configs strata makes (`commit`, `import`, `build`).
//!
//! ```
//! use oci::config::ImageConfig;
//! let mut c = ImageConfig::from_slice(br#"{"architecture":"amd64","os":"linux",
//!     "config":{"Env":["PATH=/usr/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}"#).unwrap();
//! assert_eq!(c.config.env_get("PATH"), Some("/usr/bin"));
//! c.config.env_set("LANG", "C.UTF-8");
//! assert_eq!(c.platform().to_string(), "linux/amd64");
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::{Digest, OciError, Platform};

/// Reads `null` as the type's default (Docker writes `"Labels": null`).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An image config (`application/vnd.oci.image.config.v1+json` or Docker's
/// `application/vnd.docker.container.image.v1+json`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture (`amd64`).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// CPU variant (`v8`).
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
    #[serde(
        rename = "os.features",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub os_features: Vec<String>,
    /// Creation time, RFC 3339, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The Docker version that made the image (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    /// Defaults for containers run from the image.
    #[serde(default, deserialize_with = "null_default")]
    pub config: ContainerConfig,
    /// The layers' uncompressed digests.
    #[serde(default)]
    pub rootfs: RootFs,
    /// How each layer was made, base first; entries with `empty_layer` have no layer.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
    /// Fields not named above (`container`, `container_config`, `comment`, …), kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `config` object: defaults for containers. Docker's names (`User`, `Env`, …).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `user`, `user:group`, `uid:gid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Ports as `80/tcp` → `{}`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, Map<String, Value>>,
    /// `KEY=value` entries, in order.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// The entrypoint. `None` (unset, inherited) differs from `Some([])` (cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The default command. `None` differs from `Some([])`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Volume mount points as path → `{}`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, Map<String, Value>>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// The signal that stops the container (`SIGTERM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// The health check (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// The shell for shell-form commands (Docker only; default `["/bin/sh", "-c"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// ONBUILD triggers, as written (Docker only).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub on_build: Vec<String>,
    /// Whether `Cmd`/`Entrypoint` are already escaped (Docker on Windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    /// Fields not named above (`Hostname`, `AttachStdin`, `StopTimeout`, …), kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A health check (`HEALTHCHECK` in a Dockerfile). Durations are in nanoseconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", args…]` or `["CMD-SHELL", command]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Time between checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Time before a check counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Start-up time during which failures do not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i64>,
    /// Time between checks during the start period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
    /// Failures in a row before the container is unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The chain IDs of a stack of layers, base first (OCI image spec): the first is the
/// first diffID; each next is `sha256(previous + " " + diffID)`. A chain ID names a layer
/// together with everything under it (unpacked snapshots are kept by it).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::sha256_of(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// The `rootfs` object: the layers' diffIDs, base first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The uncompressed digest of each layer.
    #[serde(default, deserialize_with = "null_default")]
    pub diff_ids: Vec<Digest>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for RootFs {
    fn default() -> RootFs {
        RootFs {
            kind: "layers".to_string(),
            diff_ids: Vec::new(),
            extra: Map::new(),
        }
    }
}

/// One `history` entry: how a layer (or an empty step) was made.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    /// When, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command (`/bin/sh -c #(nop) CMD ["sh"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment (`docker commit -m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageConfig {
    /// Parses config bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<ImageConfig, OciError> {
        serde_json::from_slice(bytes).map_err(|e| OciError::InvalidJson {
            what: "image config",
            source: e,
        })
    }

    /// Serialises a config strata makes (compact JSON, fields in declaration order, unknown
    /// fields after them).
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("image config serialises")
    }

    /// The platform the config states.
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
        }
    }

    /// Sets architecture, os, variant and os fields from `p`.
    pub fn set_platform(&mut self, p: &Platform) {
        self.architecture = p.architecture.clone();
        self.os = p.os.clone();
        self.variant = p.variant.clone();
        self.os_version = p.os_version.clone();
        self.os_features = p.os_features.clone();
    }

    /// The history entries that made a layer, in layer order (one per diffID in a
    /// well-formed config).
    pub fn layer_history(&self) -> impl Iterator<Item = &History> {
        self.history.iter().filter(|h| !h.empty_layer)
    }
}

impl ContainerConfig {
    /// The value of `key` in `Env` (the last entry wins, as in a process environment).
    pub fn env_get(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|e| match e.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if e == key => Some(""),
            _ => None,
        })
    }

    /// Sets `key` in `Env`: replaces the existing entry in place, or appends.
    pub fn env_set(&mut self, key: &str, value: &str) {
        let entry = format!("{key}={value}");
        let existing = self
            .env
            .iter()
            .position(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key);
        match existing {
            Some(i) => self.env[i] = entry,
            None => self.env.push(entry),
        }
    }

    /// Removes `key` from `Env`; whether it was there.
    pub fn env_remove(&mut self, key: &str) -> bool {
        let before = self.env.len();
        self.env
            .retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        self.env.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `docker inspect`'s raw config for a `docker build` of `FROM busybox` with
    /// `HEALTHCHECK`, `SHELL`, `ONBUILD` (Docker 24), trimmed.
    const DOCKER: &str = r##"{"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"app","AttachStdin":false,"ExposedPorts":{"80/tcp":{}},"Tty":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","A=1"],"Cmd":["sh"],"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Retries":3},"ArgsEscaped":true,"Image":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","Volumes":null,"WorkingDir":"/app","Entrypoint":null,"OnBuild":["RUN echo hi"],"Labels":null,"StopSignal":"SIGQUIT","Shell":["/bin/bash","-c"]},"container":"0123abcd","container_config":{"Hostname":"0123abcd","Cmd":["/bin/sh","-c","#(nop) ","CMD [\"sh\"]"]},"created":"2024-01-02T03:04:05.123456789Z","docker_version":"24.0.7","history":[{"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop) ADD file:abc in / "},{"created":"2024-01-01T00:00:01Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"##;

    /// An OCI config as BuildKit writes it, with an unknown top-level field and an arm64
    /// variant.
    const OCI: &str = r#"{"created":"2024-05-06T07:08:09Z","architecture":"arm64","variant":"v8","os":"linux","config":{"Env":["PATH=/bin"],"Entrypoint":[],"Cmd":["/app"],"WorkingDir":"/","Labels":{"org.opencontainers.image.source":"https://example.com"}},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created":"2024-05-06T07:08:09Z","created_by":"COPY /app /app # buildkit","comment":"buildkit.dockerfile.v0"}],"moby.buildkit.buildinfo.v1":"e30="}"#;

    #[test]
    fn docker_config_parses_and_keeps_unknown_fields() {
        let c = ImageConfig::from_slice(DOCKER.as_bytes()).unwrap();
        assert_eq!(c.config.user.as_deref(), Some("app"));
        assert!(c.config.exposed_ports.contains_key("80/tcp"));
        assert_eq!(c.config.env_get("A"), Some("1"));
        assert_eq!(c.config.entrypoint, None);
        assert_eq!(c.config.cmd, Some(vec!["sh".to_string()]));
        assert!(c.config.volumes.is_empty() && c.config.labels.is_empty());
        assert_eq!(c.config.working_dir.as_deref(), Some("/app"));
        assert_eq!(c.config.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(c.config.healthcheck.as_ref().unwrap().retries, Some(3));
        assert_eq!(c.config.shell.as_ref().unwrap()[0], "/bin/bash");
        assert_eq!(c.config.on_build, ["RUN echo hi"]);
        assert_eq!(c.config.args_escaped, Some(true));
        assert_eq!(c.docker_version.as_deref(), Some("24.0.7"));
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert_eq!(c.layer_history().count(), 1);
        assert_eq!(c.platform().to_string(), "linux/amd64");
        // Unknown fields survive a round trip, at both levels.
        for key in ["container", "container_config"] {
            assert!(c.extra.contains_key(key), "{key}");
        }
        for key in ["Hostname", "Domainname", "AttachStdin", "Tty", "Image"] {
            assert!(c.config.extra.contains_key(key), "{key}");
        }
        let again = ImageConfig::from_slice(&c.to_vec()).unwrap();
        assert_eq!(again, c);
        let v: Value = serde_json::from_slice(&c.to_vec()).unwrap();
        assert_eq!(v["container_config"]["Hostname"], "0123abcd");
        assert_eq!(v["config"]["Image"], c.config.extra["Image"]);
        assert_eq!(v["history"][1]["empty_layer"], true);
    }

    #[test]
    fn oci_config_parses_and_round_trips() {
        let c = ImageConfig::from_slice(OCI.as_bytes()).unwrap();
        assert_eq!(c.platform().to_string(), "linux/arm64/v8");
        assert_eq!(c.config.entrypoint, Some(vec![]));
        assert_eq!(
            c.history[0].comment.as_deref(),
            Some("buildkit.dockerfile.v0")
        );
        assert_eq!(c.extra["moby.buildkit.buildinfo.v1"], "e30=");
        let v: Value = serde_json::from_slice(&c.to_vec()).unwrap();
        let orig: Value = serde_json::from_str(OCI).unwrap();
        assert_eq!(v, orig, "OCI config round-trips to the same JSON value");
        assert_eq!(v["config"]["Entrypoint"], serde_json::json!([]));
    }

    #[test]
    fn rejects_bad_configs() {
        for bad in [
            "not json",
            r#"{"rootfs":{"type":"layers","diff_ids":["md5:00"]}}"#,
            r#"{"config":{"Env":"A=1"}}"#,
            r#"{"architecture":1}"#,
        ] {
            assert!(ImageConfig::from_slice(bad.as_bytes()).is_err(), "{bad}");
        }
        let empty = ImageConfig::from_slice(b"{}").unwrap();
        assert_eq!(empty.rootfs.kind, "layers");
    }

    #[test]
    fn env_helpers() {
        let mut c = ContainerConfig::default();
        c.env_set("A", "1");
        c.env_set("B", "x=y");
        c.env_set("A", "2");
        assert_eq!(c.env, ["A=2", "B=x=y"]);
        assert_eq!(c.env_get("B"), Some("x=y"));
        assert_eq!(c.env_get("C"), None);
        assert!(c.env_remove("A"));
        assert!(!c.env_remove("A"));
        assert_eq!(c.env, ["B=x=y"]);
    }
}
