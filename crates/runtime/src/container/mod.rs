//! The container lifecycle: `create` (record, bundle), `start` (mount, runtime create +
//! start, log pumps), `wait` (exit code, runtime delete, unmount), `kill`, `remove`.
//!
//! The process that starts a container is its monitor: it makes itself a child
//! subreaper, so the container's init (orphaned when `runc create` exits) becomes its
//! child and its exit status can be collected with `waitpid`, as containerd's shim and
//! conmon do. It holds the read ends of the container's stdout and stderr pipes and
//! writes them to `ctr.log`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use store::{Layout, Store};

use crate::mount::{Kernel, OverlayLayout, mount_overlay, unmount};
use crate::oci_runtime::OciRuntime;
use crate::record::{
    ContainerDir, ContainerRecord, ContainerState, Status, new_id, now_rfc3339, read_json,
    write_json, write_state,
};
use crate::spec::{self, Context, EtcFiles};
use crate::streams::{Attach, Pump, pipe_streams, terminal_streams};
use crate::{RunOptions, RuntimeError, etc_files, inroot, snapshot, user};

mod control;
mod owner;
mod reap;
mod state;
mod stop;
mod volume_use;
pub use control::{EXIT_RECORD_WAIT, still_running};
pub use reap::{owned_by_live_process, reap};
pub use state::{Pruned, observed_state, prune, wait_recorded, wait_recorded_state};
pub(crate) use stop::{restart_lock, wait_exit};
pub use volume_use::{prune_volumes, remove_volume, volume_users};

/// The cgroup every container's cgroup is made under: Docker's (cgroupfs driver) default.
pub const CGROUP_PARENT: &str = "/docker";

/// A container on disk: its record, state and directory.
#[derive(Debug, Clone)]
pub struct Container {
    /// What it was created with.
    pub record: ContainerRecord,
    /// Where it is in its life (as last written).
    pub state: ContainerState,
    /// Its directory.
    pub dir: ContainerDir,
}

/// A started container whose exit this process waits for.
pub struct Running {
    container: Container,
    pid: i32,
    pumps: Vec<Pump>,
    forwarder: Option<crate::ports::Forwarder>,
}

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
                let _ = remove_volume(self.store.root(), v);
            }
        }
    }
}

/// Unmounts on drop unless disarmed.
struct MountGuard {
    target: PathBuf,
    armed: bool,
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = unmount(&Kernel, &self.target);
        }
    }
}

fn mkdir(p: &Path) -> Result<(), RuntimeError> {
    fs::create_dir_all(p).map_err(|e| RuntimeError::io("create", p, e))
}

/// The container's overlay: its init layer over the image's snapshots, its upper and
/// work directories.
pub(crate) fn layout(
    store: &Store,
    image_target: &str,
    dir: &ContainerDir,
) -> Result<OverlayLayout, RuntimeError> {
    let info = store.resolve_image(image_target)?;
    let mut lowers = vec![dir.init()];
    lowers.extend(snapshot::prepare(store, &info)?);
    Ok(OverlayLayout {
        lowers,
        upper: dir.upper(),
        work: dir.work(),
    })
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
    }
    if build_sandbox {
        return Ok(());
    }
    let mtab = init.join("etc/mtab");
    std::os::unix::fs::symlink("/proc/mounts", &mtab)
        .map_err(|e| RuntimeError::io("create", &mtab, e))
}

fn mount_rootfs(
    store: &Store,
    record: &ContainerRecord,
    dir: &ContainerDir,
) -> Result<MountGuard, RuntimeError> {
    let lay = layout(store, &record.image_target, dir)?;
    mount_overlay(&Kernel, &lay, &dir.rootfs())?;
    Ok(MountGuard {
        target: dir.rootfs(),
        armed: true,
    })
}

/// The host's init binary for `--init`, if one is installed.
fn find_init() -> Option<PathBuf> {
    ["docker-init", "tini-static", "tini", "catatonit"]
        .iter()
        .find_map(|n| crate::oci_runtime::find_in_path(n))
}

/// What `RLIMIT_NOFILE` this process can give a container (see [`spec::nofile_limit`]).
fn host_nofile() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(u64::MAX);
    spec::nofile_limit(cap_eff, hard)
}

fn name_in_use(store_root: &Path, name: &str) -> Result<Option<String>, RuntimeError> {
    for c in list(store_root)? {
        if c.record.name == name {
            return Ok(Some(c.record.id));
        }
    }
    Ok(None)
}

