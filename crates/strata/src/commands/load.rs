//! `strata load [-i FILE]`: docker-archives (classic and Docker 25+ forms) and OCI archives.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{IsTerminal, Write};

use anyhow::{Context as _, bail};
use oci::{Descriptor, Index};
use store::Store;
use transport::{
    CopyOptions, CopyReport, DockerArchiveSource, ImageSource, OciArchiveSource, PlatformChoice,
    TarIndex,
};

use super::{Ctx, Plain, util};
use crate::cli::LoadArgs;

const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Loads every image of the archive and prints `Loaded image: NAME` per name, or
/// `Loaded image ID: sha256:…` for an image without one.
pub fn run(ctx: &Ctx, args: LoadArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (file, name) = match &args.input {
        Some(p) => (
            uncompressed(File::open(p).map_err(|e| Plain::open(p, &e))?)
                .with_context(|| format!("decompressing {}", p.display()))?,
            p.display().to_string(),
        ),
        None => (stdin_file()?, "standard input".to_string()),
    };
    let platform = util::platform_flag(args.platform.as_deref())?;
    let store = ctx.store()?;
    let tar = open_archive(&file, &name)?;
    let mut lines = Vec::new();
    // Docker 25+ writes both forms in one archive: read its OCI index then, which keeps
    // the manifests' digests (manifest.json would make new ones) and checks them.
    if tar.contains("oci-layout") && tar.contains("index.json") {
        let index = Index::from_slice(&tar.read_small("index.json", 16 << 20)?)
            .with_context(|| format!("reading index.json of {name}"))?;
        // An entry repeating an earlier one's manifest only adds its names: an archive of
        // many repeated entries costs linear time, not a scan and a copy per entry.
        let mut loaded: HashMap<oci::Digest, Loaded> = HashMap::new();
        for entry in &index.manifests {
            let names = oci_names(entry);
            let image = match loaded.entry(entry.digest.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let tar = TarIndex::open_named(file.try_clone()?, name.clone())?;
                    let src = OciArchiveSource::from_tar(tar, Some(&entry.digest.to_string()))?;
                    e.insert(copy_one(&store, &src, names.first(), platform.as_ref())?)
                }
            };
            lines.extend(name_one(&store, image, &names)?);
        }
    } else if tar.contains("manifest.json") {
        let archive = DockerArchiveSource::from_tar(tar)?;
        let mut loaded: HashMap<usize, Loaded> = HashMap::new();
        for image in archive.list() {
            let names = image
                .repo_tags
                .iter()
                .map(|t| util::parse_reference(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let one = match loaded.entry(image.same_as.unwrap_or(image.index)) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(copy_one(
                    &store,
                    &archive.image(image.index)?,
                    names.first(),
                    platform.as_ref(),
                )?),
            };
            lines.extend(name_one(&store, one, &names)?);
        }
    } else {
        bail!(
            "{name} is neither a docker-archive (no manifest.json) nor an OCI archive \
             (no oci-layout)"
        );
    }
    // Docker's -q hides only the progress bars (strata draws none): the names still print.
    let _ = args.quiet;
    for l in lines {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

/// Indexes the archive; a malformed one fails as dockerd reports it: it untars the
/// archive and prints Go's tar error, found here (only once the scan failed) by reading
/// the stream as Go would.
fn open_archive(file: &File, name: &str) -> anyhow::Result<TarIndex> {
    match TarIndex::open_named(file.try_clone()?, name.to_string()) {
        Ok(t) => Ok(t),
        Err(e) => match go_tar_error(file) {
            Some(t) => Err(Plain::error(format!(
                "Error processing tar file(exit status 1): {t}"
            ))),
            None => Err(e.into()),
        },
    }
}

/// What Go's `archive/tar` says of the archive in `file`, when it finds it malformed.
fn go_tar_error(file: &File) -> Option<layer::TarFormatError> {
    use std::io::{Read, Seek};
    let mut f = file.try_clone().ok()?;
    f.rewind().ok()?;
    let mut r = layer::MeasuringReader::new(std::io::BufReader::new(f));
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return layer::TarFormatError::of(&e).cloned(),
        }
    }
}

