//! Layers: tar and compression streams, safe application, deterministic creation.
//!
//! This crate owns everything between a layer blob and a directory tree:
//!
//! - [`Compression`] names how a blob is compressed (gzip, zstd, none), detects it from
//!   magic bytes and maps it to OCI and Docker media types.
//! - [`codec`] decompresses ([`decompress`], [`decompress_auto`]) and compresses
//!   ([`compress_layer`], [`LayerWriter`], [`recompress`]) in one streaming pass that
//!   yields both the diffID (uncompressed digest, for the image config) and the
//!   distribution digest (compressed, for the manifest) as [`LayerDigests`].
//! - [`HashingReader`] / [`HashingWriter`] digest and count bytes inline.
//! - [`MeasuringReader`] checks a tar stream's structure inline and adds up the size it
//!   has unpacked, as Docker reports a layer's size.
//! - [`apply`] writes a layer tar onto a directory ([`apply_layer`], or
//!   [`apply_layer_auto`] from a compressed blob, returning its diffID), handling
//!   whiteouts, opaque directories, hardlinks, devices, owners, modes, times and xattrs,
//!   and never touching anything outside the directory, whatever the tar holds.
//! - [`create`] makes a deterministic tar of a directory ([`create_layer`]), or a
//!   compressed layer with its digests in one pass ([`create_compressed_layer`]).
//!
//! All of it is blocking I/O on 256 KiB buffers; async callers run it on blocking threads.
//! Nothing holds a whole layer in memory.
//!
//! ```
//! use layer::{compress_layer, Compression};
//! let tar = [0u8; 1024]; // an empty tar: two zero blocks
//! let mut blob = Vec::new();
//! let d = compress_layer(&tar[..], &mut blob, Compression::Gzip, None).unwrap();
//! assert_eq!(d.diff_id, oci::Digest::sha256_of(&tar));
//! assert_eq!(d.digest, oci::Digest::sha256_of(&blob));
//! ```
//!
//! A round trip through a directory:
//!
//! ```no_run
//! # fn main() -> Result<(), layer::LayerError> {
//! use layer::{ApplyOptions, Compression, CreateOptions};
//! let mut blob = Vec::new();
//! let digests = layer::create_compressed_layer(
//!     "/src/tree".as_ref(),
//!     &mut blob,
//!     Compression::Zstd,
//!     &CreateOptions::with_source_date_epoch(0),
//! )?;
//! let (report, diff_id) = layer::apply_layer_auto(
//!     "/var/lib/snapshot".as_ref(),
//!     std::io::Cursor::new(blob),
//!     &ApplyOptions::default(),
//! )?;
//! assert_eq!(diff_id, digests.diff_id);
//! # let _ = report;
//! # Ok(())
//! # }
//! ```

pub mod apply;
pub mod codec;
mod compression;
pub mod create;
mod error;
mod hashing;
mod lenient;
pub mod measure;
mod safe_fs;

pub use apply::{ApplyOptions, ApplyReport, apply_layer, apply_layer_auto};
pub use codec::{
    LayerDigests, LayerWriter, compress_layer, decompress, decompress_auto, recompress, sniff,
};
pub use compression::Compression;
pub use create::{CreateOptions, create_compressed_layer, create_layer, create_tree};
pub use error::LayerError;
pub use hashing::{HashingReader, HashingWriter};
pub use measure::{MeasuringReader, TarFormatError, TarMeter};
