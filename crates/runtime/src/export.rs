//! `export`: a container's files as one tar stream, as `docker export` writes them: the
//! merged root (the image's layers, the init files, the container's own changes), not
//! its volumes nor what is mounted into it.
//!
//! The merged view is a read-only overlay of the container's upper directory over its
//! lower ones, mounted on a scratch directory of its own (`tmp/export-<pid>-<n>/`): it
//! never touches the container's own mount, so a running container exports too, and two
//! exports do not meet.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use store::Store;

use crate::mount::{Kernel, Mounter, mount_overlay_read_only};
use crate::{Container, RuntimeError};

/// The scratch mount point; unmounted and removed on drop.
struct Scratch {
    path: PathBuf,
    mounted: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Kernel.unmount(&self.path, true);
        }
        let _ = fs::remove_dir(&self.path);
    }
}

impl Container {
    /// Writes the container's files to `out` as an uncompressed tar (`docker export`).
    pub fn export(&self, store: &Store, out: impl Write) -> Result<(), RuntimeError> {
        let lay = crate::container::layout(store, &self.record, &self.dir)?;
        let mut lowers = vec![lay.upper];
        lowers.extend(lay.lowers);
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let tmp = store.layout().tmp_dir();
        fs::create_dir_all(&tmp).map_err(|e| RuntimeError::io("create", &tmp, e))?;
        let mut scratch = Scratch {
            path: tmp.join(format!(
                "export-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            )),
            mounted: false,
        };
        fs::create_dir(&scratch.path).map_err(|e| RuntimeError::io("create", &scratch.path, e))?;
        mount_overlay_read_only(&Kernel, &lowers, &scratch.path)?;
        scratch.mounted = true;
        layer::create_layer(&scratch.path, out, &layer::CreateOptions::default()).map_err(
            |source| RuntimeError::Export {
                container: self.record.id.clone(),
                source,
            },
        )?;
        crate::events::container(self, "export", &[]);
        Ok(())
    }
}