/// The names an OCI index entry carries: containerd's full name, or a `ref.name` that is a
/// whole reference (a bare tag such as `v1` names no repository).
fn oci_names(entry: &Descriptor) -> Vec<oci::Reference> {
    let name = entry.annotations.get(CONTAINERD_NAME).or_else(|| {
        entry
            .annotations
            .get(transport::REF_NAME_ANNOTATION)
            .filter(|n| n.contains('/') || n.contains(':'))
    });
    name.and_then(|n| oci::Reference::parse(n).ok())
        .filter(|r| r.tag().is_some())
        .into_iter()
        .collect()
}

/// An image copied into the store: its top-level descriptor and its ID, held (from a
/// concurrent prune) while the load runs.
#[derive(Debug)]
struct Loaded {
    _hold: store::Lease,
    top: Descriptor,
    id: oci::Digest,
    /// The ID of the image the first name pointed at before the copy moved it here.
    replaced: Option<oci::Digest>,
    /// The names given to it so far (a repeated entry's need no second write).
    named: HashSet<String>,
}

/// Copies one image into the store, tagged `first` when it has a name.
fn copy_one<S: ImageSource>(
    store: &Store,
    src: &S,
    first: Option<&oci::Reference>,
    platform: Option<&oci::Platform>,
) -> anyhow::Result<Loaded> {
    let replaced = first.and_then(|n| store.resolve_image(&n.to_string()).ok().map(|i| i.id));
    // Held as long as the load runs (the image's other names and repeated entries are
    // written after the copy): a prune meanwhile leaves it.
    let hold = store.lease()?;
    // The tag goes with the copy (not after it) so that a concurrent prune never sees the
    // image untagged; name_one re-tags it, which changes nothing.
    let report = copy_into_store(store, src, first.map(ToString::to_string), platform, &hold)?;
    let id = match &report.config {
        Some(id) => id.clone(),
        None => store.resolve_image(&report.top.digest.to_string())?.id,
    };
    Ok(Loaded {
        _hold: hold,
        replaced: replaced.filter(|r| *r != id),
        top: report.top,
        id,
        named: HashSet::new(),
    })
}

/// Gives a loaded image `names` and returns the entry's output lines.
fn name_one(
    store: &Store,
    image: &mut Loaded,
    names: &[oci::Reference],
) -> anyhow::Result<Vec<String>> {
    store.image_event("load", &image.id.to_string(), None);
    if names.is_empty() {
        return Ok(vec![format!("Loaded image ID: {}", image.id)]);
    }
    let mut lines = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let full = n.to_string();
        if image.named.contains(&full) {
            continue;
        }
        // The image the name pointed at before, to report the one it takes over (the first
        // name moved with the copy).
        let old = match store.set_tag(&full, &image.top)? {
            Some(m) => store.resolve_image(&m.to_string()).ok().map(|i| i.id),
            None if i == 0 => image.replaced.take(),
            None => None,
        };
        lines.extend(renamed_line(&n.familiar(), old.as_ref(), &image.id));
        image.named.insert(full);
    }
    lines.extend(
        names
            .iter()
            .map(|n| format!("Loaded image: {}", n.familiar())),
    );
    Ok(lines)
}

/// Docker's notice when a loaded name took over a tag of another image (that image keeps
/// its ID, untagged), `None` when the name was free or already this image's.
fn renamed_line(name: &str, old: Option<&oci::Digest>, new: &oci::Digest) -> Option<String> {
    let old = old.filter(|o| *o != new)?;
    Some(format!(
        "The image {name} already exists, renaming the old one with ID {old} to empty string"
    ))
}

/// Every platform the archive has; if it lacks some of an index's (a single-platform save
/// of a multi-platform image), the host's. With `--platform`, that platform's only, the
/// index kept (as Docker 28's `load --platform`).
fn copy_into_store<S: ImageSource>(
    store: &Store,
    src: &S,
    tag: Option<String>,
    platform: Option<&oci::Platform>,
    hold: &store::Lease,
) -> anyhow::Result<CopyReport> {
    util::block_on(async {
        let mut opts = CopyOptions {
            platforms: PlatformChoice::All,
            tag,
            ..CopyOptions::default()
        };
        if let Some(p) = platform {
            opts.platforms = PlatformChoice::List(vec![p.clone()]);
            return Ok(util::copy_to_store(store, src, &opts, hold).await?);
        }
        match util::copy_to_store(store, src, &opts, hold).await {
            Err(e) if e.is_not_found() => {
                tracing::debug!("loading every platform failed ({e}); loading the host's");
                opts.platforms = PlatformChoice::Host;
                Ok(util::copy_to_store(store, src, &opts, hold).await?)
            }
            other => Ok(other?),
        }
    })?
}

