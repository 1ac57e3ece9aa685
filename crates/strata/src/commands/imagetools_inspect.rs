//! `strata imagetools inspect NAME` (`--raw`, `--format`): an image or index in a registry
//! as buildx prints it: `Name`/`MediaType`/`Digest` and each entry's name, media type and
//! platform; `--raw` the exact bytes; `--format` a Go template over `{Name, Manifest, Image}`.

use std::collections::BTreeMap;
use std::io::Write;

use oci::{AnyManifest, Descriptor, Reference};
use serde::Serialize;
use serde_json::{Value, json};
use transport::RegistrySource;

use super::imagetools::{Clients, fetch, not_found};
use super::{Ctx, Plain, util};
use crate::cli::ImagetoolsInspectArgs;
use crate::render::template::{Missing, Template};

/// Prints the image or index.
pub fn run(ctx: &Ctx, args: ImagetoolsInspectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.format.is_some() && args.raw {
        return Err(Plain::error("format and raw cannot be used together"));
    }
    let r = super::manifest_create::normalize(&args.name).map_err(Plain::error)?;
    let mut clients = Clients::default();
    let client = clients.of(ctx, &r)?;
    let src = RegistrySource::from_reference(client.clone(), &r);
    let format = args.format.as_deref().map(str::trim).unwrap_or("");
    let whole = format.is_empty() || is_whole_manifest(format);
    let (top, configs) = util::block_on(async {
        let top = fetch(&src, &r).await.map_err(|e| not_found(e, &r))?;
        // Configs are read only for a template that may use them.
        let mut configs = Vec::new();
        if !args.raw && !whole {
            match AnyManifest::parse(Some(&top.desc.media_type), &top.bytes)? {
                AnyManifest::Index(index) => {
                    for d in index.manifests.iter().filter(|d| {
                        d.platform.as_ref().is_some_and(|p| !p.is_unknown())
                            && !oci::media::is_index(&d.media_type)
                    }) {
                        let child =
                            RegistrySource::new(client.clone(), r.path(), d.digest.to_string());
                        let f = fetch(&child, &r).await?;
                        if let (Some(p), Some(c)) = (&d.platform, f.config) {
                            configs.push((p.to_string(), c));
                        }
                    }
                }
                AnyManifest::Manifest(_) => {
                    if let (Some(p), Some(c)) = (&top.desc.platform, &top.config) {
                        configs.push((p.to_string(), c.clone()));
                    }
                }
            }
        }
        Ok::<_, anyhow::Error>((top, configs))
    })??;
    if args.raw {
        // No newline: the bytes are the digest's.
        out.write_all(&top.bytes)?;
        return Ok(());
    }
    let index = match AnyManifest::parse(Some(&top.desc.media_type), &top.bytes)? {
        AnyManifest::Index(i) => Some(i),
        AnyManifest::Manifest(_) => None,
    };
    if whole {
        return human(out, &r, &top.desc, index.as_ref());
    }
    let manifest = match &index {
        Some(i) => json!({
            "schemaVersion": i.schema_version,
            "mediaType": i.media_type.clone().unwrap_or_default(),
            "digest": top.desc.digest.to_string(),
            "size": top.desc.size,
            "manifests": i.manifests,
            "annotations": (!i.annotations.is_empty()).then_some(&i.annotations),
        }),
        None => serde_json::to_value(Descriptor::new(
            top.desc.media_type.clone(),
            top.desc.digest.clone(),
            top.desc.size,
        ))?,
    };
    let mut manifest = manifest;
    if let Some(m) = manifest.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    let parsed: Vec<(String, Value)> = configs
        .into_iter()
        .map(|(p, c)| Ok((p, serde_json::from_slice(&c)?)))
        .collect::<anyhow::Result<_>>()?;
    let image = if parsed.len() > 1 {
        Value::Object(
            parsed
                .into_iter()
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect(),
        )
    } else {
        parsed
            .into_iter()
            .next()
            .map(|(_, c)| c)
            .unwrap_or(Value::Null)
    };
    let input = json!({"Name": args.name, "Manifest": manifest, "Image": image});
    // buildx's `json` indents by two spaces; the common whole-value cases are printed so.
    if let Some(field) = json_of_field(format) {
        writeln!(out, "{}", go_indent(&input[field])?)?;
        return Ok(());
    }
    let tpl = Template::parse(format, Missing::NoValue)?;
    write!(out, "{}", tpl.execute(&go_names(&input))?)?;
    Ok(())
}

/// The Go field names of buildx's template input (`ocispec.Descriptor`, `ocispec.Image`)
/// for the JSON keys that differ; keys of maps (annotations, labels) stay as they are.
const GO_NAMES: &[(&str, &str)] = &[
    ("schemaVersion", "SchemaVersion"),
    ("mediaType", "MediaType"),
    ("artifactType", "ArtifactType"),
    ("digest", "Digest"),
    ("size", "Size"),
    ("manifests", "Manifests"),
    ("annotations", "Annotations"),
    ("platform", "Platform"),
    ("urls", "URLs"),
    ("architecture", "Architecture"),
    ("os", "OS"),
    ("os.version", "OSVersion"),
    ("os.features", "OSFeatures"),
    ("variant", "Variant"),
    ("created", "Created"),
    ("author", "Author"),
    ("config", "Config"),
    ("rootfs", "RootFS"),
    ("type", "Type"),
    ("diff_ids", "DiffIDs"),
    ("history", "History"),
    ("created_by", "CreatedBy"),
    ("comment", "Comment"),
    ("empty_layer", "EmptyLayer"),
];

