//! What a walk of an image yields, and what is known of the image itself: the input of
//! the SBOM writers and of matching.

use crate::package::{Distro, Package};
use crate::secrets::Finding;

/// One layer of the image, base first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerInfo {
    /// The layer blob's digest (`sha256:…`), as the manifest names it; for a directory
    /// scan, empty.
    pub digest: String,
    /// The uncompressed tar's digest (the config's `rootfs.diff_ids` entry), when known.
    pub diff_id: String,
    /// The history entry's `created_by` (the Dockerfile step) that made the layer, when the
    /// config's history says.
    pub created_by: Option<String>,
}

/// The image (or directory) a scan looked at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageInfo {
    /// What the user named (`debian:bookworm`, `oci:dir:tag`, `/path/to/rootfs`).
    pub name: String,
    /// The manifest's digest, for an image.
    pub digest: Option<String>,
    /// The config's digest (the image ID), for an image.
    pub config_digest: Option<String>,
    /// `os/arch[/variant]`, for an image.
    pub platform: Option<String>,
    /// The layers, base first; a directory is one layer.
    pub layers: Vec<LayerInfo>,
}

/// Something the user should know about a scan that did not stop it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The layer (index from 0) the file was in.
    pub layer: usize,
    /// The file.
    pub path: String,
    /// What, in the cataloger's words.
    pub message: String,
}

/// A secret found in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHit {
    /// The layer (index from 0) holding the file.
    pub layer: usize,
    /// The file, relative to the root.
    pub path: String,
    /// Whether a later layer deleted or replaced the file (it is still in the image's
    /// blobs, so still leaked).
    pub deleted: bool,
    /// What was found.
    pub finding: Finding,
}

/// Everything a walk found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    /// The operating system, when `os-release` says.
    pub distro: Option<Distro>,
    /// The packages in the final filesystem, in cataloger then path then file order.
    pub packages: Vec<Package>,
    /// What did not stop the scan but limits it.
    pub notes: Vec<Note>,
    /// Secrets, when the walk looked for them, in layer then path order.
    pub secrets: Vec<SecretHit>,
}
