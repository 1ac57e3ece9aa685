//! `strata manifest …`: the subcommands, and `inspect [LIST] NAME`: a local list (or one of
//! its images) when there is one, else the manifest or index a registry serves,
//! pretty-printed.

use std::io::Write;

use base64::Engine as _;
use oci::{AnyManifest, Descriptor, media};
use serde::Serialize;
use serde_json::{Value, json};
use transport::{ImageSource, RegistrySource};

use super::manifest_create::normalize;
use super::manifest_store::{ImageManifest, ListStore, no_such_manifest};
use super::{Ctx, Plain, manifest_annotate, manifest_create, manifest_push, registry, util};
use crate::cli::{ManifestCommand, ManifestInspectArgs, ManifestRmArgs};
use transport::combine;

/// Runs one `manifest` subcommand.
pub fn dispatch(ctx: &Ctx, cmd: ManifestCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match cmd {
        ManifestCommand::Annotate(a) => manifest_annotate::run(ctx, a),
        ManifestCommand::Create(a) => manifest_create::run(ctx, a, out),
        ManifestCommand::Inspect(a) => run(ctx, a, out),
        ManifestCommand::Push(a) => manifest_push::run(ctx, a, out),
        ManifestCommand::Rm(a) => rm(ctx, a),
    }
}

/// `manifest rm LIST…`: deletes each local list; the errors of all, one per line.
fn rm(ctx: &Ctx, args: ManifestRmArgs) -> anyhow::Result<()> {
    let lists = ListStore::new(&store::Layout::new(&ctx.root));
    let mut errors = Vec::new();
    for name in &args.lists {
        let list = match normalize(name) {
            Ok(l) => l,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match lists.get_list(&list)? {
            None => errors.push(no_such_manifest(&list.to_string())),
            Some(_) => lists.remove(&list)?,
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Plain::error(errors.join("\n")))
    }
}

/// Prints the manifest (or index) JSON; with `-v`, Docker's verbose form per image.
pub fn run(ctx: &Ctx, args: ManifestInspectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let lists = ListStore::new(&store::Layout::new(&ctx.root));
    if let Some(image) = &args.manifest {
        // `inspect LIST IMAGE`: that image's entry of the local list.
        let image = normalize(image).map_err(Plain::error)?;
        let list = normalize(&args.name).map_err(Plain::error)?;
        let Some(entry) = lists.get(&list, &image)? else {
            return Err(Plain::error(no_such_manifest(&image.to_string())));
        };
        return print_local_entry(&entry, args.verbose, out);
    }
    if let Ok(list) = normalize(&args.name)
        && let Some(entries) = lists.get_list(&list)?
    {
        return print_local_list(&entries, args.verbose, out);
    }
    let r = util::parse_reference(&args.name)?;
    let client = registry::client(ctx, &r, !args.insecure)?;
    let src = RegistrySource::new(client, r.path(), registry::reference_string(&r));
    let result = util::block_on(async {
        let top = src.resolve().await?;
        let bytes = src.manifest(&top).await?;
        let mut entries = Vec::new();
        if args.verbose
            && let AnyManifest::Index(index) = AnyManifest::parse(Some(&top.media_type), &bytes)?
        {
            for d in index.manifests {
                let b = src.manifest(&d).await?;
                entries.push((d, b));
            }
        }
        Ok::<_, anyhow::Error>((top, bytes, entries))
    })?;
    let (top, bytes, entries) =
        result.map_err(|e| match e.downcast::<transport::TransportError>() {
            Ok(t) if t.is_not_found() => anyhow::anyhow!("no such manifest: {}", r),
            Ok(t) => anyhow::Error::new(t),
            Err(e) => e,
        })?;
    let value = if !args.verbose {
        serde_json::from_slice::<Value>(&bytes)?
    } else if media::is_index(&top.media_type) {
        Value::Array(
            entries
                .iter()
                .map(|(d, b)| verbose(&r, d, b))
                .collect::<anyhow::Result<_>>()?,
        )
    } else {
        verbose(&r, &top, &bytes)?
    };
    writeln!(out, "{}", pretty(&value)?)?;
    Ok(())
}

/// One entry of a local list: its manifest, or with `-v` the whole entry (Docker's
/// `ImageManifest`), tab-indented as Docker prints them.
fn print_local_entry(
    entry: &ImageManifest,
    verbose: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let value = if verbose {
        verbose_entry(entry)?
    } else {
        serde_json::from_slice::<Value>(&entry.raw)?
    };
    writeln!(out, "{}", indented(&value, b"\t")?)?;
    Ok(())
}

/// An entry as Docker 20.10's `-v` prints it: `Ref`, `Descriptor` and the parsed manifest
/// (its `ImageManifest` had no `Raw` yet).
fn verbose_entry(entry: &ImageManifest) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(entry)?;
    if let Some(o) = v.as_object_mut() {
        o.shift_remove("Raw");
    }
    Ok(v)
}

/// A local list: the manifest list `push` would send, or with `-v` every entry.
fn print_local_list(
    entries: &[ImageManifest],
    verbose: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if verbose {
        let all = Value::Array(
            entries
                .iter()
                .map(verbose_entry)
                .collect::<anyhow::Result<_>>()?,
        );
        writeln!(out, "{}", indented(&all, b"\t")?)?;
    } else {
        let descs: Vec<Descriptor> = entries.iter().map(|e| e.descriptor.clone()).collect();
        let (bytes, _) = combine::docker_manifest_list(&descs);
        writeln!(out, "{}", String::from_utf8(bytes)?)?;
    }
    Ok(())
}

/// Docker's `-v` object for one image manifest.
fn verbose(r: &oci::Reference, d: &Descriptor, bytes: &[u8]) -> anyhow::Result<Value> {
    let parsed: Value = serde_json::from_slice(bytes)?;
    let key = if d.media_type == media::DOCKER_MANIFEST {
        "SchemaV2Manifest"
    } else {
        "OCIManifest"
    };
    Ok(json!({
        "Ref": r.with_digest(d.digest.clone()).to_string(),
        "Descriptor": d,
        "Raw": base64::engine::general_purpose::STANDARD.encode(bytes),
        key: parsed,
    }))
}

/// JSON indented with three spaces, as `docker manifest inspect` prints it.
fn pretty(v: &Value) -> anyhow::Result<String> {
    indented(v, b"   ")
}

/// JSON indented with `indent`, as Go's `json.MarshalIndent` writes it.
fn indented(v: &Value, indent: &[u8]) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)?;
    Ok(String::from_utf8(buf)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_uses_three_spaces() {
        assert_eq!(
            pretty(&json!({"a": [1]})).unwrap(),
            "{\n   \"a\": [\n      1\n   ]\n}"
        );
    }
}