/// Creates a container from `image` (any name `resolve_image` accepts): records it, marks
/// the image as used, unpacks missing snapshots, resolves the user in the image, makes
/// the working directory and writes the runtime bundle. Nothing stays mounted. On error
/// nothing is left behind, and what a kill at any step leaves is [`reap`]ed.
pub fn create(
    store: &Store,
    runtime: &OciRuntime,
    image: &str,
    name: Option<&str>,
    opts: RunOptions,
) -> Result<Container, RuntimeError> {
    create_with(store, runtime, image, name, opts, false)
}

/// [`create`] for a container that lives only as long as this process (a build's RUN):
/// once this process is gone, [`reap`] kills and removes it.
pub fn create_owned(
    store: &Store,
    runtime: &OciRuntime,
    image: &str,
    name: Option<&str>,
    opts: RunOptions,
) -> Result<Container, RuntimeError> {
    create_with(store, runtime, image, name, opts, true)
}

fn create_with(
    store: &Store,
    runtime: &OciRuntime,
    image: &str,
    name: Option<&str>,
    opts: RunOptions,
    owned: bool,
) -> Result<Container, RuntimeError> {
    // Held until the container's record uses it (`add_image_user` below, which keeps it
    // from then on): a concurrent `image prune` cannot take it while it is being made.
    let lease = store.lease()?;
    let info = lease.hold_image(image)?;
    let config = oci::ImageConfig::from_slice(&store.image_config(&info)?).map_err(|e| {
        RuntimeError::BadImage {
            image: image.to_string(),
            detail: e.to_string(),
        }
    })?;
    // Options that cannot work fail before anything is made.
    let args = spec::command(&config.config, &opts)?;
    let cwd = spec::working_dir(&config.config, &opts)?;
    spec::resources::validate(
        &opts,
        spec::resources::host_cpus(),
        spec::capabilities::known_to_kernel(),
    )?;
    let mut opts = opts;
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
            let m = crate::volumes::to_mount(root, &spec)?;
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
    let hostname = match (&opts.hostname, opts.network) {
        (Some(h), _) => h.clone(),
        (None, _) if opts.build_sandbox => etc_files::BUILD_SANDBOX_HOSTNAME.to_string(),
        // Only the network decides: with `--uts host` on another network the kernel's
        // name is the host's while /etc/hostname and HOSTNAME keep the ID (Docker's way).
        (None, crate::NetworkMode::Host) => fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| id[..12].to_string()),
        (None, crate::NetworkMode::None) => id[..12].to_string(),
    };
    let files = EtcFiles {
        hosts: dir.hosts(),
        resolv_conf: dir.resolv_conf(),
        hostname: dir.hostname(),
    };
    let host_file = |p: &str| fs::read_to_string(p).unwrap_or_default();
    crate::record::write_replace(
        &files.hosts,
        if opts.build_sandbox {
            etc_files::build_sandbox_hosts(&hostname)
        } else {
            etc_files::hosts(opts.network, &opts.extra_hosts, &host_file("/etc/hosts"))
        }
        .as_bytes(),
    )?;
    let host_resolv = host_file("/etc/resolv.conf");
    let resolv = if opts.dns.is_empty() {
        etc_files::resolv_conf(opts.network, &host_resolv)
    } else {
        etc_files::resolv_conf_with(&opts.dns, &host_resolv)
    };
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
    write_json(&dir.bundle().join("config.json"), &spec)?;
    if !owned {
        owner::release(&dir.0)?;
    }
    guard.armed = false;
    Ok(Container {
        record,
        state: ContainerState::created(),
        dir,
    })
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
            return Err(refuse(format!("container {id} is not running")));
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

