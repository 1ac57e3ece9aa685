//! `create`: a container's record, directory, init layer, volumes, `/etc` files and
//! runtime bundle, all or nothing.

use std::fs;
use std::path::{Path, PathBuf};

use store::Store;

use super::{
    CGROUP_PARENT, Container, load, mkdir, mount_rootfs, name_in_use, owner, remove_volume,
};
use crate::mount::{Kernel, unmount};
use crate::oci_runtime::OciRuntime;
use crate::record::{
    ContainerDir, ContainerRecord, ContainerState, Status, new_id, now_rfc3339, write_json,
    write_state,
};
use crate::spec::{self, Context, EtcFiles};
use crate::{RunOptions, RuntimeError, etc_files, inroot, user};

/// Removes what a failed `create` made.
struct CreateGuard<'a> {
    store: &'a Store,
    dir: ContainerDir,
    id: String,
    /// Anonymous volumes made for the container.
    volumes: Vec<String>,
    armed: bool,
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = unmount(&Kernel, &self.dir.rootfs());
            let _ = self.store.remove_image_user(&self.id);
            let _ = fs::remove_dir_all(&self.dir.0);
            for v in &self.volumes {
                let _ = remove_volume(self.store, v);
            }
        }
    }
}

/// Docker's init layer: the mount points the runtime needs, made in a layer of their own
/// between the image and the container's writable layer, so they never show in `diff`
/// nor get committed. A build sandbox gets only what BuildKit's RUN sees: no
/// `/etc/hostname`, `/.dockerenv` nor `/etc/mtab`.
fn make_init_layer(init: &Path, build_sandbox: bool) -> Result<(), RuntimeError> {
    for d in ["proc", "sys", "dev/pts", "dev/shm", "etc"] {
        mkdir(&init.join(d))?;
    }
    let docker_only = ["etc/hostname", ".dockerenv"];
    for f in [
        "etc/hosts",
        "etc/hostname",
        "etc/resolv.conf",
        "dev/console",
        ".dockerenv",
    ] {
        if build_sandbox && docker_only.contains(&f) {
            continue;
        }
        let p = init.join(f);
        fs::write(&p, b"").map_err(|e| RuntimeError::io("create", &p, e))?;
        // Docker makes its init files 0755 (`ls -l /.dockerenv`, `export` show it).
        if !build_sandbox {
            fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(|e| RuntimeError::io("chmod", &p, e))?;
        }
    }
    if build_sandbox {
        return Ok(());
    }
    let mtab = init.join("etc/mtab");
    std::os::unix::fs::symlink("/proc/mounts", &mtab)
        .map_err(|e| RuntimeError::io("create", &mtab, e))
}

/// The host's init binary for `--init`, if one is installed.
fn find_init() -> Option<PathBuf> {
    ["docker-init", "tini-static", "tini", "catatonit"]
        .iter()
        .find_map(|n| crate::oci_runtime::find_in_path(n))
}

