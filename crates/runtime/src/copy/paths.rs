//! `docker cp`'s path rules, as pure string functions (Go's `path/filepath` semantics on
//! `/`-separated paths, and the decisions of Docker's `pkg/archive/copy.go`): what a
//! trailing `/` or `/.` asserts, where an archive is extracted and under which name.

/// Go's `filepath.Clean`: the shortest lexically equal path (`.` for the empty path).
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|p| *p != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Base`: the last element, trailing slashes ignored (`/` for the root,
/// `.` for the empty path).
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `filepath.Dir`: everything but the last element, cleaned.
pub fn dir(path: &str) -> String {
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    clean(&path[..cut])
}

/// Go's `filepath.Split`: the directory part (with its trailing `/`) and the file part.
pub fn split(path: &str) -> (&str, &str) {
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    (&path[..cut], &path[cut..])
}

/// Whether `path` ends with a separator.
pub fn has_trailing_separator(path: &str) -> bool {
    path.ends_with('/')
}

/// Whether the last element of `path` is `.`.
pub fn specifies_current_dir(path: &str) -> bool {
    base(path) == "."
}

/// Whether `path` says it must be a directory (a trailing `/` or `/.`).
pub fn asserts_directory(path: &str) -> bool {
    has_trailing_separator(path) || specifies_current_dir(path)
}

/// Gives the cleaned path back the trailing `/.` or `/` the original had.
pub fn preserve_trailing_dot_or_separator(cleaned: &str, original: &str) -> String {
    let mut out = cleaned.to_string();
    if !specifies_current_dir(&out) && specifies_current_dir(original) {
        if !has_trailing_separator(&out) {
            out.push('/');
        }
        out.push('.');
    }
    if !has_trailing_separator(&out) && has_trailing_separator(original) {
        out.push('/');
    }
    out
}

/// The directory and the entry in it that `path` names; a trailing `/.` keeps `.` as the
/// entry (`/dir/.` is `("/dir", ".")`).
pub fn split_path_dir_entry(path: &str) -> (String, String) {
    let mut cleaned = clean(path);
    if specifies_current_dir(path) {
        cleaned.push_str("/.");
    }
    (dir(&cleaned), base(&cleaned))
}

/// A path inside a container as Docker takes it: absolute (relative to `/`), cleaned, with
/// its trailing `/` or `/.` kept.
pub fn container_abs(path: &str) -> String {
    preserve_trailing_dot_or_separator(&clean(&format!("/{path}")), path)
}

/// After following the symlink `path` to `resolved`: the path to copy (with `path`'s
/// trailing `/` or `/.` carried over) and the name its archive must be given back, when
/// the last element changed.
pub fn rebase_name(path: &str, resolved: &str) -> (String, Option<String>) {
    let mut resolved = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if has_trailing_separator(path) && !has_trailing_separator(&resolved) {
        resolved.push('/');
    }
    let rebase = (base(path) != base(&resolved)).then(|| base(path));
    (resolved, rebase)
}

/// `docker cp`'s `CONTAINER:PATH` argument: the container (if any) and the path. An
/// absolute path, or a relative one starting with `.`, is local even with a `:`.
pub fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.starts_with('.') => (Some(c), p),
        _ => (None, arg),
    }
}

/// What is known of one end of a copy (Docker's `archive.CopyInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyInfo {
    /// The path.
    pub path: String,
    /// Whether it exists.
    pub exists: bool,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// The name the archive's top entry must be given (a followed symlink's own name).
    pub rebase_name: Option<String>,
}

/// Why a copy cannot be made, decided from the two ends alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepareError {
    /// A directory onto an existing file (`cannot copy directory`).
    CannotCopyDir,
    /// A file onto a missing path that asserts a directory (`no such directory`).
    DirNotExists,
}

impl PrepareError {
    /// Docker's wording.
    pub fn message(self) -> &'static str {
        match self {
            PrepareError::CannotCopyDir => "cannot copy directory",
            PrepareError::DirNotExists => "no such directory",
        }
    }
}

/// Where the source's archive is extracted, and the name its top entry then takes
/// (`None`: the archive's own name), given what the source and destination are (Docker's
/// `PrepareArchiveCopy`).
pub fn prepare_archive_copy(
    src: &CopyInfo,
    dst: &CopyInfo,
) -> Result<(String, Option<String>), PrepareError> {
    let (dst_dir, dst_base) = split_path_dir_entry(&dst.path);
    if dst.exists && dst.is_dir {
        // Extracted into the directory as it is.
        return Ok((dst.path.clone(), None));
    }
    if dst.exists && src.is_dir {
        return Err(PrepareError::CannotCopyDir);
    }
    if !dst.exists && !src.is_dir && asserts_directory(&dst.path) {
        return Err(PrepareError::DirNotExists);
    }
    // Extracted beside the destination, renamed to it.
    Ok((dst_dir, Some(dst_base)))
}

