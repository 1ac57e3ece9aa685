//! Container networking without a daemon and without touching the host's network: the
//! default network (Docker's `bridge`) is a network namespace per container, made and kept
//! by a bind mount ([`netns`]), given outbound access by a user-mode helper
//! ([`usermode`]: pasta or slirp4netns); `--network container:NAME` joins another
//! container's namespace; `-p` is [`crate::ports`]' forwarder in every case.

use std::path::{Path, PathBuf};

use crate::{NetworkMode, RunOptions, RuntimeError};

pub mod bridge;
pub mod config;
pub mod netns;
pub mod usermode;

/// Where a container on the user-mode network keeps its namespace: a file in its
/// directory `dir`.
pub fn netns_path(dir: &Path) -> PathBuf {
    dir.join("netns")
}

/// Docker's refusals of flags that cannot go with the network mode
/// (`runconfig.validateNetContainerMode` and friends), checked when a container is made.
pub fn validate(opts: &RunOptions, hostname_given: bool) -> Result<(), RuntimeError> {
    let conflict = |what: &str| {
        Err(RuntimeError::InvalidOptions(format!(
            "conflicting options: {what}"
        )))
    };
    if let NetworkMode::Container(_) = opts.network {
        if hostname_given {
            return conflict("hostname and the network mode");
        }
        if !opts.dns.servers.is_empty() {
            return conflict("dns and the network mode");
        }
        if !opts.extra_hosts.is_empty() {
            return conflict("custom host-to-IP mapping and the network mode");
        }
        if !opts.publish.is_empty() || opts.publish_all {
            return conflict("port publishing and the container type network mode");
        }
    }
    if !opts.network_aliases.is_empty() && !opts.network.is_named() {
        return Err(RuntimeError::InvalidOptions(
            "network-scoped alias is supported only for containers in user defined networks".into(),
        ));
    }
    Ok(())
}

/// The container's own line in `/etc/hosts` on the user-mode network (Docker writes the
/// container's address and hostname).
pub fn own_hosts_line(hostname: &str) -> String {
    format!("{}\t{hostname}\n", usermode::GUEST)
}

/// `/etc/resolv.conf` on the user-mode network: the helper's DNS forwarder (as podman
/// writes it with pasta and slirp4netns), with the host's `search` and `options`.
pub fn resolv_conf(host: &str) -> String {
    let mut out = String::new();
    for l in host.lines() {
        let first = l.split_whitespace().next();
        if matches!(first, Some("search") | Some("domain") | Some("options")) {
            out.push_str(l);
            out.push('\n');
        }
    }
    format!("nameserver {}\n{out}", usermode::DNS)
}

/// A container's attachment to the user-mode network while it runs: its namespace and
/// the helper serving it.
#[derive(Debug)]
pub struct Attachment {
    netns: PathBuf,
    helper: Option<usermode::Helper>,
    /// The store's root and the container's directory, when it is on user networks.
    user_networks: Option<(PathBuf, PathBuf)>,
}

impl Attachment {
    /// Makes the namespace of container `c` and starts the helper on it (the default
    /// network) or joins its user networks. Nothing is left behind when this fails.
    pub fn set_up(store_root: &Path, c: &crate::Container) -> Result<Attachment, RuntimeError> {
        let dir = &c.dir.0;
        let o = &c.record.options;
        let helper = if o.network.is_user_mode() {
            Some(usermode::detect()?)
        } else {
            None
        };
        let netns = netns_path(dir);
        // A monitor that died may have left the last run's.
        tear_down_recorded(store_root, dir)?;
        netns::create(&netns)?;
        let mut a = Attachment {
            netns: netns.clone(),
            helper: None,
            user_networks: None,
        };
        if let Some((kind, program)) = helper {
            match usermode::start(kind, &program, &netns, dir) {
                Ok(h) => a.helper = Some(h),
                Err(e) => {
                    let _ = netns::remove(&netns);
                    return Err(e);
                }
            }
        }
        // Its `--network NAME` (which gives the default route) and its `network connect`s
        // (a default-network container keeps the helper's route).
        let mut nets = Vec::new();
        if let NetworkMode::Named(primary) = &o.network {
            nets.push((primary.clone(), o.network_aliases.clone()));
        }
        nets.extend(o.connected.iter().cloned());
        if !nets.is_empty() {
            a.user_networks = Some((store_root.to_path_buf(), dir.to_path_buf()));
        }
        for (net, aliases) in nets {
            let mut names = vec![c.record.name.clone(), c.record.id[..12].to_string()];
            names.extend(aliases);
            let route = o.network.is_named();
            if let Err(e) = bridge::join(store_root, dir, &netns, &net, &names, route) {
                let _ = a.tear_down();
                return Err(e);
            }
        }
        Ok(a)
    }

