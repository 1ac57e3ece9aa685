//! Issuing and verifying the JWTs: claims in, claims out, expiry with leeway, refresh
//! tokens, and the cache of tokens already verified.

use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::TrustedKey;
use super::{
    InvalidToken, IssuedToken, Issuer, LEEWAY, REFRESH_LIFETIME, TokenAuth, VERIFIED_CACHE_MAX,
    Verified, random_id,
};
use crate::auth::AuthError;
use crate::auth::access::ResourceActions;

#[derive(Serialize)]
pub(super) struct OutClaims<'a> {
    pub(super) iss: &'a str,
    pub(super) sub: &'a str,
    pub(super) aud: &'a str,
    pub(super) exp: u64,
    pub(super) nbf: u64,
    pub(super) iat: u64,
    pub(super) jti: String,
    pub(super) access: &'a [ResourceActions],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) typ: Option<&'a str>,
}

#[derive(Deserialize)]
pub(super) struct InClaims {
    #[serde(default)]
    pub(super) exp: u64,
    #[serde(default)]
    pub(super) sub: String,
    #[serde(default)]
    pub(super) access: Vec<ResourceActions>,
    #[serde(default)]
    pub(super) typ: Option<String>,
}

impl TokenAuth {
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

    pub(super) fn sign(
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

    pub(super) fn verify_any(
        &self,
        token: &str,
    ) -> Result<(Verified, Option<String>, u64), InvalidToken> {
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

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature as lc;
    use jsonwebtoken::Algorithm;

    use super::super::TokenConfig;
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
}