/// The name of the archive's top entry: the source's own (its last element, `.` for
/// `dir/.`), or the name a followed link asks for.
pub fn archive_name(src: &CopyInfo) -> String {
    src.rebase_name
        .clone()
        .unwrap_or_else(|| split_path_dir_entry(&src.path).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_functions() {
        for (p, c, b, d) in [
            ("", ".", ".", "."),
            ("/", "/", "/", "/"),
            ("a/b/", "a/b", "b", "a/b"),
            ("/a/./b/../c", "/a/c", "c", "/a/b/.."),
            ("/dir/.", "/dir", ".", "/dir"),
            ("../x", "../x", "x", ".."),
            ("/../x", "/x", "x", "/.."),
            ("a//b", "a/b", "b", "a"),
        ] {
            assert_eq!(clean(p), c, "clean {p}");
            assert_eq!(base(p), b, "base {p}");
            assert_eq!(dir(p), clean(d), "dir {p}");
        }
        assert_eq!(split("/a/b"), ("/a/", "b"));
        assert_eq!(split("/a/b/"), ("/a/b/", ""));
        assert_eq!(split("b"), ("", "b"));
    }

    #[test]
    fn trailing_dot_and_separator() {
        for (path, dir_entry, asserts, abs) in [
            ("/dir", ("/", "dir"), false, "/dir"),
            ("/dir/", ("/", "dir"), true, "/dir/"),
            ("/dir/.", ("/dir", "."), true, "/dir/."),
            ("dir/./", ("dir", "."), true, "/dir/./"),
            ("a/../b", (".", "b"), false, "/b"),
            ("/", ("/", "/"), true, "/"),
            (".", (".", "."), true, "/."),
        ] {
            let (d, e) = split_path_dir_entry(path);
            assert_eq!((d.as_str(), e.as_str()), dir_entry, "split {path}");
            assert_eq!(asserts_directory(path), asserts, "asserts {path}");
            assert_eq!(container_abs(path), abs, "abs {path}");
        }
    }

    #[test]
    fn rebase_after_following_a_link() {
        for (path, resolved, want, rebase) in [
            ("/link", "/target", "/target", Some("link")),
            ("/link/", "/target", "/target/", Some("link")),
            ("/link/.", "/target", "/target/.", None),
            ("/same", "/other/same", "/other/same", None),
        ] {
            let (r, n) = rebase_name(path, resolved);
            assert_eq!(r, want, "{path}");
            assert_eq!(n.as_deref(), rebase, "{path}");
        }
    }

    #[test]
    fn cp_arguments() {
        for (arg, want) in [
            ("c:/x", (Some("c"), "/x")),
            ("c:", (Some("c"), "")),
            ("/abs:x", (None, "/abs:x")),
            ("./file:name", (None, "./file:name")),
            ("file", (None, "file")),
            ("-", (None, "-")),
            ("c:rel/p", (Some("c"), "rel/p")),
        ] {
            assert_eq!(split_cp_arg(arg), want, "{arg}");
        }
    }

    fn info(path: &str, exists: bool, is_dir: bool) -> CopyInfo {
        CopyInfo {
            path: path.into(),
            exists,
            is_dir,
            rebase_name: None,
        }
    }

    /// The `docker cp` reference's DEST cases.
    #[test]
    fn where_an_archive_goes() {
        type Want = Result<(&'static str, Option<&'static str>), PrepareError>;
        let cases: &[(CopyInfo, CopyInfo, Want)] = &[
            // SRC file, DEST missing: saved as DEST.
            (
                info("/s/f", true, false),
                info("/d/new", false, false),
                Ok(("/d", Some("new"))),
            ),
            // SRC file, DEST missing and ends with /: error.
            (
                info("/s/f", true, false),
                info("/d/new/", false, false),
                Err(PrepareError::DirNotExists),
            ),
            // SRC file, DEST an existing file: overwritten.
            (
                info("/s/f", true, false),
                info("/d/old", true, false),
                Ok(("/d", Some("old"))),
            ),
            // SRC file, DEST a directory: copied into it.
            (
                info("/s/f", true, false),
                info("/d/dir", true, true),
                Ok(("/d/dir", None)),
            ),
            // SRC dir, DEST missing: created as DEST.
            (
                info("/s/dir", true, true),
                info("/d/new", false, false),
                Ok(("/d", Some("new"))),
            ),
            (
                info("/s/dir", true, true),
                info("/d/new/", false, false),
                Ok(("/d", Some("new"))),
            ),
            // SRC dir, DEST a file: error.
            (
                info("/s/dir", true, true),
                info("/d/f", true, false),
                Err(PrepareError::CannotCopyDir),
            ),
            // SRC dir, DEST a dir: copied into it (the archive names `dir` or `.`).
            (
                info("/s/dir", true, true),
                info("/d/dir", true, true),
                Ok(("/d/dir", None)),
            ),
            (
                info("/s/dir/.", true, true),
                info("/d/dir", true, true),
                Ok(("/d/dir", None)),
            ),
        ];
        for (src, dst, want) in cases {
            let got = prepare_archive_copy(src, dst);
            let got = got
                .as_ref()
                .map(|(d, n)| (d.as_str(), n.as_deref()))
                .map_err(|e| *e);
            assert_eq!(got, *want, "{src:?} -> {dst:?}");
        }
        assert_eq!(archive_name(&info("/s/dir/.", true, true)), ".");
        assert_eq!(archive_name(&info("/s/dir/", true, true)), "dir");
        let mut linked = info("/s/target", true, false);
        linked.rebase_name = Some("link".into());
        assert_eq!(archive_name(&linked), "link");
    }
}
