//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and the incremental hasher behind them.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use crate::OciError;

/// A hash algorithm a digest may use. The OCI image spec registers sha256 and sha512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, 64 hex characters; the default everywhere.
    Sha256,
    /// SHA-512, 128 hex characters.
    Sha512,
}

impl Algorithm {
    /// The name used in a digest string (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The length of the hex-encoded hash.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// Starts an incremental hash with this algorithm.
    pub fn digester(self) -> Digester {
        match self {
            Algorithm::Sha256 => Digester::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Digester::Sha512(sha2::Sha512::new()),
        }
    }
}

/// A content digest: an algorithm and the lower-case hex of the hash.
///
/// Parsing checks the algorithm is known and the hex has the right length and alphabet, so
/// a `Digest` is always safe to use as a file name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Builds a digest from parts, checking the hex.
    pub fn new(algorithm: Algorithm, hex: &str) -> Result<Digest, OciError> {
        if hex.len() != algorithm.hex_len()
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(OciError::InvalidDigest {
                input: format!("{}:{hex}", algorithm.name()),
                reason: format!(
                    "{} needs {} lower-case hex characters",
                    algorithm.name(),
                    algorithm.hex_len()
                ),
            });
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        Algorithm::Sha256.digester().chain(data).finish()
    }

    /// The digest of `data` with `algorithm`.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        algorithm.digester().chain(data).finish()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex part, without the `sha256:` prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as Docker shows image IDs in tables.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    /// Whether `data` hashes to this digest.
    pub fn verify(&self, data: &[u8]) -> bool {
        Digest::of(self.algorithm, data) == *self
    }
}

impl FromStr for Digest {
    type Err = OciError;

    fn from_str(s: &str) -> Result<Digest, OciError> {
        let Some((alg, hex)) = s.split_once(':') else {
            return Err(OciError::InvalidDigest {
                input: s.to_string(),
                reason: "expected ALGORITHM:HEX, such as sha256:<64 hex>".into(),
            });
        };
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => {
                return Err(OciError::InvalidDigest {
                    input: s.to_string(),
                    reason: format!("unsupported algorithm {other:?} (sha256 and sha512 are)"),
                });
            }
        };
        Digest::new(algorithm, hex).map_err(|e| match e {
            OciError::InvalidDigest { reason, .. } => OciError::InvalidDigest {
                input: s.to_string(),
                reason,
            },
            other => other,
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental hash; `finish` gives the [`Digest`].
#[derive(Clone)]
pub enum Digester {
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl Digester {
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Digester::Sha256(h) => h.update(data),
            Digester::Sha512(h) => h.update(data),
        }
    }

    /// Feeds bytes and returns self, for one-liners.
    pub fn chain(mut self, data: &[u8]) -> Digester {
        self.update(data);
        self
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        match self {
            Digester::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Digester::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

impl Default for Digester {
    fn default() -> Self {
        Algorithm::Sha256.digester()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        for (input, ok) in [
            (empty, true),
            (
                "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                false,
            ),
            ("sha256:abc", false),
            ("md5:d41d8cd98f00b204e9800998ecf8427e", false),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                false,
            ),
            (
                "sha256:../../../../etc/passwd000000000000000000000000000000000000000",
                false,
            ),
        ] {
            assert_eq!(input.parse::<Digest>().is_ok(), ok, "{input}");
        }
        assert_eq!(Digest::sha256_of(b"").to_string(), empty);
        assert_eq!(Digest::sha256_of(b"").short(), "e3b0c44298fc");
    }

    #[test]
    fn sha512_round_trips() {
        let d = Digest::of(Algorithm::Sha512, b"abc");
        assert_eq!(d.hex().len(), 128);
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        assert!(d.verify(b"abc"));
        assert!(!d.verify(b"abd"));
    }
}