/// A capability mask of this process from `/proc/self/status` (`CapEff`, `CapBnd`); 0
/// when it cannot be read.
fn own_capabilities(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// What `RLIMIT_NOFILE` this process can give a container (see [`spec::nofile_limit`]).
fn host_nofile() -> u64 {
    let cap_eff = own_capabilities("CapEff");
    let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(u64::MAX);
    spec::nofile_limit(cap_eff, hard)
}

/// Creates a container from `image` (any name `resolve_image` accepts): records it, marks
/// the image as used, unpacks missing snapshots, resolves the user in the image, makes
/// the working directory and writes the runtime bundle. Nothing stays mounted. On error
/// nothing is left behind, and what a kill at any step leaves is [`super::reap`]ed.
/// Returns the container with Docker's warnings for the resource settings this host
/// cannot enforce, which were dropped ([`spec::limits::check`]).
pub fn create(
    store: &Store,
    runtime: &OciRuntime,
    image: &str,
    name: Option<&str>,
    opts: RunOptions,
) -> Result<(Container, Vec<String>), RuntimeError> {
    create_with(store, runtime, image, name, opts, false)
}

/// [`create`] for a container that lives only as long as this process (a build's RUN):
/// once this process is gone, [`super::reap`] kills and removes it.
pub fn create_owned(
    store: &Store,
    runtime: &OciRuntime,
    image: &str,
    name: Option<&str>,
    opts: RunOptions,
) -> Result<Container, RuntimeError> {
    // A RUN step sets none of the host-dependent resource flags: nothing to warn of.
    create_with(store, runtime, image, name, opts, true).map(|(c, _)| c)
}

fn create_with(
    store: &Store,
    runtime: &OciRuntime,
    image: &str,
    name: Option<&str>,
    mut opts: RunOptions,
    owned: bool,
) -> Result<(Container, Vec<String>), RuntimeError> {
    // Held until the container's record uses it (`add_image_user` below, which keeps it
    // from then on): a concurrent `image prune` cannot take it while it is being made.
    let lease = store.lease()?;
    let info = lease.hold_image_platform(image, opts.platform.as_ref())?;
    let config = oci::ImageConfig::from_slice(&store.image_config(&info)?).map_err(|e| {
        RuntimeError::BadImage {
            image: image.to_string(),
            detail: e.to_string(),
        }
    })?;
    // Options that cannot work fail before anything is made.
    // Docker keeps the run flags' health check merged over the image's (`NONE` kept).
    opts.healthcheck = crate::health::merged(
        config.config.healthcheck.as_ref(),
        opts.healthcheck.as_ref(),
    );
    let args = spec::command(&config.config, &opts)?;
    let cwd = spec::working_dir(&config.config, &opts)?;
    spec::resources::validate(
        &opts,
        spec::resources::host_cpus(),
        spec::capabilities::known_to_kernel(),
    )?;
    let warnings = spec::limits::check(&mut opts, &spec::limits::CgroupSupport::detect())?;
    crate::network::validate(&opts, opts.hostname.is_some())?;
    if opts.publish_all && !opts.network.is_container() && opts.network != crate::NetworkMode::Host
    {
        let exposed: Vec<String> = config.config.exposed_ports.keys().cloned().collect();
        opts.exposed_published = crate::ports::publish_all(&exposed, &opts.publish);
    }
    // `--network container:NAME` takes that container's name files (Docker binds them).
    let shared_net = match &opts.network {
        crate::NetworkMode::Container(other) => Some(load(store.root(), other)?),
        _ => None,
    };
    if let crate::NetworkMode::Named(net) = &opts.network {
        let n = crate::network::config::find(store.root(), net)?;
        if n.is_predefined() || n.driver != "bridge" {
            return Err(RuntimeError::NoSuchNetwork(net.clone()));
        }
    }
    // Docker's default cgroup namespace for this host, recorded as inspect shows it.
    opts.security.cgroupns.get_or_insert_with(|| {
        crate::CgroupnsMode::default_for(crate::oci_runtime::cgroup_v2_unified())
    });
    let id = new_id()?;
    let root = store.root();
    let layout = store.layout();
    mkdir(&layout.containers_dir())?;
    let names_lock_path = layout.container_names_lock();
    let names_lock = fs::File::create(&names_lock_path)
        .map_err(|e| RuntimeError::io("create", &names_lock_path, e))?;
    names_lock
        .lock()
        .map_err(|e| RuntimeError::io("lock", &names_lock_path, e))?;
    let name = name.map_or_else(
        || id[..12].to_string(),
        |n| n.trim_start_matches('/').to_string(),
    );
    if let Some(other) = name_in_use(root, &name)? {
        return Err(RuntimeError::InvalidOptions(format!(
            "Conflict. The container name \"/{name}\" is already in use by container \"{other}\". \
             You have to remove (or rename) that container to be able to reuse that name."
        )));
    }
    let dir = ContainerDir(owner::make_owned_dir(layout, &id)?);
    let mut guard = CreateGuard {
        store,
        dir: dir.clone(),
        id: id.clone(),
        volumes: Vec::new(),
        armed: true,
    };
    for p in [dir.upper(), dir.work(), dir.rootfs()] {
        mkdir(&p)?;
    }
    make_init_layer(&dir.init(), opts.build_sandbox)?;
    store.add_image_user(&info.target.digest, &id)?;
    drop(lease);
    // Each image VOLUME that no -v covers gets an anonymous volume, as Docker does; a
    // BuildKit RUN mounts none (nor creates the directory).
    let volumes = if opts.build_sandbox {
        Default::default()
    } else {
        config.config.volumes.clone()
    };
    for path in volumes.keys() {
        if !opts.mounts.iter().any(|m| m.destination == *path) {
            let spec = crate::volumes::VolumeSpec::Anonymous {
                destination: path.clone(),
            };
            let m = crate::volumes::to_mount(store, &spec)?;
            if let crate::MountKind::Volume { name, .. } = &m.kind {
                guard.volumes.push(name.clone());
            }
            opts.mounts.push(m);
        }
    }
    let mut record = ContainerRecord {
        id: id.clone(),
        name,
        image: image.to_string(),
        image_id: info.id.to_string(),
        image_target: info.target.digest.to_string(),
        platform: (info.target.digest != info.manifest)
            .then(|| info.platform.clone())
            .flatten(),
        created: now_rfc3339(),
        args,
        stop_signal: opts
            .stop_signal
            .clone()
            .or_else(|| config.config.stop_signal.clone())
            .unwrap_or_else(|| "SIGTERM".into()),
        runtime: runtime.name.clone(),
        options: opts,
        start_error: None,
    };
    // The record goes first: from here on `list` sees the name as taken.
    write_json(&dir.record(), &record)?;
    write_state(&dir.state(), &ContainerState::created())?;
    drop(names_lock);

    let mount = mount_rootfs(store, &record, &dir)?;
    let user_spec = record
        .options
        .user
        .clone()
        .or_else(|| config.config.user.clone())
        .unwrap_or_default();
    let group_add = record.options.security.group_add.clone();
    let exec_user = match user::resolve_in_root_with_groups(&dir.rootfs(), &user_spec, &group_add) {
        Ok(u) => u,
        // Docker creates the container and fails its every start (see `start_error`).
        Err(RuntimeError::User(message)) => {
            record.start_error = Some(message);
            write_json(&dir.record(), &record)?;
            user::ExecUser::default()
        }
        Err(e) => return Err(e),
    };
    let opts = &record.options;
    inroot::mkdir_all(&dir.rootfs(), &cwd, None)?;
    for m in &opts.mounts {
        if let crate::MountKind::Volume { source, .. } = &m.kind
            && !m.options.iter().any(|o| o == crate::volumes::NO_COPY)
        {
            crate::volumes::copy_up(&dir.rootfs(), &m.destination, source)?;
        }
    }
    drop(mount);

    // Docker: the ID's first 12 characters, or the host's name on the host network.
    let hostname = match (&opts.hostname, &opts.network) {
        (Some(h), _) => h.clone(),
        (None, crate::NetworkMode::Container(_)) => shared_net
            .as_ref()
            .and_then(|o| fs::read_to_string(o.dir.hostname()).ok())
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|| id[..12].to_string()),
        (None, _) if opts.build_sandbox => etc_files::BUILD_SANDBOX_HOSTNAME.to_string(),
        // Only the network decides: with `--uts host` on another network the kernel's
        // name is the host's while /etc/hostname and HOSTNAME keep the ID (Docker's way).
        (None, crate::NetworkMode::Host) => fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| id[..12].to_string()),
        (None, _) => id[..12].to_string(),
    };
    let files = EtcFiles {
        hosts: dir.hosts(),
        resolv_conf: dir.resolv_conf(),
        hostname: dir.hostname(),
    };
    let host_file = |p: &str| fs::read_to_string(p).unwrap_or_default();
    let mut hosts = if opts.build_sandbox {
        etc_files::build_sandbox_hosts(&hostname)
    } else {
        etc_files::hosts(&opts.network, &opts.extra_hosts, &host_file("/etc/hosts"))
    };
    if opts.network.is_user_mode() && !opts.build_sandbox {
        hosts.push_str(&crate::network::own_hosts_line(&hostname));
    }
    let mut host_resolv = host_file("/etc/resolv.conf");
    let forwarder = opts.network.is_user_mode()
        || (opts.network.is_named()
            && matches!(
                crate::network::usermode::detect(),
                Ok((crate::network::usermode::Kind::Pasta, _))
            ));
    if forwarder {
        // The helper's DNS forwarder is the container's resolver (on user networks, the
        // shared namespace's pasta).
        host_resolv = crate::network::resolv_conf(&host_resolv);
    }
    let mut resolv = if opts.dns.is_empty() {
        etc_files::resolv_conf(&opts.network, &host_resolv)
    } else {
        etc_files::resolv_conf_with(&opts.dns, &host_resolv)
    };
    if let Some(o) = &shared_net {
        hosts = host_file(&o.dir.hosts().display().to_string());
        resolv = host_file(&o.dir.resolv_conf().display().to_string());
    }
    crate::record::write_replace(&files.hosts, hosts.as_bytes())?;
    // User networks add their members to it while the container runs.
    crate::record::write_replace(
        &crate::network::bridge::base_hosts_file(&dir.0),
        hosts.as_bytes(),
    )?;
    crate::record::write_replace(&files.resolv_conf, resolv.as_bytes())?;
    crate::record::write_replace(&files.hostname, format!("{hostname}\n").as_bytes())?;
    let init = if opts.init { find_init() } else { None };
    let spec = spec::build(
        &config.config,
        opts,
        &Context {
            user: &exec_user,
            hostname: &hostname,
            // Docker's default cgroup parent: with the host's cgroup namespace the
            // container sees this path in /proc/self/cgroup, as under Docker.
            cgroups_path: Some(format!("{CGROUP_PARENT}/{id}")),
            etc_files: Some(&files),
            init_binary: init.as_deref(),
            nofile: host_nofile(),
            held_capabilities: own_capabilities("CapBnd"),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .and_then(|r| crate::seccomp::parse_kernel_version(&r)),
        },
    )?;
    let mut spec = spec;
    if opts.ipc == crate::namespaces::IpcMode::Shareable {
        spec::namespaces::share_shm(&mut spec, &crate::shm::path(&dir));
    }
    join_namespaces(store.root(), opts, &mut spec)?;
    if opts.network.own_namespace_file() {
        // Made by `start` before the runtime runs (see `crate::network::Attachment`).
        spec::namespaces::join_path(
            &mut spec,
            "network",
            &crate::network::netns_path(&dir.0).display().to_string(),
        );
    }
    write_json(&dir.bundle().join("config.json"), &spec)?;
    if !owned {
        owner::release(&dir.0)?;
    }
    guard.armed = false;
    let c = Container {
        record,
        state: ContainerState::created(),
        dir,
    };
    crate::events::container(&c, "create", &[]);
    Ok((c, warnings))
}

