//! Advisory file locks (`flock`), shared between processes and between threads (each call
//! opens its own file description).

use std::fs::File;
use std::path::Path;

use crate::StoreError;

fn open(path: &Path) -> Result<File, StoreError> {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StoreError::io("cannot open lock file", path, e))
}

/// Blocks until `path` is locked exclusively; the lock lasts as long as the `File`.
pub(crate) fn exclusive(path: &Path) -> Result<File, StoreError> {
    let f = open(path)?;
    f.lock()
        .map_err(|e| StoreError::io("cannot lock", path, e))?;
    Ok(f)
}

/// Blocks until `path` is locked shared; the lock lasts as long as the `File`.
pub(crate) fn shared(path: &Path) -> Result<File, StoreError> {
    let f = open(path)?;
    f.lock_shared()
        .map_err(|e| StoreError::io("cannot lock", path, e))?;
    Ok(f)
}
