//! Token keys: signing keys from PEM (EC or RSA) or made on the spot, verifying keys from
//! certificate bundles, and libtrust key IDs, as distribution names keys.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self as lc, KeyPair as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use x509_cert::der::{Decode as _, Encode as _, oid::ObjectIdentifier};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::auth::AuthError;

pub(super) const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(super) const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(super) const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub(super) const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A key that signs tokens.
pub(super) struct Signer {
    pub(super) key: EncodingKey,
    pub(super) alg: Algorithm,
    pub(super) kid: String,
    /// DER `SubjectPublicKeyInfo` of the public key.
    pub(super) spki: Vec<u8>,
}

/// A key that verifies tokens.
pub(super) struct TrustedKey {
    pub(super) kid: String,
    pub(super) key: DecodingKey,
    pub(super) algs: Vec<Algorithm>,
}

/// The PEM blocks of a text: (label, DER).
pub(super) fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
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
    pub(super) fn from_pem(text: &str) -> Result<Signer, String> {
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

    pub(super) fn ec(der: &[u8]) -> Result<Signer, String> {
        let pair =
            lc::EcdsaKeyPair::from_private_key_der(&lc::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map_err(|e| format!("not an EC P-256 private key: {e}"))?;
        Signer::from_ec_pair(&pair)
    }

    pub(super) fn from_ec_pair(pair: &lc::EcdsaKeyPair) -> Result<Signer, String> {
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

    pub(super) fn rsa(der: &[u8], pkcs8: bool) -> Result<Signer, String> {
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
    pub(super) fn generate() -> Result<Signer, AuthError> {
        let pair = lc::EcdsaKeyPair::generate(&lc::ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| AuthError::Sign("generating an EC P-256 key".into()))?;
        Signer::from_ec_pair(&pair).map_err(AuthError::Sign)
    }

    /// The verifying side of this key.
    pub(super) fn trusted(&self) -> Result<TrustedKey, AuthError> {
        trusted_key_from_spki(&self.spki).map_err(AuthError::Sign)
    }
}

/// The verifying keys of the certificates of a PEM bundle.
pub(super) fn trusted_keys_from_certs(text: &str) -> Result<Vec<TrustedKey>, String> {
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
pub(super) fn trusted_key_from_spki(spki_der: &[u8]) -> Result<TrustedKey, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