/// Standard input as a seekable file: itself when redirected from a file, else spooled.
fn stdin_file() -> anyhow::Result<File> {
    if std::io::stdin().is_terminal() {
        bail!("requested load from stdin, but stdin is empty");
    }
    let fd = std::os::fd::AsFd::as_fd(&std::io::stdin())
        .try_clone_to_owned()
        .context("duplicating stdin")?;
    let f = File::from(fd);
    if f.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return uncompressed(f).context("decompressing standard input");
    }
    // A pipe: decompressed (when it is) on its way to the spool file.
    let (compression, input) = layer::sniff(std::io::stdin())?;
    Ok(transport::spool_to_tempfile(layer::decompress(
        input,
        compression,
    )?)?)
}

/// `file` as a plain tar. `docker load` also takes a gzip or zstd compressed archive;
/// reading an archive needs random access, so a compressed one is decompressed, as it
/// streams, into a temporary file.
fn uncompressed(mut file: File) -> anyhow::Result<File> {
    use std::io::Seek;
    let (compression, _) = layer::sniff(&mut file)?;
    file.rewind()?;
    if compression == layer::Compression::None {
        return Ok(file);
    }
    Ok(transport::spool_to_tempfile(layer::decompress(
        file,
        compression,
    )?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_malformed_archive_gets_gos_tar_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        for (bytes, want) in [
            (&b"junk\n"[..], Some(layer::TarFormatError::UnexpectedEof)),
            (
                &[b'x'; 1024][..],
                Some(layer::TarFormatError::InvalidHeader),
            ),
            (&[0u8; 1024][..], None),
        ] {
            std::fs::write(&path, bytes).unwrap();
            let f = File::open(&path).unwrap();
            assert_eq!(go_tar_error(&f), want);
        }
    }

    #[test]
    fn loading_over_another_images_tag_names_the_old_id() {
        let (a, b) = (oci::Digest::sha256_of(b"a"), oci::Digest::sha256_of(b"b"));
        assert_eq!(
            renamed_line("app:1", Some(&a), &b).as_deref(),
            Some(
                format!(
                    "The image app:1 already exists, renaming the old one with ID {a} to empty string"
                )
                .as_str()
            )
        );
        assert_eq!(renamed_line("app:1", Some(&b), &b), None);
        assert_eq!(renamed_line("app:1", None, &b), None);
    }

    #[test]
    fn names_from_index_annotations() {
        let d = oci::Digest::sha256_of(b"");
        for (annotations, want) in [
            (vec![], vec![]),
            (
                vec![(CONTAINERD_NAME, "docker.io/library/app:v1")],
                vec!["app:v1"],
            ),
            (vec![(transport::REF_NAME_ANNOTATION, "v1")], vec![]),
            (
                vec![(transport::REF_NAME_ANNOTATION, "app:v9")],
                vec!["app:v9"],
            ),
            (
                vec![(transport::REF_NAME_ANNOTATION, "localhost:5000/x/y:z")],
                vec!["localhost:5000/x/y:z"],
            ),
            (
                vec![
                    (CONTAINERD_NAME, "docker.io/library/real:1"),
                    (transport::REF_NAME_ANNOTATION, "1"),
                ],
                vec!["real:1"],
            ),
            (vec![(CONTAINERD_NAME, "Not A Name")], vec![]),
        ] {
            let mut entry = Descriptor::new(oci::media::OCI_MANIFEST, d.clone(), 0);
            entry.annotations = annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>();
            let got: Vec<String> = oci_names(&entry).iter().map(|r| r.familiar()).collect();
            assert_eq!(got, want, "{annotations:?}");
        }
    }
}
