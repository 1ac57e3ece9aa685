//! Local manifest lists (`manifest create`, `annotate`, `push`, `rm`), kept as Docker's
//! client keeps them in `~/.docker/manifests/`: one directory per list, one JSON file per
//! image holding Docker's `ImageManifest` (`Ref`, `Descriptor` with the platform, `Raw`
//! bytes, the parsed manifest), file names made safe the same way. strata keeps them under
//! the store root ([`store::Layout::manifest_lists_dir`]).

use std::path::PathBuf;

use oci::{Descriptor, Reference, media};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One image of a local list: Docker's `types.ImageManifest`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageManifest {
    /// The image's full reference (`docker.io/library/app:amd64`).
    #[serde(rename = "Ref")]
    pub reference: String,
    /// Its manifest's descriptor; the platform is the one the list will carry.
    #[serde(rename = "Descriptor", serialize_with = "go_descriptor")]
    pub descriptor: Descriptor,
    /// The manifest's exact bytes (base64 in the file, as Go writes `[]byte`).
    #[serde(rename = "Raw", with = "base64_bytes", default)]
    pub raw: Vec<u8>,
    /// The parsed manifest, when it is Docker's schema 2.
    #[serde(
        rename = "SchemaV2Manifest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schema_v2: Option<Value>,
    /// The parsed manifest, when it is an OCI manifest.
    #[serde(
        rename = "OCIManifest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oci: Option<Value>,
}

impl ImageManifest {
    /// The entry for manifest `raw` of `reference`, described by `descriptor`.
    pub fn new(
        reference: &Reference,
        descriptor: Descriptor,
        raw: Vec<u8>,
    ) -> anyhow::Result<ImageManifest> {
        let parsed: Value = serde_json::from_slice(&raw)?;
        let docker = descriptor.media_type == media::DOCKER_MANIFEST;
        Ok(ImageManifest {
            reference: reference.to_string(),
            descriptor,
            raw,
            schema_v2: docker.then(|| parsed.clone()),
            oci: (!docker).then_some(parsed),
        })
    }
}

/// A descriptor in Go's field order (`ocispec.Descriptor`, its platform's `architecture`
/// before `os`), as Docker writes and prints it.
fn go_descriptor<S: serde::Serializer>(d: &Descriptor, s: S) -> Result<S::Ok, S::Error> {
    let mut v = serde_json::Map::new();
    v.insert("mediaType".into(), d.media_type.clone().into());
    v.insert("digest".into(), d.digest.to_string().into());
    v.insert("size".into(), d.size.into());
    if !d.urls.is_empty() {
        v.insert("urls".into(), d.urls.clone().into());
    }
    if !d.annotations.is_empty() {
        let a = d
            .annotations
            .iter()
            .map(|(k, x)| (k.clone(), Value::from(x.clone())));
        v.insert("annotations".into(), Value::Object(a.collect()));
    }
    if let Some(p) = &d.platform {
        let mut pv = serde_json::Map::new();
        pv.insert("architecture".into(), p.architecture.clone().into());
        pv.insert("os".into(), p.os.clone().into());
        if let Some(x) = &p.os_version {
            pv.insert("os.version".into(), x.clone().into());
        }
        if !p.os_features.is_empty() {
            pv.insert("os.features".into(), p.os_features.clone().into());
        }
        if let Some(x) = &p.variant {
            pv.insert("variant".into(), x.clone().into());
        }
        v.insert("platform".into(), Value::Object(pv));
    }
    Value::Object(v).serialize(s)
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// The local lists of one store.
pub struct ListStore {
    dir: PathBuf,
}

/// Docker's message for a list or image the local store does not have.
pub fn no_such_manifest(name: &str) -> String {
    format!("No such manifest: {name}")
}

impl ListStore {
    /// The lists kept under `layout`'s root.
    pub fn new(layout: &store::Layout) -> ListStore {
        ListStore {
            dir: layout.manifest_lists_dir(),
        }
    }

    fn list_dir(&self, list: &Reference) -> PathBuf {
        self.dir.join(filesafe(&list.to_string()))
    }

    /// The entry for `image` in `list`, if there is one.
    pub fn get(
        &self,
        list: &Reference,
        image: &Reference,
    ) -> anyhow::Result<Option<ImageManifest>> {
        let path = self.list_dir(list).join(filesafe(&image.to_string()));
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(parse(&path, &bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(path.display().to_string())),
        }
    }

    /// Every entry of `list` in file-name order (Docker's), or `None` when there is no such
    /// list.
    pub fn get_list(&self, list: &Reference) -> anyhow::Result<Option<Vec<ImageManifest>>> {
        let dir = self.list_dir(list);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::Error::new(e).context(dir.display().to_string())),
        };
        let mut names: Vec<PathBuf> = entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        // Half-written files of a killed `save` are not entries.
        names.retain(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        });
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for path in names {
            out.push(parse(&path, &std::fs::read(&path)?)?);
        }
        Ok(Some(out))
    }

    /// Writes (or replaces) `image`'s entry in `list`, through a temporary file so a killed
    /// command leaves the old entry or the new one.
    pub fn save(
        &self,
        list: &Reference,
        image: &Reference,
        entry: &ImageManifest,
    ) -> anyhow::Result<()> {
        let dir = self.list_dir(list);
        std::fs::create_dir_all(&dir)?;
        let name = filesafe(&image.to_string());
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(entry)?)?;
        std::fs::rename(&tmp, dir.join(name))?;
        Ok(())
    }

    /// Deletes `list` and its entries.
    pub fn remove(&self, list: &Reference) -> anyhow::Result<()> {
        let dir = self.list_dir(list);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(anyhow::Error::new(e).context(dir.display().to_string()))
            }
            _ => Ok(()),
        }
    }
}

fn parse(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<ImageManifest> {
    serde_json::from_slice(bytes)
        .map_err(|e| anyhow::anyhow!("invalid manifest file {}: {e}", path.display()))
}

/// Docker's `makeFilesafeName`: `:` becomes `-`, `/` becomes `_`.
fn filesafe(name: &str) -> String {
    name.replace(':', "-").replace('/', "_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn lists_round_trip_and_names_are_dockers() {
        let dir = tempfile::tempdir().unwrap();
        let store = ListStore::new(&store::Layout::new(dir.path()));
        let list = Reference::parse("localhost:5000/app:multi").unwrap();
        let image = Reference::parse("localhost:5000/app:amd64").unwrap();
        assert!(store.get_list(&list).unwrap().is_none());
        let raw = br#"{"schemaVersion":2}"#.to_vec();
        let d = Descriptor::of_bytes(media::OCI_MANIFEST, &raw);
        store
            .save(
                &list,
                &image,
                &ImageManifest::new(&image, d.clone(), raw.clone()).unwrap(),
            )
            .unwrap();
        let file = dir
            .path()
            .join("manifests/localhost-5000_app-multi/localhost-5000_app-amd64");
        let on_disk: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        assert_eq!(
            on_disk["Raw"],
            base64::engine::general_purpose::STANDARD.encode(&raw)
        );
        assert_eq!(on_disk["Ref"], "localhost:5000/app:amd64");
        assert!(on_disk.get("OCIManifest").is_some());
        let got = store.get(&list, &image).unwrap().unwrap();
        assert_eq!((got.descriptor, got.raw), (d, raw));
        assert_eq!(store.get_list(&list).unwrap().unwrap().len(), 1);
        store.remove(&list).unwrap();
        assert!(store.get_list(&list).unwrap().is_none());
    }
}
