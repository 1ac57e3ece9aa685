//! Bearer tokens: the JWTs of Docker's token protocol, their keys, issuing and checking.
//!
//! Tokens are signed with ES256 (an EC P-256 key) or RS256 (an RSA key). The JWT header
//! names the key by `kid` in libtrust's key-ID format, which is how CNCF distribution
//! (docker-registry 2.8) finds the verifying key among the certificates of its
//! `rootcertbundle`. The claims are distribution's: `iss`, `sub`, `aud` (the service, a
//! single string: distribution 2.8 reads no list), `exp`, `nbf`, `iat`, `jti` and `access`.

mod jwt;
mod keys;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::AuthError;
use super::access::{AccessList, AccessRule, ResourceActions};
use super::htpasswd::Htpasswd;

pub use keys::libtrust_key_id;
use keys::{Signer, TrustedKey, trusted_keys_from_certs};

/// Clock skew tolerated on `exp` and `nbf`, as distribution's `Leeway`.
const LEEWAY: u64 = 60;
/// How many verified access tokens are remembered.
const VERIFIED_CACHE_MAX: usize = 4096;
/// How long a refresh (identity) token lasts: 90 days.
const REFRESH_LIFETIME: u64 = 90 * 24 * 3600;

/// Token authentication settings, as the config file writes them (TOML `[auth.token]`,
/// or YAML `auth: token:`). Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// The URL clients get tokens from (the challenge's `realm`). Default: the built-in
    /// endpoint, `http://<Host of the request>/token`.
    pub realm: Option<String>,
    /// The service name (the tokens' audience). Default `strata-registry`.
    pub service: Option<String>,
    /// The issuer name (the tokens' `iss`). Default `strata-registry`.
    pub issuer: Option<String>,
    /// A PEM private key to sign tokens with: EC P-256 (`PRIVATE KEY` or `EC PRIVATE KEY`)
    /// or RSA. Without one, the built-in endpoint signs with a key made at startup (tokens
    /// then die with the process).
    pub key: Option<PathBuf>,
    /// PEM certificates whose keys sign tokens this server accepts, besides its own key
    /// (docker-registry's `rootcertbundle`): to trust an external token server.
    pub rootcertbundle: Option<PathBuf>,
    /// Token lifetime in seconds: a number, or a string with a unit (`"300s"`, `"5m"`,
    /// `"1h"`). Default 300.
    #[serde(deserialize_with = "seconds")]
    pub expiration: Option<u64>,
    /// Whether to serve the built-in token endpoint at `/token`. Default true.
    pub endpoint: Option<bool>,
    /// The htpasswd file (bcrypt) of the accounts the endpoint authenticates.
    pub htpasswd: Option<PathBuf>,
    /// Permission rules of the endpoint, combined by union (see
    /// [`crate::auth::access`]). Absent: every authenticated account may do everything,
    /// anonymous clients nothing.
    pub access: Option<Vec<AccessRule>>,
}

/// Deserializes seconds as the config file writes durations (a number of seconds, or
/// `"5m"`-style text).
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(crate::config::opt_duration(d)?.map(|d| d.as_secs()))
}

/// What the built-in token endpoint needs.
struct Issuer {
    signer: Signer,
    htpasswd: Option<Htpasswd>,
    access: AccessList,
    expiration: u64,
}

/// Token authentication: checks bearer tokens on the API and, when it has a signing key,
/// issues them at the built-in endpoint.
pub struct TokenAuth {
    realm: Option<String>,
    service: String,
    issuer_name: String,
    trusted: Vec<TrustedKey>,
    issuer: Option<Issuer>,
    /// Access tokens already verified, with their expiry: clients send the same token
    /// with every request, and a signature check costs more than the request.
    verified: Mutex<HashMap<String, (Verified, u64)>>,
}

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuth")
            .field("realm", &self.realm)
            .field("service", &self.service)
            .field("issuer", &self.issuer_name)
            .field(
                "trusted",
                &self.trusted.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .field("endpoint", &self.issuer.is_some())
            .finish()
    }
}

/// A token the endpoint issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Issue time, seconds since the epoch.
    pub issued_at: u64,
    /// What it grants.
    pub access: Vec<ResourceActions>,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bearer token: {0}")]
pub struct InvalidToken(pub String);

/// The claims of a verified token that the server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The account (`sub`); empty for anonymous.
    pub account: String,
    /// The access granted.
    pub access: Vec<ResourceActions>,
}

