//! `commit`: a container's writable layer becomes a new image.
//!
//! The upper directory is turned into a layer tar by [`layer::create_layer`] and the
//! stream is rewritten on the way (one pass, nothing held in memory): an overlay whiteout
//! (character device 0/0) becomes an empty `.wh.NAME` file, a directory marked
//! `trusted.overlay.opaque=y` gets a `.wh..wh..opq` entry, and `trusted.overlay.*`
//! attributes are dropped. The image keeps the container's execution context (env, working
//! dir, user, entrypoint, cmd, exposed ports, volumes), with `--change` lines applied, and
//! gains a history entry.

use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use oci::{ContainerConfig, Descriptor, ImageConfig, Manifest, media};
use store::Store;

use crate::container::Container;
use crate::oci_runtime::OciRuntime;
use crate::record::{ContainerRecord, Status, now_rfc3339};
use crate::{MountKind, RuntimeError, spec};

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const DROPPED_PAX: &str = "SCHILY.xattr.trusted.overlay.";

/// Options of `commit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOptions {
    /// Tag the image with this full, normalised name (`docker.io/library/app:latest`).
    pub reference: Option<String>,
    /// `-a`.
    pub author: Option<String>,
    /// `-m`.
    pub message: Option<String>,
    /// `-c` lines (`ENV A=1`, `CMD ["x"]`, …).
    pub changes: Vec<String>,
    /// `--pause`: freeze a running container while its layer is read.
    pub pause: bool,
}

/// What `commit` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The new manifest.
    pub manifest: Descriptor,
    /// The image ID (config digest).
    pub id: oci::Digest,
}

