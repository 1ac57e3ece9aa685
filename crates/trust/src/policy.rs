//! The trust policy: which images may be admitted, per registry and repository.
//!
//! The file is containers-policy.json's shape (what podman, buildah and skopeo read), so a
//! policy written for them reads here:
//!
//! ```json
//! {
//!   "default": [{"type": "reject"}],
//!   "transports": {
//!     "docker": {
//!       "registry.example.com/team": [{"type": "signedBy", "keyPaths": ["/etc/keys/team.pub"]}],
//!       "registry.example.com/public": [{"type": "insecureAcceptAnything"}]
//!     }
//!   }
//! }
//! ```
//!
//! A scope is an image reference's most specific match among: the whole reference with its
//! tag or digest, the repository, each parent namespace, the registry host, `*.domain`
//! wildcards of the host, the transport's `""` entry, then `default`. Every requirement of
//! the matched list must hold. `signedBy` (also read as containers-policy's
//! `sigstoreSigned`) holds when a signature verifies with any of its keys, or with each of
//! them under `"keyMatch": "all"`.
//!
//! This module is the parsing and the matching, without I/O beyond reading the key files;
//! [`crate::admit`] applies a policy to an image in a repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{PublicKey, TrustError};

/// The transport of registry images in a policy's `transports`.
pub const DOCKER_TRANSPORT: &str = "docker";

/// A policy file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    default: Vec<RequirementFile>,
    #[serde(default)]
    transports: BTreeMap<String, BTreeMap<String, Vec<RequirementFile>>>,
}

/// One requirement as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum RequirementFile {
    // Struct variants (not unit ones), so that stray fields are refused as typos.
    #[serde(rename = "insecureAcceptAnything")]
    InsecureAcceptAnything {},
    #[serde(rename = "reject")]
    Reject {},
    #[serde(
        rename = "signedBy",
        alias = "sigstoreSigned",
        rename_all = "camelCase"
    )]
    SignedBy {
        #[serde(default)]
        key_path: Option<PathBuf>,
        #[serde(default)]
        key_paths: Vec<PathBuf>,
        #[serde(default)]
        key_data: Option<String>,
        #[serde(default)]
        key_datas: Vec<String>,
        #[serde(default)]
        key_match: KeyMatch,
        /// containers-policy's GPG key type: only sigstore keys exist here, so any value is
        /// refused with a message rather than read as something it is not.
        #[serde(default)]
        key_type: Option<String>,
    },
}

/// Whether a `signedBy` rule needs a signature by any one of its keys or by all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyMatch {
    /// One verifying signature by any of the keys.
    #[default]
    Any,
    /// A verifying signature by each key.
    All,
}

/// A public key of a rule, with where it came from (for messages).
#[derive(Debug, Clone)]
pub struct NamedKey {
    /// The key file, or `keyData` for an inline key.
    pub name: String,
    /// The key.
    pub key: PublicKey,
}

/// One requirement of a scope.
#[derive(Debug, Clone)]
pub enum Requirement {
    /// Any image.
    InsecureAcceptAnything,
    /// No image.
    Reject,
    /// Images signed by these keys.
    SignedBy {
        /// The keys (at least one).
        keys: Vec<NamedKey>,
        /// Any or all of them.
        key_match: KeyMatch,
    },
}

impl Requirement {
    /// The type as the file spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Requirement::InsecureAcceptAnything => "insecureAcceptAnything",
            Requirement::Reject => "reject",
            Requirement::SignedBy { .. } => "signedBy",
        }
    }
}

/// A loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    default: Vec<Requirement>,
    scopes: BTreeMap<String, Vec<Requirement>>,
}

/// The requirements that apply to an image, and the scope they came from.
#[derive(Debug, Clone, Copy)]
pub struct Rule<'a> {
    /// The scope (`default`, `docker:""`, or `docker:<scope>`).
    pub scope: &'a str,
    /// What must hold.
    pub requirements: &'a [Requirement],
}

