//! Registry credentials as Docker keeps them: `~/.docker/config.json` (or
//! `$DOCKER_CONFIG/config.json`) and `docker-credential-*` helper programs.
//!
//! Lookup order for a registry host, as Docker's: `credHelpers.{host}`, then `credsStore`,
//! then the file's own `auths.{host}` (`auth` is base64 `user:password`; `identitytoken` is an
//! OAuth2 refresh token). Keys may be written as `https://host/v1/`; they are compared after
//! normalisation, and Docker Hub's key is `https://index.docker.io/v1/`.
//!
//! Helpers speak Docker's protocol: `get` reads the server URL on stdin and prints
//! `{"Username": …, "Secret": …}` (user `<token>` means the secret is an identity token);
//! `store` reads `{"ServerURL", "Username", "Secret"}`; `erase` reads the server URL.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::TransportError;
use crate::registry::{RegistryClient, RegistryOptions};

/// The client configuration directory a command line named (Docker's `--config DIR`),
/// over `DOCKER_CONFIG` and `~/.docker`; set once, before any credential is read.
static CONFIG_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Makes `dir` the client configuration directory of this process (Docker's `--config
/// DIR`): [`CredentialStore::default_location`] then uses `dir/config.json`. Only the
/// first call counts.
pub fn set_config_dir(dir: PathBuf) {
    let _ = CONFIG_DIR.set(dir);
}

/// The key Docker uses for Docker Hub in `config.json` and with helpers.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The user name a helper returns when the secret is an identity token.
const TOKEN_USER: &str = "<token>";

/// What we authenticate to a registry with.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and a password (or a personal access token used as one).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An OAuth2 refresh token (Docker's "identity token") exchanged for access tokens.
    IdentityToken(String),
}

impl fmt::Debug for Credentials {
    // Never print secrets, even in debug logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// The registry part of a config key or host, compared case-insensitively: scheme and path
/// dropped (`https://Host:5000/v1/` → `host:5000`), Docker Hub's aliases folded into
/// `docker.io`.
pub fn normalize_registry(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => host,
    }
}

/// The server URL Docker stores a host's credentials under (`https://index.docker.io/v1/`
/// for Docker Hub, the bare host otherwise).
pub fn server_key(host: &str) -> String {
    let host = normalize_registry(host);
    if host == "docker.io" {
        DOCKER_HUB_KEY.to_string()
    } else {
        host
    }
}

/// Docker's client configuration file and the directories searched for helpers.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    config: PathBuf,
    helper_path: Option<OsString>,
}

