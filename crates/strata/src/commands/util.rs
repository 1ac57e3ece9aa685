//! Small helpers the commands share: names as Docker shows them, times, the async runtime.

use std::future::Future;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use oci::{ImageConfig, Platform, Reference};
use store::{ImageInfo, Store};

/// Runs a future on a fresh multi-threaded runtime (one per command).
pub fn block_on<F: Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(rt.block_on(f))
}

/// Copies `src` into the store. A copy that fails for any reason but a transient one (an
/// interruption a later pull resumes from) has what it stored collected again, so bad
/// content leaves the store as it was.
///
/// The copied image passes to `hold` before the copy's own lease ends, so a concurrent
/// `image prune` cannot take it between the copy and the caller's last write (a pull's
/// repo digest, a load's other tags, the container made from it).
pub async fn copy_to_store<S: transport::ImageSource>(
    store: &Store,
    src: &S,
    opts: &transport::CopyOptions,
    hold: &store::Lease,
) -> Result<transport::CopyReport, transport::TransportError> {
    let dst = transport::StoreDestination::new(store.clone())?;
    let copied = transport::copy(src, &dst, opts).await;
    if let Ok(report) = &copied {
        // One database write; the destination (and its lease) is still alive here.
        hold.add(&report.top.digest)?;
    }
    match copied {
        Err(e) if !e.is_transient() => {
            match tokio::task::spawn_blocking(move || dst.discard()).await {
                Ok(Err(gc)) => tracing::warn!("cleaning up after the failed copy: {gc}"),
                Err(join) => tracing::warn!("cleaning up after the failed copy: {join}"),
                Ok(Ok(_)) => {}
            }
            Err(e)
        }
        other => other,
    }
}

/// A stored full name (`docker.io/library/alpine:latest`) as Docker shows it (`alpine:latest`).
pub fn familiar(full: &str) -> String {
    match Reference::parse(full) {
        Ok(r) => r.familiar(),
        Err(_) => full.to_string(),
    }
}

/// A stored full name split into Docker's REPOSITORY and TAG columns.
pub fn repo_and_tag(full: &str) -> (String, String) {
    match Reference::parse(full) {
        Ok(r) => (r.familiar_name(), r.tag().unwrap_or("<none>").to_string()),
        Err(_) => (full.to_string(), "<none>".to_string()),
    }
}

/// A stored repo digest (`docker.io/library/alpine@sha256:…`) as Docker shows it.
pub fn familiar_repo_digest(full: &str) -> String {
    match full.split_once('@') {
        Some((repo, digest)) => {
            let repo = Reference::parse(repo)
                .map(|r| r.familiar_name())
                .unwrap_or_else(|_| repo.to_string());
            format!("{repo}@{digest}")
        }
        None => full.to_string(),
    }
}

/// Parses a user's image name for writing (a tag target, an import name): normalised,
/// `latest` added.
pub fn parse_reference(s: &str) -> anyhow::Result<Reference> {
    Reference::parse(s).map_err(|e| match e {
        oci::OciError::Reference { source, .. } => anyhow::anyhow!(reference_message(&source)),
        other => anyhow::anyhow!("invalid reference format: {other}"),
    })
}

/// Docker's wording for a reference that does not parse: `invalid reference format: …`.
pub fn reference_message(e: &oci::reference::ReferenceError) -> String {
    let msg = e.message();
    if msg.starts_with("invalid reference format") {
        msg
    } else {
        format!("invalid reference format: {msg}")
    }
}

/// Docker 20.10's wording (docker/distribution's) for a reference that does not parse,
/// which names no repository in its lower-case message, unlike [`reference_message`].
pub fn go_reference_message(e: &oci::reference::ReferenceError) -> String {
    match e.kind {
        oci::reference::ReferenceErrorKind::RemoteNotLowercase { .. } => {
            "invalid reference format: repository name must be lowercase".into()
        }
        _ => reference_message(e),
    }
}

/// `--platform` (`linux/arm64/v8`), or the host's.
pub fn platform_or_host(s: Option<&str>) -> anyhow::Result<Platform> {
    match s {
        Some(p) => Ok(p.parse::<Platform>()?.normalize()),
        None => Ok(Platform::host()),
    }
}