impl Policy {
    /// Reads and checks the policy file at `path`, loading every key it names (relative
    /// key paths are taken from the policy file's directory).
    pub fn load(path: &Path) -> Result<Policy, TrustError> {
        let bytes = std::fs::read(path).map_err(|source| TrustError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::parse(&bytes, path)
    }

    /// Parses a policy's bytes; `path` names it and anchors relative key paths.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Policy, TrustError> {
        let bad = |detail: String| TrustError::BadDocument {
            what: format!("policy {}", path.display()),
            detail,
        };
        let file: PolicyFile =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid policy: {e}")))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let load_list = |scope: &str, list: Vec<RequirementFile>| {
            if list.is_empty() {
                return Err(bad(format!(
                    "{scope}: an empty list of requirements admits nothing by accident; write [{{\"type\": \"reject\"}}] or [{{\"type\": \"insecureAcceptAnything\"}}]"
                )));
            }
            list.into_iter()
                .map(|r| requirement(r, base).map_err(|e| bad(format!("{scope}: {e}"))))
                .collect::<Result<Vec<_>, _>>()
        };
        let default = load_list("default", file.default)?;
        let mut scopes = BTreeMap::new();
        for (transport, entries) in file.transports {
            // Other transports (docker-daemon, containers-storage, …) belong to other tools'
            // uses of the same file: read them for errors, apply only `docker`.
            for (scope, list) in entries {
                let list = load_list(&format!("transports.{transport}.{scope:?}"), list)?;
                if transport == DOCKER_TRANSPORT {
                    check_scope(&scope).map_err(bad)?;
                    scopes.insert(scope, list);
                }
            }
        }
        Ok(Policy {
            path: path.to_path_buf(),
            default,
            scopes,
        })
    }

    /// The rule for the image `reference` (a fully qualified `host/path[:tag|@digest]`): the
    /// most specific scope that matches it.
    pub fn rule_for(&self, reference: &oci::Reference) -> Rule<'_> {
        for candidate in scope_candidates(reference) {
            if let Some((scope, requirements)) = self.scopes.get_key_value(&candidate) {
                return Rule {
                    scope: scope.as_str(),
                    requirements,
                };
            }
        }
        Rule {
            scope: "default",
            requirements: &self.default,
        }
    }

    /// Every key the policy names, once each (content trust's "signed by any configured
    /// key").
    pub fn all_keys(&self) -> Vec<NamedKey> {
        let mut out: Vec<NamedKey> = Vec::new();
        let lists = std::iter::once(&self.default).chain(self.scopes.values());
        for r in lists.flatten() {
            if let Requirement::SignedBy { keys, .. } = r {
                for k in keys {
                    if !out.iter().any(|o| o.key == k.key) {
                        out.push(k.clone());
                    }
                }
            }
        }
        out
    }

    /// The policy with content trust on: every `insecureAcceptAnything` becomes "signed by
    /// any key the policy names". Fails when it names none (nothing could be admitted).
    pub fn with_content_trust(mut self) -> Result<Policy, TrustError> {
        let keys = self.all_keys();
        if keys.is_empty() {
            return Err(TrustError::BadDocument {
                what: format!("policy {}", self.path.display()),
                detail: "content trust is on (STRATA_CONTENT_TRUST or DOCKER_CONTENT_TRUST) but the policy names no public key: add a signedBy requirement with keyPath".to_string(),
            });
        }
        let lists = std::iter::once(&mut self.default).chain(self.scopes.values_mut());
        for r in lists.flatten() {
            if matches!(r, Requirement::InsecureAcceptAnything) {
                *r = Requirement::SignedBy {
                    keys: keys.clone(),
                    key_match: KeyMatch::Any,
                };
            }
        }
        Ok(self)
    }
}

