//! The `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname` a container gets, as Docker
//! writes them.

use serde::{Deserialize, Serialize};

use crate::NetworkMode;

/// The hostname of a BuildKit RUN step.
pub const BUILD_SANDBOX_HOSTNAME: &str = "buildkitsandbox";

/// `/etc/hosts` of a BuildKit RUN step, whatever its network: loopback names only.
pub fn build_sandbox_hosts(hostname: &str) -> String {
    format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
}

/// Docker's `/etc/hosts` head: the loopback and IPv6 names, without the container's own
/// name (it has no address of its own with `--network none`).
const DEFAULT_HOSTS: &str = "127.0.0.1\tlocalhost\n\
     ::1\tlocalhost ip6-localhost ip6-loopback\n\
     fe00::0\tip6-localnet\n\
     ff00::0\tip6-mcastprefix\n\
     ff02::1\tip6-allnodes\n\
     ff02::2\tip6-allrouters\n";

/// What Docker 20.10 writes for `--add-host NAME:host-gateway` when it has no bridge to
/// take the gateway's address from: Go's printing of a nil IP.
pub const HOST_GATEWAY_WITHOUT_BRIDGE: &str = "<nil>";

/// `/etc/hosts`: on the host network without `--add-host`, the host's; otherwise Docker's
/// loopback entries followed by one `IP\tNAME` line per `--add-host NAME:IP`.
pub fn hosts(network: &NetworkMode, extra_hosts: &[String], host_hosts: &str) -> String {
    if *network == NetworkMode::Host && extra_hosts.is_empty() {
        return host_hosts.to_string();
    }
    let mut out = DEFAULT_HOSTS.to_string();
    for entry in extra_hosts {
        // Validated as `NAME:IP` by the CLI ([`validate_extra_host`]).
        let (name, ip) = entry.split_once(':').unwrap_or((entry, ""));
        let ip = if ip == "host-gateway" && network.is_user_mode() {
            // The user-mode helper's gateway reaches the host.
            crate::network::usermode::GATEWAY
        } else if ip == "host-gateway" {
            HOST_GATEWAY_WITHOUT_BRIDGE
        } else {
            ip
        };
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    out
}

/// Docker's check of one `--add-host` value (`opts.ValidateExtraHost`): `NAME:IP` with a
/// name and an IPv4 or IPv6 address (spaces around it allowed), or `NAME:host-gateway`.
pub fn validate_extra_host(val: &str) -> Result<String, String> {
    match val.split_once(':') {
        Some((name, ip)) if !name.is_empty() => {
            if ip == "host-gateway" || ip.trim().parse::<std::net::IpAddr>().is_ok() {
                Ok(val.to_string())
            } else {
                Err(format!("invalid IP address in add-host: {ip:?}"))
            }
        }
        _ => Err(format!("bad format for add-host: {val:?}")),
    }
}

/// `--dns`, `--dns-search` and `--dns-option`: each, when given, replaces that part of
/// the host's `/etc/resolv.conf`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsConfig {
    /// `--dns`: nameserver addresses.
    pub servers: Vec<String>,
    /// `--dns-search`: search domains.
    pub search: Vec<String>,
    /// `--dns-option`: resolver options.
    pub options: Vec<String>,
}

impl DnsConfig {
    /// Whether any DNS flag was given.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.search.is_empty() && self.options.is_empty()
    }
}

/// Docker's check of one `--dns` value: an IP address, printed back in canonical form.
pub fn validate_dns(val: &str) -> Result<String, String> {
    val.trim()
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| format!("{val} is not an ip address"))
}

/// Docker's check of one `--dns-search` value (`opts.ValidateDNSSearch`): `.` (no search
/// list), or a domain of letter/digit labels with inner hyphens, a trailing dot allowed.
pub fn validate_dns_search(val: &str) -> Result<String, String> {
    let bad = || format!("{val} is not a valid domain");
    if val == "." {
        return Ok(val.to_string());
    }
    let domain = val.trim_end();
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.len() > 255 || !domain.split('.').all(label_ok) {
        return Err(bad());
    }
    Ok(val.to_string())
}

/// The fields of the last `key` line of a resolv.conf (`search`, `options`), comments
/// left out, as libnetwork's `resolvconf` reads them.
fn last_line_fields(conf: &str, key: &str) -> Vec<String> {
    conf.lines()
        .filter_map(|l| {
            let l = l.split(['#', ';']).next().unwrap_or_default();
            let mut f = l.split_whitespace();
            (f.next() == Some(key)).then(|| f.map(str::to_string).collect::<Vec<_>>())
        })
        .next_back()
        .unwrap_or_default()
}

/// `/etc/resolv.conf` when DNS flags were given (libnetwork's `resolvconf.Build`): the
/// flags' values, the host's for the parts not given; `search` first, then one
/// `nameserver` line each, then `options`. A search list of just `.` means none.
pub fn resolv_conf_with(dns: &DnsConfig, host: &str) -> String {
    let pick = |given: &[String], key: &str| {
        if given.is_empty() {
            last_line_fields(host, key)
        } else {
            given.to_vec()
        }
    };
    let servers: Vec<String> = if dns.servers.is_empty() {
        host.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                (f.next() == Some("nameserver")).then(|| f.next().map(str::to_string))?
            })
            .collect()
    } else {
        dns.servers.clone()
    };
    let search = pick(&dns.search, "search");
    let options = pick(&dns.options, "options");
    let mut out = String::new();
    let search = search.join(" ");
    if !search.is_empty() && search.trim() != "." {
        out.push_str(&format!("search {search}\n"));
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    let options = options.join(" ");
    if !options.trim().is_empty() {
        out.push_str(&format!("options {options}\n"));
    }
    out
}

