//! Layer compression kinds: detection from magic bytes, media types and names.

use std::fmt;
use std::str::FromStr;

use oci::media;

use crate::LayerError;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (RFC 1952), possibly several members.
    #[default]
    Gzip,
    /// Zstandard frames.
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    /// The number of leading bytes [`Compression::detect`] needs to decide.
    pub const MAGIC_LEN: usize = 4;

    /// Guesses the compression from the first bytes of a blob. Anything that is neither
    /// gzip nor zstd (including a zstd skippable frame) is reported as [`Compression::None`].
    pub fn detect(prefix: &[u8]) -> Compression {
        if prefix.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if prefix.starts_with(ZSTD_MAGIC) || is_zstd_skippable(prefix) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The compression a layer media type declares, or `None` if `media_type` is not a
    /// layer type this crate knows (OCI, OCI non-distributable, Docker schema 2).
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        match media_type {
            media::OCI_LAYER | media::DOCKER_LAYER => Some(Compression::None),
            media::OCI_LAYER_GZIP | media::DOCKER_LAYER_GZIP | media::DOCKER_FOREIGN_LAYER => {
                Some(Compression::Gzip)
            }
            media::OCI_LAYER_ZSTD => Some(Compression::Zstd),
            "application/vnd.oci.image.layer.nondistributable.v1.tar" => Some(Compression::None),
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" => {
                Some(Compression::Gzip)
            }
            "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => {
                Some(Compression::Zstd)
            }
            _ => None,
        }
    }

    /// The OCI layer media type for this compression.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => media::OCI_LAYER,
            Compression::Gzip => media::OCI_LAYER_GZIP,
            Compression::Zstd => media::OCI_LAYER_ZSTD,
        }
    }

    /// The Docker schema 2 layer media type. Docker has no zstd type of its own; Docker
    /// (with the containerd store) writes the OCI zstd type in schema 2 manifests, as here.
    pub fn docker_media_type(self) -> &'static str {
        match self {
            Compression::None => media::DOCKER_LAYER,
            Compression::Gzip => media::DOCKER_LAYER_GZIP,
            Compression::Zstd => media::OCI_LAYER_ZSTD,
        }
    }

    /// The lower-case name (`none`, `gzip`, `zstd`), as accepted by `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Zstd skippable frames start with 0x184D2A50..=0x184D2A5F, little-endian.
fn is_zstd_skippable(prefix: &[u8]) -> bool {
    prefix.len() >= 4 && prefix[0] & 0xf0 == 0x50 && prefix[1..4] == [0x2a, 0x4d, 0x18]
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = LayerError;

    fn from_str(s: &str) -> Result<Compression, LayerError> {
        match s.to_ascii_lowercase().as_str() {
            "gzip" | "gz" => Ok(Compression::Gzip),
            "zstd" | "zst" => Ok(Compression::Zstd),
            "none" | "uncompressed" | "tar" => Ok(Compression::None),
            _ => Err(LayerError::UnknownCompression(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_magic() {
        for (prefix, want) in [
            (&[0x1f, 0x8b, 0x08, 0x00][..], Compression::Gzip),
            (&[0x28, 0xb5, 0x2f, 0xfd][..], Compression::Zstd),
            (&[0x50, 0x2a, 0x4d, 0x18][..], Compression::Zstd),
            (&[0x5f, 0x2a, 0x4d, 0x18][..], Compression::Zstd),
            (&[0x28, 0xb5, 0x2f][..], Compression::None),
            (b"etc/passwd\0\0", Compression::None),
            (&[][..], Compression::None),
            (&[0x1f][..], Compression::None),
        ] {
            assert_eq!(Compression::detect(prefix), want, "{prefix:?}");
        }
    }

    #[test]
    fn media_types() {
        for (mt, want) in [
            (media::OCI_LAYER, Some(Compression::None)),
            (media::OCI_LAYER_GZIP, Some(Compression::Gzip)),
            (media::OCI_LAYER_ZSTD, Some(Compression::Zstd)),
            (media::DOCKER_LAYER, Some(Compression::None)),
            (media::DOCKER_LAYER_GZIP, Some(Compression::Gzip)),
            (media::DOCKER_FOREIGN_LAYER, Some(Compression::Gzip)),
            (media::OCI_MANIFEST, None),
            ("", None),
        ] {
            assert_eq!(Compression::from_media_type(mt), want, "{mt}");
        }
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            assert_eq!(Compression::from_media_type(c.oci_media_type()), Some(c));
            assert_eq!(Compression::from_media_type(c.docker_media_type()), Some(c));
        }
    }

    #[test]
    fn parses_names() {
        for (s, want) in [
            ("gzip", Some(Compression::Gzip)),
            ("GZIP", Some(Compression::Gzip)),
            ("zstd", Some(Compression::Zstd)),
            ("none", Some(Compression::None)),
            ("uncompressed", Some(Compression::None)),
            ("bzip2", None),
            ("", None),
        ] {
            assert_eq!(s.parse::<Compression>().ok(), want, "{s}");
        }
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            assert_eq!(c.to_string().parse::<Compression>().unwrap(), c);
        }
    }
}