/// Parses an RFC 3339 time as configs write it.
pub fn parse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The parsed config of a stored image (its ID is the config's digest).
pub fn image_config(store: &Store, info: &ImageInfo) -> anyhow::Result<ImageConfig> {
    let bytes = store
        .image_config(info)
        .with_context(|| format!("reading the config of {}", info.id))?;
    ImageConfig::from_slice(&bytes).with_context(|| format!("parsing the config {}", info.id))
}

/// Finds an image by any name Docker accepts; "No such image: X" when there is none, X
/// written as dockerd's `ErrImageDoesNotExist` does (see [`missing_image_name`]).
pub fn resolve(store: &Store, name: &str) -> anyhow::Result<ImageInfo> {
    store.resolve_image(name).map_err(|e| lookup_error(name, e))
}

/// [`resolve`], holding the image under `lease` (see [`store::Lease::hold_image`]) so a
/// concurrent `image prune` leaves it until the lease drops.
pub fn hold(lease: &store::Lease, name: &str) -> anyhow::Result<ImageInfo> {
    lease.hold_image(name).map_err(|e| lookup_error(name, e))
}

/// The `--platform` of an image command: `None` without the flag, else the parsed and
/// normalised platform.
pub fn platform_flag(s: Option<&str>) -> anyhow::Result<Option<Platform>> {
    s.map(|p| platform_or_host(Some(p))).transpose()
}

/// [`resolve`], then the manifest for `platform` when given (a multi-platform image's
/// entry, see [`store::Store::select_platform`]), with the store's words when the image
/// does not provide or hold that platform.
pub fn resolve_platform(
    store: &Store,
    name: &str,
    platform: Option<&Platform>,
) -> anyhow::Result<ImageInfo> {
    let info = resolve(store, name)?;
    match platform {
        Some(p) => store
            .select_platform(info, name, p)
            .map_err(|e| anyhow::anyhow!("{e}")),
        None => Ok(info),
    }
}

/// [`hold`], then the manifest for `platform` when given (see [`resolve_platform`]).
pub fn hold_platform(
    lease: &store::Lease,
    name: &str,
    platform: Option<&Platform>,
) -> anyhow::Result<ImageInfo> {
    let info = hold(lease, name)?;
    match platform {
        // Held once: the platform's manifest is chosen from what is held.
        Some(p) => lease
            .store()
            .select_platform(info, name, p)
            .map_err(|e| anyhow::anyhow!("{e}")),
        None => Ok(info),
    }
}

/// Docker's words for a failed image lookup.
fn lookup_error(name: &str, e: store::StoreError) -> anyhow::Error {
    if e.is_not_found() {
        // A name that is no reference at all gets Docker's format error instead.
        match oci::reference::parse_any_reference(name) {
            Err(bad) => anyhow::anyhow!(reference_message(&bad)),
            Ok(r) => anyhow::anyhow!("No such image: {}", missing_image_name(r)),
        }
    } else {
        anyhow::Error::new(e)
    }
}

/// How dockerd names an image it does not have: a name in its familiar form with `latest`
/// added when it has neither tag nor digest (`nosuch` → `nosuch:latest`), a digest as given.
pub fn missing_image_name(r: oci::reference::AnyReference) -> String {
    match r {
        oci::reference::AnyReference::Named(n) => n.tag_name_only().familiar_string(),
        oci::reference::AnyReference::Digest(d) => d,
    }
}

/// "now" for ages, honouring nothing but the clock.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// `s` cut to `max` characters with an ellipsis, as Docker's `stringutils.Ellipsis`.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A second handle on stdout that can move to the archive's writer thread.
pub fn stdout_file() -> anyhow::Result<std::fs::File> {
    let fd = std::os::fd::AsFd::as_fd(&std::io::stdout())
        .try_clone_to_owned()
        .context("duplicating stdout")?;
    Ok(std::fs::File::from(fd))
}

/// The directory `-o PATH` would go in when it does not exist (Docker's client checks it
/// before doing anything, in `ValidateOutputPath`: the parent of the cleaned path, unless
/// it is `.`).
pub fn missing_output_dir(path: &std::path::Path) -> Option<std::path::PathBuf> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    (!dir.exists()).then(|| dir.to_path_buf())
}

/// Docker's client checks for a command that writes an archive (`save`, `export`) before
/// it asks the daemon, printed bare: no terminal as the output without `-o`, and an `-o`
/// whose directory exists. `failed` begins the second message ("failed to save image").
pub fn check_archive_output(output: Option<&std::path::Path>, failed: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(super::Plain::error(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    if let Some(dir) = output.and_then(missing_output_dir) {
        return Err(super::Plain::error(format!(
            "{failed}: invalid output path: directory {:?} does not exist",
            dir.display().to_string()
        )));
    }
    Ok(())
}

/// A prune's last line: `Total reclaimed space: 1.2MB` (go-units, as Docker prints it).
pub fn print_reclaimed(out: &mut dyn std::io::Write, bytes: u64) -> anyhow::Result<()> {
    writeln!(
        out,
        "Total reclaimed space: {}",
        crate::render::units::reclaimed_size(bytes)
    )?;
    Ok(())
}

/// Writes `question` and ` [y/N] `, reads a line from stdin; true when it is yes.
pub fn ask_yes_no(out: &mut dyn std::io::Write, question: &str) -> anyhow::Result<bool> {
    use std::io::BufRead;
    write!(out, "{question} [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_familiar_names() {
        for (full, want, repo, tag) in [
            (
                "docker.io/library/alpine:latest",
                "alpine:latest",
                "alpine",
                "latest",
            ),
            ("docker.io/user/app:v1", "user/app:v1", "user/app", "v1"),
            (
                "localhost:5000/app:v2",
                "localhost:5000/app:v2",
                "localhost:5000/app",
                "v2",
            ),
        ] {
            assert_eq!(familiar(full), want);
            assert_eq!(repo_and_tag(full), (repo.to_string(), tag.to_string()));
        }
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            familiar_repo_digest(&format!("docker.io/library/alpine@{d}")),
            format!("alpine@{d}")
        );
    }

    #[test]
    fn missing_image_name_like_dockerd() {
        for (name, want) in [
            ("nosuch", "nosuch:latest"),
            ("nosuch:1", "nosuch:1"),
            ("docker.io/library/nosuch", "nosuch:latest"),
            ("localhost:5000/a/b", "localhost:5000/a/b:latest"),
        ] {
            let r = oci::reference::parse_any_reference(name).unwrap();
            assert_eq!(missing_image_name(r), want, "{name}");
        }
    }

    #[test]
    fn ellipsis_like_docker() {
        for (s, max, want) in [("abc", 3, "abc"), ("abcd", 3, "ab…"), ("", 3, "")] {
            assert_eq!(ellipsis(s, max), want);
        }
    }
}
