//! Name resolution, shared namespaces, restart policies and `--mount` beyond the first
//! cases: Docker's validation of each flag, their files on the host network, and how they
//! show in `inspect`.

use super::case::{Case, code, full, out, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    // Flag values the CLI refuses (exit 125, Docker's words).
    full("add_host_bad_format", &["run", "--rm", "--add-host", "db", "bb", "true"]),
    full("add_host_bad_ip", &["run", "--rm", "--add-host", "db:1.2.3", "bb", "true"]),
    full("dns_bad_ip", &["run", "--rm", "--dns", "x", "bb", "true"]),
    full("dns_search_bad_domain", &["run", "--rm", "--dns-search", "a..b", "bb", "true"]),
    full("mount_flag_unknown_key", &["run", "--rm", "--mount", "type=bind,src=/tmp,dst=/x,bogus=1", "bb", "true"]),
    full("mount_flag_no_target", &["run", "--rm", "--mount", "source=/tmp", "bb", "true"]),
    code("mount_flag_tmpfs_with_source", &["run", "--rm", "--mount", "type=tmpfs,src=x,dst=/t", "bb", "true"]),
    code("mount_flag_duplicate_target", &["run", "--rm", "-v", "/tmp:/x", "--mount", "type=tmpfs,dst=/x", "bb", "true"]),
    code("mount_flag_twice", &["run", "--rm", "--mount", "type=tmpfs,dst=/x", "--mount", "type=tmpfs,dst=/x/", "bb", "true"]),
    code("mount_flag_relative_bind", &["run", "--rm", "--mount", "type=bind,src=rel,dst=/t", "bb", "true"]),
    code("uts_host_with_hostname", &["run", "--rm", "--uts", "host", "-h", "x", "bb", "true"]),
    code("uts_bad_mode", &["run", "--rm", "--uts", "container:x", "bb", "true"]),
    code("pid_bad_mode", &["run", "--rm", "--pid", "bogus", "bb", "true"]),
    code("ipc_bad_mode", &["run", "--rm", "--ipc", "bogus", "bb", "true"]),
    code("pid_no_such_container", &["run", "--rm", "--pid", "container:dc-no-such", "bb", "true"]),
    code("restart_bad_count", &["run", "--rm", "--restart", "on-failure:x", "bb", "true"]),
    // The files and namespaces the flags give.
    out("add_host_ipv6_and_gateway", &["run", "--rm", "--add-host", "v6:::1", "--add-host", "gw:host-gateway", "--add-host", "sp: 1.2.3.4", "bb", "cat", "/etc/hosts"]),
    out("add_host_network_host", &["run", "--rm", "--network", "host", "--add-host", "db:10.1.2.3", "bb", "cat", "/etc/hosts"]),
    out("etc_hosts_network_host", &["run", "--rm", "--network", "host", "bb", "cat", "/etc/hosts"]),
    out("hostname_network_host", &["run", "--rm", "--network", "host", "-h", "named", "bb", "sh", "-c", "cat /proc/sys/kernel/hostname /etc/hostname; echo $HOSTNAME"]),
    out("dns_search_only", &["run", "--rm", "--dns-search", "example.test", "bb", "cat", "/etc/resolv.conf"]),
    out("dns_option_only", &["run", "--rm", "--dns-opt", "ndots:3", "bb", "cat", "/etc/resolv.conf"]),
    out("dns_network_host", &["run", "--rm", "--network", "host", "--dns", "10.9.8.7", "bb", "cat", "/etc/resolv.conf"]),
    out("ipc_shareable_shm_mount", &["run", "--rm", "--ipc", "shareable", "bb", "sh", "-c", "busybox awk '$5==\"/dev/shm\" {i=7; while ($i != \"-\") i++; print $5, $6, $(i+1), $(i+2), $(i+3)}' /proc/self/mountinfo"]),
    out("ipc_none_has_no_shm", &["run", "--rm", "--ipc", "none", "bb", "sh", "-c", "test -d /dev/shm; echo $?"]),
    out("uts_host_files", &["run", "--rm", "--uts", "host", "bb", "sh", "-c", "test \"$(cat /proc/sys/kernel/hostname)\" = \"$(busybox hostname)\" && echo same; test \"$HOSTNAME\" = \"$(cat /etc/hostname)\" && echo env"]),
    script("host_options_in_inspect", host_options_inspect),
    script("restart_policy_errors", restart_errors),
    script("pid_and_ipc_join", pid_ipc_join),
];

fn host_options_inspect(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--add-host",
            "db:10.1.2.3",
            "--add-host",
            "v6:::1",
            "--dns",
            "10.9.8.7",
            "--dns-search",
            "a.test",
            "--dns-option",
            "ndots:1",
            "--ipc",
            "shareable",
            "--pid",
            "host",
            "--uts",
            "host",
            "--restart",
            "unless-stopped",
            "bb",
        ],
        Cmp::Quiet,
    );
    s.step(
        &[
            "inspect", "-f",
            "{{json .HostConfig.ExtraHosts}} {{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} {{json .HostConfig.DnsOptions}} {{.HostConfig.IpcMode}}|{{.HostConfig.PidMode}}|{{.HostConfig.UTSMode}} {{.HostConfig.RestartPolicy.Name}} {{.RestartCount}}",
            "@name",
        ],
        Cmp::Out,
    );
}

fn restart_errors(s: &Side) {
    for policy in [
        "sometimes",
        "always:3",
        "no:1",
        "on-failure:-1",
        "on-failure:x",
        "on-failure:0",
        "",
    ] {
        s.step(
            &["create", "--restart", policy, "--name", "@name", "bb"],
            Cmp::Code,
        );
        s.step(
            &[
                "inspect",
                "-f",
                "{{json .HostConfig.RestartPolicy}}",
                "@name",
            ],
            Cmp::Out,
        );
        s.step(&["rm", "-f", "@name"], Cmp::Quiet);
    }
}

fn pid_ipc_join(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "--ipc",
            "shareable",
            "bb",
            "sh",
            "-c",
            "echo shared > /dev/shm/mark; exec sleep 100",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "run",
            "--rm",
            "--pid",
            "container:@name",
            "--ipc",
            "container:@name",
            "bb",
            "sh",
            "-c",
            // Not a count of /proc's PIDs: `ls` and `grep` race each other there.
            "cat /proc/1/cmdline; echo; [ $$ -ne 1 ] && echo joined; cat /dev/shm/mark",
        ],
        Cmp::Out,
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
    s.step(&["create", "--name", "@name", "bb"], Cmp::Quiet);
    s.step(
        &["run", "--rm", "--pid", "container:@name", "bb", "true"],
        Cmp::Code,
    );
    s.step(
        &["run", "--rm", "--ipc", "container:@name", "bb", "true"],
        Cmp::Code,
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}
