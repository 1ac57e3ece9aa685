//! User networks' plumbing, all inside network namespaces strata makes (never the host's):
//! one shared namespace per store, kept by a bind mount under `<store>/networks/.run/`
//! (as podman's rootless-netns), holds a Linux bridge per user network; each container on
//! a network gets a veth pair from that bridge into its own namespace, with an address of
//! the network's subnet. `ip` (iproute2) does the netlink work, run through `nsenter
//! --net=<namespace file>` so that every command acts inside one of our namespaces.
//!
//! Name resolution is by `/etc/hosts`: every running member's file lists the other
//! members (names and `--network-alias`es) and is rewritten in place when one joins or
//! leaves. Docker uses an embedded DNS server instead; a hosts file needs no process per
//! container or network, works with every resolver (busybox's and musl's too) and is what
//! Docker itself did with links; its limit is that a name resolves to one address.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::config::{self, Network};
use crate::RuntimeError;
use crate::record::{read_json, write_json};

/// One network a container is on, while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The network's ID.
    pub network_id: String,
    /// The network's name.
    pub network: String,
    /// The container's address on it.
    pub ip: String,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The network's gateway (the bridge).
    pub gateway: String,
    /// The names others find it by: its name, its short ID, its aliases.
    pub names: Vec<String>,
    /// Its interface in the container (`eth0`, …).
    #[serde(default)]
    pub ifname: String,
}

/// Where the shared namespace of the store at `root` is kept.
pub fn run_dir(root: &Path) -> PathBuf {
    config::dir(root).join(".run")
}

fn shared_netns(root: &Path) -> PathBuf {
    run_dir(root).join("netns")
}

fn endpoints_file(dir: &Path) -> PathBuf {
    dir.join("endpoints.json")
}

/// The hosts file a container had before any member line: kept next to its `/etc/hosts`.
pub fn base_hosts_file(dir: &Path) -> PathBuf {
    dir.join("hosts.base")
}

/// The endpoints of the container whose directory is `dir` (none when not running).
pub fn endpoints(dir: &Path) -> Vec<Endpoint> {
    read_json(&endpoints_file(dir)).unwrap_or_default()
}

