//! `strata network create|ls|inspect|rm|prune|connect|disconnect`: Docker's commands over
//! [`runtime::network`] (user networks live in namespaces strata owns, never the host's).

use std::collections::BTreeMap;
use std::io::Write;

use clap::{Args, Subcommand};
use runtime::network::{self, config::Network};
use serde_json::{Map, Value, json};

use super::Ctx;
use crate::render::{self, Missing, OutputFormat, Template};

/// `strata network ...`.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks.
    Inspect(InspectArgs),
    /// Remove one or more networks.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks.
    Prune(PruneArgs),
    /// Connect a container to a network.
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(DisconnectArgs),
}

/// `network create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Driver to manage the Network (bridge only).
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment.
    #[arg(long)]
    pub subnet: Option<String>,
    /// Set metadata on a network (KEY=VALUE).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The name.
    pub name: String,
}

/// `network ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display network IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. 'driver=bridge').
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Pretty-print networks using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output.
    #[arg(long)]
    pub no_trunc: bool,
}

/// `network inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Networks.
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

/// `network rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Networks.
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

/// `network prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Provide filter values (e.g. 'until=<timestamp>').
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// `network connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container.
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// The network.
    pub network: String,
    /// The container.
    pub container: String,
}

/// `network disconnect`.
#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network.
    #[arg(short, long)]
    pub force: bool,
    /// The network.
    pub network: String,
    /// The container.
    pub container: String,
}

/// Runs one `network` subcommand.
pub fn run(ctx: &Ctx, cmd: NetworkCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match cmd {
        NetworkCommand::Create(a) => create(ctx, a, out),
        NetworkCommand::Ls(a) => ls(ctx, a, out),
        NetworkCommand::Inspect(a) => inspect(ctx, a, out),
        NetworkCommand::Rm(a) => rm(ctx, a, out),
        NetworkCommand::Prune(a) => prune(ctx, a, out),
        NetworkCommand::Connect(a) => {
            let c = runtime::container::load(&ctx.root, &a.container)?;
            Ok(network::connect(&ctx.root, c, &a.network, a.aliases)?)
        }
        NetworkCommand::Disconnect(a) => {
            let c = runtime::container::load(&ctx.root, &a.container)?;
            Ok(network::disconnect(&ctx.root, c, &a.network)?)
        }
    }
}