/// `--ipc container:NAME` and `--pid container:NAME`: joins the namespaces of that
/// container, which must be running (Docker's messages).
fn join_namespaces(
    store_root: &Path,
    opts: &RunOptions,
    spec: &mut spec::Spec,
) -> Result<(), RuntimeError> {
    use crate::namespaces::{IpcMode, PidMode};
    let targets = [
        match &opts.network {
            crate::NetworkMode::Container(c) => Some(("network", c)),
            _ => None,
        },
        match &opts.ipc {
            IpcMode::Container(c) => Some(("ipc", c)),
            _ => None,
        },
        match &opts.pid {
            PidMode::Container(c) => Some(("pid", c)),
            _ => None,
        },
    ];
    for (kind, name) in targets.into_iter().flatten() {
        let other = load(store_root, name)?;
        let id = &other.record.id;
        let refuse = |why: String| {
            RuntimeError::InvalidOptions(match kind {
                "ipc" => format!("can't join IPC of container {id}: {why}"),
                _ => why,
            })
        };
        if other.state.status != Status::Running || other.state.pid <= 0 {
            if kind == "network" {
                return Err(refuse(format!(
                    "cannot join network of a non running container: {id}"
                )));
            }
            return Err(refuse(format!("container {id} is not running")));
        }
        if kind == "network" {
            match &other.record.options.network {
                // That container is on the host's network: so is this one.
                crate::NetworkMode::Host => spec.linux.namespaces.retain(|n| n.kind != "network"),
                net if net.is_user_mode() => spec::namespaces::join_path(
                    spec,
                    "network",
                    &crate::network::netns_path(&other.dir.0)
                        .display()
                        .to_string(),
                ),
                // The kernel names it `net` under /proc, the spec `network`.
                _ => spec::namespaces::join_path(
                    spec,
                    "network",
                    &format!("/proc/{}/ns/net", other.state.pid),
                ),
            }
            continue;
        }
        if kind == "ipc" && !matches!(other.record.options.ipc, IpcMode::Shareable | IpcMode::Host)
        {
            return Err(refuse(
                "non-shareable IPC (hint: use IpcMode:shareable for the donor container)".into(),
            ));
        }
        spec::namespaces::join(spec, kind, other.state.pid);
        if kind == "ipc" {
            let shm = match other.record.options.ipc {
                IpcMode::Host => PathBuf::from("/dev/shm"),
                _ => crate::shm::path(&other.dir),
            };
            spec::namespaces::share_shm(spec, &shm);
        }
    }
    Ok(())
}
