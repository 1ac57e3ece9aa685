//! cosign's key files: an ECDSA P-256 key pair, the private key PKCS#8-encoded and sealed
//! with nacl/secretbox under a key scrypt derives from a password, the public key as SPKI.
//!
//! The encrypted private key is a PEM block (`ENCRYPTED SIGSTORE PRIVATE KEY`, or cosign's
//! older `ENCRYPTED COSIGN PRIVATE KEY`) around the JSON of go-securesystemslib's
//! `encrypted` package:
//! `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":B64},
//!   "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}`.
//! The ciphertext is NaCl's layout (Poly1305 tag first), so `crypto_secretbox` reads what
//! Go's `secretbox.Seal` wrote.

use crypto_secretbox::aead::{Aead, KeyInit};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::TrustError;

/// The PEM label cosign writes encrypted private keys under today.
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label older cosign releases wrote (still read).
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The scrypt cost cosign and sigstore-rs write (`N`); sigstore-rs also reads 65536 and
/// nothing else, so we write this one.
pub const SCRYPT_N: u32 = 32768;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// The largest scrypt cost we accept from a file (2^20: 1 GiB of memory at r=8): a hostile
/// key file must not make us allocate or compute without bound.
const MAX_SCRYPT_LOG_N: u32 = 20;
/// The most memory scrypt may need (`128 * r * N` bytes) for a key file we open.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// An ECDSA P-256 signing key.
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

/// An ECDSA P-256 verification key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// A freshly generated key pair as the two files cosign writes.
#[derive(Debug)]
pub struct KeyPair {
    /// `P.key`: the encrypted private key PEM.
    pub private_pem: String,
    /// `P.pub`: the public key PEM.
    pub public_pem: String,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret scalar.
        f.debug_struct("PrivateKey").finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "b64")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u32,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
}

/// Go's `encoding/json` writes `[]byte` as padded standard base64.
mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

fn bad(what: &str, detail: impl std::fmt::Display) -> TrustError {
    TrustError::BadKey {
        what: what.to_string(),
        detail: detail.to_string(),
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the system's random number generator failed");
    buf
}

fn scrypt_key(
    password: &[u8],
    salt: &[u8],
    p: &ScryptParams,
    what: &str,
) -> Result<Zeroizing<[u8; 32]>, TrustError> {
    if !p.n.is_power_of_two() || p.n < 2 || p.n.trailing_zeros() > MAX_SCRYPT_LOG_N {
        return Err(bad(
            what,
            format!(
                "scrypt N={} is not a power of two up to 2^{MAX_SCRYPT_LOG_N}",
                p.n
            ),
        ));
    }
    if p.r == 0 || p.r > 32 || p.p == 0 || p.p > 16 {
        return Err(bad(
            what,
            format!("scrypt r={} p={} out of range", p.r, p.p),
        ));
    }
    let memory = 128 * u64::from(p.r) * u64::from(p.n);
    if memory > MAX_SCRYPT_MEMORY {
        return Err(bad(
            what,
            format!(
                "scrypt N={} r={} needs {} MiB, more than the {} MiB allowed",
                p.n,
                p.r,
                memory >> 20,
                MAX_SCRYPT_MEMORY >> 20
            ),
        ));
    }
    let params = scrypt::Params::new(p.n.trailing_zeros() as u8, p.r, p.p)
        .map_err(|e| bad(what, format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut_slice())
        .map_err(|e| bad(what, format!("scrypt: {e}")))?;
    Ok(key)
}

/// Seals `plaintext` as cosign does: the envelope's JSON bytes.
fn seal(plaintext: &[u8], password: &[u8], n: u32) -> Result<Vec<u8>, TrustError> {
    let params = ScryptParams {
        n,
        r: SCRYPT_R,
        p: SCRYPT_P,
    };
    let salt = random::<SALT_LEN>().to_vec();
    let nonce = random::<NONCE_LEN>().to_vec();
    let key = scrypt_key(password, &salt, &params, "new private key")?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(key.as_slice().into());
    let ciphertext = cipher
        .encrypt(nonce.as_slice().into(), plaintext)
        .map_err(|e| bad("new private key", format!("secretbox: {e}")))?;
    let env = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params,
            salt,
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce,
        },
        ciphertext,
    };
    Ok(serde_json::to_vec(&env).expect("an envelope always serialises"))
}

/// Opens an envelope (the JSON inside the PEM block).
fn open(json: &[u8], password: &[u8], what: &str) -> Result<Zeroizing<Vec<u8>>, TrustError> {
    let env: Envelope = serde_json::from_slice(json)
        .map_err(|e| bad(what, format!("not a cosign encrypted key: {e}")))?;
    if env.kdf.name != "scrypt" {
        return Err(bad(
            what,
            format!("unknown key derivation {:?}", env.kdf.name),
        ));
    }
    if env.cipher.name != "nacl/secretbox" {
        return Err(bad(what, format!("unknown cipher {:?}", env.cipher.name)));
    }
    if env.cipher.nonce.len() != NONCE_LEN {
        return Err(bad(
            what,
            format!(
                "nonce of {} bytes, expected {NONCE_LEN}",
                env.cipher.nonce.len()
            ),
        ));
    }
    let key = scrypt_key(password, &env.kdf.salt, &env.kdf.params, what)?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(key.as_slice().into());
    cipher
        .decrypt(
            env.cipher.nonce.as_slice().into(),
            env.ciphertext.as_slice(),
        )
        .map(Zeroizing::new)
        .map_err(|_| TrustError::WrongPassword {
            what: what.to_string(),
        })
}