fn labels(given: &[String]) -> BTreeMap<String, String> {
    given
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn create(ctx: &Ctx, a: CreateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let n = network::config::create(
        &ctx.root,
        &a.name,
        &a.driver,
        a.subnet.as_deref(),
        labels(&a.labels),
    )?;
    writeln!(out, "{}", n.id)?;
    Ok(())
}

/// Docker's `network ls` row.
fn row(n: &Network, no_trunc: bool) -> Value {
    json!({
        "ID": if no_trunc { n.id.clone() } else { n.id[..12].to_string() },
        "Name": n.name,
        "Driver": n.driver,
        "Scope": "local",
        "IPv6": "false",
        "Internal": "false",
        "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "CreatedAt": n.created,
    })
}

/// Whether `n` passes one `ls` filter (`driver=`, `id=`, `name=`, `label=`, `scope=`,
/// `type=custom|builtin`, `dangling=`): Docker's meanings.
fn passes(ctx: &Ctx, n: &Network, key: &str, value: &str) -> anyhow::Result<bool> {
    Ok(match key {
        "driver" => n.driver == value,
        "id" => n.id.starts_with(value),
        "name" => n.name.contains(value),
        "scope" => value == "local",
        "type" => match value {
            "custom" => !n.is_predefined(),
            "builtin" => n.is_predefined(),
            _ => anyhow::bail!("invalid filter: 'type'='{value}'"),
        },
        "label" => match value.split_once('=') {
            Some((k, v)) => n.labels.get(k).is_some_and(|x| x == v),
            None => n.labels.contains_key(value),
        },
        "dangling" => {
            let unused = !n.is_predefined() && network::users(&ctx.root, n)?.is_empty();
            unused == matches!(value, "true" | "1")
        }
        _ => anyhow::bail!("Invalid filter '{key}'"),
    })
}

fn ls(ctx: &Ctx, a: LsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &a.filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value)"))?;
        filters
            .entry(k.to_string())
            .or_default()
            .push(v.to_string());
    }
    let mut rows = Vec::new();
    'next: for n in network::config::list(&ctx.root)? {
        // Values of one key are alternatives; keys all apply.
        for (k, vs) in &filters {
            let mut any = false;
            for v in vs {
                any |= passes(ctx, &n, k, v)?;
            }
            if !any {
                continue 'next;
            }
        }
        rows.push(row(&n, a.no_trunc));
    }
    if a.quiet {
        for r in &rows {
            writeln!(out, "{}", r["ID"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    let format = OutputFormat::parse(
        a.format.as_deref(),
        "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
    )?;
    render::write_rows(out, &format, &[("ID", "NETWORK ID")], &rows)
}

/// Docker 20.10's `network inspect` object.
fn network_json(ctx: &Ctx, n: &Network) -> anyhow::Result<Value> {
    let mut containers = Map::new();
    if n.is_predefined() {
        // Docker lists the running containers on its predefined networks.
        for c in runtime::container::list(&ctx.root)? {
            let on_it = c.record.options.network.network_name() == Some(n.name.as_str());
            if !on_it || c.state.status != runtime::Status::Running {
                continue;
            }
            let ip = if n.name == "bridge" {
                format!("{}/24", network::usermode::GUEST)
            } else {
                String::new()
            };
            containers.insert(
                c.record.id.clone(),
                json!({"Name": c.record.name, "EndpointID": "", "MacAddress": "",
                       "IPv4Address": ip, "IPv6Address": ""}),
            );
        }
    } else {
        for c in network::users(&ctx.root, n)? {
            let ep = network::bridge::endpoints(&c.dir.0)
                .into_iter()
                .find(|e| e.network_id == n.id);
            let (ip, endpoint) = match &ep {
                Some(e) => (format!("{}/{}", e.ip, e.prefix), e.ifname.clone()),
                None => continue,
            };
            containers.insert(
                c.record.id.clone(),
                json!({"Name": c.record.name, "EndpointID": endpoint, "MacAddress": "",
                       "IPv4Address": ip, "IPv6Address": ""}),
            );
        }
    }
    let config = if n.subnet.is_empty() {
        json!([])
    } else {
        json!([{"Subnet": n.subnet, "Gateway": n.gateway}])
    };
    Ok(json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": if n.is_predefined() { Value::Null } else { json!({}) }, "Config": config},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": {},
        "Labels": n.labels,
    }))
}

fn inspect(ctx: &Ctx, a: InspectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &a.names {
        match network::config::find(&ctx.root, name) {
            Ok(n) => found.push(network_json(ctx, &n)?),
            Err(runtime::RuntimeError::NoSuchNetwork(_)) => {
                errors.push(anyhow::anyhow!("No such network: {name}"))
            }
            Err(e) => errors.push(e.into()),
        }
    }
    match &a.format {
        Some(f) if f != "json" => {
            let t = Template::parse(f, Missing::Error)?;
            for v in &found {
                writeln!(out, "{}", t.execute(v)?)?;
            }
        }
        _ => writeln!(out, "{}", super::inspect::pretty(&Value::Array(found))?)?,
    }
    super::report_errors(errors)
}

fn rm(ctx: &Ctx, a: RmArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for name in &a.names {
        match network::remove(&ctx.root, name) {
            Ok(_) => writeln!(out, "{name}")?,
            Err(runtime::RuntimeError::NoSuchNetwork(_)) => {
                errors.push(anyhow::anyhow!("No such network: {name}"))
            }
            Err(e) => errors.push(e.into()),
        }
    }
    super::report_errors(errors)
}

fn prune(ctx: &Ctx, a: PruneArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let filters = super::prune_filter::PruneFilters::parse(&a.filters, chrono::Utc::now())?;
    if !a.force
        && !super::container::confirm(
            out,
            "WARNING! This will remove all custom networks not used by at least one container.",
        )?
    {
        return Ok(());
    }
    let mut removed = Vec::new();
    for n in network::config::list(&ctx.root)? {
        if n.is_predefined()
            || !filters.allows_parts(Some(&n.created), &n.labels)
            || !network::users(&ctx.root, &n)?.is_empty()
        {
            continue;
        }
        network::remove(&ctx.root, &n.id)?;
        removed.push(n.name);
    }
    if !removed.is_empty() {
        writeln!(out, "Deleted Networks:")?;
        for n in &removed {
            writeln!(out, "{n}")?;
        }
    }
    Ok(())
}