    /// The namespace file (for the runtime spec and the port forwarder).
    pub fn netns(&self) -> &Path {
        &self.netns
    }

    /// Stops the helper and removes the namespace.
    pub fn tear_down(self) -> Result<(), RuntimeError> {
        if let Some(h) = self.helper {
            h.stop();
        }
        let removed = netns::remove(&self.netns);
        if let Some((root, dir)) = &self.user_networks {
            bridge::leave_all(root, dir)?;
        }
        removed
    }
}

/// Removes what a container's attachment left in its directory `dir` (its monitor died
/// before tearing it down): `rm`'s cleanup, and a start's.
pub fn tear_down_recorded(store_root: &Path, dir: &Path) -> Result<(), RuntimeError> {
    let netns = netns_path(dir);
    usermode::stop_recorded(dir, &netns);
    netns::remove(&netns)?;
    bridge::leave_all(store_root, dir)
}

/// The user networks container `c` is on (its `--network` and its `network connect`s),
/// resolved to their records; names that no longer resolve are left out.
pub fn networks_of(store_root: &Path, c: &crate::Container) -> Vec<(config::Network, Vec<String>)> {
    let o = &c.record.options;
    let mut refs = Vec::new();
    if let NetworkMode::Named(n) = &o.network {
        refs.push((n.clone(), o.network_aliases.clone()));
    }
    refs.extend(o.connected.iter().cloned());
    refs.into_iter()
        .filter_map(|(n, a)| config::find(store_root, &n).ok().map(|n| (n, a)))
        .collect()
}

/// The containers on network `n` (running or not).
pub fn users(
    store_root: &Path,
    n: &config::Network,
) -> Result<Vec<crate::Container>, RuntimeError> {
    Ok(crate::container::list(store_root)?
        .into_iter()
        .filter(|c| networks_of(store_root, c).iter().any(|(m, _)| m.id == n.id))
        .collect())
}

fn save_record(c: &crate::Container) -> Result<(), RuntimeError> {
    crate::record::write_json(&c.dir.record(), &c.record)
}

/// `network connect`: records network `key` (with `aliases`) on container `c` and, when
/// it runs, plugs it in now.
pub fn connect(
    store_root: &Path,
    mut c: crate::Container,
    key: &str,
    aliases: Vec<String>,
) -> Result<(), RuntimeError> {
    let n = config::find(store_root, key)?;
    let o = &c.record.options;
    if n.is_predefined() || !(o.network.own_namespace_file()) {
        return Err(RuntimeError::InvalidOptions(
            "container sharing network namespace with another container or host cannot be \
             connected to any other network"
                .into(),
        ));
    }
    if networks_of(store_root, &c)
        .iter()
        .any(|(m, _)| m.id == n.id)
    {
        return Err(RuntimeError::InvalidOptions(format!(
            "endpoint with name {} already exists in network {}",
            c.record.name, n.name
        )));
    }
    if c.state.status == crate::Status::Running {
        let mut names = vec![c.record.name.clone(), c.record.id[..12].to_string()];
        names.extend(aliases.iter().cloned());
        let dir = c.dir.0.clone();
        bridge::join(store_root, &dir, &netns_path(&dir), &n.id, &names, false)?;
    }
    c.record.options.connected.push((n.name.clone(), aliases));
    save_record(&c)
}

