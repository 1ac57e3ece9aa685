//! Bearer tokens: the JWTs of Docker's token protocol, their keys, issuing and checking.
//!
//! Tokens are signed with ES256 (an EC P-256 key) or RS256 (an RSA key). The JWT header
//! names the key by `kid` in libtrust's key-ID format, which is how CNCF distribution
//! (docker-registry 2.8) finds the verifying key among the certificates of its
//! `rootcertbundle`. The claims are distribution's: `iss`, `sub`, `aud` (the service, a
//! single string: distribution 2.8 reads no list), `exp`, `nbf`, `iat`, `jti` and `access`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self as lc, KeyPair as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use x509_cert::der::{Decode as _, Encode as _, oid::ObjectIdentifier};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::AuthError;
use super::access::{AccessList, AccessRule, ResourceActions};
use super::htpasswd::Htpasswd;

/// Clock skew tolerated on `exp` and `nbf`, as distribution's `Leeway`.
const LEEWAY: u64 = 60;
/// How many verified access tokens are remembered.
const VERIFIED_CACHE_MAX: usize = 4096;
/// How long a refresh (identity) token lasts: 90 days.
const REFRESH_LIFETIME: u64 = 90 * 24 * 3600;

const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

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

/// A key that signs tokens.
struct Signer {
    key: EncodingKey,
    alg: Algorithm,
    kid: String,
    /// DER `SubjectPublicKeyInfo` of the public key.
    spki: Vec<u8>,
}

/// A key that verifies tokens.
struct TrustedKey {
    kid: String,
    key: DecodingKey,
    algs: Vec<Algorithm>,
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

#[derive(Serialize)]
struct OutClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    access: &'a [ResourceActions],
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
}