impl TokenAuth {
    /// Builds token auth from its config: reads the key, certificates and htpasswd file,
    /// or makes an ephemeral key when the endpoint is on and no key is given.
    pub fn new(config: &TokenConfig) -> Result<TokenAuth, AuthError> {
        let service = config
            .service
            .clone()
            .unwrap_or_else(|| "strata-registry".to_string());
        let issuer_name = config
            .issuer
            .clone()
            .unwrap_or_else(|| "strata-registry".to_string());
        let endpoint = config.endpoint.unwrap_or(true);
        let mut trusted = Vec::new();
        if let Some(path) = &config.rootcertbundle {
            let text = read(path)?;
            trusted.extend(trusted_keys_from_certs(&text).map_err(|message| {
                AuthError::Certificate {
                    path: path.display().to_string(),
                    message,
                }
            })?);
        }
        let signer = match &config.key {
            Some(path) => {
                let text = read(path)?;
                Some(Signer::from_pem(&text).map_err(|message| AuthError::Key {
                    path: path.display().to_string(),
                    message,
                })?)
            }
            None if endpoint => Some(Signer::generate()?),
            None => None,
        };
        if let Some(s) = &signer {
            trusted.push(s.trusted()?);
        }
        if trusted.is_empty() {
            return Err(AuthError::Config(
                "token auth without the built-in endpoint needs `key` or `rootcertbundle` \
                 to verify tokens with"
                    .to_string(),
            ));
        }
        if !endpoint && config.realm.is_none() {
            return Err(AuthError::Config(
                "token auth without the built-in endpoint needs `realm`, the URL of the token \
                 server"
                    .to_string(),
            ));
        }
        let issuer = match (endpoint, signer) {
            (true, Some(signer)) => Some(Issuer {
                signer,
                htpasswd: config
                    .htpasswd
                    .as_deref()
                    .map(Htpasswd::load_for_token)
                    .transpose()?,
                access: config
                    .access
                    .clone()
                    .map(AccessList::new)
                    .unwrap_or_default(),
                expiration: config.expiration.unwrap_or(300).max(1),
            }),
            _ => None,
        };
        Ok(TokenAuth {
            realm: config.realm.clone(),
            service,
            issuer_name,
            trusted,
            issuer,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The service name (the tokens' audience).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The configured realm, if any (otherwise each challenge names `/token` on the
    /// request's host).
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// Whether the built-in token endpoint is served.
    pub fn serves_endpoint(&self) -> bool {
        self.issuer.is_some()
    }

    /// The libtrust key ID of the signing key, when this server issues tokens.
    pub fn key_id(&self) -> Option<&str> {
        self.issuer.as_ref().map(|i| i.signer.kid.as_str())
    }

    /// The permission rules of the endpoint.
    pub fn access_list(&self) -> Option<&AccessList> {
        self.issuer.as_ref().map(|i| &i.access)
    }

    /// Checks `user`'s password against the endpoint's htpasswd file (false without one).
    pub async fn check_password(&self, user: &str, password: &str) -> bool {
        match self.issuer.as_ref().and_then(|i| i.htpasswd.as_ref()) {
            Some(h) => h.check(user, password).await,
            None => false,
        }
    }

    /// Whether `user` is an account of the endpoint's htpasswd file.
    pub fn has_account(&self, user: &str) -> bool {
        self.issuer
            .as_ref()
            .and_then(|i| i.htpasswd.as_ref())
            .is_some_and(|h| h.has_user(user))
    }
}

fn read(path: &Path) -> Result<String, AuthError> {
    std::fs::read_to_string(path).map_err(|source| AuthError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn random_id() -> Result<String, AuthError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| AuthError::Sign("no randomness".into()))?;
    Ok(hex::encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors() {
        let no_keys = TokenConfig {
            endpoint: Some(false),
            realm: Some("https://auth.example/token".into()),
            ..TokenConfig::default()
        };
        assert!(matches!(
            TokenAuth::new(&no_keys),
            Err(AuthError::Config(_))
        ));
        let missing = TokenConfig {
            key: Some("/nonexistent/key.pem".into()),
            ..TokenConfig::default()
        };
        assert!(matches!(
            TokenAuth::new(&missing),
            Err(AuthError::Read { .. })
        ));
        assert!(Signer::from_pem("no pem here").is_err());
    }

    #[test]
    fn expiration_units() {
        // The units themselves are config::parse_duration's (table-tested there).
        let c: TokenConfig = toml::from_str("expiration = \"10m\"").unwrap();
        assert_eq!(c.expiration, Some(600));
        let c: TokenConfig = serde_yaml_ng::from_str("expiration: 42").unwrap();
        assert_eq!(c.expiration, Some(42));
        assert!(toml::from_str::<TokenConfig>("expiration = \"soon\"").is_err());
    }

    #[test]
    fn config_from_toml_and_yaml() {
        let want = TokenConfig {
            realm: Some("https://reg.example/token".into()),
            service: Some("reg".into()),
            expiration: Some(600),
            htpasswd: Some("/etc/strata/htpasswd".into()),
            access: Some(vec![
                AccessRule::new("*", "public/*", &["pull"]),
                AccessRule::new("alice", "team/*", &["pull", "push", "delete"]),
                AccessRule {
                    account: "admin".into(),
                    kind: "registry".into(),
                    repository: "catalog".into(),
                    actions: vec!["*".into()],
                },
            ]),
            ..TokenConfig::default()
        };
        let toml_text = r#"
realm = "https://reg.example/token"
service = "reg"
expiration = 600
htpasswd = "/etc/strata/htpasswd"
[[access]]
repository = "public/*"
actions = ["pull"]
[[access]]
account = "alice"
repository = "team/*"
actions = ["pull", "push", "delete"]
[[access]]
account = "admin"
type = "registry"
name = "catalog"
actions = ["*"]
"#;
        let yaml_text = r#"
realm: https://reg.example/token
service: reg
expiration: 600
htpasswd: /etc/strata/htpasswd
access:
  - repository: "public/*"
    actions: [pull]
  - account: alice
    repository: "team/*"
    actions: [pull, push, delete]
  - account: admin
    type: registry
    name: catalog
    actions: ["*"]
"#;
        let from_toml: TokenConfig = toml::from_str(toml_text).unwrap();
        assert_eq!(from_toml, want);
        let from_yaml: TokenConfig = serde_yaml_ng::from_str(yaml_text).unwrap();
        assert_eq!(from_yaml, want);
        assert!(toml::from_str::<TokenConfig>("realmm = \"x\"").is_err());
        assert!(
            serde_yaml_ng::from_str::<TokenConfig>(
                "access: [{repository: a, actions: [pull], extra: 1}]"
            )
            .is_err()
        );
    }
}
