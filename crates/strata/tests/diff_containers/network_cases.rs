//! Networking where Docker can judge without a bridge of its own (its daemon here runs
//! with `--bridge=none`, and creating a bridge network would touch the host): the
//! predefined networks in `network ls`/`inspect`, the `network` commands' refusals,
//! `--network container:NAME` on a `--network none` container, the flags that conflict
//! with it, and `port` under `--network none`.

use super::case::{Case, code, out, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    out("network_ls_predefined", &["network", "ls", "-f", "driver=null", "-f", "driver=host", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"]),
    out("network_ls_quiet_filtered", &["network", "ls", "-q", "-f", "name=dc-no-such-net"]),
    out("network_inspect_predefined", &["network", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}} {{.EnableIPv6}} {{.Internal}} {{len .IPAM.Config}}", "host", "none"]),
    out("network_inspect_missing", &["network", "inspect", "dc-no-such-net"]),
    code("network_rm_missing", &["network", "rm", "dc-no-such-net"]),
    code("network_rm_predefined", &["network", "rm", "none"]),
    code("network_create_taken_name", &["network", "create", "host"]),
    code("network_unknown", &["run", "--rm", "--network", "dc-no-such-net", "bb", "true"]),
    code("network_container_empty", &["run", "--rm", "--network", "container:", "bb", "true"]),
    code("network_container_missing", &["run", "--rm", "--network", "container:dc-no-such", "bb", "true"]),
    code("network_alias_needs_user_network", &["run", "--rm", "--network", "none", "--network-alias", "x", "bb", "true"]),
    script("network_container_join", container_join),
    script("network_none_port", none_port),
];

/// A container on `--network none` lends its namespace (loopback only) and its name.
fn container_join(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "@name",
            "bb",
            "sleep",
            "100",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "run",
            "--rm",
            "--network",
            "container:@name",
            "bb",
            "sh",
            "-c",
            "cat /proc/net/dev | wc -l; busybox hostname | wc -c",
        ],
        Cmp::Out,
    );
    for flags in [
        &["-p", "80"][..],
        &["-P"],
        &["-h", "x"],
        &["--dns", "1.1.1.1"],
        &["--add-host", "a:1.2.3.4"],
    ] {
        let mut args = vec!["run", "--rm", "--network", "container:@name"];
        args.extend_from_slice(flags);
        args.extend(["bb", "true"]);
        s.step(&args, Cmp::Code);
    }
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
    // A stopped one cannot lend it.
    s.step(
        &[
            "create",
            "--network",
            "none",
            "--name",
            "@name",
            "bb",
            "true",
        ],
        Cmp::Quiet,
    );
    s.step(
        &["run", "--rm", "--network", "container:@name", "bb", "true"],
        Cmp::Code,
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}

/// `port` of a `--network none` container asked to publish, and `port` of a port it
/// does not publish.
fn none_port(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "@name",
            "-p",
            "127.0.0.1::80",
            "bb",
            "sleep",
            "100",
        ],
        Cmp::Code,
    );
    s.step(&["port", "@name", "81"], Cmp::Code);
    s.step(&["port", "@name"], Cmp::Out);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.HostConfig.NetworkMode}} {{json .HostConfig.PortBindings}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}
