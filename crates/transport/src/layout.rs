//! OCI image layout directories (image-spec `image-layout.md`): `oci-layout`, `index.json`
//! and `blobs/<alg>/<hex>`, as skopeo's `oci:` transport and umoci read and write them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use oci::{Descriptor, Digest, Index};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::{BlobStream, ImageDestination, ImageSource, TransportError};

/// The annotation that names an entry of `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// The file that marks a directory as an image layout.
pub const LAYOUT_FILE: &str = "oci-layout";
/// The layout's top-level index.
pub const INDEX_FILE: &str = "index.json";
const LAYOUT_VERSION: &str = "1.0.0";

fn io_err(path: &Path, source: std::io::Error) -> TransportError {
    TransportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens an existing layout, checking its `oci-layout` file. Blocking (small reads).
    pub fn open(path: impl Into<PathBuf>) -> Result<OciLayout, TransportError> {
        let root = path.into();
        let marker = root.join(LAYOUT_FILE);
        let text = std::fs::read(&marker).map_err(|e| io_err(&marker, e))?;
        let v: Value = serde_json::from_slice(&text).map_err(|e| TransportError::Invalid {
            what: marker.display().to_string(),
            detail: format!("not JSON: {e}"),
        })?;
        match v.get("imageLayoutVersion").and_then(Value::as_str) {
            Some(LAYOUT_VERSION) => Ok(OciLayout { root }),
            other => Err(TransportError::Invalid {
                what: marker.display().to_string(),
                detail: format!("imageLayoutVersion is {other:?}, only \"1.0.0\" is supported"),
            }),
        }
    }

    /// Creates a layout at `path` (the directory may exist), or opens the one already there.
    /// Writes `oci-layout` and an empty `index.json` when they are missing. Blocking.
    pub fn create(path: impl Into<PathBuf>) -> Result<OciLayout, TransportError> {
        let root = path.into();
        if root.join(LAYOUT_FILE).exists() {
            return OciLayout::open(root);
        }
        let blobs = root.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(|e| io_err(&blobs, e))?;
        let layout = OciLayout { root };
        if !layout.root.join(INDEX_FILE).exists() {
            let empty = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": oci::media::OCI_INDEX,
                "manifests": [],
            });
            layout.write_state_file(INDEX_FILE, &to_json(&empty))?;
        }
        let marker = serde_json::json!({ "imageLayoutVersion": LAYOUT_VERSION });
        layout.write_state_file(LAYOUT_FILE, &to_json(&marker))?;
        Ok(layout)
    }

    /// The layout directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this digest lives (`blobs/<alg>/<hex>`).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().name())
            .join(d.hex())
    }

    /// The parsed `index.json`. Blocking.
    pub fn index(&self) -> Result<Index, TransportError> {
        let path = self.root.join(INDEX_FILE);
        let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        Ok(Index::from_slice(&bytes)?)
    }

    /// Picks the `index.json` entry named `reference` (its `ref.name` annotation, or its
    /// digest), or the only entry when `reference` is `None`. Blocking.
    pub fn find(&self, reference: Option<&str>) -> Result<Descriptor, TransportError> {
        let index = self.index()?;
        let name_of = |d: &Descriptor| d.annotations.get(REF_NAME_ANNOTATION).cloned();
        let names = || {
            let names: Vec<String> = index
                .manifests
                .iter()
                .map(|d| name_of(d).unwrap_or_else(|| d.digest.to_string()))
                .collect();
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        let matches: Vec<&Descriptor> = match reference {
            Some(r) => index
                .manifests
                .iter()
                .filter(|d| name_of(d).as_deref() == Some(r) || d.digest.to_string() == r)
                .collect(),
            None => index.manifests.iter().collect(),
        };
        match (matches.as_slice(), reference) {
            ([one], _) => Ok((*one).clone()),
            ([], Some(r)) => Err(TransportError::NotFound {
                what: format!(
                    "image {r:?} in layout {} (it has: {})",
                    self.root.display(),
                    names()
                ),
            }),
            (_, Some(r)) => Err(TransportError::Invalid {
                what: format!("layout {}", self.root.display()),
                detail: format!("several entries are named {r:?}"),
            }),
            (_, None) => Err(TransportError::Invalid {
                what: format!("layout {}", self.root.display()),
                detail: format!(
                    "it holds {} images, name one with oci:PATH:NAME (it has: {})",
                    index.manifests.len(),
                    names()
                ),
            }),
        }
    }

    /// Adds `top` to `index.json` named `name`, replacing an entry of the same name (which
    /// keeps its blobs but loses its name, as skopeo does) or an unnamed entry of the same
    /// digest, and keeping every other entry and field. Atomic (temp file + rename). Blocking.
    pub fn add_to_index(&self, top: &Descriptor, name: Option<&str>) -> Result<(), TransportError> {
        let path = self.root.join(INDEX_FILE);
        // Held until the new index.json is renamed into place, so that two writers (two
        // processes saving into one layout) do not lose each other's entries.
        let (_lock, bytes) = lock_index(&path)?;
        let invalid = |detail: String| TransportError::Invalid {
            what: path.display().to_string(),
            detail,
        };
        let mut index: Value =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let mut entry = top.clone();
        entry.annotations.remove(REF_NAME_ANNOTATION);
        if let Some(n) = name {
            entry
                .annotations
                .insert(REF_NAME_ANNOTATION.to_string(), n.to_string());
        }
        let entry = serde_json::to_value(&entry).map_err(|e| invalid(e.to_string()))?;
        let Some(obj) = index.as_object_mut() else {
            return Err(invalid("not a JSON object".into()));
        };
        let manifests = obj
            .entry("manifests")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(manifests) = manifests.as_array_mut() else {
            return Err(invalid("\"manifests\" is not an array".into()));
        };
        let entry_name = |v: &Value| {
            v.get("annotations")
                .and_then(|a| a.get(REF_NAME_ANNOTATION))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let Some(n) = name {
            manifests.retain(|v| entry_name(v).as_deref() != Some(n));
        }
        let digest = top.digest.to_string();
        let same_unnamed = manifests.iter().position(|v| {
            entry_name(v).is_none() && v.get("digest").and_then(Value::as_str) == Some(&digest)
        });
        match same_unnamed {
            Some(i) => manifests[i] = entry,
            None => manifests.push(entry),
        }
        self.write_state_file(INDEX_FILE, &to_json(&index))
    }

    /// Writes a small file at the layout root atomically: temp file, fsync, rename, fsync dir.
    fn write_state_file(&self, name: &str, bytes: &[u8]) -> Result<(), TransportError> {
        use std::io::Write as _;
        let path = self.root.join(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .tempfile_in(&self.root)
            .map_err(|e| io_err(&self.root, e))?;
        tmp.write_all(bytes).map_err(|e| io_err(tmp.path(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| io_err(tmp.path(), e))?;
        tmp.persist(&path).map_err(|e| io_err(&path, e.error))?;
        sync_dir(&self.root)
    }
}

/// Opens and exclusively locks `index.json`, and reads it. A writer replaces the file by
/// rename, so after taking the lock we check that the path still names the file we locked
/// (else we locked a replaced one, and try again).
fn lock_index(path: &Path) -> Result<(std::fs::File, Vec<u8>), TransportError> {
    use std::io::Read as _;
    use std::os::unix::fs::MetadataExt as _;
    loop {
        let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
        f.lock().map_err(|e| io_err(path, e))?;
        let locked = f.metadata().map_err(|e| io_err(path, e))?;
        let current = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
        if (locked.dev(), locked.ino()) == (current.dev(), current.ino()) {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map_err(|e| io_err(path, e))?;
            return Ok((f, bytes));
        }
    }
}

fn to_json(v: &Value) -> Vec<u8> {
    // A `Value` always serialises.
    serde_json::to_vec(v).unwrap_or_default()
}

fn sync_dir(dir: &Path) -> Result<(), TransportError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Reads one image of a layout.
#[derive(Debug, Clone)]
pub struct LayoutSource {
    layout: OciLayout,
    top: Descriptor,
}

impl LayoutSource {
    /// Opens the entry of `layout` named `reference` (see [`OciLayout::find`]). Blocking
    /// (reads `index.json`).
    pub fn new(layout: OciLayout, reference: Option<&str>) -> Result<LayoutSource, TransportError> {
        let top = layout.find(reference)?;
        Ok(LayoutSource { layout, top })
    }

    /// The layout read.
    pub fn layout(&self) -> &OciLayout {
        &self.layout
    }
}

fn blob_not_found(
    layout: &OciLayout,
    d: &Digest,
    e: std::io::Error,
    path: &Path,
) -> TransportError {
    if e.kind() == std::io::ErrorKind::NotFound {
        TransportError::NotFound {
            what: format!("blob {d} in layout {}", layout.root.display()),
        }
    } else {
        io_err(path, e)
    }
}

impl ImageSource for LayoutSource {
    async fn resolve(&self) -> Result<Descriptor, TransportError> {
        Ok(self.top.clone())
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Bytes, TransportError> {
        let path = self.layout.blob_path(&d.digest);
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e) => Err(blob_not_found(&self.layout, &d.digest, e, &path)),
        }
    }

    async fn blob(&self, d: &Descriptor, offset: u64) -> Result<BlobStream, TransportError> {
        let path = self.layout.blob_path(&d.digest);
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| blob_not_found(&self.layout, &d.digest, e, &path))?;
        if offset > 0 {
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|e| io_err(&path, e))?;
        }
        // Each read of a tokio file is one trip to a blocking thread: read in large pieces.
        Ok(Box::pin(tokio::io::BufReader::with_capacity(1 << 20, file)))
    }
}

/// Writes one image into a layout (created if missing). Blobs and manifests land under
/// `blobs/` as they arrive; `commit` names the top manifest in `index.json`.
#[derive(Debug)]
pub struct LayoutDestination {
    layout: OciLayout,
    reference: Option<String>,
    top: Mutex<Option<(Descriptor, Option<String>)>>,
}

impl LayoutDestination {
    /// A destination writing into the layout at `path`, naming the image `reference` (the
    /// `org.opencontainers.image.ref.name` annotation) unless the copy gives a tag. Blocking
    /// (creates the layout).
    pub fn new(
        path: impl Into<PathBuf>,
        reference: Option<String>,
    ) -> Result<LayoutDestination, TransportError> {
        Ok(LayoutDestination {
            layout: OciLayout::create(path)?,
            reference,
            top: Mutex::new(None),
        })
    }

    /// The layout written.
    pub fn layout(&self) -> &OciLayout {
        &self.layout
    }

    async fn exists(&self, d: &Descriptor) -> bool {
        let path = self.layout.blob_path(&d.digest);
        matches!(tokio::fs::metadata(&path).await, Ok(m) if m.is_file() && m.len() == d.size)
    }
}

impl ImageDestination for LayoutDestination {
    async fn has_blob(&self, d: &Descriptor) -> Result<bool, TransportError> {
        Ok(self.exists(d).await)
    }

    async fn put_blob(&self, d: &Descriptor, stream: BlobStream) -> Result<(), TransportError> {
        if self.exists(d).await {
            return Ok(());
        }
        write_blob(&self.layout, d, stream).await
    }

    async fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Bytes,
        tag: Option<&str>,
    ) -> Result<(), TransportError> {
        if !self.exists(d).await {
            write_blob(&self.layout, d, Box::pin(std::io::Cursor::new(bytes))).await?;
        }
        // Children come before parents: the last manifest written is the top one.
        let mut top = self.top.lock().unwrap_or_else(|p| p.into_inner());
        *top = Some((d.clone(), tag.map(str::to_string)));
        Ok(())
    }

    async fn commit(&self) -> Result<(), TransportError> {
        let top = self.top.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some((d, tag)) = top else {
            return Ok(());
        };
        let name = tag.or_else(|| self.reference.clone());
        let layout = self.layout.clone();
        tokio::task::spawn_blocking(move || layout.add_to_index(&d, name.as_deref()))
            .await
            .map_err(|e| TransportError::Stream {
                what: "writing index.json".into(),
                source: std::io::Error::other(e),
            })?
    }
}