/// The scopes that can match `r`, most specific first: the reference itself, the
/// repository, each parent namespace, the host, then `*.` wildcards of the host's domains,
/// then the transport-wide `""`.
pub fn scope_candidates(r: &oci::Reference) -> Vec<String> {
    let repo = r.repository();
    let mut out = Vec::new();
    match (r.digest(), r.tag()) {
        (Some(d), _) => out.push(format!("{repo}@{d}")),
        (None, Some(t)) => out.push(format!("{repo}:{t}")),
        (None, None) => out.push(format!("{repo}:latest")),
    }
    let mut name = repo.as_str();
    out.push(name.to_string());
    while let Some((parent, _)) = name.rsplit_once('/') {
        out.push(parent.to_string());
        name = parent;
    }
    // `*.example.com` matches `a.example.com` and `b.a.example.com`, never the bare domain;
    // a port is not part of a wildcard match.
    let host = r.domain().split(':').next().unwrap_or_default();
    // An IP address has no parent domains.
    let mut rest = if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        ""
    } else {
        host
    };
    while let Some((_, parent)) = rest.split_once('.') {
        if parent.is_empty() {
            break;
        }
        out.push(format!("*.{parent}"));
        rest = parent;
    }
    out.push(String::new());
    out
}

/// Refuses scopes that could never match (so a typo is not silently a dead rule).
fn check_scope(scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Ok(());
    }
    if let Some(domain) = scope.strip_prefix("*.") {
        if domain.is_empty() || domain.contains(['/', ':', '@', '*']) {
            return Err(format!(
                "scope {scope:?}: a wildcard is `*.domain`, without path or port"
            ));
        }
        return Ok(());
    }
    if scope.contains('*') {
        return Err(format!(
            "scope {scope:?}: `*` is allowed only as a leading `*.`"
        ));
    }
    if scope.starts_with("http://") || scope.starts_with("https://") || scope.ends_with('/') {
        return Err(format!(
            "scope {scope:?}: write a registry host and path, like registry.example.com/team"
        ));
    }
    Ok(())
}

/// Reads one requirement, loading its keys.
fn requirement(r: RequirementFile, base: &Path) -> Result<Requirement, String> {
    Ok(match r {
        RequirementFile::InsecureAcceptAnything {} => Requirement::InsecureAcceptAnything,
        RequirementFile::Reject {} => Requirement::Reject,
        RequirementFile::SignedBy {
            key_path,
            key_paths,
            key_data,
            key_datas,
            key_match,
            key_type,
        } => {
            if let Some(t) = key_type {
                return Err(format!(
                    "signedBy keyType {t:?}: only sigstore public keys (PEM) are supported; drop keyType"
                ));
            }
            let mut keys = Vec::new();
            for p in key_path.into_iter().chain(key_paths) {
                let path = base.join(&p);
                let pem = std::fs::read(&path)
                    .map_err(|e| format!("signedBy key {}: {e}", path.display()))?;
                let name = path.display().to_string();
                let key = PublicKey::from_pem(&pem, &name).map_err(|e| e.to_string())?;
                keys.push(NamedKey { name, key });
            }
            for (i, data) in key_data.into_iter().chain(key_datas).enumerate() {
                let name = format!("keyData #{}", i + 1);
                let pem = decode_key_data(&data);
                let key = PublicKey::from_pem(&pem, &name).map_err(|e| e.to_string())?;
                keys.push(NamedKey { name, key });
            }
            if keys.is_empty() {
                return Err(
                    "signedBy names no key: give keyPath, keyPaths, keyData or keyDatas"
                        .to_string(),
                );
            }
            Requirement::SignedBy { keys, key_match }
        }
    })
}

/// containers-policy's `keyData` is the key file's bytes in base64; a PEM written inline is
/// taken as it is.
fn decode_key_data(data: &str) -> Vec<u8> {
    use base64::Engine as _;
    if data.trim_start().starts_with("-----BEGIN") {
        return data.as_bytes().to_vec();
    }
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .unwrap_or_else(|_| data.as_bytes().to_vec())
}
