//! The host end of a copy, as Docker's client handles it: what a local source or
//! destination is (`CopyInfoSourcePath`, `CopyInfoDestinationPath`), archiving a local
//! source and extracting an archive into a local directory (owners not kept: files belong
//! to whoever runs the copy).

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use super::CopyError;
use super::paths::{self, CopyInfo};

/// Go's wording of an OS error (`no such file or directory`), as its `os` errors print.
pub(crate) fn go_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(libc::ENOTDIR) => "not a directory".into(),
        Some(libc::EACCES) => "permission denied".into(),
        Some(libc::ELOOP) => "too many levels of symbolic links".into(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            let mut c = text.chars();
            c.next()
                .map(|f| f.to_lowercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

fn go_err(op: &str, path: &str, e: &io::Error) -> CopyError {
    CopyError::Client(format!("{op} {path}: {}", go_text(e)))
}

/// An absolute local path (relative to the working directory), cleaned, its trailing `/`
/// or `/.` kept (the client's `resolveLocalPath`).
pub fn absolute(path: &str) -> Result<String, CopyError> {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| CopyError::Client(format!("getwd: {}", go_text(&e))))?;
        format!("{}/{path}", cwd.display())
    };
    Ok(paths::preserve_trailing_dot_or_separator(
        &paths::clean(&joined),
        path,
    ))
}

/// Go's `filepath.EvalSymlinks` for an existing path: the error names the first
/// component that is missing, as Go's walk does.
fn eval_symlinks(path: &str) -> Result<String, CopyError> {
    match fs::canonicalize(path) {
        Ok(p) => Ok(p.to_string_lossy().into_owned()),
        Err(e) => {
            let cleaned = paths::clean(path);
            let mut prefix = String::new();
            for part in cleaned.split('/').filter(|p| !p.is_empty()) {
                prefix.push('/');
                prefix.push_str(part);
                if let Err(e) = fs::symlink_metadata(&prefix) {
                    return Err(go_err("lstat", &prefix, &e));
                }
            }
            Err(go_err("lstat", &cleaned, &e))
        }
    }
}

/// What the local source `path` (absolute) is; with `follow`, a symlink is followed and
/// the archive keeps the link's name.
pub fn source_info(path: &str, follow: bool) -> Result<CopyInfo, CopyError> {
    let (resolved, rebase_name) = if follow {
        let target = eval_symlinks(path)?;
        paths::rebase_name(path, &target)
    } else {
        let (dir, base) = paths::split(path);
        let dir = eval_symlinks(if dir.is_empty() { "." } else { dir })?;
        let dir = dir.trim_end_matches('/');
        let resolved = format!("{dir}/{base}");
        let rebase = (paths::has_trailing_separator(path)
            && paths::base(path) != paths::base(&resolved))
        .then(|| paths::base(path));
        (resolved, rebase)
    };
    let meta = fs::symlink_metadata(&resolved).map_err(|e| go_err("lstat", &resolved, &e))?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: meta.is_dir(),
        rebase_name,
    })
}

