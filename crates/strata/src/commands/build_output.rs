//! `build --output`: where a build's result goes besides the store, in Docker's grammar.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use oci::Descriptor;
use transport::{
    CopyOptions, DockerArchiveDestination, OciArchiveDestination, PlatformChoice, StoreSource,
};

use super::util;

/// A file or standard output (`dest=-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// Standard output.
    Stdout,
    /// A file.
    Path(PathBuf),
}

/// What `--output` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=image`: the store only (the default).
    Image,
    /// `type=registry` or `type=image,push=true`: the store, then pushed to the registry
    /// of each `-t` name (what `--push` says).
    Registry,
    /// `type=local,dest=DIR` or `-o DIR`: the root filesystem as files.
    Local(PathBuf),
    /// `type=tar,dest=FILE|-` or `-o -`: the root filesystem as one tar.
    Tar(Dest),
    /// `type=oci,dest=FILE|-`: an OCI archive.
    Oci(Dest),
    /// `type=docker,dest=FILE|-`: a docker-archive (`docker load` reads it).
    Docker(Dest),
}

impl Output {
    /// Parses one `--output` value.
    pub fn parse(spec: &str) -> anyhow::Result<Output> {
        if spec == "-" {
            return Ok(Output::Tar(Dest::Stdout));
        }
        if !spec.contains('=') {
            return Ok(Output::Local(PathBuf::from(spec)));
        }
        let (mut kind, mut dest, mut push) = (None, None, false);
        for part in spec.split(',') {
            match part.split_once('=') {
                Some(("type", v)) => kind = Some(v),
                Some(("dest", v)) => dest = Some(v),
                Some(("push", v)) => {
                    push = v.parse::<bool>().map_err(|_| {
                        anyhow::anyhow!("invalid --output {spec:?}: push={v} is not true or false")
                    })?;
                }
                _ => bail!(
                    "invalid --output {spec:?}: expected type=image|registry|local|tar|oci|docker[,dest=PATH]"
                ),
            }
        }
        let file = |what: &str| -> anyhow::Result<Dest> {
            match dest {
                Some("-") => Ok(Dest::Stdout),
                Some(p) if !p.is_empty() => Ok(Dest::Path(PathBuf::from(p))),
                _ => bail!("--output type={what} needs dest=FILE (or dest=- for standard output)"),
            }
        };
        Ok(match kind {
            Some("image") if push => Output::Registry,
            Some("image") => Output::Image,
            Some("registry") => Output::Registry,
            Some("local") => match dest {
                Some(d) if !d.is_empty() && d != "-" => Output::Local(PathBuf::from(d)),
                _ => bail!("--output type=local needs dest=DIR"),
            },
            Some("tar") => Output::Tar(file("tar")?),
            Some("oci") => Output::Oci(file("oci")?),
            Some("docker") => Output::Docker(file("docker")?),
            Some(other) => bail!(
                "unsupported --output type {other:?} (supported: image, registry, local, tar, oci, docker)"
            ),
            None => bail!("invalid --output {spec:?}: type= is missing"),
        })
    }

    /// Whether the export writes to standard output (then nothing else may).
    pub fn uses_stdout(&self) -> bool {
        matches!(
            self,
            Output::Tar(Dest::Stdout) | Output::Oci(Dest::Stdout) | Output::Docker(Dest::Stdout)
        )
    }

    /// Exports the built image `manifest`, named `tag` (a full reference) when it has one.
    pub fn export(
        &self,
        store: &store::Store,
        manifest: &Descriptor,
        tag: Option<&str>,
    ) -> anyhow::Result<()> {
        match self {
            Output::Image | Output::Registry => {}
            Output::Local(dir) => build::export::rootfs_to_dir(store, &manifest.digest, dir)
                .with_context(|| format!("exporting the root filesystem to {}", dir.display()))?,
            Output::Tar(d) => build::export::rootfs_to_tar(
                store,
                &manifest.digest,
                &store.layout().tmp_dir(),
                std::io::BufWriter::new(writer(d)?),
            )
            .context("exporting the root filesystem as a tar")?,
            Output::Oci(d) => oci_out(store, manifest, d, tag, PlatformChoice::Host)?,
            Output::Docker(d) => {
                let dst = match d {
                    Dest::Stdout => DockerArchiveDestination::to_writer(util::stdout_file()?),
                    Dest::Path(p) => DockerArchiveDestination::create(p)?,
                };
                copy_out(
                    store,
                    manifest,
                    &dst,
                    tag.map(str::to_string),
                    PlatformChoice::Host,
                )?;
            }
        }
        Ok(())
    }

