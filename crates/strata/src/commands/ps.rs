//! `strata ps` / `strata container ls`: Docker's container table.

use std::io::Write;

use chrono::{DateTime, Utc};
use runtime::Container;
use runtime::{ContainerState, Status};
use serde_json::{Value, json};

use super::{Ctx, container, util};
use crate::cli::PsArgs;
use crate::render::{self, OutputFormat, human_size};

const DEFAULT_TABLE: &str =
    "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("RunningFor", "CREATED"),
    ("CreatedAt", "CREATED AT"),
];

/// Lists containers, newest first.
pub fn run(ctx: &Ctx, args: PsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut filters = args
        .filters
        .iter()
        .map(|f| parse_filter(f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // `ancestor=NAME` names an image as `docker images` would find it (a tag before an ID
    // prefix: `bb` is the image tagged bb even when some image ID starts with "bb").
    for (k, v) in filters.iter_mut() {
        if k == "ancestor"
            && let Ok(info) = util::resolve(&ctx.store()?, v)
        {
            *v = info.id.to_string();
        }
    }
    resolve_order_filters(ctx, &mut filters)?;
    let mut all = runtime::container::list(&ctx.root)?;
    all.reverse();
    // The store tells which containers' image names still lead to their image (and the
    // image sizes for --size); only --size needs it to open.
    let store = match ctx.store() {
        Ok(s) => Some(s),
        Err(e) if args.size => return Err(e),
        Err(_) => None,
    };
    let now = util::now();
    let limit = if args.latest { 1 } else { args.last };
    let show_all = args.all || limit > 0 || filters.iter().any(|(k, _)| k == "status");
    let mut rows = Vec::new();
    for c in all {
        if limit >= 0 && rows.len() as i64 >= limit {
            break;
        }
        let rt = c.oci_runtime(&ctx.root)?;
        let state = c.observed(&rt)?;
        // Docker counts a restarting container as running.
        if !show_all && state.status != Status::Running && !state.restarting {
            continue;
        }
        if !filters.iter().all(|(k, v)| matches(&c, &state, k, v)) {
            continue;
        }
        let mut row = row(&c, &state, now, !args.no_trunc);
        if let Some(store) = &store {
            // dockerd shows the image's ID once the name no longer leads to it (retagged,
            // or the image deleted with `rmi -f`).
            let id = &c.record.image_id;
            if store
                .resolve_image(&c.record.image)
                .map_or(true, |i| i.id.to_string() != *id)
            {
                let hex = id.strip_prefix("sha256:").unwrap_or(id);
                row["Image"] = json!(if args.no_trunc {
                    id.clone()
                } else {
                    hex[..hex.len().min(12)].to_string()
                });
            }
        }
        if let Some(store) = store.as_ref().filter(|_| args.size) {
            let rw = c.size_rw().unwrap_or(0);
            let image = store
                .resolve_image(&c.record.image_target)
                .map(|i| i.size)
                .unwrap_or(0);
            row["Size"] = json!(format!(
                "{} (virtual {})",
                human_size(rw),
                human_size(rw + image)
            ));
        }
        rows.push(row);
    }
    if args.quiet {
        for r in &rows {
            writeln!(out, "{}", r["ID"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    let default = if args.size {
        format!("{DEFAULT_TABLE}\t{{{{.Size}}}}")
    } else {
        DEFAULT_TABLE.to_string()
    };
    // Docker: `--format`, else the client config's `psFormat`, else strata's `ps-format`.
    let configured = ctx
        .client
        .ps_format
        .as_deref()
        .or(ctx.config.ps_format.as_deref());
    let format = OutputFormat::parse(args.format.as_deref().or(configured), &default)?;
    render::write_rows(out, &format, HEADERS, &rows)
}

/// The COMMAND dockerd lists: the path, then each argument, one with a space in single
/// quotes (`sh -c 'echo hi'`); no escaping, as dockerd does none.
fn docker_command(args: &[String]) -> String {
    let mut words = args.iter();
    let mut out = words.next().cloned().unwrap_or_default();
    for a in words {
        out.push(' ');
        if a.contains(' ') {
            out.push_str(&format!("'{a}'"));
        } else {
            out.push_str(a);
        }
    }
    out
}

/// One row, with the fields Docker's `--format` offers.
fn row(c: &Container, s: &ContainerState, now: DateTime<Utc>, trunc: bool) -> Value {
    let id = if trunc {
        c.record.id[..12].to_string()
    } else {
        c.record.id.clone()
    };
    let command = docker_command(&c.record.args);
    let command = if trunc {
        util::ellipsis(&command, 20)
    } else {
        command
    };
    let created = util::parse_time(Some(&c.record.created));
    let ports: Vec<String> = s
        .ports
        .iter()
        .map(|p| {
            format!(
                "{}:{}->{}/{}",
                p.host_ip, p.host_port, p.container_port, p.protocol
            )
        })
        .collect();
    let local_volumes = c
        .record
        .options
        .mounts
        .iter()
        .filter(|m| matches!(m.kind, runtime::MountKind::Volume { .. }))
        .count();
    // Docker's keys, in the alphabetical order its `{{json .}}` prints them.
    json!({
        "Command": go_quote(&command),
        "CreatedAt": created.map(render::go_time).unwrap_or_default(),
        "ID": id,
        "Image": c.record.image,
        // Docker's `k=v` pairs, sorted (a BTreeMap), comma-joined.
        "Labels": c.record.options.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "LocalVolumes": local_volumes.to_string(),
        "Mounts": c.record.options.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>().join(","),
        "Names": c.record.name,
        "Networks": c.record.options.network.network_name().unwrap_or_default(),
        "Ports": ports.join(", "),
        "RunningFor": render::created_since(created, now),
        "Size": "",
        "State": container::state_name(s),
        "Status": container::status_text(s, runtime::health::read(&c.dir.0).as_ref(), now),
    })
}

/// Go's `strconv.Quote`: double quotes, with `"`, `\` and control characters escaped.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn parse_filter(f: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = f
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value): {f}"))?;
    match k {
        "id" | "name" | "status" | "exited" | "ancestor" | "label" | "volume" | "network"
        | "publish" | "before" | "since" => Ok((k.to_string(), v.to_string())),
        "health" => match v {
            "starting" | "healthy" | "unhealthy" | "none" => Ok((k.to_string(), v.to_string())),
            _ => anyhow::bail!("Unrecognised filter value for health: {v}"),
        },
        _ => anyhow::bail!("invalid filter '{k}'"),
    }
}

/// `before=`/`since=` name a container: each becomes its creation time (`created<` or
/// `created>` against it), as Docker compares them.
fn resolve_order_filters(ctx: &Ctx, filters: &mut [(String, String)]) -> anyhow::Result<()> {
    for (k, v) in filters.iter_mut() {
        if k == "before" || k == "since" {
            let c = runtime::container::load(&ctx.root, v)?;
            *v = c.record.created.clone();
        }
    }
    Ok(())
}

fn matches(c: &Container, s: &ContainerState, key: &str, value: &str) -> bool {
    match key {
        "id" => c.record.id.starts_with(value),
        "name" => c.record.name.contains(value),
        "status" => container::state_name(s) == value,
        "exited" => {
            s.status == Status::Exited
                && s.exit_code.map(|e| e.to_string()) == Some(value.to_string())
        }
        // An image that exists was resolved to its full ID before the walk.
        "ancestor" if value.len() == 71 && value.starts_with("sha256:") => {
            c.record.image_id == value
        }
        "ancestor" => {
            c.record.image == value || util::familiar(&c.record.image) == util::familiar(value)
        }
        // `label=KEY` or `label=KEY=VALUE`, over the container's own labels.
        "label" => {
            let labels = &c.record.options.labels;
            match value.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
                None => labels.contains_key(value),
            }
        }
        "health" => match runtime::health::read(&c.dir.0) {
            Some(h) => h.status == value,
            None => value == "none",
        },
        // A volume by name, or any mount by its destination.
        "volume" => c.record.options.mounts.iter().any(|m| {
            m.destination == value
                || matches!(&m.kind, runtime::MountKind::Volume { name, .. } if name == value)
        }),
        // The container's network or one it was connected to, by name.
        "network" => {
            let o = &c.record.options;
            o.network.network_name() == Some(value) || o.connected.iter().any(|(n, _)| n == value)
        }
        // `publish=80`, `publish=80/udp`, `publish=8000-8080/tcp`: a container port bound
        // now (Docker matches the running container's bindings, not its flags).
        "publish" => {
            let (ports, proto) = value.split_once('/').unwrap_or((value, "tcp"));
            let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
            let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else {
                return false;
            };
            s.status == Status::Running
                && s.ports
                    .iter()
                    .any(|p| p.protocol == proto && (lo..=hi).contains(&p.container_port))
        }
        // Resolved to the named container's creation time (RFC 3339, same zone).
        "before" => c.record.created.as_str() < value,
        "since" => c.record.created.as_str() > value,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_quotes_arguments_with_spaces_as_dockerd() {
        let args: Vec<String> = ["sh", "-c", "echo ready; sleep 60"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(docker_command(&args), "sh -c 'echo ready; sleep 60'");
        assert_eq!(docker_command(&args[..1]), "sh");
        assert_eq!(docker_command(&[]), "");
    }

    #[test]
    fn quotes_like_go() {
        for (s, want) in [
            ("sh -c 'echo hi'", "\"sh -c 'echo hi'\""),
            ("a\"b\\c", "\"a\\\"b\\\\c\""),
            ("x\ny", "\"x\\ny\""),
            ("sleep 1000000000000…", "\"sleep 1000000000000…\""),
        ] {
            assert_eq!(go_quote(s), want);
        }
    }

    #[test]
    fn filters_parse() {
        assert!(parse_filter("status=exited").is_ok());
        assert!(parse_filter("nope=1").is_err());
        assert!(parse_filter("status").is_err());
    }
}