impl PrivateKey {
    /// A new random key.
    pub fn generate() -> PrivateKey {
        PrivateKey(SigningKey::generate())
    }

    /// Reads a private key PEM: cosign's encrypted form (either label, opened with
    /// `password`), or a plain PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) P-256 key.
    /// `what` names the key in errors (its file name).
    pub fn from_pem(pem: &[u8], password: &[u8], what: &str) -> Result<PrivateKey, TrustError> {
        let (label, body) = decode_pem(pem).ok_or_else(|| bad(what, "not a PEM private key"))?;
        match label.as_str() {
            SIGSTORE_PRIVATE_KEY_LABEL | COSIGN_PRIVATE_KEY_LABEL => {
                let der = open(&body, password, what)?;
                Self::from_pkcs8_der(&der, what)
            }
            "PRIVATE KEY" => Self::from_pkcs8_der(&body, what),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&body)
                .map(|k| PrivateKey(SigningKey::from(k)))
                .map_err(|e| bad(what, format!("not a P-256 EC private key: {e}"))),
            other => Err(bad(
                what,
                format!(
                    "unsupported PEM block {other:?} (expected {SIGSTORE_PRIVATE_KEY_LABEL}, {COSIGN_PRIVATE_KEY_LABEL}, PRIVATE KEY or EC PRIVATE KEY)"
                ),
            )),
        }
    }

    fn from_pkcs8_der(der: &[u8], what: &str) -> Result<PrivateKey, TrustError> {
        SigningKey::from_pkcs8_der(der)
            .map(PrivateKey)
            .map_err(|e| {
                bad(
                    what,
                    format!("not an ECDSA P-256 PKCS#8 key (only P-256 is supported): {e}"),
                )
            })
    }

    /// cosign's encrypted PEM of this key, sealed with `password` at scrypt cost `n`
    /// ([`SCRYPT_N`] unless a test wants the other value sigstore-rs reads).
    pub fn to_encrypted_pem(&self, password: &[u8], n: u32) -> Result<String, TrustError> {
        let der = self
            .0
            .to_pkcs8_der()
            .map_err(|e| bad("new private key", format!("PKCS#8: {e}")))?;
        let json = seal(der.as_bytes(), password, n)?;
        pem_rfc7468::encode_string(
            SIGSTORE_PRIVATE_KEY_LABEL,
            pem_rfc7468::LineEnding::LF,
            &json,
        )
        .map_err(|e| bad("new private key", format!("PEM: {e}")))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// An ECDSA P-256 / SHA-256 signature of `message`, ASN.1 DER encoded (what cosign puts,
    /// base64-encoded, in the signature annotation).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.0.sign(message);
        sig.to_der().as_bytes().to_vec()
    }
}

impl PublicKey {
    /// Reads a `PUBLIC KEY` (SPKI) PEM holding a P-256 key.
    pub fn from_pem(pem: &[u8], what: &str) -> Result<PublicKey, TrustError> {
        let text = trim_pem(pem).ok_or_else(|| bad(what, "not a PEM public key"))?;
        VerifyingKey::from_public_key_pem(&text)
            .map(PublicKey)
            .map_err(|e| bad(what, format!("not an ECDSA P-256 public key PEM: {e}")))
    }

    /// The SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as cosign writes `P.pub`.
    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(pem_rfc7468::LineEnding::LF)
            .expect("a P-256 key always encodes")
    }

    /// The SPKI DER bytes (what a bundle's key hint is a hash of).
    pub fn to_der(&self) -> Vec<u8> {
        self.0
            .to_public_key_der()
            .expect("a P-256 key always encodes")
            .into_vec()
    }

    /// Whether `signature` (ASN.1 DER, as cosign writes it) is this key's signature of
    /// `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match DerSignature::from_bytes(signature) {
            Ok(sig) => self.0.verify(message, &sig).is_ok(),
            Err(_) => false,
        }
    }
}

impl KeyPair {
    /// A new key pair as cosign's two files, the private one sealed with `password`.
    pub fn generate(password: &[u8]) -> Result<(PrivateKey, KeyPair), TrustError> {
        let key = PrivateKey::generate();
        let pair = KeyPair {
            private_pem: key.to_encrypted_pem(password, SCRYPT_N)?,
            public_pem: key.public_key().to_pem(),
        };
        Ok((key, pair))
    }
}

/// The first PEM block's label and bytes, read as leniently as Go's `pem.Decode` (which
/// cosign uses): text around the block, any line length, CRLF. RFC 7468's strict decoder
/// refuses base64 not wrapped at 64 columns, which other writers produce.
fn decode_pem(pem: &[u8]) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----")?;
    let end = rest.find(&format!("-----END {label}-----"))?;
    let b64: String = rest[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let body = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some((label.to_string(), body))
}

/// A `PUBLIC KEY` block alone, re-wrapped so the strict SPKI decoder accepts it.
fn trim_pem(pem: &[u8]) -> Option<String> {
    let (label, body) = decode_pem(pem)?;
    pem_rfc7468::encode_string(&label, pem_rfc7468::LineEnding::LF, &body).ok()
}