impl CredentialStore {
    /// The directory of [`set_config_dir`], else `$DOCKER_CONFIG/config.json`, else
    /// `$HOME/.docker/config.json`.
    pub fn default_location() -> Result<CredentialStore, TransportError> {
        if let Some(dir) = CONFIG_DIR.get() {
            return Ok(CredentialStore::at(dir.join("config.json")));
        }
        let dir = match std::env::var_os("DOCKER_CONFIG") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => match std::env::var_os("HOME") {
                Some(h) if !h.is_empty() => PathBuf::from(h).join(".docker"),
                _ => {
                    return Err(TransportError::Credentials {
                        registry: String::new(),
                        detail: "neither DOCKER_CONFIG nor HOME is set; cannot find config.json"
                            .into(),
                    });
                }
            },
        };
        Ok(CredentialStore::at(dir.join("config.json")))
    }

    /// A store backed by this `config.json` (which need not exist yet).
    pub fn at(config_file: impl Into<PathBuf>) -> CredentialStore {
        CredentialStore {
            config: config_file.into(),
            helper_path: None,
        }
    }

    /// Searches these directories (`PATH` syntax) for `docker-credential-*` instead of `$PATH`.
    pub fn with_helper_path(mut self, path: impl Into<OsString>) -> CredentialStore {
        self.helper_path = Some(path.into());
        self
    }

    /// The `config.json` this store reads and writes.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The stored credentials for `host`, if any.
    pub fn get(&self, host: &str) -> Result<Option<Credentials>, TransportError> {
        let config = self.read_config(host)?;
        if let Some(helper) = helper_for(&config, host)
            && let Some(c) = self.helper_get(&helper, host)?
        {
            return Ok(Some(c));
        }
        let Some((_, entry)) = find_auth_entry(&config, host) else {
            return Ok(None);
        };
        if let Some(token) = entry.get("identitytoken").and_then(Value::as_str)
            && !token.is_empty()
        {
            return Ok(Some(Credentials::IdentityToken(token.to_string())));
        }
        let Some(auth) = entry.get("auth").and_then(Value::as_str) else {
            return Ok(None);
        };
        if auth.is_empty() {
            return Ok(None);
        }
        let bad = |detail: String| TransportError::Credentials {
            registry: host.to_string(),
            detail: format!("{}: auths entry: {detail}", self.config.display()),
        };
        let decoded = BASE64
            .decode(auth.trim())
            .map_err(|e| bad(format!("auth is not base64: {e}")))?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad("auth is not UTF-8".into()))?;
        let Some((username, password)) = decoded.split_once(':') else {
            return Err(bad("auth does not decode to user:password".into()));
        };
        Ok(Some(Credentials::Basic {
            username: username.to_string(),
            password: password.to_string(),
        }))
    }

    /// Saves credentials for `host`: into its helper (`credHelpers`/`credsStore`) when one is
    /// configured, else base64 into `auths` (user `<token>` stores an identity token). Every
    /// other field of `config.json` is kept; the file is replaced atomically with mode 0600.
    pub fn store(&self, host: &str, username: &str, secret: &str) -> Result<(), TransportError> {
        let mut config = self.read_config(host)?;
        if let Some(helper) = helper_for(&config, host) {
            let input = serde_json::json!({
                "ServerURL": server_key(host),
                "Username": username,
                "Secret": secret,
            });
            self.run_helper(&helper, "store", host, input.to_string().as_bytes())?;
            return Ok(());
        }
        let auths = config
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        let Value::Object(auths) = auths else {
            unreachable!("auths was just made an object")
        };
        // Reuse the key already present (it may be spelled `https://host`), else Docker's.
        let key = auths
            .keys()
            .find(|k| normalize_registry(k) == normalize_registry(host))
            .cloned()
            .unwrap_or_else(|| server_key(host));
        let entry = auths
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        if let Value::Object(entry) = entry {
            for k in ["auth", "identitytoken", "username", "password"] {
                entry.remove(k);
            }
            if username == TOKEN_USER {
                entry.insert("identitytoken".into(), Value::String(secret.into()));
            } else {
                let auth = BASE64.encode(format!("{username}:{secret}"));
                entry.insert("auth".into(), Value::String(auth));
            }
        }
        self.write_config(host, &config)
    }

    /// Removes `host`'s credentials (from its helper and from `auths`). Returns whether any
    /// were found.
    pub fn erase(&self, host: &str) -> Result<bool, TransportError> {
        let mut config = self.read_config(host)?;
        let mut found = false;
        if let Some(helper) = helper_for(&config, host) {
            match self.run_helper(&helper, "erase", host, server_key(host).as_bytes()) {
                Ok(_) => found = true,
                Err(TransportError::Credentials { detail, .. }) if is_not_found(&detail) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(Value::Object(auths)) = config.get_mut("auths") {
            let keys: Vec<String> = auths
                .keys()
                .filter(|k| normalize_registry(k) == normalize_registry(host))
                .cloned()
                .collect();
            if !keys.is_empty() {
                for k in keys {
                    auths.remove(&k);
                }
                found = true;
                self.write_config(host, &config)?;
            }
        }
        Ok(found)
    }

    fn read_config(&self, host: &str) -> Result<Map<String, Value>, TransportError> {
        let bytes = match std::fs::read(&self.config) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(source) => {
                return Err(TransportError::Io {
                    path: self.config.clone(),
                    source,
                });
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(TransportError::Credentials {
                registry: host.to_string(),
                detail: format!("{}: not a JSON object", self.config.display()),
            }),
            Err(e) => Err(TransportError::Credentials {
                registry: host.to_string(),
                detail: format!("{}: invalid JSON: {e}", self.config.display()),
            }),
        }
    }

    fn write_config(&self, host: &str, config: &Map<String, Value>) -> Result<(), TransportError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TransportError::Io { path, source }
        };
        let dir = match self.config.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(io(&dir))?;
        }
        let mut body = serde_json::to_vec_pretty(&Value::Object(config.clone())).map_err(|e| {
            TransportError::Credentials {
                registry: host.to_string(),
                detail: format!("serialising {}: {e}", self.config.display()),
            }
        })?;
        body.push(b'\n');
        // tempfile creates the file with mode 0600; the rename makes the change atomic.
        let mut tmp = tempfile::Builder::new()
            .prefix(".config.json.")
            .tempfile_in(&dir)
            .map_err(io(&dir))?;
        tmp.write_all(&body).map_err(io(tmp.path()))?;
        tmp.as_file().sync_all().map_err(io(tmp.path()))?;
        tmp.persist(&self.config).map_err(|e| TransportError::Io {
            path: self.config.clone(),
            source: e.error,
        })?;
        Ok(())
    }

    fn helper_get(&self, helper: &str, host: &str) -> Result<Option<Credentials>, TransportError> {
        let out = match self.run_helper(helper, "get", host, server_key(host).as_bytes()) {
            Ok(out) => out,
            Err(TransportError::Credentials { detail, .. }) if is_not_found(&detail) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        #[derive(serde::Deserialize)]
        struct HelperAnswer {
            #[serde(rename = "Username", default)]
            username: String,
            #[serde(rename = "Secret", default)]
            secret: String,
        }
        let answer: HelperAnswer =
            serde_json::from_slice(&out).map_err(|e| TransportError::Credentials {
                registry: host.to_string(),
                detail: format!("docker-credential-{helper} get: invalid JSON output: {e}"),
            })?;
        if answer.secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(if answer.username == TOKEN_USER {
            Credentials::IdentityToken(answer.secret)
        } else {
            Credentials::Basic {
                username: answer.username,
                password: answer.secret,
            }
        }))
    }

    /// Runs `docker-credential-<helper> <action>` with `input` on stdin; returns stdout.
    fn run_helper(
        &self,
        helper: &str,
        action: &str,
        host: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        let program = format!("docker-credential-{helper}");
        let fail = |detail: String| TransportError::Credentials {
            registry: host.to_string(),
            detail: format!("{program} {action}: {detail}"),
        };
        let exe = self
            .find_program(&program)
            .ok_or_else(|| fail("not found in PATH".into()))?;
        let mut child = Command::new(&exe)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", exe.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper may exit without reading; a broken pipe then is not our error.
            if let Err(e) = stdin.write_all(input)
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(fail(format!("writing to its stdin: {e}")));
            }
        }
        let out = child
            .wait_with_output()
            .map_err(|e| fail(format!("waiting for it: {e}")))?;
        if !out.status.success() {
            let mut msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if !err.is_empty() {
                if !msg.is_empty() {
                    msg.push_str("; ");
                }
                msg.push_str(&err);
            }
            return Err(fail(format!("{}: {msg}", out.status)));
        }
        Ok(out.stdout)
    }

    fn find_program(&self, name: &str) -> Option<PathBuf> {
        let path = self
            .helper_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    }
}

