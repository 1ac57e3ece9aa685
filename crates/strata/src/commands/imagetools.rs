//! `strata imagetools create -t TAG… SOURCE…` (buildx's `imagetools create`: `--append`,
//! `--annotation`, `--dry-run`, `-p`): a new index of images and indexes, made registry-side.
//! Every entry and its blobs are put into each tag's repository (blobs mounted across
//! repositories of one registry, streamed otherwise), manifests by their exact bytes; then
//! the index is pushed under each tag. Errors are printed as buildx prints them (`ERROR: …`).

use std::collections::HashMap;
use std::io::Write;

use futures::{StreamExt, TryStreamExt};
use oci::{AnyManifest, Descriptor, Platform, Reference};
use serde_json::Value;
use transport::combine::{self, Part};
use transport::{
    ImageDestination, ImageSource, RegistryClient, RegistryDestination, RegistrySource, graft,
};

use super::{Ctx, Plain, imagetools_inspect, registry, util};
use crate::cli::{ImagetoolsCommand, ImagetoolsCreateArgs};

/// How many entries are put into a repository at once.
const ENTRY_JOBS: usize = 4;

/// Runs one `imagetools` subcommand; errors read `ERROR: …` as buildx's do.
pub fn dispatch(ctx: &Ctx, cmd: ImagetoolsCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let result = match cmd {
        ImagetoolsCommand::Create(a) => create(ctx, a, out),
        ImagetoolsCommand::Inspect(a) => imagetools_inspect::run(ctx, a, out),
    };
    result.map_err(|e| {
        // A closed stdout stays what it is: `main` treats it as success.
        if e.chain()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some())
        {
            return e;
        }
        match e.downcast::<Plain>() {
            Ok(Plain(m)) => Plain::error(format!("ERROR: {m}")),
            Err(e) => Plain::error(format!("ERROR: {e:#}")),
        }
    })
}

/// Registry clients by host, one per registry for the whole command.
#[derive(Default)]
pub struct Clients(HashMap<String, RegistryClient>);

impl Clients {
    /// The client for `r`'s registry.
    pub fn of(&mut self, ctx: &Ctx, r: &Reference) -> anyhow::Result<RegistryClient> {
        if let Some(c) = self.0.get(r.domain()) {
            return Ok(c.clone());
        }
        let c = registry::client(ctx, r, true)?;
        self.0.insert(r.domain().to_string(), c.clone());
        Ok(c)
    }
}

/// A manifest or index fetched from a registry: its descriptor (an image's with the
/// platform of its config) and exact bytes.
pub struct Fetched {
    /// Its descriptor.
    pub desc: Descriptor,
    /// Its bytes, checked against the digest.
    pub bytes: bytes::Bytes,
    /// An image's config bytes.
    pub config: Option<bytes::Bytes>,
}

/// Fetches what `r` names; an image's config is read for its platform (buildx's
/// `loadPlatform`: architecture and variant, os, normalised).
pub async fn fetch(src: &RegistrySource, r: &Reference) -> anyhow::Result<Fetched> {
    let top = src.resolve().await?;
    let bytes = src.manifest(&top).await?;
    let actual = oci::Digest::of(top.digest.algorithm(), &bytes);
    if actual != top.digest {
        anyhow::bail!(
            "{r}: manifest digest {actual} is not the {} asked for",
            top.digest
        );
    }
    let mut desc = Descriptor::new(top.media_type.clone(), top.digest.clone(), top.size);
    let mut config = None;
    if let AnyManifest::Manifest(m) = AnyManifest::parse(Some(&top.media_type), &bytes)? {
        let c = graft::read_small_blob(src, &m.config).await?;
        let v: Value = serde_json::from_slice(&c).unwrap_or(Value::Null);
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut p = Platform::new(&text("os"), &text("architecture"));
        p.variant = Some(text("variant")).filter(|s| !s.is_empty());
        desc.platform = Some(p.normalize());
        config = Some(c);
    }
    Ok(Fetched {
        desc,
        bytes,
        config,
    })
}