fn bad_layer(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes the overlay upper directory `upper` as a layer tar (Docker's whiteout form) to
/// `out`.
pub fn upper_to_layer(upper: &Path, out: impl Write) -> Result<(), RuntimeError> {
    let (reader, writer) = io::pipe().map_err(|e| RuntimeError::io("make a pipe for", upper, e))?;
    let src = upper.to_path_buf();
    let producer = std::thread::spawn(move || {
        layer::create_layer(&src, writer, &layer::CreateOptions::default())
    });
    let rewritten = rewrite(upper, reader, out);
    let produced = producer
        .join()
        .map_err(|_| RuntimeError::io("read", upper, io::Error::other("layer writer panicked")))?;
    // The producer's error (the real cause) wins over the broken pipe it leaves us.
    produced.map_err(|source| RuntimeError::Layer {
        diff_id: format!("of {}", upper.display()),
        source,
    })?;
    rewritten.map_err(|e| RuntimeError::io("write the layer of", upper, e))
}

fn rewrite(upper: &Path, tar_in: impl Read, out: impl Write) -> io::Result<()> {
    let mut archive = tar::Archive::new(tar_in);
    let mut builder = tar::Builder::new(out);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path_bytes().into_owned();
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(exts) = entry.pax_extensions()? {
            for ext in exts {
                let ext = ext?;
                let key = ext.key().map_err(bad_layer)?.to_string();
                if !key.starts_with(DROPPED_PAX) {
                    pax.push((key, ext.value_bytes().to_vec()));
                }
            }
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let trimmed = path.strip_suffix(b"/").unwrap_or(&path).to_vec();
        if kind.is_character_special()
            && header.device_major()? == Some(0)
            && header.device_minor()? == Some(0)
        {
            let (parent, base) = match trimmed.iter().rposition(|&b| b == b'/') {
                Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
                None => (&b""[..], &trimmed[..]),
            };
            let name = [parent, b".wh.", base].concat();
            append_empty(&mut builder, &header, &name)?;
            continue;
        }
        if !pax.is_empty() {
            builder.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
        }
        builder.append(&header, &mut entry)?;
        if kind.is_dir() {
            let on_disk = upper.join(std::ffi::OsStr::from_bytes(&trimmed));
            let mut buf = [0u8; 2];
            if matches!(rustix::fs::lgetxattr(&on_disk, OPAQUE_XATTR, &mut buf[..]), Ok(1) if buf[0] == b'y')
            {
                let name = [&trimmed[..], b"/.wh..wh..opq"].concat();
                append_empty(&mut builder, &header, &name)?;
            }
        }
    }
    builder.into_inner()?.flush()
}

/// An empty regular file `name` (a whiteout marker), with `like`'s owner and time.
fn append_empty<W: Write>(
    b: &mut tar::Builder<W>,
    like: &tar::Header,
    name: &[u8],
) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(like.mtime().unwrap_or(0));
    let name = std::str::from_utf8(name).map_err(bad_layer)?;
    b.append_data(&mut h, name, io::empty())
}

/// The container's execution context as an image's `config`: what it actually ran with.
pub fn container_config(record: &ContainerRecord, image: &ContainerConfig) -> ContainerConfig {
    let opts = &record.options;
    let mut cfg = image.clone();
    // runconfig.Merge: the user's entries, then the image's whose key the user did not set.
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    let mut env = opts
        .env
        .iter()
        .filter(|e| e.contains('='))
        .cloned()
        .collect::<Vec<_>>();
    for e in &image.env {
        if !opts.env.iter().any(|u| key(u) == key(e)) {
            env.push(e.clone());
        }
    }
    cfg.env = env;
    match &opts.entrypoint {
        Some(ep) => {
            let ep = if ep.len() == 1 && ep[0].is_empty() {
                Vec::new()
            } else {
                ep.clone()
            };
            cfg.entrypoint = Some(ep);
            cfg.cmd = Some(opts.cmd.clone());
        }
        None if !opts.cmd.is_empty() => cfg.cmd = Some(opts.cmd.clone()),
        None => {}
    }
    if let Some(w) = &opts.workdir {
        cfg.working_dir = Some(w.clone());
    }
    if let Some(u) = &opts.user {
        cfg.user = Some(u.clone());
    }
    for p in &opts.publish {
        cfg.exposed_ports
            .entry(format!("{}/{}", p.container_port, p.protocol))
            .or_default();
    }
    for m in &opts.mounts {
        if let MountKind::Volume { name, .. } = &m.kind
            && name.len() == 64
        {
            // An anonymous volume (`-v /path`) is a VOLUME of the container.
            cfg.volumes.entry(m.destination.clone()).or_default();
        }
    }
    cfg
}

/// Commits container `c` as a new image and returns it.
pub fn commit(
    store: &Store,
    runtime: &OciRuntime,
    c: &Container,
    opts: &CommitOptions,
) -> Result<Committed, RuntimeError> {
    let record = &c.record;
    let info = crate::container::record_image(store, record)?;
    let bad = |detail: String| RuntimeError::BadImage {
        image: record.image.clone(),
        detail,
    };
    let base =
        ImageConfig::from_slice(&store.image_config(&info)?).map_err(|e| bad(e.to_string()))?;
    let manifest = Manifest::from_slice(&store.manifest_bytes(&info.manifest)?)
        .map_err(|e| bad(e.to_string()))?;
    let mut config = base.clone();
    config.config = container_config(record, &base.config);
    oci::change::apply_changes(&mut config.config, &opts.changes)
        .map_err(|e| RuntimeError::InvalidOptions(e.to_string()))?;

    let docker = manifest.effective_media_type() == media::DOCKER_MANIFEST;
    let (layer_type, config_type) = if docker {
        (media::DOCKER_LAYER_GZIP, media::DOCKER_CONFIG)
    } else {
        (media::OCI_LAYER_GZIP, media::OCI_CONFIG)
    };
    // Held from the layer's commit until the image is tagged: a prune in between would
    // take what is not yet referred to.
    let lease = store.lease()?;
    let paused = opts.pause && c.state.status == Status::Running && c.is_running(runtime)?;
    if paused {
        runtime.pause(&record.id, &c.dir.runtime_log())?;
    }
    let written = write_layer(store, &lease, c, layer_type);
    if paused {
        runtime.resume(&record.id, &c.dir.runtime_log())?;
    }
    let (layer_desc, digests) = written?;
    // Docker's image and history SIZE: the layer unpacked, measured as it was written.
    if let Some(unpacked) = digests.unpacked_size {
        store.set_unpacked_size(&layer_desc.digest, unpacked)?;
    }

    let now = now_rfc3339();
    config.created = Some(now.clone());
    if let Some(a) = &opts.author {
        config.author = Some(a.clone());
    }
    // The image's comment is the commit message (dockerd's `comment`, omitted when
    // empty), never the base image's.
    config.extra.remove("comment");
    if let Some(m) = opts.message.as_ref().filter(|m| !m.is_empty()) {
        config.extra.insert("comment".into(), m.clone().into());
    }
    config.rootfs.diff_ids.push(digests.diff_id);
    let cmd = spec::command(&base.config, &record.options).unwrap_or_default();
    config.history.push(oci::config::History {
        created: Some(now),
        created_by: Some(cmd.join(" ")),
        author: opts.author.clone(),
        comment: opts.message.clone(),
        ..Default::default()
    });
    let config_bytes = config.to_vec();
    let mut new_manifest = manifest.clone();
    new_manifest.config = Descriptor::of_bytes(config_type, &config_bytes);
    new_manifest.layers.push(layer_desc);
    new_manifest.annotations.clear();
    let tags: Vec<String> = opts.reference.iter().cloned().collect();
    let stored = store.put_image(&lease, &new_manifest, &config_bytes, &tags)?;
    drop(lease);
    crate::events::container(
        c,
        "commit",
        &[
            ("comment", opts.message.clone().unwrap_or_default()),
            ("imageID", stored.id.to_string()),
            // Docker names the reference in its familiar form (`app:latest`).
            (
                "imageRef",
                opts.reference
                    .as_deref()
                    .map(|r| {
                        oci::reference::parse_normalized_named(r)
                            .map_or_else(|_| r.to_string(), |n| n.familiar_string())
                    })
                    .unwrap_or_default(),
            ),
        ],
    );
    Ok(Committed {
        manifest: stored.manifest,
        id: stored.id,
    })
}

/// Writes the container's layer, gzip-compressed, straight into the store (once) as
/// `media_type`, under `lease`.
fn write_layer(
    store: &Store,
    lease: &store::Lease,
    c: &Container,
    media_type: &str,
) -> Result<(Descriptor, layer::LayerDigests), RuntimeError> {
    let layer_err = |source| RuntimeError::Layer {
        diff_id: "of the container".into(),
        source,
    };
    let blob = store.blob_writer(lease)?;
    let mut w = layer::LayerWriter::new(blob, layer::Compression::Gzip, None).map_err(layer_err)?;
    upper_to_layer(&c.dir.upper(), &mut w)?;
    let (blob, digests) = w.finish().map_err(layer_err)?;
    let desc = blob.commit(media_type)?;
    Ok((desc, digests))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunOptions;
    use std::fs;

    fn record(opts: RunOptions) -> ContainerRecord {
        ContainerRecord {
            id: "a".repeat(64),
            name: "n".into(),
            image: "img".into(),
            image_id: String::new(),
            image_target: String::new(),
            platform: None,
            created: String::new(),
            options: opts,
            args: vec![],
            stop_signal: "SIGTERM".into(),
            runtime: "runc".into(),
            start_error: None,
        }
    }

    #[test]
    fn keeps_the_execution_context() {
        let image = ContainerConfig {
            env: vec!["PATH=/bin".into(), "A=1".into()],
            entrypoint: Some(vec!["/ep".into()]),
            cmd: Some(vec!["serve".into()]),
            ..Default::default()
        };
        let c = container_config(
            &record(RunOptions {
                env: vec!["A=2".into(), "B=3".into(), "UNSET".into()],
                cmd: vec!["other".into()],
                workdir: Some("/w".into()),
                user: Some("app".into()),
                publish: crate::ports::parse_publish("8080:80").unwrap(),
                ..Default::default()
            }),
            &image,
        );
        assert_eq!(c.env, ["A=2", "B=3", "PATH=/bin"]);
        assert_eq!(c.entrypoint, Some(vec!["/ep".to_string()]));
        assert_eq!(c.cmd, Some(vec!["other".to_string()]));
        assert_eq!(
            (c.working_dir.as_deref(), c.user.as_deref()),
            (Some("/w"), Some("app"))
        );
        assert!(c.exposed_ports.contains_key("80/tcp"));
        let reset = container_config(
            &record(RunOptions {
                entrypoint: Some(vec!["".into()]),
                ..Default::default()
            }),
            &image,
        );
        assert_eq!((reset.entrypoint, reset.cmd), (Some(vec![]), Some(vec![])));
    }

    /// Needs root (whiteout devices, trusted xattrs).
    #[test]
    fn upper_whiteouts_become_docker_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path();
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::create_dir_all(upper.join("opq")).unwrap();
        fs::write(upper.join("etc/new"), "n").unwrap();
        fs::write(upper.join("opq/f"), "f").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            upper.join("etc/gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .expect("mknod (needs root)");
        rustix::fs::setxattr(
            upper.join("opq"),
            OPAQUE_XATTR,
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        let mut tar_bytes = Vec::new();
        upper_to_layer(upper, &mut tar_bytes).unwrap();
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        let mut names = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let xattrs: Vec<String> = e
                .pax_extensions()
                .unwrap()
                .map(|x| x.map(|x| x.unwrap().key().unwrap().to_string()).collect())
                .unwrap_or_default();
            assert!(
                !xattrs.iter().any(|k| k.contains("overlay")),
                "{name}: {xattrs:?}"
            );
            names.push((name, e.header().entry_type()));
        }
        let kinds: Vec<(&str, bool)> = names
            .iter()
            .map(|(n, t)| (n.as_str(), t.is_file()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("etc/", false),
                ("etc/.wh.gone", true),
                ("etc/new", true),
                ("opq/", false),
                ("opq/.wh..wh..opq", true),
                ("opq/f", true),
            ]
        );
    }

    /// Needs root. Overlayfs gives all whiteouts of an upper directory one inode; a commit
    /// of two deletions wrote one `.wh.` file and a hard link to a name not in the layer.
    #[test]
    fn two_deletions_are_two_whiteouts_not_a_hardlink() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path();
        fs::create_dir_all(upper.join("etc")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            upper.join("etc/a"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .expect("mknod (needs root)");
        fs::hard_link(upper.join("etc/a"), upper.join("etc/b")).unwrap();
        fs::hard_link(upper.join("etc/a"), upper.join("gone")).unwrap();
        let mut tar_bytes = Vec::new();
        upper_to_layer(upper, &mut tar_bytes).unwrap();
        let entries: Vec<(String, bool)> = tar::Archive::new(&tar_bytes[..])
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                (name, e.header().entry_type() == tar::EntryType::Regular)
            })
            .collect();
        let want = [
            ("etc/".to_string(), false),
            ("etc/.wh.a".into(), true),
            ("etc/.wh.b".into(), true),
            (".wh.gone".into(), true),
        ];
        assert_eq!(entries, want);
    }
}
