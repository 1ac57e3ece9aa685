//! Docker 20.10's `HostConfig` and `NetworkSettings` of `container inspect`: every field in
//! the Go structs' order, with Docker's defaults for what strata does not configure, so
//! templates and JSON consumers see Docker's shape. `Tmpfs` and `Init` only when set
//! (`omitempty`); `MemorySwap` twice `Memory` when a limit is set, as Docker defaults it.

use serde_json::{Map, Value, json};

/// What a container's host config says; the rest is Docker's defaults.
#[derive(Debug)]
pub struct HostFields {
    /// `-v` binds and named volumes (`null` when none).
    pub binds: Value,
    /// `default`, `bridge`, `none`, `host` or `container:ID`.
    pub network_mode: String,
    /// `-P`.
    pub publish_all: bool,
    /// `-p`, by container port.
    pub port_bindings: Map<String, Value>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `--tmpfs`, path → options.
    pub tmpfs: Map<String, Value>,
    /// The OCI runtime's name.
    pub runtime: String,
    /// `-m` in bytes (0: none).
    pub memory: i64,
    /// `--cpus` in billionths.
    pub nano_cpus: i64,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--init`.
    pub init: bool,
    /// The security and resource flags' fields ([`super::host_config_security::fields`]),
    /// laid over the defaults below.
    pub security: Map<String, Value>,
}

/// The `HostConfig` object.
pub fn host_config(h: HostFields) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("Binds", h.binds);
    put("ContainerIDFile", json!(""));
    put("LogConfig", json!({"Type": "json-file", "Config": {}}));
    put("NetworkMode", json!(h.network_mode));
    put("PortBindings", Value::Object(h.port_bindings));
    put(
        "RestartPolicy",
        json!({"Name": "no", "MaximumRetryCount": 0}),
    );
    put("AutoRemove", json!(h.auto_remove));
    put("VolumeDriver", json!(""));
    put("VolumesFrom", Value::Null);
    put("CapAdd", Value::Null);
    put("CapDrop", Value::Null);
    put("CgroupnsMode", json!("host"));
    put("Dns", json!([]));
    put("DnsOptions", json!([]));
    put("DnsSearch", json!([]));
    put("ExtraHosts", Value::Null);
    put("GroupAdd", Value::Null);
    put("IpcMode", json!("private"));
    put("Cgroup", json!(""));
    put("Links", Value::Null);
    put("OomScoreAdj", json!(0));
    put("PidMode", json!(""));
    put("Privileged", json!(false));
    put("PublishAllPorts", json!(h.publish_all));
    put("ReadonlyRootfs", json!(h.read_only));
    put("SecurityOpt", Value::Null);
    if !h.tmpfs.is_empty() {
        put("Tmpfs", Value::Object(h.tmpfs));
    }
    put("UTSMode", json!(""));
    put("UsernsMode", json!(""));
    // The runtime mounts a 64 MiB /dev/shm, Docker's default.
    put("ShmSize", json!(64 << 20));
    put("Runtime", json!(h.runtime));
    put("ConsoleSize", json!([0, 0]));
    put("Isolation", json!(""));
    put("CpuShares", json!(0));
    put("Memory", json!(h.memory));
    put("NanoCpus", json!(h.nano_cpus));
    put("CgroupParent", json!(""));
    put("BlkioWeight", json!(0));
    put("BlkioWeightDevice", json!([]));
    for k in [
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
    ] {
        put(k, Value::Null);
    }
    for k in [
        "CpuPeriod",
        "CpuQuota",
        "CpuRealtimePeriod",
        "CpuRealtimeRuntime",
    ] {
        put(k, json!(0));
    }
    put("CpusetCpus", json!(""));
    put("CpusetMems", json!(""));
    put("Devices", json!([]));
    put("DeviceCgroupRules", Value::Null);
    put("DeviceRequests", Value::Null);
    put("KernelMemory", json!(0));
    put("KernelMemoryTCP", json!(0));
    put("MemoryReservation", json!(0));
    put("MemorySwap", json!(h.memory * 2));
    put("MemorySwappiness", Value::Null);
    put("OomKillDisable", json!(false));
    put("PidsLimit", json!(h.pids_limit));
    put("Ulimits", Value::Null);
    for k in [
        "CpuCount",
        "CpuPercent",
        "IOMaximumIOps",
        "IOMaximumBandwidth",
    ] {
        put(k, json!(0));
    }
    put("MaskedPaths", json!(runtime::spec::MASKED_PATHS));
    put("ReadonlyPaths", json!(runtime::spec::READONLY_PATHS));
    if h.init {
        put("Init", json!(true));
    }
    Value::Object(super::host_config_security::lay_over(m, h.security))
}

/// Sets, in place (keeping Docker's key order), what `--add-host`, `--dns*`, `--ipc`,
/// `--pid`, `--uts`, `--restart`, `--cidfile` and `--volumes-from` configure.
pub fn with_host_options(o: &runtime::RunOptions, mut host_config: Value) -> Value {
    if let Value::Object(m) = &mut host_config {
        let mut set = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        set(
            "RestartPolicy",
            json!({"Name": o.restart.name, "MaximumRetryCount": o.restart.maximum_retry_count}),
        );
        set("Dns", json!(o.dns.servers));
        set("DnsOptions", json!(o.dns.options));
        set("DnsSearch", json!(o.dns.search));
        set(
            "ExtraHosts",
            if o.extra_hosts.is_empty() {
                Value::Null
            } else {
                json!(o.extra_hosts)
            },
        );
        set("LogConfig", json!(o.log_config));
        set("UsernsMode", json!(o.userns));
        set(
            "SecurityOpt",
            if o.security_opts.is_empty() {
                Value::Null
            } else {
                json!(o.security_opts)
            },
        );
        set(
            "ContainerIDFile",
            json!(
                o.cidfile
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
        );
        set(
            "VolumesFrom",
            if o.volumes_from.is_empty() {
                Value::Null
            } else {
                json!(o.volumes_from)
            },
        );
        set("IpcMode", json!(o.ipc.as_docker()));
        set("PidMode", json!(o.pid.as_docker()));
        set("UTSMode", json!(o.uts.as_docker()));
    }
    host_config
}

/// Sets, in place, the resource flags `run` and `update` share: `MemorySwap` (when
/// `--memory-swap` set it), `MemoryReservation`, `CpuPeriod`, `CpuQuota`, the real-time
/// period and runtime, `CpusetCpus`, `CpusetMems`, `BlkioWeight`.
pub fn with_updated_resources(o: &runtime::RunOptions, mut host_config: Value) -> Value {
    let set: [(&str, Option<Value>); 9] = [
        ("MemoryReservation", o.memory_reservation.map(|v| json!(v))),
        ("CpuRealtimePeriod", o.cpu_rt_period.map(|v| json!(v))),
        ("CpuRealtimeRuntime", o.cpu_rt_runtime.map(|v| json!(v))),
        ("CpusetMems", o.cpuset_mems.as_ref().map(|v| json!(v))),
        ("BlkioWeight", o.blkio_weight.map(|v| json!(v))),
        ("MemorySwap", o.memory_swap.map(|v| json!(v))),
        ("CpuPeriod", o.cpu_period.map(|v| json!(v))),
        ("CpuQuota", o.cpu_quota.map(|v| json!(v))),
        ("CpusetCpus", o.cpuset_cpus.as_ref().map(|v| json!(v))),
    ];
    if let Value::Object(m) = &mut host_config {
        for (key, value) in set {
            if let Some(v) = value {
                m.insert(key.into(), v);
            }
        }
    }
    host_config
}

/// One entry of `NetworkSettings.Networks`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkEntry {
    /// The network's name.
    pub name: String,
    /// Its ID (empty when the network is gone).
    pub id: String,
    /// `--network-alias`es and, once the container has started, its short ID (user
    /// networks only, as Docker).
    pub aliases: Vec<String>,
    /// Address, prefix length and gateway while the container is on it.
    pub address: Option<(String, u8, String)>,
}

/// The networks a container is on, as `inspect` shows them: its `--network` (none for
/// `container:NAME`) then what `network connect` added. As Docker's, an entry gets its
/// network's ID and the short-ID alias when the container first starts and keeps them;
/// the address only while it runs.
pub fn network_entries(
    root: &std::path::Path,
    c: &runtime::Container,
    running: bool,
    started: bool,
) -> Vec<NetworkEntry> {
    use runtime::network::{bridge, config, usermode};
    let o = &c.record.options;
    let endpoints = if running {
        bridge::endpoints(&c.dir.0)
    } else {
        Vec::new()
    };
    let short_id: String = c.record.id.chars().take(12).collect();
    let id_of = |name: &str| {
        if started {
            config::find(root, name).map(|n| n.id).unwrap_or_default()
        } else {
            String::new()
        }
    };
    let named = |name: &str, own: &[String]| {
        let ep = endpoints.iter().find(|e| e.network == name);
        let mut aliases = own.to_vec();
        if started && !aliases.contains(&short_id) {
            aliases.push(short_id.clone());
        }
        NetworkEntry {
            name: name.to_string(),
            id: ep
                .map(|e| e.network_id.clone())
                .unwrap_or_else(|| id_of(name)),
            aliases,
            address: ep.map(|e| (e.ip.clone(), e.prefix, e.gateway.clone())),
        }
    };
    let mut out = Vec::new();
    match &o.network {
        runtime::NetworkMode::Named(n) => out.push(named(n, &o.network_aliases)),
        m => {
            if let Some(name) = m.network_name() {
                let address = (m.is_user_mode() && running).then(|| {
                    (
                        usermode::GUEST.to_string(),
                        24,
                        usermode::GATEWAY.to_string(),
                    )
                });
                out.push(NetworkEntry {
                    name: name.to_string(),
                    id: id_of(name),
                    aliases: Vec::new(),
                    address,
                });
            }
        }
    }
    for (name, aliases) in &o.connected {
        out.push(named(name, aliases));
    }
    out
}

/// The `NetworkSettings` object: the published `ports` and the container's `networks`.
/// The top-level address fields are the default network's (`bridge`), as Docker's.
pub fn network_settings(networks: &[NetworkEntry], ports: Map<String, Value>) -> Value {
    let mut by_name = Map::new();
    for n in networks {
        let (ip, prefix, gateway) = n.address.clone().unwrap_or_default();
        by_name.insert(
            n.name.clone(),
            json!({
            "IPAMConfig": null,
            "Links": null,
            "Aliases": if n.aliases.is_empty() { Value::Null } else { json!(n.aliases) },
            "NetworkID": n.id,
            "EndpointID": "",
            "Gateway": gateway,
            "IPAddress": ip,
            "IPPrefixLen": prefix,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "MacAddress": "",
            "DriverOpts": null,
            }),
        );
    }
    let (address, prefix, gateway) = networks
        .iter()
        .find(|n| n.name == "bridge")
        .and_then(|n| n.address.clone())
        .unwrap_or_default();
    json!({
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SandboxKey": "",
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": "",
        "Gateway": gateway,
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": address,
        "IPPrefixLen": prefix,
        "IPv6Gateway": "",
        "MacAddress": "",
        "Networks": by_name,
    })
}
