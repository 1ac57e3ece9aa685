//! `strata port`: a running container's published ports.

use std::io::Write;

use super::{Ctx, container};
use crate::cli::PortArgs;

/// Prints `80/tcp -> 127.0.0.1:8080` lines, or with a port only its host addresses.
pub fn run(ctx: &Ctx, args: PortArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (c, rt) = container::load(ctx, &args.container)?;
    let state = c.observed(&rt)?;
    let ports = if state.status == runtime::Status::Running {
        state.ports
    } else {
        Vec::new()
    };
    match &args.port {
        None => {
            for p in &ports {
                writeln!(
                    out,
                    "{}/{} -> {}",
                    p.container_port,
                    p.protocol,
                    host_addr(p)
                )?;
            }
        }
        Some(want) => {
            let (port, proto) = want.split_once('/').unwrap_or((want, "tcp"));
            let port: u16 = port
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid port: {want}"))?;
            let found: Vec<_> = ports
                .iter()
                .filter(|p| p.container_port == port && p.protocol == proto)
                .collect();
            if found.is_empty() {
                anyhow::bail!(
                    "No public port '{port}/{proto}' published for {}",
                    args.container
                );
            }
            for p in found {
                writeln!(out, "{}", host_addr(p))?;
            }
        }
    }
    Ok(())
}

/// Docker 20.10's `IP:PORT`, unbracketed for IPv6 too (`:::8080`).
fn host_addr(p: &runtime::ports::PortMapping) -> String {
    format!("{}:{}", p.host_ip, p.host_port)
}
