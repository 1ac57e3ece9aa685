//! The `docker container inspect` object of a container.

use runtime::Status;
use runtime::{Container, MountKind, MountSpec, OciRuntime};
use serde_json::{Map, Value, json};

use super::config_json::{RunFields, docker_config};
use super::container;
use super::host_config_json::{
    HostFields, host_config, network_entries, network_settings, with_host_options,
    with_updated_resources,
};
use super::mount_flag_json::{self, with_host_config_mounts};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Docker's container JSON, from the record, the observed state and the image config.
pub fn container_json(
    store: &store::Store,
    c: &Container,
    rt: &OciRuntime,
) -> anyhow::Result<Value> {
    let r = &c.record;
    let o = &r.options;
    let s = c.observed(rt)?;
    let image_config = store
        .resolve_image(&r.image_target)
        .ok()
        .and_then(|i| store.image_config(&i).ok())
        .and_then(|b| oci::ImageConfig::from_slice(&b).ok());
    let cfg = image_config.map(|i| i.config).unwrap_or_default();
    let env = merge_env(&cfg.env, &o.env);
    let (entrypoint, cmd) = match &o.entrypoint {
        Some(ep) => (ep.clone(), o.cmd.clone()),
        None if o.cmd.is_empty() => (
            cfg.entrypoint.clone().unwrap_or_default(),
            cfg.cmd.clone().unwrap_or_default(),
        ),
        None => (cfg.entrypoint.clone().unwrap_or_default(), o.cmd.clone()),
    };
    let null_if_empty = |v: Vec<String>| {
        if v.is_empty() { Value::Null } else { json!(v) }
    };
    let mut port_bindings = Map::new();
    for p in &o.publish {
        let key = format!("{}/{}", p.container_port, p.protocol);
        let entry = port_bindings.entry(key).or_insert_with(|| json!([]));
        if let Value::Array(a) = entry {
            let ip = if p.any_family {
                String::new()
            } else {
                p.host_ip.to_string()
            };
            a.push(json!({"HostIp": ip, "HostPort": if p.host_port == 0 { String::new() } else { p.host_port.to_string() }}));
        }
    }
    let mut ports = Map::new();
    for p in &s.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        let entry = ports.entry(key).or_insert_with(|| json!([]));
        if let Value::Array(a) = entry {
            a.push(json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()}));
        }
    }
    // `--mount`s have their own shape (see `mount_flag_json`); the rest is `-v`/`--tmpfs`.
    let (flagged, plain): (Vec<&MountSpec>, Vec<&MountSpec>) = o
        .mounts
        .iter()
        .partition(|m| mount_flag_json::flag_of(o, m).is_some());
    let own = |m: &&&MountSpec| !o.inherited_mounts.contains(&m.destination);
    let binds: Vec<String> = plain
        .iter()
        .filter(own)
        .filter_map(|m| match &m.kind {
            MountKind::Bind { source } => Some(format!(
                "{}:{}{}",
                source.display(),
                m.destination,
                if m.read_only { ":ro" } else { "" }
            )),
            MountKind::Volume { name, .. } if name.len() != 64 => Some(format!(
                "{name}:{}{}",
                m.destination,
                if m.read_only { ":ro" } else { "" }
            )),
            _ => None,
        })
        .collect();
    // Docker lists tmpfs mounts in `HostConfig.Tmpfs` only, not in `Mounts`.
    let mut mounts: Vec<Value> = plain
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs)
        .map(|m| {
            let (kind, name, source) = match &m.kind {
                MountKind::Bind { source } => ("bind", None, source.display().to_string()),
                MountKind::Volume { name, source } => {
                    ("volume", Some(name.clone()), source.display().to_string())
                }
                MountKind::Tmpfs => ("tmpfs", None, String::new()),
            };
            // Docker's key order: Type, Name, Source, Destination, Driver, Mode, RW,
            // Propagation (Name and Driver for volumes only).
            let mut v = Map::new();
            v.insert("Type".into(), json!(kind));
            if let Some(n) = &name {
                v.insert("Name".into(), json!(n));
            }
            v.insert("Source".into(), json!(source));
            v.insert("Destination".into(), json!(m.destination));
            if name.is_some() {
                v.insert("Driver".into(), json!("local"));
            }
            // dockerd gives a named volume of `-v NAME:/path` the SELinux relabel mode `z`;
            // an anonymous one (a 64-hex name) and a bind have none.
            let named_volume = name.as_ref().is_some_and(|n| n.len() != 64);
            let mode = match (m.read_only, named_volume) {
                (true, _) => "ro",
                (false, true) => "z",
                (false, false) => "",
            };
            v.insert("Mode".into(), json!(mode));
            v.insert("RW".into(), json!(!m.read_only));
            v.insert(
                "Propagation".into(),
                json!(if kind == "bind" { "rprivate" } else { "" }),
            );
            Value::Object(v)
        })
        .collect();
    // In the order of the `--mount` flags.
    mounts.extend(o.mount_flags.iter().filter_map(|f| {
        flagged
            .iter()
            .find(|m| m.destination == f.target)
            .map(|m| mount_flag_json::mount_point(f, m))
    }));
    let tmpfs: Map<String, Value> = plain
        .iter()
        .filter(|m| m.kind == MountKind::Tmpfs)
        .map(|m| (m.destination.clone(), json!(m.options.join(","))))
        .collect();
    let hostname = std::fs::read_to_string(c.dir.hostname())
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    // Docker's `Config.Volumes`: the image's, and the anonymous volumes of `-v /path`
    // (not those of `--mount`).
    let mut volumes = cfg.volumes.clone();
    for m in plain.iter().filter(own) {
        if let MountKind::Volume { name, .. } = &m.kind
            && name.len() == 64
        {
            volumes.insert(m.destination.clone(), Map::new());
        }
    }
    let non_empty = |v: Vec<String>| (!v.is_empty()).then_some(v);
    let mut extra = cfg.extra.clone();
    if let Some(t) = o.stop_timeout {
        extra.insert("StopTimeout".into(), json!(t));
    }
    let run_config = oci::ContainerConfig {
        extra,
        user: Some(o.user.clone().or(cfg.user.clone()).unwrap_or_default()),
        env,
        cmd: non_empty(cmd),
        entrypoint: non_empty(entrypoint),
        volumes,
        working_dir: o.workdir.clone().or(cfg.working_dir.clone()),
        healthcheck: o.healthcheck.clone().or(cfg.healthcheck.clone()),
        ..cfg.clone()
    };
    let mut config = docker_config(
        &run_config,
        &RunFields {
            hostname: hostname.clone(),
            attach_stdin: o.open_stdin,
            attach_stdout: true,
            attach_stderr: true,
            tty: o.tty,
            open_stdin: o.open_stdin,
            stdin_once: o.open_stdin,
            image: r.image.clone(),
        },
    );
    // A container's labels are a map even when empty: the image's, then its own `--label`s.
    if config["Labels"].is_null() {
        config["Labels"] = json!({});
    }
    if let Some(labels) = config["Labels"].as_object_mut() {
        for (k, v) in &o.labels {
            labels.insert(k.clone(), json!(v));
        }
    }
    let network = o.network.as_docker();
    let running = s.status == Status::Running;
    let path = |p: std::path::PathBuf| p.display().to_string();
    let mut inspected = json!({
        "Id": r.id,
        "Created": r.created,
        "Path": r.args.first().cloned().unwrap_or_default(),
        "Args": r.args.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": container::state_name(&s),
            // Docker counts a restarting container as running.
            "Running": running || s.restarting,
            "Paused": s.paused,
            "Restarting": s.restarting,
            "OOMKilled": false,
            "Dead": false,
            "Pid": if running { s.pid } else { 0 },
            "ExitCode": s.exit_code.unwrap_or(0),
            "Error": s.error.clone().unwrap_or_default(),
            "StartedAt": s.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "FinishedAt": s.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
        },
        "Image": r.image_id,
        "ResolvConfPath": path(c.dir.resolv_conf()),
        "HostnamePath": path(c.dir.hostname()),
        "HostsPath": path(c.dir.hosts()),
        "LogPath": path(c.dir.log()),
        "Name": format!("/{}", r.name),
        "RestartCount": s.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": Value::Null,
        "HostConfig": with_host_config_mounts(&o.mount_flags, with_updated_resources(o, with_host_options(o, host_config(HostFields {
            binds: null_if_empty(binds),
            network_mode: network.clone(),
            publish_all: o.publish_all,
            port_bindings,
            auto_remove: o.auto_remove,
            read_only: o.read_only,
            tmpfs,
            runtime: r.runtime.clone(),
            memory: o.memory.unwrap_or(0),
            nano_cpus: o.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
            pids_limit: o.pids_limit,
            init: o.init,
            security: super::host_config_security::fields(&o.security),
        })))),
        "GraphDriver": {
            "Data": {
                "MergedDir": path(c.dir.rootfs()),
                "UpperDir": path(c.dir.upper()),
                "WorkDir": path(c.dir.work()),
            },
            "Name": "overlay",
        },
        "Mounts": mounts,
        "Config": config,
        "NetworkSettings": network_settings(
            &network_entries(store.root(), c, running, s.started_at.is_some()),
            ports,
        ),
    });
    // Docker shows the health record of a container with a check once it has started.
    if let Some(h) = runtime::health::read(&c.dir.0) {
        inspected["State"]["Health"] = json!(h);
    }
    Ok(inspected)
}

/// `Config.Env` as dockerd merges it: the container's own variables first, in order, then
/// the image's whose name the container does not set. A name without `=` only hides the
/// image's variable.
fn merge_env(image: &[String], own: &[String]) -> Vec<String> {
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    let own_keys: Vec<String> = own.iter().map(|e| key(e)).collect();
    own.iter()
        .filter(|e| e.contains('='))
        .cloned()
        .chain(
            image
                .iter()
                .filter(|e| !own_keys.contains(&key(e)))
                .cloned(),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lists_the_containers_own_first_as_dockerd() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            merge_env(
                &v(&["PATH=/bin", "A=img", "B=img"]),
                &v(&["X=1", "A=own", "B"])
            ),
            v(&["X=1", "A=own", "PATH=/bin"])
        );
        assert_eq!(merge_env(&v(&["PATH=/bin"]), &[]), v(&["PATH=/bin"]));
    }
}