/// Streams a blob into a temp file in `blobs/<alg>/`, checks size and digest, fsyncs and
/// renames it into place. On any error the temp file is removed.
async fn write_blob(
    layout: &OciLayout,
    d: &Descriptor,
    mut stream: BlobStream,
) -> Result<(), TransportError> {
    let dest = layout.blob_path(&d.digest);
    let Some(dir) = dest.parent().map(Path::to_path_buf) else {
        return Err(io_err(
            &dest,
            std::io::Error::other("blob path has no parent"),
        ));
    };
    // Made here rather than on the blocking pool: a copy that fails drops its sibling blob
    // writes, and a temp file made by a blocking task the dropped future no longer awaits
    // would outlive the copy until that task ends. (A mkdir and an open are quick.)
    let tmp = std::fs::create_dir_all(&dir)
        .and_then(|()| tempfile::Builder::new().prefix(".tmp-").tempfile_in(&dir))
        .map_err(|e| io_err(&dir, e))?;
    let (file, tmp_path) = tmp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut digester = d.digest.algorithm().digester();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    let what = || format!("blob {} for layout {}", d.digest, layout.root.display());
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|source| TransportError::Stream {
                what: what(),
                source,
            })?;
        if n == 0 {
            break;
        }
        digester.update(&buf[..n]);
        size += n as u64;
        file.write_all(&buf[..n])
            .await
            .map_err(|e| io_err(&tmp_path, e))?;
    }
    if size != d.size {
        return Err(TransportError::SizeMismatch {
            what: what(),
            expected: d.size,
            actual: size,
        });
    }
    let actual = digester.finish();
    if actual != d.digest {
        return Err(TransportError::DigestMismatch {
            what: what(),
            expected: d.digest.clone(),
            actual,
        });
    }
    file.flush().await.map_err(|e| io_err(&tmp_path, e))?;
    file.sync_all().await.map_err(|e| io_err(&tmp_path, e))?;
    drop(file);
    // Renamed here, not on the blocking pool, for the same reason the temp file is made
    // here: a dropped write must leave either its blob or nothing, never a temp file that a
    // queued rename removes only after the failed copy has returned. The directory's fsync
    // only makes the rename durable, so it may outlive a dropped future.
    tmp_path
        .persist(&dest)
        .map_err(|e| io_err(&dest, e.error))?;
    tokio::task::spawn_blocking(move || sync_dir(&dir))
        .await
        .map_err(|e| TransportError::Stream {
            what: what(),
            source: std::io::Error::other(e),
        })?
}