/// Fields whose values are maps with user keys, not structs.
const MAP_FIELDS: &[&str] = &["annotations", "Labels", "ExposedPorts", "Volumes"];

/// `v` with its struct keys renamed to their Go names, for templates (`{{.Manifest.Digest}}`).
fn go_names(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let name = GO_NAMES
                        .iter()
                        .find(|(j, _)| j == k)
                        .map_or(k.as_str(), |(_, g)| g);
                    let x = if MAP_FIELDS.contains(&k.as_str()) {
                        x.clone()
                    } else {
                        go_names(x)
                    };
                    (name.to_string(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(go_names).collect()),
        other => other.clone(),
    }
}

/// Whether the template is buildx's default, `{{.Manifest}}` (then the human form prints).
fn is_whole_manifest(format: &str) -> bool {
    let inner = format
        .strip_prefix("{{")
        .and_then(|f| f.strip_suffix("}}"))
        .map(str::trim);
    inner == Some(".Manifest")
}

/// `Name`, `Manifest` or `Image` when the template is exactly `{{json .X}}`.
fn json_of_field(format: &str) -> Option<&'static str> {
    let inner = format.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let field = inner.strip_prefix("json")?.trim();
    ["Name", "Manifest", "Image"]
        .into_iter()
        .find(|f| field.strip_prefix('.') == Some(*f))
}

fn go_indent(v: &Value) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)?;
    Ok(String::from_utf8(buf)?)
}

/// buildx's default output: a tab-aligned head, then each entry of an index.
fn human(
    out: &mut dyn Write,
    r: &Reference,
    top: &Descriptor,
    index: Option<&oci::Index>,
) -> anyhow::Result<()> {
    let head = [
        ("Name:", r.to_string()),
        ("MediaType:", top.media_type.clone()),
        ("Digest:", top.digest.to_string()),
    ];
    write_aligned(out, "", &head)?;
    let Some(index) = index else {
        return Ok(());
    };
    // Go's tabwriter pads the empty cell of the blank line too.
    write_aligned(
        out,
        "",
        &[("", String::new()), ("Manifests:", String::new())],
    )?;
    let mut rows: Vec<(String, String)> = Vec::new();
    for (i, m) in index.manifests.iter().enumerate() {
        if i != 0 {
            rows.push((String::new(), String::new()));
        }
        rows.push((
            "  Name:".into(),
            r.with_digest(m.digest.clone()).to_string(),
        ));
        rows.push(("  MediaType:".into(), m.media_type.clone()));
        if let Some(p) = &m.platform {
            rows.push(("  Platform:".into(), p.to_string()));
            if let Some(v) = &p.os_version {
                rows.push(("  OSVersion:".into(), v.clone()));
            }
            if !p.os_features.is_empty() {
                rows.push(("  OSFeatures:".into(), p.os_features.join(", ")));
            }
            if !m.urls.is_empty() {
                rows.push(("  URLs:".into(), m.urls.join(", ")));
            }
            if !m.annotations.is_empty() {
                rows.push(("  Annotations:".into(), String::new()));
                for (k, v) in &m.annotations {
                    rows.push((format!("    {k}:"), v.clone()));
                }
            }
        }
    }
    let rows: Vec<(&str, String)> = rows.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    write_aligned(out, "", &rows)
}

/// Lines `label<TAB>value` as Go's `tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)` aligns them:
/// every label padded to the longest plus one space.
fn write_aligned(out: &mut dyn Write, prefix: &str, rows: &[(&str, String)]) -> anyhow::Result<()> {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    for (k, v) in rows {
        writeln!(out, "{prefix}{k:<width$}{v}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_see_go_field_names_and_map_keys_unchanged() {
        let v = json!({"Manifest": {"mediaType": "m", "digest": "d", "annotations": {"os": "x"},
            "manifests": [{"platform": {"os": "linux", "os.version": "1"}}]}});
        let g = go_names(&v);
        assert_eq!(g["Manifest"]["Digest"], "d");
        assert_eq!(g["Manifest"]["MediaType"], "m");
        assert_eq!(g["Manifest"]["Annotations"]["os"], "x");
        assert_eq!(g["Manifest"]["Manifests"][0]["Platform"]["OS"], "linux");
        assert_eq!(g["Manifest"]["Manifests"][0]["Platform"]["OSVersion"], "1");
    }

    #[test]
    fn format_shortcuts() {
        assert!(is_whole_manifest("{{.Manifest}}"));
        assert!(is_whole_manifest("{{ .Manifest }}"));
        assert!(!is_whole_manifest("{{json .Manifest}}"));
        assert_eq!(json_of_field("{{json .Manifest}}"), Some("Manifest"));
        assert_eq!(json_of_field("{{ json .Image }}"), Some("Image"));
        assert_eq!(json_of_field("{{json .Manifest.Digest}}"), None);
    }

    #[test]
    fn aligned_like_gos_tabwriter() {
        let mut buf = Vec::new();
        write_aligned(
            &mut buf,
            "",
            &[("Name:", "a".into()), ("MediaType:", "b".into())],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "Name:      a\nMediaType: b\n"
        );
    }
}