    /// Exports a multi-platform build: `index` over `images` (each platform's manifest).
    /// Files go into one subdirectory per platform (`linux_arm64/`), as BuildKit writes
    /// them; an OCI archive holds the whole index. A docker-archive cannot hold an index,
    /// which BuildKit refuses too.
    pub fn export_index(
        &self,
        store: &store::Store,
        index: &Descriptor,
        images: &[(oci::Platform, Descriptor)],
        tag: Option<&str>,
    ) -> anyhow::Result<()> {
        let parts: Vec<(oci::Platform, oci::Digest)> = images
            .iter()
            .map(|(p, d)| (p.clone(), d.digest.clone()))
            .collect();
        match self {
            Output::Image | Output::Registry => {}
            Output::Local(dir) => build::export::platforms_to_dir(store, &parts, dir)
                .with_context(|| format!("exporting the root filesystems to {}", dir.display()))?,
            Output::Tar(d) => build::export::platforms_to_tar(
                store,
                &parts,
                &store.layout().tmp_dir(),
                std::io::BufWriter::new(writer(d)?),
            )
            .context("exporting the root filesystems as a tar")?,
            Output::Oci(d) => oci_out(store, index, d, tag, PlatformChoice::All)?,
            Output::Docker(_) => {
                bail!("docker exporter does not currently support exporting manifest lists")
            }
        }
        Ok(())
    }
}

/// `top` (named `tag`, a full reference, when it has one) as an OCI archive at `d`.
fn oci_out(
    store: &store::Store,
    top: &Descriptor,
    d: &Dest,
    tag: Option<&str>,
    platforms: PlatformChoice,
) -> anyhow::Result<()> {
    let dst = match d {
        Dest::Stdout => OciArchiveDestination::to_writer(util::stdout_file()?),
        Dest::Path(p) => OciArchiveDestination::create(p)?,
    };
    // An OCI archive names its images by tag alone, as skopeo does.
    let tag = tag
        .and_then(|t| oci::Reference::parse(t).ok())
        .and_then(|r| r.tag().map(str::to_string));
    copy_out(store, top, &dst, tag, platforms)
}

/// The file or standard output an archive goes to.
fn writer(d: &Dest) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(match d {
        Dest::Stdout => Box::new(util::stdout_file()?),
        Dest::Path(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
    })
}

fn copy_out<D: transport::ImageDestination>(
    store: &store::Store,
    manifest: &Descriptor,
    dst: &D,
    tag: Option<String>,
    platforms: PlatformChoice,
) -> anyhow::Result<()> {
    let src = StoreSource::new(store.clone(), manifest.clone());
    let opts = CopyOptions {
        tag,
        platforms,
        ..CopyOptions::default()
    };
    util::block_on(transport::copy(&src, dst, &opts))?.context("writing the output archive")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_output_grammar() {
        let p = |s: &str| Output::parse(s).map_err(|e| e.to_string());
        assert_eq!(p("out").unwrap(), Output::Local("out".into()));
        assert_eq!(p("-").unwrap(), Output::Tar(Dest::Stdout));
        assert_eq!(p("type=local,dest=d").unwrap(), Output::Local("d".into()));
        assert_eq!(
            p("type=tar,dest=a.tar").unwrap(),
            Output::Tar(Dest::Path("a.tar".into()))
        );
        assert_eq!(p("type=oci,dest=-").unwrap(), Output::Oci(Dest::Stdout));
        assert_eq!(
            p("dest=x.tar,type=docker").unwrap(),
            Output::Docker(Dest::Path("x.tar".into()))
        );
        assert_eq!(p("type=image").unwrap(), Output::Image);
        assert_eq!(p("type=image,push=false").unwrap(), Output::Image);
        assert_eq!(p("type=image,push=true").unwrap(), Output::Registry);
        assert_eq!(p("type=registry").unwrap(), Output::Registry);
        assert!(p("type=image,push=yes").is_err());
        for bad in [
            "type=local",
            "type=tar",
            "type=zip,dest=x",
            "dest=x",
            "type=oci,foo=1",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert!(
            p("type=zip,dest=x")
                .unwrap_err()
                .contains("supported: image, registry, local, tar, oci, docker")
        );
        assert!(p("type=tar").unwrap_err().contains("dest="));
        assert!(Output::parse("type=docker,dest=-").unwrap().uses_stdout());
        assert!(!Output::parse("out").unwrap().uses_stdout());
    }
}