fn create(ctx: &Ctx, args: ImagetoolsCreateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.sources.is_empty() && !args.append {
        return Err(Plain::error("no sources specified"));
    }
    if !args.dry_run && args.tags.is_empty() {
        return Err(Plain::error(
            "can't push with no tags specified, please set --tag or --dry-run",
        ));
    }
    let parse = |s: &str| super::manifest_create::normalize(s).map_err(Plain::error);
    let tags: Vec<Reference> = args
        .tags
        .iter()
        .map(|t| parse(t))
        .collect::<Result<_, _>>()?;
    let mut names: Vec<String> = args.sources.clone();
    if args.append && !args.tags.is_empty() {
        names.insert(0, args.tags[0].clone());
    }
    if names.is_empty() {
        return Err(Plain::error("no sources specified"));
    }
    let sources = resolve_names(&names, &tags)?;
    let platforms: Vec<Platform> = args
        .platforms
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<Platform>().map(|p| p.normalize()))
        .collect::<Result<_, _>>()?;
    let mut annotations = Vec::new();
    for a in args.annotations.iter().filter(|a| !a.is_empty()) {
        annotations.extend(
            combine::parse_annotation(a)
                .map_err(|e| Plain::error(format!("failed to parse annotations: {e}")))?,
        );
    }

    let mut clients = Clients::default();
    let mut opened = Vec::with_capacity(sources.len());
    for r in &sources {
        opened.push(RegistrySource::from_reference(clients.of(ctx, r)?, r));
    }
    let parts = util::block_on(async {
        let mut parts = Vec::with_capacity(opened.len());
        for (src, r) in opened.iter().zip(&sources) {
            let f = fetch(src, r).await.map_err(|e| not_found(e, r))?;
            parts.push(Part {
                desc: f.desc,
                bytes: f.bytes.to_vec(),
            });
        }
        Ok::<_, anyhow::Error>(parts)
    })??;
    let combined = combine::combine(&parts, &annotations, &platforms)
        .map_err(|e| Plain::error(e.to_string()))?;
    if args.dry_run {
        out.write_all(&combined.bytes)?;
        writeln!(out)?;
        return Ok(());
    }

    // Each tag's repository gets every entry, then the index under each of its tags.
    let mut by_repo: Vec<(String, Vec<&Reference>)> = Vec::new();
    for t in &tags {
        match by_repo.iter_mut().find(|(repo, _)| *repo == t.repository()) {
            Some((_, ts)) => ts.push(t),
            None => by_repo.push((t.repository(), vec![t])),
        }
    }
    for (_, repo_tags) in &by_repo {
        let seed = repo_tags[0];
        let dst = RegistryDestination::new(clients.of(ctx, seed)?, seed.path());
        let mut entry_sources = Vec::with_capacity(combined.entries.len());
        for (d, part) in &combined.entries {
            let from = &sources[*part];
            let src =
                RegistrySource::new(clients.of(ctx, from)?, from.path(), d.digest.to_string());
            let mount = (from.domain() == seed.domain()).then(|| from.path().to_string());
            entry_sources.push((src, mount, d, from));
        }
        util::block_on(async {
            // Entries go up side by side, as buildx copies them; a blob two entries share
            // is mounted or uploaded twice at worst, which registries take.
            futures::stream::iter(entry_sources.iter())
                .map(|(src, mount, d, from)| {
                    let dst = &dst;
                    async move {
                        graft::put_by_digest(src, dst, mount.as_deref())
                            .await
                            .map_err(|e| {
                                anyhow::anyhow!("copy {} from {from} to {seed}: {e}", d.digest)
                            })
                    }
                })
                .buffer_unordered(ENTRY_JOBS)
                .try_collect::<Vec<_>>()
                .await?;
            for t in repo_tags {
                let tag = registry::reference_string(t);
                dst.put_manifest(&combined.desc, combined.bytes.clone().into(), Some(&tag))
                    .await
                    .map_err(|e| anyhow::anyhow!("publish {} to {t}: {e}", combined.desc.digest))?;
            }
            Ok::<_, anyhow::Error>(())
        })??;
    }
    Ok(())
}

/// A registry's "not found" in buildx's words (`REF: not found`).
pub fn not_found(e: anyhow::Error, r: &Reference) -> anyhow::Error {
    match e.downcast::<transport::TransportError>() {
        Ok(t) if t.is_not_found() => Plain::error(format!("{r}: not found")),
        Ok(t) => anyhow::Error::new(t),
        Err(e) => e,
    }
}

/// The references of the sources: names as given, and a bare digest (`sha256:…`) in the one
/// repository the command names, as buildx infers it.
fn resolve_names(names: &[String], tags: &[Reference]) -> anyhow::Result<Vec<Reference>> {
    let mut named = Vec::new();
    let mut repos: Vec<String> = tags.iter().map(Reference::repository).collect();
    for n in names {
        if n.parse::<oci::Digest>().is_ok() {
            named.push(None);
        } else {
            let r = super::manifest_create::normalize(n).map_err(Plain::error)?;
            repos.push(r.repository());
            named.push(Some(r));
        }
    }
    repos.sort();
    repos.dedup();
    if repos.is_empty() {
        return Err(Plain::error(
            "no repositories specified, please set a reference in tag or source",
        ));
    }
    let default = (repos.len() == 1).then(|| {
        named
            .iter()
            .flatten()
            .next()
            .cloned()
            .or_else(|| tags.first().cloned())
    });
    names
        .iter()
        .zip(named)
        .map(|(n, r)| match r {
            Some(r) => Ok(r),
            None => match &default {
                Some(Some(base)) => Ok(base.with_digest(n.parse()?)),
                _ => Err(Plain::error(format!(
                    "multiple repositories specified, cannot infer repository for {n:?}"
                ))),
            },
        })
        .collect()
}