#[derive(Deserialize)]
struct InClaims {
    #[serde(default)]
    exp: u64,
    #[serde(default)]
    sub: String,
    #[serde(default)]
    access: Vec<ResourceActions>,
    #[serde(default)]
    typ: Option<String>,
}

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

    /// Issues a token for `account` (empty: anonymous) granting what the rules allow of
    /// `requested` (the intersection; never an error for what is not allowed).
    pub fn issue(
        &self,
        account: &str,
        requested: &[ResourceActions],
    ) -> Result<IssuedToken, AuthError> {
        let issuer = self
            .issuer
            .as_ref()
            .ok_or_else(|| AuthError::Config("this server has no token signing key".to_string()))?;
        let access = issuer.access.grant(account, requested);
        let now = jsonwebtoken::get_current_timestamp();
        let token = self.sign(issuer, account, &access, now, issuer.expiration, None)?;
        Ok(IssuedToken {
            token,
            expires_in: issuer.expiration,
            issued_at: now,
            access,
        })
    }

    /// Issues a refresh (identity) token for `account`, for OAuth2 `grant_type=refresh_token`.
    pub fn issue_refresh(&self, account: &str) -> Result<String, AuthError> {
        let issuer = self
            .issuer
            .as_ref()
            .ok_or_else(|| AuthError::Config("this server has no token signing key".to_string()))?;
        let now = jsonwebtoken::get_current_timestamp();
        self.sign(issuer, account, &[], now, REFRESH_LIFETIME, Some("refresh"))
    }

    /// Signs a token with explicit times (tests make expired tokens with it).
    pub fn sign_with_times(
        &self,
        account: &str,
        access: &[ResourceActions],
        issued_at: u64,
        lifetime: u64,
    ) -> Result<String, AuthError> {
        let issuer = self
            .issuer
            .as_ref()
            .ok_or_else(|| AuthError::Config("this server has no token signing key".to_string()))?;
        self.sign(issuer, account, access, issued_at, lifetime, None)
    }

    fn sign(
        &self,
        issuer: &Issuer,
        account: &str,
        access: &[ResourceActions],
        now: u64,
        lifetime: u64,
        typ: Option<&str>,
    ) -> Result<String, AuthError> {
        let mut header = Header::new(issuer.signer.alg);
        header.typ = Some("JWT".to_string());
        header.kid = Some(issuer.signer.kid.clone());
        let claims = OutClaims {
            iss: &self.issuer_name,
            sub: account,
            aud: &self.service,
            exp: now + lifetime,
            nbf: now.saturating_sub(1),
            iat: now,
            jti: random_id()?,
            access,
            typ,
        };
        jsonwebtoken::encode(&header, &claims, &issuer.signer.key)
            .map_err(|e| AuthError::Sign(e.to_string()))
    }

    /// Verifies an access token: signature by a trusted key, issuer, audience, times (with
    /// 60 s leeway). Refresh tokens are refused.
    pub fn verify(&self, token: &str) -> Result<Verified, InvalidToken> {
        let now = jsonwebtoken::get_current_timestamp();
        {
            let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            match cache.get(token) {
                Some((v, exp)) if now <= exp.saturating_add(LEEWAY) => return Ok(v.clone()),
                Some(_) => {
                    cache.remove(token);
                }
                None => {}
            }
        }
        let (v, typ, exp) = self.verify_any(token)?;
        if typ.is_some() {
            return Err(InvalidToken(
                "a refresh token is not an access token".into(),
            ));
        }
        let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= VERIFIED_CACHE_MAX {
            cache.retain(|_, (_, e)| now <= e.saturating_add(LEEWAY));
            if cache.len() >= VERIFIED_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(token.to_string(), (v.clone(), exp));
        Ok(v)
    }

    /// Verifies a refresh token this server issued; returns its account.
    pub fn verify_refresh(&self, token: &str) -> Result<String, InvalidToken> {
        let (v, typ, _) = self.verify_any(token)?;
        if typ.as_deref() != Some("refresh") {
            return Err(InvalidToken("not a refresh token".into()));
        }
        Ok(v.account)
    }

    fn verify_any(&self, token: &str) -> Result<(Verified, Option<String>, u64), InvalidToken> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| InvalidToken(format!("malformed token: {e}")))?;
        let candidates: Vec<&TrustedKey> = match &header.kid {
            Some(kid) => self.trusted.iter().filter(|k| &k.kid == kid).collect(),
            None => self.trusted.iter().collect(),
        };
        if candidates.is_empty() {
            return Err(InvalidToken(format!(
                "signed by untrusted key {:?}",
                header.kid.unwrap_or_default()
            )));
        }
        let mut last = String::from("no key accepts it");
        for k in candidates {
            if !k.algs.contains(&header.alg) {
                last = format!("algorithm {:?} does not fit the key", header.alg);
                continue;
            }
            let mut v = Validation::new(header.alg);
            v.leeway = LEEWAY;
            v.validate_nbf = true;
            v.set_audience(&[&self.service]);
            v.set_issuer(&[&self.issuer_name]);
            v.set_required_spec_claims(&["exp", "iss", "aud"]);
            match jsonwebtoken::decode::<InClaims>(token, &k.key, &v) {
                Ok(data) => {
                    return Ok((
                        Verified {
                            account: data.claims.sub,
                            access: data.claims.access,
                        },
                        data.claims.typ,
                        data.claims.exp,
                    ));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(InvalidToken(last))
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

/// The libtrust key ID of a public key: the SHA-256 of its DER `SubjectPublicKeyInfo`,
/// truncated to 240 bits, in base32, as 12 groups of 4 characters joined by `:`.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki_der);
    let b32 = data_encoding::BASE32.encode(&digest.as_ref()[..30]);
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// The PEM blocks of a text: (label, DER).
fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let Some(label_end) = block["-----BEGIN ".len()..].find("-----") else {
            return Err("unterminated PEM header".into());
        };
        let label = &block["-----BEGIN ".len().."-----BEGIN ".len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = block.find(&end_marker) else {
            return Err(format!("PEM block {label:?} has no END line"));
        };
        let pem = &block[..end + end_marker.len()];
        let (l, der) = x509_cert::der::pem::decode_vec(pem.as_bytes())
            .map_err(|e| format!("PEM block {label:?}: {e}"))?;
        out.push((l.to_string(), der));
        rest = &block[end + end_marker.len()..];
    }
    Ok(out)
}

impl Signer {
    /// Reads a PEM private key: EC P-256 (PKCS#8 or SEC1) or RSA (PKCS#8 or PKCS#1).
    fn from_pem(text: &str) -> Result<Signer, String> {
        let blocks = pem_blocks(text)?;
        let Some((label, der)) = blocks.into_iter().find(|(l, _)| l.ends_with("PRIVATE KEY"))
        else {
            return Err("no PEM private key (BEGIN ... PRIVATE KEY) in it".into());
        };
        match label.as_str() {
            "EC PRIVATE KEY" => Signer::ec(&der),
            "RSA PRIVATE KEY" => Signer::rsa(&der, false),
            "PRIVATE KEY" => Signer::ec(&der).or_else(|ec| {
                Signer::rsa(&der, true)
                    .map_err(|rsa| format!("neither an EC P-256 key ({ec}) nor an RSA key ({rsa})"))
            }),
            other => Err(format!("unsupported key type {other:?}")),
        }
    }

    fn ec(der: &[u8]) -> Result<Signer, String> {
        let pair =
            lc::EcdsaKeyPair::from_private_key_der(&lc::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map_err(|e| format!("not an EC P-256 private key: {e}"))?;
        Signer::from_ec_pair(&pair)
    }

    fn from_ec_pair(pair: &lc::EcdsaKeyPair) -> Result<Signer, String> {
        let pkcs8 = pair
            .to_pkcs8v1()
            .map_err(|_| "cannot re-encode the EC key".to_string())?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| "cannot encode the EC public key".to_string())?;
        Ok(Signer {
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            alg: Algorithm::ES256,
            kid: libtrust_key_id(spki.as_ref()),
            spki: spki.as_ref().to_vec(),
        })
    }

    fn rsa(der: &[u8], pkcs8: bool) -> Result<Signer, String> {
        let pair = if pkcs8 {
            lc::RsaKeyPair::from_pkcs8(der)
        } else {
            lc::RsaKeyPair::from_der(der)
        }
        .map_err(|e| format!("not an RSA private key: {e}"))?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| "cannot encode the RSA public key".to_string())?;
        // jsonwebtoken signs RSA with a PKCS#1 key: re-wrap the PEM it understands.
        let label = if pkcs8 {
            "PRIVATE KEY"
        } else {
            "RSA PRIVATE KEY"
        };
        let pem =
            x509_cert::der::pem::encode_string(label, x509_cert::der::pem::LineEnding::LF, der)
                .map_err(|e| format!("re-encoding the RSA key: {e}"))?;
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        Ok(Signer {
            key,
            alg: Algorithm::RS256,
            kid: libtrust_key_id(spki.as_ref()),
            spki: spki.as_ref().to_vec(),
        })
    }

    /// A fresh EC P-256 key.
    fn generate() -> Result<Signer, AuthError> {
        let pair = lc::EcdsaKeyPair::generate(&lc::ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| AuthError::Sign("generating an EC P-256 key".into()))?;
        Signer::from_ec_pair(&pair).map_err(AuthError::Sign)
    }

    /// The verifying side of this key.
    fn trusted(&self) -> Result<TrustedKey, AuthError> {
        trusted_key_from_spki(&self.spki).map_err(AuthError::Sign)
    }
}

/// The verifying keys of the certificates of a PEM bundle.
fn trusted_keys_from_certs(text: &str) -> Result<Vec<TrustedKey>, String> {
    let mut out = Vec::new();
    for (label, der) in pem_blocks(text)? {
        if label != "CERTIFICATE" {
            continue;
        }
        let cert = x509_cert::Certificate::from_der(&der)
            .map_err(|e| format!("certificate {}: {e}", out.len() + 1))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| format!("certificate {}: {e}", out.len() + 1))?;
        out.push(
            trusted_key_from_spki(&spki)
                .map_err(|e| format!("certificate {}: {e}", out.len() + 1))?,
        );
    }
    if out.is_empty() {
        return Err("no certificate (BEGIN CERTIFICATE) in it".into());
    }
    Ok(out)
}

