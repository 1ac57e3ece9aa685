//! Checking the store's invariants (what a crash at any point must not break): every blob
//! file is named for its content, every blob row has its file, and every image record is
//! whole.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use oci::{AnyManifest, Digest, Manifest, media};

use crate::{Store, StoreError, db};

/// A way the store's files and records disagree, found by [`Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A file in `blobs/` whose content hashes to another digest than its name.
    MisnamedFile {
        /// The file.
        path: PathBuf,
        /// What its content hashes to.
        actual: Digest,
    },
    /// A blob row whose file is missing.
    RowWithoutFile(Digest),
    /// An image record one of whose parts (manifest, config, layer) is not stored.
    HalfImage {
        /// The image's target.
        image: Digest,
        /// The part that is missing.
        missing: Digest,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::MisnamedFile { path, actual } => {
                write!(f, "{} holds content {actual}", path.display())
            }
            Violation::RowWithoutFile(d) => write!(f, "blob {d} is recorded but has no file"),
            Violation::HalfImage { image, missing } => {
                write!(f, "image {image} lacks {missing}")
            }
        }
    }
}

impl Store {
    /// Checks the store's invariants and returns every violation found (none: the store is
    /// consistent). Reads every blob file whole: meant for tests and repairs, not for a
    /// command's hot path. A file without a row is no violation (GC removes it), nor is an
    /// index entry that is not stored (an index pulled for one platform).
    pub fn verify(&self) -> Result<Vec<Violation>, StoreError> {
        let mut out = Vec::new();
        for alg in [oci::Algorithm::Sha256, oci::Algorithm::Sha512] {
            let dir = self.layout().blobs_dir_of(alg);
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd {
                let e = e.map_err(|e| StoreError::io("cannot list", &dir, e))?;
                let path = e.path();
                let actual = hash_file(alg, &path)?;
                if e.file_name().to_str() != Some(actual.hex()) {
                    out.push(Violation::MisnamedFile { path, actual });
                }
            }
        }
        let (rows, images) = {
            let conn = self.conn();
            (db::all_blobs(&conn)?, db::images(&conn)?)
        };
        for (_, digest, _) in rows {
            let Ok(d) = digest.parse::<Digest>() else {
                continue;
            };
            if !self.blob_path(&d).is_file() {
                out.push(Violation::RowWithoutFile(d));
            }
        }
        for row in images {
            let Ok(image) = row.digest.parse::<Digest>() else {
                continue;
            };
            self.verify_image(&image, &row.media_type, &mut out)?;
        }
        Ok(out)
    }

    fn verify_image(
        &self,
        image: &Digest,
        media_type: &str,
        out: &mut Vec<Violation>,
    ) -> Result<(), StoreError> {
        let missing = |d: &Digest| Violation::HalfImage {
            image: image.clone(),
            missing: d.clone(),
        };
        if !self.has_blob(image)? {
            out.push(missing(image));
            return Ok(());
        }
        let bytes = self.read_blob(image)?;
        let manifests: Vec<Manifest> = match AnyManifest::parse(Some(media_type), &bytes) {
            Ok(AnyManifest::Manifest(m)) => vec![m],
            Ok(AnyManifest::Index(i)) => {
                let mut v = Vec::new();
                for e in i
                    .manifests
                    .iter()
                    .filter(|e| media::is_manifest(&e.media_type))
                {
                    if self.has_blob(&e.digest)? {
                        v.extend(Manifest::from_slice(&self.read_blob(&e.digest)?).ok());
                    }
                }
                v
            }
            Err(_) => Vec::new(),
        };
        for m in manifests {
            for d in std::iter::once(&m.config).chain(&m.layers) {
                if !self.has_blob(&d.digest)? {
                    out.push(missing(&d.digest));
                }
            }
        }
        Ok(())
    }
}

fn hash_file(alg: oci::Algorithm, path: &std::path::Path) -> Result<Digest, StoreError> {
    let mut f = File::open(path).map_err(|e| StoreError::io("cannot open", path, e))?;
    let mut d = alg.digester();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| StoreError::io("cannot read", path, e))?;
        if n == 0 {
            return Ok(d.finish());
        }
        d.update(&buf[..n]);
    }
}