/// Renames container `id` to `new_name`, which no other container may have.
pub fn rename(store_root: &Path, id: &str, new_name: &str) -> Result<Container, RuntimeError> {
    let new_name = new_name.trim_start_matches('/');
    let valid = !new_name.is_empty()
        && new_name.as_bytes()[0].is_ascii_alphanumeric()
        && new_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !valid {
        return Err(RuntimeError::InvalidOptions(format!(
            "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    let lock_path = Layout::new(store_root).container_names_lock();
    let lock =
        fs::File::create(&lock_path).map_err(|e| RuntimeError::io("create", &lock_path, e))?;
    lock.lock()
        .map_err(|e| RuntimeError::io("lock", &lock_path, e))?;
    let mut c = load(store_root, id)?;
    if let Some(other) = name_in_use(store_root, new_name)?
        && other != c.record.id
    {
        return Err(RuntimeError::InvalidOptions(format!(
            "Conflict. The container name \"/{new_name}\" is already in use by container \"{other}\". \
             You have to remove (or rename) that container to be able to reuse that name."
        )));
    }
    c.record.name = new_name.to_string();
    write_json(&c.dir.record(), &c.record)?;
    Ok(c)
}

/// Waits until container `id` has exited (as another process's monitor records it, or as
/// [`observed_state`] concludes) and returns its exit code.
pub fn wait_exited(
    store_root: &Path,
    runtime: &OciRuntime,
    id: &str,
    poll: std::time::Duration,
) -> Result<i32, RuntimeError> {
    loop {
        let c = load(store_root, id)?;
        let seen = observed_state(&c, runtime)?;
        if seen.status == Status::Exited {
            return Ok(seen.exit_code.unwrap_or(255));
        }
        std::thread::sleep(poll);
    }
}

/// Loads container `id` (a full ID, a unique ID prefix or a name).
pub fn load(store_root: &Path, id: &str) -> Result<Container, RuntimeError> {
    let all = list(store_root)?;
    let found: Vec<Container> = match all
        .iter()
        .find(|c| c.record.id == id || c.record.name == id)
    {
        Some(c) => vec![c.clone()],
        None => all
            .into_iter()
            .filter(|c| !id.is_empty() && c.record.id.starts_with(id))
            .collect(),
    };
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one element")),
        0 => Err(RuntimeError::NoSuchContainer(id.to_string())),
        _ => Err(RuntimeError::InvalidOptions(format!(
            "multiple containers match the prefix {id}"
        ))),
    }
}

/// Every container with a readable record, oldest first.
pub fn list(store_root: &Path) -> Result<Vec<Container>, RuntimeError> {
    let dir = Layout::new(store_root).containers_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RuntimeError::io("list", &dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| RuntimeError::io("list", &dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let cdir = ContainerDir(e.path());
        // A directory without a record is a create in progress (or its remains).
        let Ok(record) = read_json::<ContainerRecord>(&cdir.record()) else {
            continue;
        };
        let state = read_json(&cdir.state()).unwrap_or_else(|_| ContainerState::created());
        out.push(Container {
            record,
            state,
            dir: cdir,
        });
    }
    out.sort_by(|a, b| a.record.created.cmp(&b.record.created));
    Ok(out)
}

impl Container {
    fn save_state(&self) -> Result<(), RuntimeError> {
        write_state(&self.dir.state(), &self.state)
    }

    /// Starts the container: mounts its root filesystem, runs it with the OCI runtime
    /// (`run --detach`: create and start in one call), and pumps its output into `ctr.log` (and `attach`). The caller then
    /// [`Running::wait`]s for it.
    pub fn start(
        mut self,
        store: &Store,
        runtime: &OciRuntime,
        attach: Attach,
    ) -> Result<Running, RuntimeError> {
        if let Some(message) = &self.record.start_error {
            return Err(RuntimeError::User(message.clone()));
        }
        if self.state.status == Status::Running && self.is_running(runtime)? {
            return Err(RuntimeError::InvalidOptions(format!(
                "container {} is already running",
                self.record.id
            )));
        }
        // Ports first: a taken port fails the start before anything runs.
        let publish = &self.record.options.publish;
        let bound = if publish.is_empty() || self.record.options.network == crate::NetworkMode::Host
        {
            None
        } else {
            Some(crate::ports::bind(publish)?)
        };
        let mut mount = mount_rootfs(store, &self.record, &self.dir)?;
        if self.record.options.ipc == crate::namespaces::IpcMode::Shareable {
            crate::shm::mount(
                &crate::shm::path(&self.dir),
                self.record.options.security.shm_size,
            )?;
        }
        let rt_log = self.dir.runtime_log();
        let _ = fs::remove_file(self.dir.pid_file());
        rustix::process::set_child_subreaper(Some(rustix::process::getpid())).map_err(|e| {
            RuntimeError::io("become the child subreaper of", &self.dir.0, e.into())
        })?;
        let log_path = self.dir.log();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| RuntimeError::io("open", &log_path, e))?;
        let log = Arc::new(Mutex::new(log));
        let id = self.record.id.clone();
        let abort = |pumps: Vec<Pump>, e: RuntimeError| {
            let _ = runtime.delete(&id, &rt_log);
            for p in pumps {
                let _ = p.join();
            }
            e
        };
        let (stdio, mut pumps, tty) = if self.record.options.tty {
            let console = crate::console::listen(&id)?;
            let null = || Stdio::null();
            (
                [null(), null(), null()],
                Vec::new(),
                Some((console, attach)),
            )
        } else {
            let (stdio, pumps) = pipe_streams(attach, &log, &log_path)?;
            (stdio, pumps, None)
        };
        let started = runtime.run_detached(
            &id,
            &self.dir.bundle(),
            &self.dir.pid_file(),
            &rt_log,
            tty.as_ref().map(|(c, _)| c.path()),
            stdio,
        );
        // The runtime's copies of the pipes' write ends are closed now; the container holds
        // its own.
        let pid = match started.and_then(|()| read_pid(&self.dir.pid_file())) {
            Ok(pid) => pid,
            Err(e) => return Err(abort(pumps, e)),
        };
        if let Some((console, attach)) = tty {
            match console
                .receive()
                .and_then(|master| terminal_streams(master, attach, &log))
            {
                Ok(pump) => pumps.push(pump),
                Err(e) => return Err(abort(pumps, e)),
            }
        }
        let forwarder = match bound.map(|b| b.serve(Path::new(&format!("/proc/{pid}/ns/net")))) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => return Err(abort(pumps, e)),
        };
        mount.armed = false;
        self.state = ContainerState {
            status: Status::Running,
            pid,
            exit_code: None,
            started_at: Some(now_rfc3339()),
            finished_at: None,
            monitor_pid: std::process::id() as i32,
            error: None,
            // The monitor counts its restarts across starts.
            restart_count: self.state.restart_count,
            restarting: false,
            ports: forwarder
                .as_ref()
                .map(|f| f.mappings().to_vec())
                .unwrap_or_default(),
        };
        self.save_state()?;
        Ok(Running {
            container: self,
            pid,
            pumps,
            forwarder,
        })
    }

    /// Bytes in the container's writable layer (`ps -s`): file sizes under its upper
    /// directory, each inode counted once.
    pub fn size_rw(&self) -> Result<u64, RuntimeError> {
        fn walk(
            dir: &Path,
            seen: &mut std::collections::HashSet<(u64, u64)>,
        ) -> Result<u64, RuntimeError> {
            use std::os::unix::fs::MetadataExt;
            let mut total = 0;
            for e in fs::read_dir(dir).map_err(|e| RuntimeError::io("list", dir, e))? {
                let e = e.map_err(|e| RuntimeError::io("list", dir, e))?;
                let p = e.path();
                let m = fs::symlink_metadata(&p).map_err(|e| RuntimeError::io("stat", &p, e))?;
                if m.is_dir() {
                    total += walk(&p, seen)?;
                } else if seen.insert((m.dev(), m.ino())) {
                    total += m.size();
                }
            }
            Ok(total)
        }
        walk(&self.dir.upper(), &mut std::collections::HashSet::new())
    }

    /// The anonymous volumes this container mounts (`rm -v` removes them).
    pub fn anonymous_volumes(&self) -> Vec<String> {
        self.record
            .options
            .mounts
            .iter()
            .filter_map(|m| match &m.kind {
                crate::MountKind::Volume { name, .. } if name.len() == 64 => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// Removes the container: its runtime state (killing it when `force`), its mount, its
    /// image use and its directory. A running container needs `force`.
    pub fn remove(
        self,
        store: &Store,
        runtime: &OciRuntime,
        force: bool,
    ) -> Result<(), RuntimeError> {
        let alive = self.state.status == Status::Running
            && self.state.pid > 0
            && Path::new(&format!("/proc/{}", self.state.pid)).exists();
        if alive && !force {
            return Err(RuntimeError::InvalidOptions(format!(
                "cannot remove container \"/{}\": container is running: stop the container before \
                 removing or force remove",
                self.record.name
            )));
        }
        // `wait` (or a failed start) has deleted the runtime's state of a stopped container.
        if self.state.status == Status::Running {
            runtime.delete(&self.record.id, &self.dir.runtime_log())?;
        }
        unmount(&Kernel, &self.dir.rootfs())?;
        crate::shm::release(&crate::shm::path(&self.dir))?;
        store.remove_image_user(&self.record.id)?;
        fs::remove_dir_all(&self.dir.0).map_err(|e| RuntimeError::io("remove", &self.dir.0, e))
    }
}

pub(crate) fn read_pid(path: &Path) -> Result<i32, RuntimeError> {
    let text = fs::read_to_string(path).map_err(|e| RuntimeError::io("read", path, e))?;
    text.trim().parse().map_err(|_| {
        RuntimeError::io(
            "parse",
            path,
            std::io::Error::other(format!("bad pid {text:?}")),
        )
    })
}