/// A verifying key from a DER `SubjectPublicKeyInfo`: EC P-256/P-384 or RSA.
fn trusted_key_from_spki(spki_der: &[u8]) -> Result<TrustedKey, String> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)
        .map_err(|e| format!("public key info: {e}"))?;
    let bits = spki.subject_public_key.raw_bytes();
    let kid = libtrust_key_id(spki_der);
    if spki.algorithm.oid == OID_RSA {
        return Ok(TrustedKey {
            kid,
            key: DecodingKey::from_rsa_der(bits),
            algs: vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512],
        });
    }
    if spki.algorithm.oid == OID_EC {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        let alg = match curve {
            Some(c) if c == OID_P256 => Algorithm::ES256,
            Some(c) if c == OID_P384 => Algorithm::ES384,
            _ => return Err("unsupported elliptic curve (P-256 and P-384 are)".into()),
        };
        return Ok(TrustedKey {
            kid,
            key: DecodingKey::from_ec_der(bits),
            algs: vec![alg],
        });
    }
    Err(format!(
        "unsupported public key algorithm {} (EC and RSA are)",
        spki.algorithm.oid
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(service: &str, issuer: &str) -> TokenAuth {
        TokenAuth::new(&TokenConfig {
            service: Some(service.into()),
            issuer: Some(issuer.into()),
            ..TokenConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn key_id_format() {
        let kid = libtrust_key_id(b"anything");
        assert_eq!(kid.len(), 12 * 4 + 11);
        let groups: Vec<&str> = kid.split(':').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|g| {
            g.len() == 4
                && g.chars()
                    .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        }));
    }

    #[test]
    fn sign_and_verify() {
        let a = auth("svc", "iss");
        let req = [ResourceActions::repository("x", &["pull", "push"])];
        // The default rules: authenticated accounts get everything asked.
        let t = a.issue("alice", &req).unwrap();
        assert_eq!(t.access, req.to_vec());
        let header = jsonwebtoken::decode_header(&t.token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), a.key_id());
        let v = a.verify(&t.token).unwrap();
        assert_eq!(v.account, "alice");
        assert_eq!(v.access, req.to_vec());
        // Anonymous gets nothing by default, but a valid token.
        let t = a.issue("", &req).unwrap();
        assert!(a.verify(&t.token).unwrap().access.is_empty());
    }

    #[test]
    fn refused_tokens() {
        let a = auth("svc", "iss");
        let now = jsonwebtoken::get_current_timestamp();
        let req = [ResourceActions::repository("x", &["pull"])];
        // Expired beyond the leeway.
        let old = a.sign_with_times("alice", &req, now - 1000, 300).unwrap();
        assert!(a.verify(&old).is_err());
        // Expired within the leeway is still accepted, as distribution does.
        let recent = a.sign_with_times("alice", &req, now - 330, 300).unwrap();
        assert!(a.verify(&recent).is_ok());
        // Not yet valid.
        let future = a.sign_with_times("alice", &req, now + 1000, 300).unwrap();
        assert!(a.verify(&future).is_err());
        // Tampered claims.
        let good = a.issue("alice", &req).unwrap().token;
        let parts: Vec<&str> = good.split('.').collect();
        let claims = String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
                .unwrap(),
        )
        .unwrap()
        .replace("\"x\"", "\"y\"");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims),
            parts[2]
        );
        assert!(a.verify(&forged).is_err());
        assert!(a.verify("not.a.token").is_err());
        // Another server's key, audience or issuer.
        let other = auth("svc", "iss");
        assert!(
            a.verify(&other.issue("alice", &req).unwrap().token)
                .is_err()
        );
        // A refresh token is no access token, and the reverse.
        let r = a.issue_refresh("alice").unwrap();
        assert!(a.verify(&r).is_err());
        assert_eq!(a.verify_refresh(&r).unwrap(), "alice");
        assert!(a.verify_refresh(&good).is_err());
    }

    #[test]
    fn audience_and_issuer_checked() {
        // Same key, other service or issuer: build with an explicit shared key.
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let pair = lc::EcdsaKeyPair::generate(&lc::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let pem = x509_cert::der::pem::encode_string(
            "PRIVATE KEY",
            x509_cert::der::pem::LineEnding::LF,
            pair.to_pkcs8v1().unwrap().as_ref(),
        )
        .unwrap();
        std::fs::write(&key, pem).unwrap();
        let with = |svc: &str, iss: &str| {
            TokenAuth::new(&TokenConfig {
                service: Some(svc.into()),
                issuer: Some(iss.into()),
                key: Some(key.clone()),
                ..TokenConfig::default()
            })
            .unwrap()
        };
        let a = with("svc", "iss");
        let t = a.issue("alice", &[]).unwrap().token;
        assert!(with("svc", "iss").verify(&t).is_ok());
        assert!(with("other", "iss").verify(&t).is_err());
        assert!(with("svc", "other").verify(&t).is_err());
    }

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