/// `/etc/resolv.conf`: the host's; outside the host network, loopback nameservers (which
/// cannot be reached from the container) are dropped, and Google's are used if none is
/// left (Docker's rule).
pub fn resolv_conf(network: &NetworkMode, host: &str) -> String {
    if *network == NetworkMode::Host {
        return host.to_string();
    }
    let is_loopback_ns = |l: &str| {
        let mut f = l.split_whitespace();
        f.next() == Some("nameserver")
            && f.next().is_some_and(|ip| {
                ip.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
            })
    };
    let kept: Vec<&str> = host.lines().filter(|l| !is_loopback_ns(l)).collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    if !kept
        .iter()
        .any(|l| l.trim_start().starts_with("nameserver"))
    {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_drops_loopback() {
        for (net, host, want) in [
            (
                NetworkMode::None,
                "nameserver 127.0.0.53\nsearch x\n",
                "search x\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n",
            ),
            (
                NetworkMode::None,
                "nameserver 10.0.0.1\nnameserver ::1\n",
                "nameserver 10.0.0.1\n",
            ),
            (
                NetworkMode::Host,
                "nameserver 127.0.0.53\n",
                "nameserver 127.0.0.53\n",
            ),
            (
                NetworkMode::None,
                "",
                "nameserver 8.8.8.8\nnameserver 8.8.4.4\n",
            ),
        ] {
            assert_eq!(resolv_conf(&net, host), want, "{host:?}");
        }
    }

    /// With `--network none` the container's own name got a `127.0.0.1` line; Docker's
    /// file has only the loopback and IPv6 names, then `--add-host` entries.
    #[test]
    fn hosts_has_no_hostname_line_and_ends_with_extra_hosts() {
        let none = hosts(&NetworkMode::None, &[], "h");
        assert_eq!(none, DEFAULT_HOSTS);
        assert_eq!(none.lines().count(), 6);
        assert_eq!(hosts(&NetworkMode::Host, &[], "h"), "h");
        let extra = [
            "db:10.1.2.3".to_string(),
            "v6:::1".to_string(),
            "gw:host-gateway".to_string(),
        ];
        for net in [NetworkMode::None, NetworkMode::Host] {
            assert_eq!(
                hosts(&net, &extra, "h"),
                format!("{DEFAULT_HOSTS}10.1.2.3\tdb\n::1\tv6\n<nil>\tgw\n")
            );
        }
    }

    #[test]
    fn add_host_values_validate_as_docker_does() {
        for ok in [
            "db:10.1.2.3",
            "v6:::1",
            "gw:host-gateway",
            "db: 1.2.3.4",
            "a b:1.2.3.4",
        ] {
            assert_eq!(validate_extra_host(ok).as_deref(), Ok(ok));
        }
        for (bad, msg) in [
            ("db", "bad format for add-host: \"db\""),
            (":1.2.3.4", "bad format for add-host: \":1.2.3.4\""),
            ("db=1.2.3.4", "bad format for add-host: \"db=1.2.3.4\""),
            ("db:", "invalid IP address in add-host: \"\""),
            ("db:1.2.3", "invalid IP address in add-host: \"1.2.3\""),
            ("db:[::1]", "invalid IP address in add-host: \"[::1]\""),
        ] {
            assert_eq!(validate_extra_host(bad).unwrap_err(), msg, "{bad}");
        }
    }

    #[test]
    fn dns_flags_replace_their_part_of_resolv_conf() {
        let host = "# c\nnameserver 127.0.0.53\nsearch a.test b.test\noptions edns0\n";
        let dns = DnsConfig {
            servers: vec!["10.9.8.7".into()],
            search: vec!["example.test".into()],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_conf_with(&dns, host),
            "search example.test\nnameserver 10.9.8.7\noptions ndots:2\n"
        );
        let only_server = DnsConfig {
            servers: vec!["1.1.1.1".into(), "::2".into()],
            ..Default::default()
        };
        assert_eq!(
            resolv_conf_with(&only_server, host),
            "search a.test b.test\nnameserver 1.1.1.1\nnameserver ::2\noptions edns0\n"
        );
        // Only a search list: the host's nameservers stay, loopback ones included.
        let dot = DnsConfig {
            search: vec![".".into()],
            ..Default::default()
        };
        assert_eq!(
            resolv_conf_with(&dot, host),
            "nameserver 127.0.0.53\noptions edns0\n"
        );
        assert_eq!(validate_dns(" 10.0.0.1").as_deref(), Ok("10.0.0.1"));
        for ok in [".", "x.com.", "ok-1.example", "a"] {
            assert_eq!(validate_dns_search(ok).as_deref(), Ok(ok));
        }
        for bad in ["bad_domain!", "-x.com", "a..b", "x-.y", ""] {
            assert_eq!(
                validate_dns_search(bad).unwrap_err(),
                format!("{bad} is not a valid domain")
            );
        }
        assert_eq!(validate_dns("x").unwrap_err(), "x is not an ip address");
    }
}