fn is_not_found(detail: &str) -> bool {
    detail.contains("credentials not found")
}

/// The helper configured for `host`: `credHelpers.{host}`, else `credsStore`.
fn helper_for(config: &Map<String, Value>, host: &str) -> Option<String> {
    let want = normalize_registry(host);
    if let Some(Value::Object(helpers)) = config.get("credHelpers") {
        for (k, v) in helpers {
            if normalize_registry(k) == want
                && let Some(name) = v.as_str().filter(|s| !s.is_empty())
            {
                return Some(name.to_string());
            }
        }
    }
    config
        .get("credsStore")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn find_auth_entry<'a>(
    config: &'a Map<String, Value>,
    host: &str,
) -> Option<(&'a String, &'a Map<String, Value>)> {
    let want = normalize_registry(host);
    let Some(Value::Object(auths)) = config.get("auths") else {
        return None;
    };
    auths.iter().find_map(|(k, v)| match v {
        Value::Object(entry) if normalize_registry(k) == want => Some((k, entry)),
        _ => None,
    })
}

/// The stored credentials for `host` from the default `config.json` and its helpers.
pub fn lookup_credentials(host: &str) -> Result<Option<Credentials>, TransportError> {
    CredentialStore::default_location()?.get(host)
}

/// Saves credentials for `host` in the default `config.json` or its helper.
pub fn store_credentials(host: &str, username: &str, secret: &str) -> Result<(), TransportError> {
    CredentialStore::default_location()?.store(host, username, secret)
}

