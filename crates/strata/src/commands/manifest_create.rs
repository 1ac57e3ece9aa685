//! `strata manifest create LIST IMAGE…` (`--amend`, `--insecure`): a local manifest list
//! made of images fetched from their registries, each with the platform its config names,
//! as Docker's `manifest create` keeps it.

use std::io::Write;

use oci::{AnyManifest, Descriptor, Platform, Reference};
use serde_json::Value;
use transport::{ImageSource, RegistrySource, TransportError};

use super::manifest_store::{ImageManifest, ListStore};
use super::{Ctx, Plain, registry, util};
use crate::cli::ManifestCreateArgs;

/// Creates (or with `--amend` extends) the local list and prints `Created manifest list
/// NAME`.
pub fn run(ctx: &Ctx, args: ManifestCreateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let list = normalize(&args.list).map_err(|e| {
        Plain::error(format!(
            "error parsing name for manifest list {}: {e}",
            args.list
        ))
    })?;
    let lists = ListStore::new(&store::Layout::new(&ctx.root));
    if lists.get_list(&list)?.is_some() && !args.amend {
        return Err(Plain::error(
            "refusing to amend an existing manifest list with no --amend flag",
        ));
    }
    for name in &args.images {
        let image = normalize(name).map_err(|e| Plain::error(e.to_string()))?;
        // Docker reads an image the list already has from the list, not the registry.
        let entry = match lists.get(&list, &image)? {
            Some(e) if !e.raw.is_empty() => e,
            _ => fetch_image(ctx, &image, args.insecure)?,
        };
        lists.save(&list, &image, &entry)?;
    }
    writeln!(out, "Created manifest list {list}")?;
    Ok(())
}

/// Docker's `normalizeReference`: a full name, `latest` added when there is neither tag nor
/// digest; its errors in Docker's words.
pub fn normalize(name: &str) -> Result<Reference, String> {
    match Reference::parse(name) {
        Ok(r) => Ok(r),
        Err(oci::OciError::Reference { source, .. }) => Err(util::go_reference_message(&source)),
        Err(e) => Err(e.to_string()),
    }
}

/// The manifest of image `r` from its registry, with the platform its config names
/// (`architecture`, `os`, `variant`, `os.version`, `os.features`, as Docker reads them). An
/// index is refused (`R is a manifest list`), a missing image is `no such manifest: R`.
pub fn fetch_image(ctx: &Ctx, r: &Reference, insecure: bool) -> anyhow::Result<ImageManifest> {
    let client = registry::client(ctx, r, !insecure)?;
    let src = RegistrySource::from_reference(client, r);
    let fetched = util::block_on(async {
        let top = src.resolve().await?;
        let bytes = src.manifest(&top).await?;
        let actual = oci::Digest::of(top.digest.algorithm(), &bytes);
        if actual != top.digest {
            return Err(TransportError::DigestMismatch {
                what: format!("manifest of {r}"),
                expected: top.digest.clone(),
                actual,
            }
            .into());
        }
        let config = match AnyManifest::parse(Some(&top.media_type), &bytes)? {
            AnyManifest::Index(_) => return Ok(None),
            AnyManifest::Manifest(m) => transport::graft::read_small_blob(&src, &m.config).await?,
        };
        Ok::<_, anyhow::Error>(Some((top, bytes, config)))
    })?;
    let fetched = fetched.map_err(|e| match e.downcast::<TransportError>() {
        Ok(t) if t.is_not_found() => Plain::error(format!("no such manifest: {r}")),
        Ok(t) => anyhow::Error::new(t),
        Err(e) => e,
    })?;
    let Some((top, bytes, config)) = fetched else {
        return Err(Plain::error(format!("{r} is a manifest list")));
    };
    let config: Value =
        serde_json::from_slice(&config).map_err(|e| anyhow::anyhow!("config of {r}: {e}"))?;
    let mut desc = Descriptor::new(top.media_type.clone(), top.digest.clone(), top.size);
    desc.platform = Some(config_platform(&config));
    ImageManifest::new(r, desc, bytes.to_vec())
}

/// The platform fields of an image config, as they are written there.
fn config_platform(config: &Value) -> Platform {
    let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_string);
    Platform {
        os: text("os").unwrap_or_default(),
        architecture: text("architecture").unwrap_or_default(),
        variant: text("variant").filter(|v| !v.is_empty()),
        os_version: text("os.version").filter(|v| !v.is_empty()),
        os_features: config
            .get("os.features")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_comes_from_the_config_fields() {
        let c: Value = serde_json::json!({
            "architecture": "arm", "os": "linux", "variant": "v6",
            "os.version": "10.0", "os.features": ["win32k"], "config": {}
        });
        let p = config_platform(&c);
        assert_eq!(p.to_string(), "linux/arm/v6");
        assert_eq!(p.os_version.as_deref(), Some("10.0"));
        assert_eq!(p.os_features, ["win32k"]);
        let p = config_platform(&serde_json::json!({"architecture": "amd64", "os": "linux"}));
        assert_eq!(
            (p.variant, p.os_version, p.os_features.len()),
            (None, None, 0)
        );
    }
}
