//! Shared helpers of the build tests: a context on disk, a build into a store, and reading
//! the resulting image back.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use build::{BuildRequest, Built, Event};
use oci::{ImageConfig, Manifest};
use store::Store;

/// Writes `files` (name → content; a name ending in `/` is a directory) below `dir`.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (name, data) in files {
        let p = dir.join(name);
        if name.ends_with('/') {
            fs::create_dir_all(&p).unwrap();
            continue;
        }
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
    }
}

/// A request for the Dockerfile `text` in `context`, tagged `tag`.
pub fn request(context: &Path, text: &str, tag: &str) -> BuildRequest {
    BuildRequest {
        context: context.to_path_buf(),
        dockerfile: text.to_string(),
        dockerfile_name: "Dockerfile".into(),
        tags: vec![tag.to_string()],
        ..Default::default()
    }
}

/// Builds, returning the result and the events.
pub fn build(store: &Store, req: &BuildRequest) -> Result<(Built, Vec<Event>), build::BuildError> {
    let mut events = Vec::new();
    let built = build::build(store, req, &mut |e| events.push(e.clone()))?;
    Ok((built, events))
}

/// Texts of the steps that were executed (not cached).
pub fn executed(events: &[Event]) -> Vec<String> {
    let mut texts = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::Step { id, text, .. } => {
                texts.insert(*id, text.clone());
            }
            Event::Miss { id, .. } => out.push(texts[id].clone()),
            _ => {}
        }
    }
    out
}

/// The config of image `name`.
pub fn config(store: &Store, name: &str) -> ImageConfig {
    let info = store.resolve_image(name).unwrap();
    ImageConfig::from_slice(&store.image_config(&info).unwrap()).unwrap()
}

/// One layer entry: (path, kind, mode, uid, content).
pub type LayerEntry = (String, char, u32, u64, String);

/// Every entry of every layer of image `name`, in order: (path, kind, mode, uid, content).
pub fn files(store: &Store, name: &str) -> Vec<LayerEntry> {
    layers(store, name).into_iter().flatten().collect()
}

/// The entries of each layer of image `name`, base first.
pub fn layers(store: &Store, name: &str) -> Vec<Vec<LayerEntry>> {
    let info = store.resolve_image(name).unwrap();
    let m = Manifest::from_slice(&store.manifest_bytes(&info.manifest).unwrap()).unwrap();
    let mut all = Vec::new();
    for l in &m.layers {
        let mut out = Vec::new();
        let blob = store.open_blob(&l.digest).unwrap();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(blob));
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let h = e.header().clone();
            let kind = if h.entry_type().is_dir() {
                'd'
            } else if h.entry_type().is_symlink() {
                'l'
            } else {
                'f'
            };
            let mut raw = Vec::new();
            if kind == 'f' {
                e.read_to_end(&mut raw).unwrap();
            }
            let data = String::from_utf8_lossy(&raw).into_owned();
            out.push((path, kind, h.mode().unwrap(), h.uid().unwrap(), data));
        }
        all.push(out);
    }
    all
}

/// The content of `path` in image `name` (the last layer that has it).
pub fn file(store: &Store, name: &str, path: &str) -> Option<String> {
    files(store, name)
        .into_iter()
        .rev()
        .find(|f| f.0 == path)
        .map(|f| f.4)
}