/// Runs `ip ARGS` inside the namespace kept at `netns`.
fn ip_in(netns: &Path, args: &[&str]) -> Result<(), RuntimeError> {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .arg("ip")
        .args(args)
        .output()
        .map_err(|e| RuntimeError::io("run nsenter ip in", netns, e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(RuntimeError::InvalidOptions(format!(
        "ip {} (in {}) failed: {}",
        args.join(" "),
        netns.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

fn bridge_name(n: &Network) -> String {
    format!("sbr-{}", &n.id[..11])
}

/// Makes the shared namespace (loopback up) if it is not there, with outbound access:
/// pasta serves it (as a container's namespace on the default network), it forwards, and
/// masquerades what the bridges send out. slirp4netns is a child that ends with the
/// process that started it, so with it user networks have no outbound access.
fn ensure_shared(root: &Path) -> Result<PathBuf, RuntimeError> {
    let ns = shared_netns(root);
    if super::netns::is_namespace(&ns) {
        return Ok(ns);
    }
    let d = run_dir(root);
    fs::create_dir_all(&d).map_err(|e| RuntimeError::io("create", &d, e))?;
    super::netns::create(&ns)?;
    let set_up = || -> Result<(), RuntimeError> {
        ip_in(&ns, &["link", "set", "lo", "up"])?;
        if let Ok((super::usermode::Kind::Pasta, program)) = super::usermode::detect() {
            // Daemonized, recorded in the run directory; `remove_network` ends it.
            super::usermode::start(super::usermode::Kind::Pasta, &program, &ns, &d)?;
            run_in(&ns, "sh", &["-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])?;
            run_in(&ns, "nft", &["add", "table", "ip", "strata"])?;
            run_in(
                &ns,
                "nft",
                &[
                    "add",
                    "chain",
                    "ip",
                    "strata",
                    "post",
                    "{ type nat hook postrouting priority 100 ; }",
                ],
            )?;
            run_in(
                &ns,
                "nft",
                &[
                    "add",
                    "rule",
                    "ip",
                    "strata",
                    "post",
                    "oifname",
                    "!=",
                    "sbr-*",
                    "masquerade",
                ],
            )?;
        }
        Ok(())
    };
    if let Err(e) = set_up() {
        super::usermode::stop_recorded(&d, &ns);
        let _ = super::netns::remove(&ns);
        return Err(e);
    }
    Ok(ns)
}

/// Runs `program ARGS` inside the namespace kept at `netns`.
fn run_in(netns: &Path, program: &str, args: &[&str]) -> Result<(), RuntimeError> {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .arg(program)
        .args(args)
        .output()
        .map_err(|e| RuntimeError::io("run nsenter in", netns, e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(RuntimeError::InvalidOptions(format!(
        "{program} {} (in {}) failed: {}",
        args.join(" "),
        netns.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Makes network `n`'s bridge in the shared namespace if it is not there.
fn ensure_bridge(ns: &Path, n: &Network) -> Result<String, RuntimeError> {
    let br = bridge_name(n);
    if ip_in(ns, &["link", "show", &br]).is_ok() {
        return Ok(br);
    }
    let (_, len) = config::parse_subnet(&n.subnet)?;
    ip_in(ns, &["link", "add", &br, "type", "bridge"])?;
    ip_in(
        ns,
        &["addr", "add", &format!("{}/{len}", n.gateway), "dev", &br],
    )?;
    ip_in(ns, &["link", "set", &br, "up"])?;
    Ok(br)
}

/// Addresses in use on network `id` by the running containers of the store.
fn used_addresses(root: &Path, id: &str) -> Result<Vec<String>, RuntimeError> {
    let mut used = Vec::new();
    for c in crate::container::list(root)? {
        for e in endpoints(&c.dir.0) {
            if e.network_id == id {
                used.push(e.ip);
            }
        }
    }
    Ok(used)
}

/// The network lock: joins and leaves are one at a time per store.
fn lock(root: &Path) -> Result<fs::File, RuntimeError> {
    let d = config::dir(root);
    fs::create_dir_all(&d).map_err(|e| RuntimeError::io("create", &d, e))?;
    let p = d.join(".plumbing.lock");
    let f = fs::File::create(&p).map_err(|e| RuntimeError::io("create", &p, e))?;
    f.lock().map_err(|e| RuntimeError::io("lock", &p, e))?;
    Ok(f)
}

/// Puts the container (directory `dir`, namespace file `netns`) on network `key` with
/// `names` (its name, short ID, aliases); the first network gives the default route.
pub fn join(
    root: &Path,
    dir: &Path,
    netns: &Path,
    key: &str,
    names: &[String],
    default_route: bool,
) -> Result<Endpoint, RuntimeError> {
    let n = config::find(root, key)?;
    if n.driver != "bridge" || n.is_predefined() {
        return Err(RuntimeError::InvalidOptions(format!(
            "network {} is not a user network",
            n.name
        )));
    }
    let _l = lock(root)?;
    let mut eps = endpoints(dir);
    if let Some(e) = eps.iter().find(|e| e.network_id == n.id) {
        return Ok(e.clone());
    }
    let shared = ensure_shared(root)?;
    let br = ensure_bridge(&shared, &n)?;
    let (_, prefix) = config::parse_subnet(&n.subnet)?;
    let used = used_addresses(root, &n.id)?;
    let mut k = 2;
    let ip = loop {
        let a = config::host_address(&n.subnet, k)?.to_string();
        if !used.contains(&a) {
            break a;
        }
        k += 1;
    };
    // The first free `ethN`: a disconnect may have freed one, and the user-mode helper of
    // a default-network container has its own.
    let slot = (0..64)
        .find(|k| {
            let name = format!("eth{k}");
            !eps.iter().any(|e| e.ifname == name) && ip_in(netns, &["link", "show", &name]).is_err()
        })
        .unwrap_or(64);
    let ifname = format!("eth{slot}");
    // The host side's name: unique in the shared namespace (15 bytes at most).
    let id = dir
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let outer = format!("sv{}{slot}", &id[..id.len().min(10)]);
    ip_in(
        &shared,
        &[
            "link",
            "add",
            &outer,
            "type",
            "veth",
            "peer",
            "name",
            &ifname,
            "netns",
            &netns.display().to_string(),
        ],
    )?;
    ip_in(&shared, &["link", "set", &outer, "master", &br, "up"])?;
    ip_in(netns, &["link", "set", "lo", "up"])?;
    ip_in(
        netns,
        &["addr", "add", &format!("{ip}/{prefix}"), "dev", &ifname],
    )?;
    ip_in(netns, &["link", "set", &ifname, "up"])?;
    if default_route && eps.is_empty() {
        ip_in(netns, &["route", "add", "default", "via", &n.gateway])?;
    }
    let e = Endpoint {
        network_id: n.id.clone(),
        network: n.name.clone(),
        ip,
        prefix,
        gateway: n.gateway.clone(),
        names: names.to_vec(),
        ifname,
    };
    eps.push(e.clone());
    write_json(&endpoints_file(dir), &eps)?;
    refresh_hosts(root)?;
    Ok(e)
}

/// Takes a running container (directory `dir`, namespace `netns`) off network `key`.
pub fn leave(root: &Path, dir: &Path, netns: &Path, key: &str) -> Result<(), RuntimeError> {
    let n = config::find(root, key)?;
    let _l = lock(root)?;
    let mut eps = endpoints(dir);
    let Some(i) = eps.iter().position(|e| e.network_id == n.id) else {
        return Ok(());
    };
    let e = eps.remove(i);
    ip_in(netns, &["link", "del", &e.ifname])?;
    write_json(&endpoints_file(dir), &eps)?;
    refresh_hosts(root)
}

/// Takes the container (directory `dir`) off every network: its veths went with its
/// namespace; the others' hosts files forget it.
pub fn leave_all(root: &Path, dir: &Path) -> Result<(), RuntimeError> {
    let f = endpoints_file(dir);
    if !f.exists() {
        return Ok(());
    }
    let _l = lock(root)?;
    fs::remove_file(&f).map_err(|e| RuntimeError::io("remove", &f, e))?;
    refresh_hosts(root)
}

/// Rewrites the hosts file of every container on a user network: its own base, its own
/// addresses, then every other member of its networks.
fn refresh_hosts(root: &Path) -> Result<(), RuntimeError> {
    let all: Vec<(crate::Container, Vec<Endpoint>)> = crate::container::list(root)?
        .into_iter()
        .map(|c| {
            let eps = endpoints(&c.dir.0);
            (c, eps)
        })
        .filter(|(_, eps)| !eps.is_empty())
        .collect();
    for (c, eps) in &all {
        let Ok(mut text) = fs::read_to_string(base_hosts_file(&c.dir.0)) else {
            continue;
        };
        let hostname = fs::read_to_string(c.dir.hostname()).unwrap_or_default();
        text.push_str(&format!("{}\t{}\n", eps[0].ip, hostname.trim()));
        let mut seen = Vec::new();
        for e in eps {
            for (other, theirs) in &all {
                if other.record.id == c.record.id {
                    continue;
                }
                for t in theirs.iter().filter(|t| t.network_id == e.network_id) {
                    let line = format!("{}\t{}\n", t.ip, t.names.join(" "));
                    if !seen.contains(&line) {
                        text.push_str(&line);
                        seen.push(line);
                    }
                }
            }
        }
        // In place: the container's /etc/hosts is a bind mount of this very inode.
        let p = c.dir.hosts();
        fs::write(&p, text).map_err(|e| RuntimeError::io("write", &p, e))?;
    }
    Ok(())
}

/// Removes network `n`'s bridge, and the shared namespace once no user network is left.
pub fn remove_network(root: &Path, n: &Network, networks_left: usize) -> Result<(), RuntimeError> {
    let _l = lock(root)?;
    let ns = shared_netns(root);
    if !super::netns::is_namespace(&ns) {
        return Ok(());
    }
    let _ = ip_in(&ns, &["link", "del", &bridge_name(n)]);
    if networks_left == 0 {
        super::usermode::stop_recorded(&run_dir(root), &ns);
        super::netns::remove(&ns)?;
        // The helper's log and PID file went with it.
        let d = run_dir(root);
        fs::remove_dir_all(&d).map_err(|e| RuntimeError::io("remove", &d, e))?;
    }
    Ok(())
}