/// Removes `host`'s credentials from the default `config.json` and its helper.
pub fn erase_credentials(host: &str) -> Result<bool, TransportError> {
    CredentialStore::default_location()?.erase(host)
}

/// Checks `username`/`password` against `host`'s `/v2/` (following its basic or bearer flow)
/// and, if the registry accepts them, stores them in the default `config.json` or helper.
pub async fn login(
    host: &str,
    username: &str,
    password: &str,
    opts: RegistryOptions,
) -> Result<(), TransportError> {
    login_with(
        &CredentialStore::default_location()?,
        host,
        username,
        password,
        opts,
    )
    .await
}

/// [`login`] with an explicit credential store.
pub async fn login_with(
    store: &CredentialStore,
    host: &str,
    username: &str,
    password: &str,
    opts: RegistryOptions,
) -> Result<(), TransportError> {
    let credentials = if username == TOKEN_USER {
        Credentials::IdentityToken(password.to_string())
    } else {
        Credentials::Basic {
            username: username.to_string(),
            password: password.to_string(),
        }
    };
    let client = RegistryClient::new(
        host,
        RegistryOptions {
            credentials: Some(credentials),
            ..opts
        },
    )?;
    client.ping().await?;
    let store = store.clone();
    let (host, username, password) = (host.to_string(), username.to_string(), password.to_string());
    tokio::task::spawn_blocking(move || store.store(&host, &username, &password))
        .await
        .map_err(|e| TransportError::Credentials {
            registry: String::new(),
            detail: format!("storing credentials: {e}"),
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_keys() {
        for (input, want) in [
            ("docker.io", "docker.io"),
            ("https://index.docker.io/v1/", "docker.io"),
            ("index.docker.io", "docker.io"),
            ("registry-1.docker.io", "docker.io"),
            ("http://localhost:5000", "localhost:5000"),
            ("https://Quay.io/v2/", "quay.io"),
            ("ghcr.io", "ghcr.io"),
            ("127.0.0.1:5000/", "127.0.0.1:5000"),
        ] {
            assert_eq!(normalize_registry(input), want, "{input}");
        }
    }

    #[test]
    fn server_keys() {
        for (input, want) in [
            ("docker.io", DOCKER_HUB_KEY),
            ("index.docker.io", DOCKER_HUB_KEY),
            ("localhost:5000", "localhost:5000"),
            ("https://ghcr.io", "ghcr.io"),
        ] {
            assert_eq!(server_key(input), want, "{input}");
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credentials::IdentityToken("tok".into())).contains("tok"));
    }
}