/// `network disconnect`: takes container `c` off network `key` (unplugging it when it
/// runs); its `--network` itself cannot go (Docker would leave it on none).
pub fn disconnect(
    store_root: &Path,
    mut c: crate::Container,
    key: &str,
) -> Result<(), RuntimeError> {
    let n = config::find(store_root, key)?;
    let before = c.record.options.connected.len();
    c.record.options.connected.retain(|(m, _)| {
        config::find(store_root, m)
            .map(|m| m.id != n.id)
            .unwrap_or(true)
    });
    if c.record.options.connected.len() == before {
        let primary = matches!(&c.record.options.network, NetworkMode::Named(m)
            if config::find(store_root, m).is_ok_and(|m| m.id == n.id));
        return Err(RuntimeError::InvalidOptions(if primary {
            format!(
                "container {} is connected to network {} by --network: strata cannot leave it \
                 without a network",
                c.record.id, n.name
            )
        } else {
            format!(
                "container {} is not connected to network {}",
                c.record.id, n.name
            )
        }));
    }
    if c.state.status == crate::Status::Running {
        let dir = c.dir.0.clone();
        bridge::leave(store_root, &dir, &netns_path(&dir), &n.id)?;
    }
    save_record(&c)
}

/// `network rm`: refuses a network with containers on it; removes its bridge (and the
/// shared namespace with the last user network).
pub fn remove(store_root: &Path, key: &str) -> Result<config::Network, RuntimeError> {
    let n = config::find(store_root, key)?;
    let in_use: Vec<String> = if n.is_predefined() {
        Vec::new()
    } else {
        users(store_root, &n)?
            .into_iter()
            .map(|c| c.record.id)
            .collect()
    };
    let n = config::remove(store_root, key, &in_use)?;
    let left = config::list(store_root)?
        .iter()
        .filter(|n| !n.is_predefined())
        .count();
    bridge::remove_network(store_root, &n, left)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_modes_parse_as_docker_does() {
        for (s, want, shown) in [
            ("", NetworkMode::Default, "default"),
            ("default", NetworkMode::Default, "default"),
            ("bridge", NetworkMode::Bridge, "bridge"),
            ("none", NetworkMode::None, "none"),
            ("host", NetworkMode::Host, "host"),
            (
                "container:db",
                NetworkMode::Container("db".into()),
                "container:db",
            ),
        ] {
            let got = NetworkMode::parse(s).unwrap();
            assert_eq!(got, want, "{s}");
            assert_eq!(got.as_docker(), shown);
        }
        assert_eq!(
            NetworkMode::parse("mynet").unwrap(),
            NetworkMode::Named("mynet".into())
        );
        assert!(NetworkMode::parse("container:").is_err());
    }

    #[test]
    fn container_mode_conflicts() {
        let base = RunOptions {
            network: NetworkMode::Container("x".into()),
            ..Default::default()
        };
        assert!(validate(&base, false).is_ok());
        assert_eq!(
            validate(&base, true).unwrap_err().to_string(),
            "conflicting options: hostname and the network mode"
        );
        let mut p = base.clone();
        p.publish = crate::ports::parse_publish("80").unwrap();
        assert_eq!(
            validate(&p, false).unwrap_err().to_string(),
            "conflicting options: port publishing and the container type network mode"
        );
        let mut h = base.clone();
        h.extra_hosts = vec!["a:1.2.3.4".into()];
        assert!(
            validate(&h, false)
                .unwrap_err()
                .to_string()
                .contains("host-to-IP")
        );
        // Other modes take them all.
        let mut ok = p.clone();
        ok.network = NetworkMode::Default;
        assert!(validate(&ok, true).is_ok());
    }

    #[test]
    fn resolv_conf_points_at_the_helper() {
        let host = "nameserver 127.0.0.53\nsearch example.org\noptions edns0\n";
        assert_eq!(
            resolv_conf(host),
            "nameserver 10.0.2.3\nsearch example.org\noptions edns0\n"
        );
        assert_eq!(resolv_conf(""), "nameserver 10.0.2.3\n");
    }
}