/// What the local destination `path` (absolute) is: a symlink is followed (the copy goes
/// to its target, which need not exist), and a missing path needs an existing parent
/// directory.
pub fn destination_info(path: &str) -> Result<CopyInfo, CopyError> {
    let original = path.to_string();
    let mut path = path.to_string();
    let mut stat = fs::symlink_metadata(&path);
    let mut n = 0;
    while let Ok(m) = &stat {
        if !m.file_type().is_symlink() {
            break;
        }
        n += 1;
        if n > 11 {
            return Err(CopyError::Client(format!(
                "too many symlinks in {original}"
            )));
        }
        let target = fs::read_link(&path).map_err(|e| go_err("readlink", &path, &e))?;
        let target = target.to_string_lossy().into_owned();
        path = if target.starts_with('/') {
            target
        } else {
            let (parent, _) = paths::split_path_dir_entry(&path);
            paths::clean(&format!("{parent}/{target}"))
        };
        stat = fs::symlink_metadata(&path);
    }
    match stat {
        Ok(m) => Ok(CopyInfo {
            path,
            exists: true,
            is_dir: m.is_dir(),
            rebase_name: None,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let (parent, _) = paths::split_path_dir_entry(&path);
            let m = fs::metadata(&parent).map_err(|e| go_err("stat", &parent, &e))?;
            if !m.is_dir() {
                return Err(CopyError::Client("not a directory".into()));
            }
            Ok(CopyInfo {
                path,
                ..CopyInfo::default()
            })
        }
        Err(e) => Err(go_err("lstat", &path, &e)),
    }
}

/// The client's check of an output path before anything is copied out
/// (`ValidateOutputPath`): its directory must exist, and an existing path must be a
/// directory or a regular file.
pub fn validate_output_path(path: &str) -> Result<(), CopyError> {
    let dir = paths::dir(&paths::clean(path));
    if dir != "." && !Path::new(&dir).exists() {
        return Err(CopyError::Client(format!(
            "invalid output path: directory \"{dir}\" does not exist"
        )));
    }
    // Only a device is refused (Go's `ModeDevice`): a pipe or socket is written to.
    match fs::metadata(path) {
        Ok(m) if m.file_type().is_block_device() || m.file_type().is_char_device() => {
            Err(CopyError::Client(format!(
                "invalid output path: \"{path}\" must be a directory or a regular file: got a \
                 device"
            )))
        }
        _ => Ok(()),
    }
}

/// A tar of the local `path`, its top entry named `name`, read as it is written (by a
/// thread of its own; its failure is the reader's error at the end).
pub fn archive_reader(path: PathBuf, name: String) -> Result<impl Read + Send, CopyError> {
    let (reader, mut writer) =
        io::pipe().map_err(|e| CopyError::Client(format!("pipe: {}", go_text(&e))))?;
    let handle = std::thread::spawn(move || -> io::Result<()> {
        layer::create_tree(&path, name.as_bytes(), &mut writer).map_err(io::Error::other)
    });
    Ok(Joined {
        reader,
        handle: Some(handle),
    })
}

/// A pipe's read end whose writer thread is joined at the end of the stream, its error
/// becoming the reader's.
struct Joined {
    reader: io::PipeReader,
    handle: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Read for Joined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && let Some(h) = self.handle.take()
        {
            h.join()
                .map_err(|_| io::Error::other("the archive writer panicked"))??;
        }
        Ok(n)
    }
}

/// Extracts the tar `archive` into the local directory `dir`, owners not kept.
pub fn extract_local(archive: impl Read, dir: &Path) -> Result<(), CopyError> {
    let mut opts = layer::ApplyOptions::default();
    opts.chown = false;
    opts.no_overwrite_dir_non_dir = true;
    layer::apply_layer(dir, archive, &opts)
        .map_err(|e| overwrite_message(e, &dir.to_string_lossy(), CopyError::Client))?;
    Ok(())
}

/// Docker's words for an entry that would replace a directory with a non-directory (or
/// the reverse) under `dest`, wrapped as `wrap` says; other errors as they are.
pub(crate) fn overwrite_message(
    e: layer::LayerError,
    dest: &str,
    wrap: fn(String) -> CopyError,
) -> CopyError {
    match e {
        layer::LayerError::Overwrite {
            path, existing_dir, ..
        } => {
            let dest = paths::clean(dest);
            let full = paths::clean(&format!("{dest}/{}", path.display()));
            wrap(if existing_dir {
                format!("cannot overwrite directory {full:?} with non-directory {dest:?}")
            } else {
                format!("cannot overwrite non-directory {full:?} with directory {dest:?}")
            })
        }
        e => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_ends() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().to_str().unwrap();
        fs::create_dir(t.path().join("dir")).unwrap();
        fs::write(t.path().join("file"), "x").unwrap();
        std::os::unix::fs::symlink("dir", t.path().join("link")).unwrap();
        std::os::unix::fs::symlink("nowhere", t.path().join("dangling")).unwrap();

        let s = source_info(&format!("{d}/link"), false).unwrap();
        assert!(!s.is_dir, "a link not followed is copied as a link");
        let s = source_info(&format!("{d}/link"), true).unwrap();
        assert!(s.is_dir);
        assert_eq!(s.rebase_name.as_deref(), Some("link"));
        let e = source_info(&format!("{d}/missing"), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("lstat {d}/missing: no such file or directory")
        );

        let dst = destination_info(&format!("{d}/link")).unwrap();
        assert!(dst.exists && dst.is_dir);
        assert_eq!(dst.path, format!("{d}/dir"));
        let dst = destination_info(&format!("{d}/dangling")).unwrap();
        assert!(!dst.exists);
        assert_eq!(dst.path, format!("{d}/nowhere"));
        let e = destination_info(&format!("{d}/nope/x")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("stat {d}/nope: no such file or directory")
        );
        assert!(validate_output_path(&format!("{d}/nope/x")).is_err());
        assert!(validate_output_path(&format!("{d}/file")).is_ok());
        assert!(validate_output_path("/dev/null").is_err(), "a device");
    }
}
