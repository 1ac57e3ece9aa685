//! The `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname` a container gets, as Docker
//! writes them.

use crate::NetworkMode;

/// The hostname of a BuildKit RUN step.
pub const BUILD_SANDBOX_HOSTNAME: &str = "buildkitsandbox";

/// `/etc/hosts` of a BuildKit RUN step, whatever its network: loopback names only.
pub fn build_sandbox_hosts(hostname: &str) -> String {
    format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
}

/// `/etc/hosts`: the host's for `--network host`, else the loopback entries Docker writes.
pub fn hosts(network: NetworkMode, hostname: &str, host_hosts: &str) -> String {
    match network {
        NetworkMode::Host => host_hosts.to_string(),
        NetworkMode::None => format!(
            "127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\n\
             ff00::0\tip6-mcastprefix\n\
             ff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n\
             127.0.0.1\t{hostname}\n"
        ),
    }
}

/// `/etc/resolv.conf`: the host's; outside the host network, loopback nameservers (which
/// cannot be reached from the container) are dropped, and Google's are used if none is
/// left (Docker's rule).
pub fn resolv_conf(network: NetworkMode, host: &str) -> String {
    if network == NetworkMode::Host {
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
            assert_eq!(resolv_conf(net, host), want, "{host:?}");
        }
    }

    #[test]
    fn hosts_names_the_container() {
        assert!(hosts(NetworkMode::None, "abc", "").ends_with("127.0.0.1\tabc\n"));
        assert_eq!(hosts(NetworkMode::Host, "abc", "h"), "h");
    }
}
