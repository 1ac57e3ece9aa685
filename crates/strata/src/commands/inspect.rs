//! `strata inspect` / `strata image inspect` / `strata container inspect`: Docker's image
//! and container JSON. Without `--type`, a name is looked up as a container first, then as
//! an image, as `docker inspect` does.

use std::io::Write;

use anyhow::bail;
use serde_json::{Value, json};
use store::{ImageInfo, Store};

use super::config_json::{RunFields, docker_config};
use super::{Ctx, Plain, util};
use crate::cli::InspectArgs;
use crate::render::template::GoKind;
use crate::render::{Missing, Template};

/// Prints a JSON array of the images found (or one template line each), then fails naming
/// the ones that were not.
pub fn run(ctx: &Ctx, args: InspectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (containers, images) = match args.kind.as_deref() {
        None => (true, true),
        Some("image") => (false, true),
        Some("container") => (true, false),
        Some(kind) => {
            return Err(Plain::error(format!(
                "{kind:?} is not a valid value for --type"
            )));
        }
    };
    let template = match &args.format {
        Some(f) if f != "json" => {
            // Docker's `inspect` exits 64 (EX_USAGE) on a template that does not parse.
            let t = Template::parse(f, Missing::MapError)
                .map_err(|e| super::ExitStatus::error(64, e))?;
            Some(t.typed_nils(DOCKER_NIL_KINDS).go_renamed(DOCKER_RENAMED))
        }
        _ => None,
    };
    let platform = util::platform_flag(args.platform.as_deref())?;
    let store = ctx.store()?;
    // Docker names what it looked for: `image inspect` (or --type image) an image.
    let what = match args.kind.as_deref() {
        Some("image") => "image",
        Some("container") => "container",
        _ => "object",
    };
    let mut found = Vec::new();
    // The errors to print after the objects found, in order.
    let mut missing = Vec::new();
    for name in &args.names {
        if containers {
            match runtime::container::load(&ctx.root, name) {
                Ok(c) => {
                    let rt = c.oci_runtime(&ctx.root)?;
                    found.push(super::container_json::container_json(&store, &c, &rt)?);
                    continue;
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !images {
            missing.push(format!("No such {what}: {name}"));
            continue;
        }
        let info = match store.resolve_image(name) {
            Ok(info) => info,
            Err(e) if e.is_not_found() => {
                missing.push(format!("No such {what}: {name}"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // `--platform`: that platform's image of a multi-platform one; the store's error
        // says whether the image does not provide it or it is not pulled.
        let chosen = match &platform {
            Some(p) => store.select_platform(info, name, p),
            None => Ok(info),
        };
        match chosen {
            Ok(info) => found.push(image_json(&store, &info)?),
            Err(e) if e.is_not_found() => missing.push(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    let mut failed = false;
    match template {
        Some(t) => {
            // Docker prints each object's template error and goes on with the next one;
            // when no object printed anything, it prints an empty line.
            let mut printed = false;
            for v in &found {
                match t.execute(v) {
                    Ok(line) => {
                        writeln!(out, "{line}")?;
                        printed = true;
                    }
                    Err(e) => {
                        out.flush()?;
                        eprintln!("{e}");
                        failed = true;
                    }
                }
            }
            if !printed {
                writeln!(out)?;
            }
        }
        None => {
            writeln!(out, "{}", pretty(&Value::Array(found))?)?;
        }
    }
    out.flush()?;
    if let Some((last, rest)) = missing.split_last() {
        for message in rest {
            eprintln!("Error: {message}");
        }
        bail!("{last}");
    }
    if failed {
        return Err(super::ExitStatus::code(1));
    }
    Ok(())
}

/// The fields of Docker's inspect structs (`container.Config`, `HostConfig`, image and
/// container JSON) that are slices, maps or pointers: nil (or left out by `omitempty`),
/// `{{.Field}}` prints them as Go's zero values, since Docker runs the template on the
/// typed struct first.
const DOCKER_NIL_KINDS: crate::render::template::NilKinds = &[
    ("Env", GoKind::Slice),
    ("Cmd", GoKind::Slice),
    ("Entrypoint", GoKind::Slice),
    ("OnBuild", GoKind::Slice),
    ("Shell", GoKind::Slice),
    ("Binds", GoKind::Slice),
    ("ExecIDs", GoKind::Slice),
    ("Args", GoKind::Slice),
    ("RepoTags", GoKind::Slice),
    ("RepoDigests", GoKind::Slice),
    ("Layers", GoKind::Slice),
    ("Mounts", GoKind::Slice),
    ("Links", GoKind::Slice),
    ("Dns", GoKind::Slice),
    ("DnsOptions", GoKind::Slice),
    ("DnsSearch", GoKind::Slice),
    ("ExtraHosts", GoKind::Slice),
    ("CapAdd", GoKind::Slice),
    ("CapDrop", GoKind::Slice),
    ("GroupAdd", GoKind::Slice),
    ("SecurityOpt", GoKind::Slice),
    ("Volumes", GoKind::Set),
    ("Labels", GoKind::Map),
    ("ExposedPorts", GoKind::Set),
    ("Tmpfs", GoKind::Map),
    ("PortBindings", GoKind::Map),
    ("Ports", GoKind::Map),
    ("StorageOpt", GoKind::Map),
    ("Sysctls", GoKind::Map),
    ("Variant", GoKind::String),
    ("Healthcheck", GoKind::Pointer),
    ("Health", GoKind::Pointer),
    ("StopTimeout", GoKind::Pointer),
    // `MountPoint`'s omitempty strings (a bind has no `Name` nor `Driver`).
    ("Name", GoKind::String),
    ("Driver", GoKind::String),
];

/// The JSON keys of Docker's inspect structs whose Go field names differ (`ID string
/// \`json:"Id"\``, `CPUShares`, `DNS`, …): a template naming one runs on the raw JSON.
const DOCKER_RENAMED: crate::render::template::GoRenamed = &[
    ("Id", "ID"),
    ("CpuShares", "CPUShares"),
    ("CpuPeriod", "CPUPeriod"),
    ("CpuQuota", "CPUQuota"),
    ("CpuRealtimePeriod", "CPURealtimePeriod"),
    ("CpuRealtimeRuntime", "CPURealtimeRuntime"),
    ("CpuCount", "CPUCount"),
    ("CpuPercent", "CPUPercent"),
    ("Dns", "DNS"),
    ("DnsOptions", "DNSOptions"),
    ("DnsSearch", "DNSSearch"),
];

/// JSON as Docker's `inspect` commands print it (4-space indentation).
pub fn pretty(v: &Value) -> anyhow::Result<String> {
    Ok(reindent(&serde_json::to_string_pretty(v)?))
}

/// serde_json's 2-space indentation doubled to Docker's 4.
fn reindent(text: &str) -> String {
    text.lines()
        .map(|l| {
            let n = l.len() - l.trim_start_matches(' ').len();
            format!("{}{}", " ".repeat(n * 2), &l[n..])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `docker image inspect` object of one image.
pub fn image_json(store: &Store, info: &ImageInfo) -> anyhow::Result<Value> {
    let config = util::image_config(store, info)?;
    let comment = config
        .extra
        .get("comment")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| config.history.last().and_then(|h| h.comment.clone()))
        .unwrap_or_default();
    let container_config: oci::ContainerConfig = config
        .extra
        .get("container_config")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let shape = |c: &oci::ContainerConfig| docker_config(c, &RunFields::of_image(c));
    // Docker 20.10's order; `Variant` only when the image has one.
    let mut v = serde_json::Map::new();
    for (k, val) in [
        ("Id", json!(info.id.to_string())),
        (
            "RepoTags",
            json!(
                info.tags
                    .iter()
                    .map(|t| util::familiar(t))
                    .collect::<Vec<_>>()
            ),
        ),
        (
            "RepoDigests",
            json!(
                info.repo_digests
                    .iter()
                    .map(|d| util::familiar_repo_digest(d))
                    .collect::<Vec<_>>()
            ),
        ),
        ("Parent", json!("")),
        ("Comment", json!(comment)),
        ("Created", json!(config.created.clone().unwrap_or_default())),
        (
            "Container",
            json!(
                config
                    .extra
                    .get("container")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
        ),
        ("ContainerConfig", shape(&container_config)),
        (
            "DockerVersion",
            json!(config.docker_version.clone().unwrap_or_default()),
        ),
        ("Author", json!(config.author.clone().unwrap_or_default())),
        ("Config", shape(&config.config)),
        ("Architecture", json!(config.architecture)),
    ] {
        v.insert(k.into(), val);
    }
    if let Some(variant) = &config.variant {
        v.insert("Variant".into(), json!(variant));
    }
    for (k, val) in [
        ("Os", json!(config.os)),
        ("Size", json!(info.size)),
        ("VirtualSize", json!(info.size)),
        (
            "GraphDriver",
            graph_driver(store.layout(), &config.rootfs.diff_ids),
        ),
        (
            "RootFS",
            json!({
                "Type": config.rootfs.kind,
                "Layers": config.rootfs.diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
        ),
        ("Metadata", json!({"LastTagTime": "0001-01-01T00:00:00Z"})),
    ] {
        v.insert(k.into(), val);
    }
    let v = Value::Object(v);
    Ok(v)
}

/// Docker's `GraphDriver` of an image, for what strata really has: overlay lower
/// directories, one snapshot per layer (unpacked when a container first needs it). The top
/// layer's directory is `UpperDir` as in Docker's overlay2, the ones below it `LowerDir`
/// (top first, as overlay stacks them); an image has no merged or work directory.
fn graph_driver(layout: &store::Layout, diff_ids: &[oci::Digest]) -> Value {
    let mut dirs: Vec<String> = runtime::snapshot::chain_ids(diff_ids)
        .iter()
        .rev()
        .map(|c| layout.snapshot(c).fs().display().to_string())
        .collect();
    let mut data = serde_json::Map::new();
    if !dirs.is_empty() {
        let upper = dirs.remove(0);
        if !dirs.is_empty() {
            data.insert("LowerDir".into(), json!(dirs.join(":")));
        }
        data.insert("UpperDir".into(), json!(upper));
    }
    json!({"Data": data, "Name": "overlay2"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_driver_names_the_layer_snapshots() {
        let root = &store::Layout::new("/s");
        let (a, b) = (oci::Digest::sha256_of(b"a"), oci::Digest::sha256_of(b"b"));
        let chains = runtime::snapshot::chain_ids(&[a.clone(), b.clone()]);
        let dir = |c: &oci::Digest| format!("/s/snapshots/{}/fs", c.hex());
        assert_eq!(
            graph_driver(root, &[a, b]),
            json!({
                "Data": {"LowerDir": dir(&chains[0]), "UpperDir": dir(&chains[1])},
                "Name": "overlay2"
            })
        );
        assert_eq!(
            graph_driver(root, &[]),
            json!({"Data": {}, "Name": "overlay2"})
        );
    }

    #[test]
    fn reindents_to_four_spaces() {
        let v = json!([{"a": [1]}]);
        let text = reindent(&serde_json::to_string_pretty(&v).unwrap());
        assert_eq!(
            text,
            "[\n    {\n        \"a\": [\n            1\n        ]\n    }\n]"
        );
    }
}
