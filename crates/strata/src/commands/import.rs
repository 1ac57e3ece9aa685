//! `strata import FILE|- [REPOSITORY[:TAG]]`: a rootfs tarball becomes a one-layer image.

use std::fs::File;
use std::io::{self, Read, Write};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use layer::Compression;
use oci::config::History;
use oci::{Descriptor, ImageConfig, Manifest, media};

use super::{Ctx, Plain, util};
use crate::cli::ImportArgs;

/// Imports the tarball and prints the new image's ID.
pub fn run(ctx: &Ctx, args: ImportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    // Docker's client checks the name before it sends anything, and says only why.
    if let Some(r) = args.reference.as_deref()
        && let Err(e) = oci::reference::parse_normalized_named(r)
    {
        return Err(Plain::error(util::go_reference_message(&e)));
    }
    let reference = args
        .reference
        .as_deref()
        .map(util::parse_reference)
        .transpose()?;
    if let Some(r) = &reference
        && r.digest().is_some()
    {
        anyhow::bail!("refusing to create a tag with a digest reference: {r}");
    }
    let platform = util::platform_or_host(args.platform.as_deref())?;
    let mut config = ImageConfig::default();
    check_change_commands(&args.changes)?;
    oci::change::apply_changes(&mut config.config, &args.changes)?;
    let store = ctx.store()?;

    let input: Box<dyn Read + Send> = if args.file == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(&args.file).map_err(|e| Plain::open(args.file.as_ref(), &e))?)
    };
    let tar = layer::decompress_auto(input)
        .with_context(|| format!("reading {}", display_name(&args.file)))?;

    // One pass: decompress, hash the tar (diffID), gzip, and write the blob into the
    // store, which names it by its hash when it is complete.
    let lease = store.lease()?;
    let mut blob = store.blob_writer(&lease)?;
    // The tar is checked as it passes: a file that is not one fails the import (dockerd's
    // words) before anything is recorded; the lease and the partial blob go with the error.
    let digests = layer::compress_layer(
        layer::MeasuringReader::new(tar),
        &mut blob,
        Compression::Gzip,
        None,
    )
    .map_err(|e| match tar_format_error(&e) {
        Some(t) => anyhow::anyhow!("Error processing tar file(exit status 1): {t}"),
        None => anyhow::Error::new(e).context(format!("importing {}", display_name(&args.file))),
    })?;
    let layer_desc = blob.commit(media::OCI_LAYER_GZIP)?;
    if let Some(unpacked) = digests.unpacked_size {
        store.set_unpacked_size(&layer_desc.digest, unpacked)?;
    }

    let created = created_time()?;
    config.set_platform(&platform);
    config.created = Some(rfc3339(created));
    config.rootfs.diff_ids = vec![digests.diff_id];
    // dockerd records `Imported from -` (its client streams a file too) without -m.
    let comment = import_comment(args.message.as_deref());
    config.history = vec![History {
        created: Some(rfc3339(created)),
        comment: Some(comment.clone()),
        ..History::default()
    }];
    config.extra.insert("comment".into(), comment.into());
    let config_bytes = config.to_vec();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of_bytes(media::OCI_CONFIG, &config_bytes),
        layers: vec![layer_desc],
        subject: None,
        annotations: Default::default(),
    };
    let tags: Vec<String> = reference.iter().map(|r| r.to_string()).collect();
    let stored = store.put_image(&lease, &manifest, &config_bytes, &tags)?;
    drop(lease);
    store.image_event("import", &stored.id.to_string(), None);
    writeln!(out, "{}", stored.id)?;
    Ok(())
}

/// The comment of an imported image: the message, or where it came from as dockerd says it.
fn import_comment(message: Option<&str>) -> String {
    match message {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => "Imported from -".to_string(),
    }
}

/// The tar-format failure behind a layer error, if that is what it was.
fn tar_format_error(e: &layer::LayerError) -> Option<&layer::TarFormatError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(t) = s
            .downcast_ref::<io::Error>()
            .and_then(layer::TarFormatError::of)
        {
            return Some(t);
        }
        source = s.source();
    }
    None
}

fn display_name(file: &str) -> &str {
    if file == "-" { "standard input" } else { file }
}

/// Now, or `SOURCE_DATE_EPOCH` for reproducible images.
fn created_time() -> anyhow::Result<DateTime<Utc>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            let secs: i64 = v
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?;
            DateTime::from_timestamp(secs, 0)
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is out of range"))
        }
        _ => Ok(Utc::now()),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Refuses a `-c` line whose instruction cannot change an image, in dockerd's words
/// (`run is not a valid change command`, the instruction lower-cased); the library's
/// message lists the allowed ones instead.
fn check_change_commands(changes: &[String]) -> anyhow::Result<()> {
    for line in changes {
        let text = line.trim_start();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let word = text.split_whitespace().next().unwrap_or_default();
        if !oci::change::CHANGE_INSTRUCTIONS
            .iter()
            .any(|i| i.eq_ignore_ascii_case(word))
        {
            anyhow::bail!("{} is not a valid change command", word.to_lowercase());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_comment_defaults_to_dockerds() {
        assert_eq!(import_comment(None), "Imported from -");
        assert_eq!(import_comment(Some("")), "Imported from -");
        assert_eq!(import_comment(Some("hello")), "hello");
    }

    #[test]
    fn a_stream_that_is_no_tar_is_named_as_such() {
        let mut sink = Vec::new();
        let e = layer::compress_layer(
            layer::MeasuringReader::new(&b"junk\n"[..]),
            &mut sink,
            Compression::None,
            None,
        )
        .unwrap_err();
        assert_eq!(
            tar_format_error(&e),
            Some(&layer::TarFormatError::UnexpectedEof)
        );
    }

    #[test]
    fn change_commands_refused_in_dockerds_words() {
        for (line, want) in [
            ("RUN echo hi", Some("run is not a valid change command")),
            (
                "FROBNICATE x",
                Some("frobnicate is not a valid change command"),
            ),
            ("cmd [\"sh\"]", None),
            ("ENV A=1", None),
        ] {
            let got = check_change_commands(&[line.to_string()])
                .err()
                .map(|e| e.to_string());
            assert_eq!(got.as_deref(), want, "{line}");
        }
    }
}
