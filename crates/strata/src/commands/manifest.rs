//! `strata manifest inspect NAME`: the manifest or index a registry serves, pretty-printed.

use std::io::Write;

use base64::Engine as _;
use oci::{AnyManifest, Descriptor, media};
use serde::Serialize;
use serde_json::{Value, json};
use transport::{ImageSource, RegistrySource};

use super::{Ctx, registry, util};
use crate::cli::ManifestInspectArgs;

/// Prints the manifest (or index) JSON; with `-v`, Docker's verbose form per image.
pub fn run(ctx: &Ctx, args: ManifestInspectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
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
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
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
